"""The alert outbox: every (alert, state change, channel) is a delivery row that is retried until accepted.

Rows live in the warehouse table ``alert_deliveries`` (``store.warehouse``).  Each has an
idempotency key — ``sha256(alert_id | event | channel)`` — sent to webhooks as the
``Idempotency-Key`` header (and as the e-mail ``Message-ID``), so a receiver that times out,
gets the retry and already handled the first copy can drop it.

States::

    pending ──accepted (2xx and errcode/code 0)──▶ delivered
       │  └─not accepted: attempts, last_error, next_attempt_at = now + backoff[failed passes so far]
       └─still not accepted after alerts.delivery_expire_hours──▶ expired
    suppressed   history, not paged (see below); kept so `yuqing alerts` shows it

A pass (:func:`deliver_pending`) sends every pending row that is due (``--retry`` sends them all
now), records each attempt, and reports failures; nothing is marked delivered unless the
receiver accepted it.  Retry-After from a receiver postpones the next attempt at least that long.

History: on a backfill or a first run over old data, an alert whose incident was already over
when first seen (resolved in the same pass, never paged before), or whose last spike is older
than ``alerts.page_max_age_hours`` by the wall clock, is recorded as ``suppressed`` instead of
paging anyone (``alerts.page_history = true`` pages it anyway).

Operator notices (cookie expired, captcha, ...) go through the same outbox:
:func:`notify_operator`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd

from yuqing.reports.channels import ROBOTS, DispatchError, channel_id, channel_label, send
from yuqing.store.settings import AlertChannel, AlertSettings, Settings

if TYPE_CHECKING:
    from yuqing.store.warehouse import Warehouse

__all__ = [
    "DELIVERY_STATES",
    "DeliveryFailed",
    "PassReport",
    "deliver_pending",
    "delivery_key",
    "enqueue_events",
    "notify_operator",
]

DELIVERY_STATES = ("pending", "delivered", "expired", "suppressed")
IN_PASS_RETRIES = 1  # quick retries (same key) inside a pass; passes may be an hour apart
# WeCom and DingTalk document at most 20 messages a minute per robot (Feishu 100 a minute, 5 a second)
ROBOT_RATE = (20, 60.0)


class _Pacer:
    """At most ``limit`` sends per ``window`` seconds per channel: waits for the oldest send to leave the window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.sent: dict[str, deque[float]] = {}

    def wait(self, channel: str) -> None:
        sent = self.sent.setdefault(channel, deque())
        while sent and time.monotonic() - sent[0] >= self.window:
            sent.popleft()
        if len(sent) >= self.limit:
            time.sleep(max(0.0, self.window - (time.monotonic() - sent.popleft())))
        sent.append(time.monotonic())


