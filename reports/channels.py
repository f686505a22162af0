"""Alert channels: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) robots, JSON webhooks, SMTP e-mail.

One attempt to hand one message to one channel; :mod:`reports.delivery` (the outbox)
decides what to send, when to retry and when to give up.  Formats, as each platform
documents them:

* **WeCom** group robot (developer.work.weixin.qq.com/document/path/91770):
  ``{"msgtype": "markdown", "markdown": {"content": ...}}``, content at most 4096 bytes;
  no signing (the ``key`` in the URL is the credential); accepted when ``errcode == 0``.
* **DingTalk** custom robot (open.dingtalk.com/document/robots/customize-robot-security-settings,
  "加签"): ``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp_ms}\\n{secret}")))``,
  sent as ``&timestamp=…&sign=…`` on the URL; body ``{"msgtype": "markdown", "markdown":
  {"title", "text"}}``; accepted when ``errcode == 0``.
* **Feishu** custom bot (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot, "签名校验"):
  ``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))`` with the timestamp in
  **seconds**, both in the JSON body next to an interactive card; accepted when ``code == 0``
  (``StatusCode == 0`` on the older reply).
* **webhook**: ``{"type": "yuqing.alert" | "yuqing.notice", ...}`` with the delivery's key in the
  ``Idempotency-Key`` header (and the body): a receiver that already handled a key — a retry
  after a timeout — can drop the copy.  Accepted on 2xx.
* **email**: ``smtps://`` (TLS from the start) or ``smtp+starttls://``, both verified with
  ``ssl.create_default_context()``; ``smtp://`` is plain and refuses to send a login unless the
  channel sets ``allow_plain_login``.  The key is the ``Message-ID``.

Robot messages are markdown built from post text: every markdown/HTML control character of a
value is replaced by its full-width form and line breaks by spaces, so evidence cannot add a
heading, a quote, a mention or a link.  URLs in evidence are replaced by ``〔链接〕``; the only link
a message carries is ``alerts.report_url`` (our own report).

Robot URLs carry access tokens: errors name a channel by :func:`channel_label` (name, or kind and
host) and every error text is passed through :func:`redact`.

Apprise (installed) was measured against these documents and is not used for the robots: its
DingTalk plugin keeps ``"msgtype": "text"`` when it sends markdown, its Feishu plugin cannot sign,
its WeCom plugin sends text only, none checks ``errcode``/``code`` (a refused message reads as
sent), all post to fixed production hosts and report a bool without the reason; see
docs/reliability.md ("Alert delivery").
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import html
import os
import re
import smtplib
import ssl
import time
import urllib.parse
from email.message import EmailMessage
from typing import Any

import httpx

from yuqing.collectors.http import retry_after_seconds
from yuqing.store.errors import YuqingError
from yuqing.store.settings import AlertChannel

__all__ = [
    "ROBOTS",
    "STATUS_ZH",
    "DispatchError",
    "Outcome",
    "accepted",
    "channel_id",
    "channel_label",
    "dingtalk_sign",
    "feishu_sign",
    "redact",
    "render",
    "request_for",
    "send",
]

STATUS_ZH = {"new": "新预警", "ongoing": "持续中", "resolved": "已恢复"}
ROBOTS = ("wecom", "dingtalk", "feishu")
WECOM_MAX_BYTES = 4096
USER_AGENT = "yuqing-alerts/0.1"


class DispatchError(YuqingError):
    """A channel is misconfigured or refused before anything was sent (the text holds no secret)."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One attempt: accepted by the receiver or not, what it said, and how long it asked us to wait."""

    ok: bool
    detail: str
    retry_after: float | None = None
    tries: int = 1


# --------------------------------------------------------------------------- channel identity and secrets


def _url(channel: AlertChannel) -> str:
    if channel.url_env:
        return os.environ.get(channel.url_env, "")
    return channel.url.get_secret_value()


def _secret(channel: AlertChannel) -> str:
    return os.environ.get(channel.secret_env, "") if channel.secret_env else ""


def channel_id(channel: AlertChannel) -> str:
    """A stable id for the outbox that holds no token: the name, else kind and a short hash of the URL."""
    if channel.name:
        return channel.name
    source = channel.url_env or channel.url.get_secret_value()
    return f"{channel.kind}-{hashlib.sha256(source.encode()).hexdigest()[:10]}"


def channel_label(channel: AlertChannel) -> str:
    """How a channel is shown to people: its name, else the kind and host (never a path or query)."""
    if channel.name:
        return channel.name
    host = urllib.parse.urlsplit(_url(channel)).hostname or "?"
    return f"{channel.kind} {host}"


def redact(text: str, channel: AlertChannel) -> str:
    """``text`` without the channel's URL, its path and query values, or its secret."""
    url = _url(channel)
    parts = urllib.parse.urlsplit(url)
    values = [url, parts.path, parts.query, _secret(channel)]
    values += [v for _, v in urllib.parse.parse_qsl(parts.query)]
    values += [seg for seg in parts.path.split("/") if len(seg) >= 8]
    if parts.password:
        values.append(parts.password)
    for value in sorted({v for v in values if v and v != "/"}, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


# --------------------------------------------------------------------------- signing (as documented)


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")), timestamp in seconds."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg=f"{timestamp_ms}\\n{secret}")), to be URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --------------------------------------------------------------------------- messages

