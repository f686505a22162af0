"""The alert outbox end to end: a real DuckDB file, the real alerts stage, real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.receivers import http_receiver
from yuqing.flows import stages
from yuqing.reports.delivery import DeliveryFailed, deliver_pending, enqueue_events, notify_operator
from yuqing.store.schema import Platform, Post
from yuqing.store.settings import AlertChannel, Settings, load_settings
from yuqing.store.warehouse import Warehouse

BRAND = "星阅"


def _seed(path: Path, spike_at: dt.datetime, *, tail_hours: int = 0) -> None:
    """Ten days of one complaint every three hours, a burst of 20 in the hour of ``spike_at``, then a quiet tail."""
    spike_at = spike_at.replace(minute=0, second=0, microsecond=0)
    times = [spike_at - dt.timedelta(hours=h) for h in range(3, 240, 3)]
    times += [spike_at + dt.timedelta(minutes=2 * i) for i in range(20)]
    times += [spike_at + dt.timedelta(hours=h) for h in range(3, tail_hours + 1, 3)]
    posts = [
        Post(platform=Platform.WEIBO, id=f"p{i}", text=f"{BRAND}X5电池鼓包 第{i}条", created_at=t)
        for i, t in enumerate(times)
    ]
    analysis = pd.DataFrame(
        {
            "platform": "weibo",
            "id": [p.id for p in posts],
            "sentiment": 0.1,
            "polarity": "negative",
            "complaint": True,
            "complaint_category": "质量/故障",
            "emotion": "anger",
            "keywords": "电池 鼓包",
            "tokens": "电池 鼓包",
            "brands": [[BRAND]] * len(posts),
            "brand_sentiment": "{}",
        }
    )
    with Warehouse.open(path) as wh:
        wh.upsert_posts(posts)
        wh.save_analysis(analysis)  # as the analyse stage writes it: post_counts counted too


def _settings(path: Path, url: str, **alerts: Any) -> Settings:
    channel = {"kind": "webhook", "url": url, "name": "ops-hook"}
    options: dict[str, Any] = {"channels": [channel], "retry_backoff_seconds": [0], "timeout": 2.0, **alerts}
    return load_settings(None, warehouse={"path": str(path)}, brand={"name": BRAND}, alerts=options)


def _rows(path: Path) -> pd.DataFrame:
    with Warehouse.open(path, read_only=True) as wh:
        return wh.deliveries()


def _recent() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)


def test_webhook_500_then_fixed_is_delivered_exactly_once_on_a_later_pass(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    _seed(path, _recent())
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (500, {"error": "down"}, 0.0)
        settings = _settings(path, f"{rx.base}/hook")
        with pytest.raises(DeliveryFailed) as failed:
            stages.alerts(settings)
        assert "1 alert delivery failed" in str(failed.value) and "HTTP 500" in str(failed.value)
        assert any(line.startswith("new: 星阅") for line in failed.value.lines)  # the pass still says what it found
        row = _rows(path).iloc[0]
        assert (row["state"], row["attempts"], row["last_error"]) == ("pending", 2, "HTTP 500")

        accepted: list[str] = []

        def fixed(p: str, h: dict[str, str], b: dict[str, Any]) -> tuple[int, Any, float]:
            accepted.append(h["idempotency-key"])
            return 200, {"ok": True}, 0.0

        rx.behaviour = fixed
        lines = stages.alerts(settings)  # detection finds nothing new; the outbox still holds the alert
        assert any(line.startswith("sent: ops-hook: new") for line in lines), lines
        stages.alerts(settings)  # and a third pass sends nothing more
    assert accepted == [row["key"]]
    assert [r.body["data"]["event"] for r in rx.requests] == ["new"] * 3  # two refused, one accepted
    final = _rows(path).iloc[0]
    assert (final["state"], final["attempts"], final["last_error"]) == ("delivered", 3, "HTTP 500")

    result = CliRunner().invoke(importlib.import_module("yuqing.flows.cli").app, ["alerts", "--warehouse", str(path)])
    assert result.exit_code == 0, result.output
    assert "ops-hook: 1 delivered" in result.output


def test_a_slow_receiver_gets_one_delivery_per_key(tmp_path: Path) -> None:
    """The receiver acts on the first copy but answers after our timeout; the retry carries the same key."""
    path = tmp_path / "w.duckdb"
    _seed(path, _recent())
    with http_receiver() as rx:

        def slow(p: str, h: dict[str, str], b: dict[str, Any]) -> tuple[int, Any, float]:
            key = h["idempotency-key"]
            rx.processed[key] = rx.processed.get(key, 0) + (0 if key in rx.processed else 1)
            first = sum(r.headers["idempotency-key"] == key for r in rx.requests) == 1
            return (200, {"ok": True}, 1.5) if first else (200, {"duplicate": True}, 0.0)

        rx.behaviour = slow
        stages.alerts(_settings(path, f"{rx.base}/hook", timeout=0.5))
        stages.alerts(_settings(path, f"{rx.base}/hook", timeout=0.5))
    keys = [r.headers["idempotency-key"] for r in rx.requests]
    assert len(keys) == 2 and len(set(keys)) == 1  # timed out once, retried with the same key
    assert rx.processed == {keys[0]: 1}
    assert keys[0] == rx.requests[0].body["idempotency_key"]
    assert _rows(path)["state"].tolist() == ["delivered"]


def test_a_robot_refusal_is_not_a_delivery(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    _seed(path, _recent())
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (200, {"errcode": 310000, "errmsg": "keywords not in content"}, 0.0)
        settings = _settings(path, "")
        settings.alerts.channels[0] = AlertChannel(
            kind="dingtalk", name="ops-hook", url=f"{rx.base}/robot/send?access_token=t"
        )
        with pytest.raises(DeliveryFailed, match="errcode 310000"):
            stages.alerts(settings)
        assert _rows(path)["state"].tolist() == ["pending"]
        rx.behaviour = lambda p, h, b: (200, {"errcode": 0, "errmsg": "ok"}, 0.0)
        with Warehouse.open(path) as wh:
            assert deliver_pending(wh, settings.alerts).delivered == 1
    assert _rows(path)["state"].tolist() == ["delivered"]


def test_retry_after_postpones_the_next_attempt(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    now = dt.datetime.now(dt.UTC)
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (429, {}, 0.0)
        rx.headers = {"Retry-After": "120"}
        settings = _settings(path, f"{rx.base}/hook", page_history=True)
        with Warehouse.open(path) as wh:
            enqueue_events(wh, settings.alerts, [_event()], now=now)
            assert deliver_pending(wh, settings.alerts, now=now).failed  # one try: 120 s is longer than a pass waits
            due = pd.Timestamp(wh.deliveries()["next_attempt_at"].iat[0])
            assert pd.Timestamp(now) + pd.Timedelta(seconds=119) <= due <= pd.Timestamp(now) + pd.Timedelta(seconds=121)
            assert deliver_pending(wh, settings.alerts, now=now + dt.timedelta(seconds=60)).lines == []
            assert len(rx.requests) == 1
            rx.behaviour, rx.headers = (lambda p, h, b: (200, {}, 0.0)), {}
            assert deliver_pending(wh, settings.alerts, now=now + dt.timedelta(seconds=121)).delivered == 1


def _event(alert_id: str = "a1", event: str = "new", last: dt.datetime | None = None) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "event": event,
        "brand": BRAND,
        "category": "质量/故障",
        "categories": {"质量/故障": 20},
        "keywords": {"鼓包": 0.3},
        "started_at": (last or dt.datetime.now(dt.UTC)).isoformat(),
        "last_spike_at": last or dt.datetime.now(dt.UTC),
        "complaints": 20,
        "peak_z": 7.8,
        "severity": 9.0,
        "affected_customers": [],
        "affected_clv": 0.0,
        "evidence": [{"id": "p1", "text": "电池鼓包"}],
    }


def test_a_delivery_never_accepted_expires_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (500, {}, 0.0)
        settings = _settings(path, f"{rx.base}/hook", delivery_expire_hours=1, page_history=True)
        with Warehouse.open(path) as wh:
            enqueue_events(wh, settings.alerts, [_event()], now=start)
            assert deliver_pending(wh, settings.alerts, now=start).failed
            late = deliver_pending(wh, settings.alerts, now=start + dt.timedelta(hours=2))
            assert late.expired == 1 and "expired after 2 attempts (HTTP 500)" in late.failed[0]
            assert not deliver_pending(wh, settings.alerts, now=start + dt.timedelta(hours=3)).failed
            assert wh.deliveries()["state"].tolist() == ["expired"]
    assert len(rx.requests) == 2  # nothing sent once expired


def test_a_first_run_over_history_pages_nobody_for_incidents_already_over(tmp_path: Path) -> None:
    old, over, fresh = tmp_path / "old.duckdb", tmp_path / "over.duckdb", tmp_path / "fresh.duckdb"
    _seed(old, dt.datetime.now(dt.UTC) - dt.timedelta(days=30))  # a backfill: weeks-old incident
    _seed(over, dt.datetime.now(dt.UTC) - dt.timedelta(hours=20), tail_hours=15)  # recent, but over when first seen
    _seed(fresh, _recent())
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (200, {}, 0.0)
        old_lines = stages.alerts(_settings(old, f"{rx.base}/hook"))
        over_lines = stages.alerts(_settings(over, f"{rx.base}/hook"))
        assert rx.requests == []
        stages.alerts(_settings(fresh, f"{rx.base}/hook"))
        assert [r.body["data"]["event"] for r in rx.requests] == ["new"]
        rx.requests.clear()
    assert any(line.startswith("not paged: 1 message(s)") for line in old_lines), old_lines
    assert {e.split(":")[0] for e in over_lines if ":" in e} >= {"new", "resolved"}
    assert _rows(old)["state"].tolist() == ["suppressed"]  # the data ends in the burst: "new" only
    assert set(_rows(over)["state"]) == {"suppressed"}


def test_page_history_sends_old_incidents_too(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    _seed(path, dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (200, {}, 0.0)
        stages.alerts(_settings(path, f"{rx.base}/hook", page_history=True))
    assert [r.body["data"]["event"] for r in rx.requests] == ["new"]


def test_the_alerts_command_retries_and_validates_its_options(tmp_path: Path) -> None:
    from yuqing.flows.cli import app

    path = tmp_path / "w.duckdb"
    _seed(path, _recent())
    runner = CliRunner()
    bad = runner.invoke(app, ["alerts", "--warehouse", str(path), "--status", "bogus"])
    assert bad.exit_code == 2 and "bogus" in bad.output
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (502, {}, 0.0)
        settings = _settings(path, f"{rx.base}/hook", retry_backoff_seconds=[3600])
        with pytest.raises(DeliveryFailed):
            stages.alerts(settings, dispatch=True)
        config = tmp_path / "yuqing.toml"
        config.write_text(
            f'[brand]\nname = "{BRAND}"\n[warehouse]\npath = "w.duckdb"\n[alerts]\nretry_backoff_seconds = [3600]\n'
            f'[[alerts.channels]]\nkind = "webhook"\nname = "ops-hook"\nurl = "{rx.base}/hook"\n',
            encoding="utf-8",
        )
        listed = runner.invoke(app, ["alerts", "-c", str(config), "--delivery", "pending"])
        assert listed.exit_code == 0 and "ops-hook: 1 pending" in listed.output and "HTTP 502" in listed.output
        still = runner.invoke(app, ["alerts", "-c", str(config), "--retry"])
        assert still.exit_code == 1 and isinstance(still.exception, DeliveryFailed)
        rx.behaviour = lambda p, h, b: (200, {}, 0.0)
        sent = runner.invoke(app, ["alerts", "-c", str(config), "--retry"])  # ignores the hour of backoff
        assert sent.exit_code == 0, sent.output
        assert "sent: ops-hook: new" in sent.output
    assert _rows(path)["state"].tolist() == ["delivered"]


def test_operator_notices_go_through_the_outbox_once(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (500, {}, 0.0)
        settings = _settings(path, f"{rx.base}/hook")
        first = notify_operator(settings, "微博 Cookie 已过期", "请重新登录后更新 YUQING_PLATFORMS__WEIBO_TOKEN")
        assert first.failed  # not accepted: stays pending, never raises
        rx.behaviour = lambda p, h, b: (200, {}, 0.0)
        with Warehouse.open(path) as wh:
            again = notify_operator(
                settings, "微博 Cookie 已过期", "请重新登录后更新 YUQING_PLATFORMS__WEIBO_TOKEN", warehouse=wh
            )
            assert again.delivered == 1
            assert (
                notify_operator(
                    settings, "微博 Cookie 已过期", "请重新登录后更新 YUQING_PLATFORMS__WEIBO_TOKEN", warehouse=wh
                ).delivered
                == 0
            )
    bodies = [r.body for r in rx.requests]
    assert bodies[-1]["type"] == "yuqing.notice" and bodies[-1]["data"]["title"] == "微博 Cookie 已过期"
    assert len({r.headers["idempotency-key"] for r in rx.requests}) == 1
    assert json.loads(_rows(path)["payload"].iat[0])["type"] == "notice"


@pytest.mark.slow
def test_robot_urls_never_reach_prefects_database(tmp_path: Path) -> None:
    """A real Prefect run of the subflow that receives the settings as a parameter: the database the run is
    recorded in holds no robot token (the URL is a secret field, stored masked)."""
    from yuqing.flows.cli import quiet_prefect_env

    quiet_prefect_env()
    import prefect.settings
    from prefect.testing.utilities import prefect_test_harness

    from yuqing.flows.monitor import analyse

    path = tmp_path / "w.duckdb"
    with Warehouse.open(path) as wh:
        wh.upsert_posts([Post(platform=Platform.WEIBO, id="1", text="星阅X5电池鼓包", created_at=_recent())])
    token = "9f8e7d6c-ROBOT-TOKEN-5b4a"
    settings = load_settings(
        None,
        warehouse={"path": str(path)},
        flows={"task_runner": "thread"},
        nlp={"workers": 1},
        alerts={"channels": [{"kind": "feishu", "url": f"https://open.feishu.cn/open-apis/bot/v2/hook/{token}"}]},
    )
    with prefect_test_harness(server_startup_timeout=180):
        database = prefect.settings.PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
        assert analyse(settings) == 1
        stored = Path(str(database).split(":///", 1)[1])
        files = [p for p in stored.parent.glob(stored.name + "*") if p.is_file()]
        assert files and sum(p.stat().st_size for p in files) > 0
        assert any(str(path).encode() in p.read_bytes() for p in files)  # the parameters are recorded there...
        assert not any(token.encode() in p.read_bytes() for p in files)  # ...without the token


def test_a_paged_alert_is_followed_to_its_end_and_an_unpaged_old_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    now = dt.datetime.now(dt.UTC)
    three_days_ago = now - dt.timedelta(days=3)
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (200, {}, 0.0)
        settings = _settings(path, f"{rx.base}/hook")
        with Warehouse.open(path) as wh:
            enqueue_events(wh, settings.alerts, [_event("a1", "new", three_days_ago)], now=three_days_ago)
            assert deliver_pending(wh, settings.alerts, now=three_days_ago).delivered == 1
            # yuqing was down for three days: a1 resolves now, its last spike 72 h old; a2 is seen only now
            later = [_event("a1", "resolved", three_days_ago), _event("a2", "new", three_days_ago)]
            assert enqueue_events(wh, settings.alerts, later, now=now) == (2, 1)
            assert deliver_pending(wh, settings.alerts, now=now).delivered == 1
            states = wh.deliveries().set_index(["alert_id", "event"])["state"].to_dict()
    assert states == {("a1", "new"): "delivered", ("a1", "resolved"): "delivered", ("a2", "new"): "suppressed"}
    assert [r.body["data"]["event"] for r in rx.requests] == ["new", "resolved"]


def test_backoff_grows_pass_after_pass(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    t0 = dt.datetime.now(dt.UTC)
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (500, {}, 0.0)
        settings = _settings(path, f"{rx.base}/hook", retry_backoff_seconds=[10, 100, 1000])
        waits = []
        with Warehouse.open(path) as wh:
            enqueue_events(wh, settings.alerts, [_event()], now=t0)
            at = pd.Timestamp(t0)
            for _ in range(4):
                deliver_pending(wh, settings.alerts, now=at.to_pydatetime())
                due = pd.Timestamp(wh.deliveries()["next_attempt_at"].iat[0])
                waits.append(round((due - at).total_seconds()))
                at = due
    assert waits == [10, 100, 1000, 1000]
    assert len(rx.requests) == 8  # two tries (same key) per pass


@pytest.mark.slow
def test_yuqing_run_says_a_delivery_failed_and_exits_non_zero_after_the_rest_of_the_pass(tmp_path: Path) -> None:
    """The real command in its own process (embedded Prefect): reports are written, the alert is stored and
    queued, the refused delivery is reported on one line, the exit code is not 0; a later pass delivers it."""
    import os
    import subprocess
    import sys

    path = tmp_path / "w.duckdb"
    _seed(path, _recent())
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "YUQING_CRM__HMAC_KEY": "k" * 40,
        "HOOK_URL": "",
    }
    yuqing = [sys.executable, "-c", "from yuqing.flows.cli import main; main()"]
    with http_receiver() as rx:
        rx.behaviour = lambda p, h, b: (503, {}, 0.0)
        env["HOOK_URL"] = f"{rx.base}/hook"
        config = tmp_path / "yuqing.toml"
        config.write_text(
            f'[brand]\nname = "{BRAND}"\n[warehouse]\npath = "w.duckdb"\n[nlp]\nworkers = 1\n'
            '[flows]\ntask_runner = "thread"\nout_dir = "out"\n[alerts]\nretry_backoff_seconds = [0]\n'
            '[[alerts.channels]]\nkind = "webhook"\nname = "ops-hook"\nurl_env = "HOOK_URL"\n',
            encoding="utf-8",
        )
        run = [*yuqing, "run", "--no-collect", "-c", str(config)]
        first = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert first.returncode != 0, first.stdout + first.stderr
        said = first.stdout + first.stderr
        assert "alert delivery failed" in said and "Traceback" not in said, said
        assert list((tmp_path / "out").glob("brand_report*.html")), said  # the rest of the pass ran
        assert "alert: new: 星阅 质量/故障" in said and "alert: failed: ops-hook: new" in said, said
        assert _rows(path)["state"].tolist() == ["pending"]
        rx.behaviour = lambda p, h, b: (200, {}, 0.0)
        second = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _rows(path)["state"].tolist() == ["delivered"]
    assert [r.body["data"]["event"] for r in rx.requests if r.headers.get("idempotency-key")] == ["new"] * 3


def test_a_robot_is_paced_to_its_documented_rate_instead_of_being_refused(tmp_path: Path) -> None:
    import time

    path = tmp_path / "w.duckdb"
    now = dt.datetime.now(dt.UTC)
    with http_receiver() as rx:
        at: list[float] = []

        def robot(p: str, h: dict[str, str], b: dict[str, Any]) -> tuple[int, Any, float]:
            at.append(time.monotonic())
            return 200, {"errcode": 0, "errmsg": "ok"}, 0.0

        rx.behaviour = robot
        settings = _settings(path, "", page_history=True)
        settings.alerts.channels[0] = AlertChannel(kind="wecom", name="wecom", url=f"{rx.base}/send?key=k")
        with Warehouse.open(path) as wh:
            enqueue_events(wh, settings.alerts, [_event(f"a{i}") for i in range(3)], now=now)
            report = deliver_pending(wh, settings.alerts, now=now, pace=(2, 1.0))  # 20 a minute, scaled down
    assert report.delivered == 3 and not report.failed
    assert at[1] - at[0] < 0.5 and at[2] - at[0] >= 0.95  # the third waited for the window, it was not refused


def test_alerts_whose_detection_ran_out_of_duckdb_memory_run_it_again_and_send_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The stages after analyse run a DuckDB plan that cannot spill within the bound again unbounded.  In the alerts
    stage only the detection's reads run again: a run of the whole stage came after sending, and that pass then
    reported neither the alert nor its delivery (the outbox kept it from going out twice)."""
    import duckdb

    path = tmp_path / "w.duckdb"
    _seed(path, _recent())
    read = Warehouse.linked_customer_values
    limits: list[str] = []

    def run_out_once(self: Warehouse) -> pd.DataFrame:
        limits.append(str(self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))  # type: ignore[index]
        if len(limits) == 1:  # the first read, under the bound, fails as a plan past it would
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 16.0 MiB")
        return read(self)

    monkeypatch.setattr(Warehouse, "linked_customer_values", run_out_once)
    with http_receiver() as rx, caplog.at_level("WARNING", logger="yuqing.store"):
        lines = stages.alerts(_settings(path, f"{rx.base}/hook"))
    assert "the alerts stage's detection needed more than its DuckDB memory bound" in caplog.text
    assert len(limits) == 2 and limits[0] != limits[1]  # bounded, then not
    assert any(line.startswith("new: 星阅") for line in lines), lines
    assert any(line.startswith("sent: ops-hook: new") for line in lines), lines
    assert [r.body["data"]["event"] for r in rx.requests] == ["new"]
    rows = _rows(path)
    assert rows["state"].tolist() == ["delivered"] and rows["attempts"].tolist() == [1]