class DeliveryFailed(DispatchError):
    """Some deliveries of a pass were not accepted (they stay pending, or expired); the rest of the pass ran.

    ``lines`` holds what the pass has to say (alerts found, deliveries made and failed)."""

    def __init__(self, message: str, lines: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.lines = list(lines)


@dataclass
class PassReport:
    """What one delivery pass did: a line per delivery attempted, and the failures among them."""

    lines: list[str] = field(default_factory=list)
    delivered: int = 0
    failed: list[str] = field(default_factory=list)
    expired: int = 0
    suppressed: int = 0

    def raise_for_failures(self, lines: Sequence[str] = ()) -> None:
        if self.failed:
            summary = f"{len(self.failed)} alert deliver{'y' if len(self.failed) == 1 else 'ies'} failed: "
            raise DeliveryFailed(summary + "; ".join(self.failed), [*lines, *self.lines])


def delivery_key(alert_id: str, event: str, channel: str) -> str:
    """The idempotency key of one (alert, state change, channel)."""
    return hashlib.sha256(f"{alert_id}|{event}|{channel}".encode()).hexdigest()[:32]


def _utc(value: Any) -> pd.Timestamp:
    t = pd.Timestamp(value)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _is_history(
    event: dict[str, Any], settings: AlertSettings, final: dict[str, str], paged: set[str], now: pd.Timestamp
) -> bool:
    if settings.page_history or str(event["alert_id"]) in paged:  # a paged alert is followed to its end
        return False
    last = event.get("last_spike_at")
    if last is not None and _utc(last) < now - pd.Timedelta(hours=settings.page_max_age_hours):
        return True
    return final.get(str(event["alert_id"])) == "resolved"


def enqueue_events(
    wh: Warehouse, settings: AlertSettings, events: list[dict[str, Any]], *, now: dt.datetime | None = None
) -> tuple[int, int]:
    """Queue each alert state change for each channel (a key already queued is not queued again).

    Events of incidents already over when first seen, or older than ``page_max_age_hours``, are
    queued as ``suppressed`` (see the module docstring).  Returns (rows added, of which suppressed).
    """
    if not events or not settings.channels:
        return 0, 0
    clock = _utc(now or dt.datetime.now(dt.UTC))
    queued = wh.deliveries()
    paged = set(queued.loc[queued["state"] != "suppressed", "alert_id"])
    final = {str(e["alert_id"]): str(e["event"]) for e in events}  # the state each alert ends this pass in
    rows = []
    for event in events:
        state = "suppressed" if _is_history(event, settings, final, paged, clock) else "pending"
        payload = json.dumps(_jsonable(event), ensure_ascii=False)
        rows += [
            _row(str(event["alert_id"]), str(event["event"]), c, payload, state, clock, settings)
            for c in settings.channels
        ]
    frame = pd.DataFrame(rows)
    before = set(queued["key"])
    added = wh.enqueue_deliveries(frame)
    suppressed = int(((frame["state"] == "suppressed") & ~frame["key"].isin(before)).sum())
    return added, suppressed


def _row(
    alert_id: str, event: str, channel: AlertChannel, payload: str, state: str, now: pd.Timestamp, a: AlertSettings
) -> dict[str, Any]:
    cid = channel_id(channel)
    return {
        "key": delivery_key(alert_id, event, cid),
        "alert_id": alert_id,
        "event": event,
        "channel": cid,
        "label": channel_label(channel),
        "payload": payload,
        "state": state,
        "attempts": 0,
        "last_error": None,
        "created_at": now,
        "next_attempt_at": now,
        "expires_at": now + pd.Timedelta(hours=a.delivery_expire_hours),
        "delivered_at": None,
    }


def deliver_pending(
    wh: Warehouse,
    settings: AlertSettings,
    *,
    now: dt.datetime | None = None,
    force: bool = False,
    keys: Sequence[str] | None = None,
    transport: httpx.BaseTransport | None = None,
    pace: tuple[int, float] = ROBOT_RATE,
) -> PassReport:
    """Send what is pending and due (``force``: everything pending, now); record every attempt.

    Robots get at most ``pace`` = (messages, seconds) per channel: the pass waits rather than be refused.
    A row whose channel is no longer configured stays pending (and expires) with that as its error.
    """
    clock = _utc(now or dt.datetime.now(dt.UTC))
    report = PassReport()
    channels = {channel_id(c): c for c in settings.channels}
    pending = wh.deliveries(["pending"])
    if keys is not None:
        pending = pending[pending["key"].isin(list(keys))]
    backoff = settings.retry_backoff_seconds or [60.0]
    pacer = _Pacer(*pace)
    with httpx.Client(
        timeout=httpx.Timeout(settings.timeout, connect=min(5.0, settings.timeout)), transport=transport
    ) as client:
        for row in pending.itertuples():
            what = f"{row.label}: {row.event} {row.alert_id}"
            if _utc(row.expires_at) <= clock:
                wh.record_delivery(row.key, state="expired", error=None, next_attempt_at=clock, attempts=0)
                report.expired += 1
                report.failed.append(f"{what} expired after {row.attempts} attempts ({row.last_error})")
                report.lines.append(f"expired: {what} (last error: {row.last_error})")
                continue
            if not force and _utc(row.next_attempt_at) > clock:
                continue
            channel = channels.get(row.channel)
            if channel is None:
                error = "channel no longer configured"
                wh.record_delivery(row.key, state="pending", error=error, next_attempt_at=clock, attempts=0)
                report.failed.append(f"{what}: {error}")
                continue
            payload = json.loads(row.payload)
            if channel.kind in ROBOTS:
                pacer.wait(row.channel)
            outcome = send(
                channel, payload, row.key, client=client, report_url=settings.report_url, retries=IN_PASS_RETRIES
            )
            if outcome.ok:
                wh.record_delivery(
                    row.key, state="delivered", error=None, next_attempt_at=clock, attempts=outcome.tries
                )
                report.delivered += 1
                report.lines.append(f"sent: {what} ({outcome.detail})")
                continue
            failed_passes = int(row.attempts) // (IN_PASS_RETRIES + 1)  # a pass makes up to that many tries
            wait = backoff[min(failed_passes, len(backoff) - 1)]
            if outcome.retry_after is not None:
                wait = max(wait, outcome.retry_after)
            retry_at = clock + pd.Timedelta(seconds=wait)
            wh.record_delivery(
                row.key, state="pending", error=outcome.detail, next_attempt_at=retry_at, attempts=outcome.tries
            )
            report.failed.append(f"{what}: {outcome.detail} (next try {retry_at:%Y-%m-%d %H:%M:%S} UTC)")
            report.lines.append(f"failed: {what}: {outcome.detail}")
    return report


def notify_operator(
    settings: Settings,
    title: str,
    text: str,
    *,
    key: str | None = None,
    warehouse: Warehouse | None = None,
    now: dt.datetime | None = None,
) -> PassReport:
    """Send a one-off operator notice (cookie expired, captcha, quota) to every alert channel, through the outbox.

    ``key`` de-duplicates: the same key is queued once, ever (default: title and text, so an identical
    notice raised again within a pass or a later pass is not sent twice; put a date or a run id in the key
    to repeat it).  The notice is sent at once; one not accepted stays pending and is retried by the next
    pass or ``yuqing alerts --retry``.  Pass an open ``warehouse`` when the caller holds the writer;
    otherwise the warehouse of ``settings`` is opened.  Never raises for a failed send: see
    ``PassReport.failed``.
    """
    from yuqing.store.warehouse import Warehouse

    a = settings.alerts
    if not a.channels:
        return PassReport()
    clock = _utc(now or dt.datetime.now(dt.UTC))
    notice_id = "notice-" + hashlib.sha256((key or f"{title}\n{text}").encode()).hexdigest()[:12]
    payload = json.dumps({"type": "notice", "title": title, "text": text, "at": clock.isoformat()}, ensure_ascii=False)
    rows = pd.DataFrame([_row(notice_id, "notice", c, payload, "pending", clock, a) for c in a.channels])

    def run(wh: Warehouse) -> PassReport:
        wh.enqueue_deliveries(rows)
        return deliver_pending(wh, a, now=clock.to_pydatetime(), keys=list(rows["key"]))

    if warehouse is not None:
        return run(warehouse)
    with Warehouse.open(settings.warehouse.location) as wh:
        return run(wh)