_MARKDOWN = str.maketrans(
    {
        "\\": "＼",
        "`": "｀",
        "*": "＊",
        "_": "＿",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "#": "＃",
        ">": "＞",
        "<": "＜",
        "!": "！",
        "|": "｜",
        "~": "～",
        "&": "＆",
        "@": "＠",
        "\r": " ",
        "\n": " ",
        "\t": " ",
    }
)
_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+")


def _plain(value: Any) -> str:
    """A value from data (post text, brand, keyword): on one line, URLs removed."""
    return _URL.sub("〔链接〕", " ".join(str(value).split()))


def _md(value: Any) -> str:
    return _plain(value).translate(_MARKDOWN)


def _link(report_url: str) -> str:
    parts = urllib.parse.urlsplit(report_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return urllib.parse.urlunsplit(parts._replace(path=urllib.parse.quote(parts.path, safe="/%")))


def render(payload: dict[str, Any], *, markdown: bool, report_url: str = "") -> tuple[str, str]:
    """(title, body) of an alert event or an operator notice; ``markdown`` for robots, else plain text."""
    esc = _md if markdown else _plain
    if payload.get("type") == "notice":
        title = f"【运维通知】{esc(payload['title'])}"
        lines = [f"### {title}" if markdown else title, esc(payload.get("text", ""))]
    else:
        event = str(payload.get("event", ""))
        title = f"【{STATUS_ZH.get(event, esc(event))}】{esc(payload['brand'])} · {esc(payload['category'])} 投诉激增"
        clv = float(payload.get("affected_clv") or 0)
        lines = [
            f"### {title}" if markdown else title,
            f"- 开始：{esc(payload.get('started_at', ''))}",
            f"- 投诉数：{int(payload.get('complaints') or 0)}（峰值 z={float(payload.get('peak_z') or 0):.1f}）",
            f"- 严重度：{float(payload.get('severity') or 0):.1f}；涉及客户 "
            f"{len(payload.get('affected_customers') or [])} 位，客户价值 ¥{clv:,.0f}",
        ]
        categories = payload.get("categories")
        if isinstance(categories, dict) and len(categories) > 1:  # one incident filed under several categories
            lines.append("- 涉及类别：" + "、".join(f"{esc(c)} {int(n)}" for c, n in categories.items()))
        keywords = payload.get("keywords")
        terms = list(keywords) if isinstance(keywords, dict | list) else str(keywords or "").split()
        if terms:
            lines.append("- 突发关键词：" + "、".join(esc(t) for t in terms[:6]))
        evidence = [e for e in (payload.get("evidence") or [])[:3] if isinstance(e, dict)]
        if evidence:
            lines.append("- 证据：")
            lines += [
                f"  > {esc(e.get('text', ''))}" if markdown else f"  「{esc(e.get('text', ''))}」" for e in evidence
            ]
    link = _link(report_url)
    if link:
        lines.append(f"[查看舆情报告]({link})" if markdown else f"舆情报告：{link}")
    return title, "\n".join(lines)


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode(errors="ignore") + "…"


def request_for(
    channel: AlertChannel, payload: dict[str, Any], key: str, *, report_url: str = "", now: float | None = None
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(url, JSON body, headers) of one delivery to a robot or webhook, signed at ``now`` (seconds)."""
    url = _url(channel)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        what = f"${channel.url_env}" if channel.url_env else "url"
        raise DispatchError(f"{channel_label(channel)}: {what} is not an http(s) URL")
    now = time.time() if now is None else now
    secret = _secret(channel)
    headers = {"Idempotency-Key": key, "User-Agent": USER_AGENT}
    if channel.kind == "webhook":
        kind = "yuqing.notice" if payload.get("type") == "notice" else "yuqing.alert"
        title, _ = render(payload, markdown=False, report_url=report_url)
        hook = {"type": kind, "idempotency_key": key, "title": title, "report_url": _link(report_url), "data": payload}
        return url, hook, headers
    title, text = render(payload, markdown=True, report_url=report_url)
    if channel.kind == "wecom":
        return url, {"msgtype": "markdown", "markdown": {"content": _truncate_bytes(text, WECOM_MAX_BYTES)}}, headers
    if channel.kind == "dingtalk":
        if secret:
            ts = int(now * 1000)
            sep = "&" if urllib.parse.urlsplit(url).query else "?"
            url = f"{url}{sep}timestamp={ts}&sign={urllib.parse.quote_plus(dingtalk_sign(secret, ts))}"
        return url, {"msgtype": "markdown", "markdown": {"title": title, "text": text}}, headers
    if channel.kind == "feishu":
        resolved = payload.get("event") == "resolved"
        body: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "header": {
                    "title": {"tag": "plain_text", "content": title},
                    "template": "green" if resolved else "red",
                },
                "elements": [{"tag": "markdown", "content": text.split("\n", 1)[-1]}],  # the header holds the title
            },
        }
        if secret:
            ts = int(now)
            body = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body}
        return url, body, headers
    raise DispatchError(f"{channel_label(channel)}: kind {channel.kind!r} is not a robot or webhook")


def accepted(kind: str, response: httpx.Response) -> Outcome:
    """Did the receiver take the message?  2xx, and for the robots their documented success code."""
    wait = retry_after_seconds(response.headers.get("Retry-After"))
    if not 200 <= response.status_code < 300:
        return Outcome(False, f"HTTP {response.status_code}", wait)
    if kind not in ROBOTS:
        return Outcome(True, f"HTTP {response.status_code}")
    try:
        reply = response.json()
    except ValueError:
        return Outcome(False, f"HTTP {response.status_code} but the reply is not JSON")
    if not isinstance(reply, dict):
        return Outcome(False, f"HTTP {response.status_code} but the reply is not a JSON object")
    field = "errcode" if kind in ("wecom", "dingtalk") else ("code" if "code" in reply else "StatusCode")
    code, msg = reply.get(field), reply.get("errmsg") or reply.get("msg") or reply.get("StatusMessage") or ""
    if code != 0:
        return Outcome(False, f"{kind} {field} {code}: {str(msg)[:200]}", wait)
    return Outcome(True, f"HTTP {response.status_code} {field} 0")


# --------------------------------------------------------------------------- sending


def send(
    channel: AlertChannel,
    payload: dict[str, Any],
    key: str,
    *,
    client: httpx.Client,
    report_url: str = "",
    retries: int = 1,
    backoff: float = 0.5,
    max_wait: float = 5.0,
) -> Outcome:
    """Hand one message to one channel: a timeout per attempt, at most ``retries`` quick retries (same key)
    with backoff, a ``Retry-After`` up to ``max_wait`` honoured here and a longer one returned to the caller."""
    if channel.kind == "email":
        try:
            return _email(channel, payload, key, timeout=client.timeout.read or 10.0, report_url=report_url)
        except DispatchError as exc:
            return Outcome(False, redact(str(exc), channel))
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            return Outcome(False, redact(f"{type(exc).__name__}: {exc}", channel))
    outcome = Outcome(False, "not sent")
    for attempt in range(retries + 1):
        try:
            url, body, headers = request_for(channel, payload, key, report_url=report_url)
        except DispatchError as exc:
            return Outcome(False, redact(str(exc), channel))
        try:
            outcome = accepted(channel.kind, client.post(url, json=body, headers=headers))
        except httpx.HTTPError as exc:
            outcome = Outcome(False, redact(f"{type(exc).__name__}: {exc}", channel))
        outcome = dataclasses.replace(outcome, tries=attempt + 1)
        if outcome.ok or attempt == retries:
            break
        wait = outcome.retry_after if outcome.retry_after is not None else backoff * 2**attempt
        if wait > max_wait:
            break  # the receiver asked for longer than a pass waits: the outbox retries later
        time.sleep(wait)
    return outcome


def _email(channel: AlertChannel, payload: dict[str, Any], key: str, *, timeout: float, report_url: str) -> Outcome:
    url = _url(channel) or "smtp://127.0.0.1:25"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls"):
        raise DispatchError(f"{channel_label(channel)}: e-mail URL must be smtps://, smtp+starttls:// or smtp://")
    if not channel.recipients:
        raise DispatchError(f"{channel_label(channel)}: no recipients")
    password = _secret(channel)
    user = urllib.parse.unquote(parts.username or "")
    login = bool(user and password)
    if login and parts.scheme == "smtp" and not channel.allow_plain_login:
        raise DispatchError(
            f"{channel_label(channel)}: refusing to send the SMTP login over a plain connection; use smtps:// or "
            "smtp+starttls://, or set allow_plain_login = true for this channel"
        )
    title, text = render(payload, markdown=False, report_url=report_url)
    msg = EmailMessage()
    msg["Subject"] = title
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.recipients)
    msg["Message-ID"] = f"<{key}@yuqing>"
    msg["X-Yuqing-Idempotency-Key"] = key
    msg.set_content(text)
    msg.add_alternative(
        f"<html><body><pre style='font-family:sans-serif'>{html.escape(text)}</pre></body></html>", subtype="html"
    )
    context = ssl.create_default_context()
    host = parts.hostname or "127.0.0.1"
    smtp: smtplib.SMTP
    if parts.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, parts.port or (587 if parts.scheme == "smtp+starttls" else 25), timeout=timeout)
    with smtp:
        if parts.scheme == "smtp+starttls":
            smtp.starttls(context=context)
        if login:
            smtp.login(user, password)
        refused = smtp.send_message(msg)
    if refused:
        return Outcome(True, f"accepted; refused recipients: {len(refused)}")
    return Outcome(True, "accepted")
