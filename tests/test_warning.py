"""Complaint early warning on synthetic series: warm-up, real spikes, sparse series, alert states."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from yuqing.reports.warning import (
    AlertRules,
    burst_similarity,
    complaint_counts,
    detect_spikes,
    score_spikes,
    update_alerts,
    warmup_end,
    warmup_message,
)
from yuqing.store.settings import AlertSettings

START = pd.Timestamp("2026-03-02 00:00", tz="Asia/Shanghai")
# relative posting rate per hour of day (quiet nights, busy evenings)
DIURNAL = np.array([3, 2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 6, 6, 6, 7, 8, 10, 12, 13, 11, 6], dtype=float)


def hourly_counts(
    days: int, *, mean_per_hour: float, seed: int = 0, jumps: dict[pd.Timestamp, int] | None = None
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Poisson complaint counts per hour with a daily rhythm, plus planted jumps (added counts)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(START, periods=days * 24, freq="h")
    rate = np.tile(DIURNAL / DIURNAL.mean() * mean_per_hour, days)
    counts = pd.Series(rng.poisson(rate), index=index)
    for when, extra in (jumps or {}).items():
        counts[when] += extra
    frame = pd.DataFrame(
        {"bucket_start": index, "category": "质量/故障", "complaints": counts.to_numpy(), "brand": "星阅"}
    )
    return frame[frame["complaints"] > 0].reset_index(drop=True), index[-1]


def at(day: int, hour: int) -> pd.Timestamp:
    return START + pd.Timedelta(days=day, hours=hour)


# --------------------------------------------------------------------------- warm-up


def test_no_alert_during_warmup_even_with_a_jump() -> None:
    rules = AlertRules(threshold=4.0, min_count=5, warmup_days=7)
    jumps = {at(0, 11): 40, at(2, 14): 60, at(6, 23): 80}  # the first three nights/days: a thin baseline
    counts, end = hourly_counts(20, mean_per_hour=1.0, jumps=jumps)
    spikes = detect_spikes(counts, rules, start=START, end=end)
    assert spikes.empty, spikes
    assert warmup_end(START, rules) == at(7, 0)


def test_warmup_counts_from_the_start_of_the_data_and_ends_on_time() -> None:
    rules = AlertRules(threshold=4.0, min_count=5, warmup_days=7)
    counts, end = hourly_counts(20, mean_per_hour=1.0, jumps={at(6, 23): 50, at(7, 0): 50})
    spikes = detect_spikes(counts, rules, start=START, end=end)
    assert spikes["bucket_start"].tolist() == [at(7, 0)]  # the first bucket with 7 days behind it fires


def test_daily_buckets_have_a_warmup_too() -> None:
    rules = AlertRules(threshold=4.0, min_count=5, bucket="day", baseline_days=14, warmup_days=7)
    rng = np.random.default_rng(3)
    index = pd.date_range(START, periods=30, freq="D")
    counts = rng.poisson(10, size=30)
    counts[2] += 60  # during warm-up
    counts[20] += 60  # after
    frame = pd.DataFrame({"bucket_start": index, "category": "物流", "complaints": counts, "brand": "星阅"})
    spikes = detect_spikes(frame, rules, start=START, end=index[-1])
    assert spikes["bucket_start"].tolist() == [index[20]]


def test_warmup_says_when_alerting_starts() -> None:
    rules = AlertRules(warmup_days=7)
    start = pd.Timestamp("2026-03-01 16:30", tz="UTC")  # 2026-03-02 00:30 in China
    note = warmup_message(start, pd.Timestamp("2026-03-05 12:00", tz="UTC"), rules)
    assert note is not None
    assert "2026-03-09 00:00 (Asia/Shanghai)" in note and "7 days" in note and "2026-03-02 00:30" in note
    assert warmup_message(start, pd.Timestamp("2026-03-08 16:00", tz="UTC"), rules) is None  # 03-09 00:00 China
    assert AlertRules.from_settings(AlertSettings(warmup_days=3, bucket="day")) == AlertRules(
        warmup_days=3, bucket="day"
    )


def test_warmup_must_fit_in_the_baseline() -> None:
    with pytest.raises(ValueError, match="warmup_days"):
        AlertRules(baseline_days=5, warmup_days=7)
    with pytest.raises(ValueError, match="warmup_days"):
        AlertSettings(baseline_days=5, warmup_days=7)
    assert AlertSettings(baseline_days=5).warmup_days == 5  # the default follows a short baseline
    assert AlertSettings().warmup_days == AlertRules().warmup_days == 7


# --------------------------------------------------------------------------- real spikes


def test_real_spike_after_warmup_alerts_once() -> None:
    rules = AlertRules(threshold=4.0, min_count=5)
    counts, end = hourly_counts(30, mean_per_hour=2.0, seed=1, jumps={at(18, 13): 25})
    spikes = detect_spikes(counts, rules, start=START, end=end)
    assert spikes["bucket_start"].tolist() == [at(18, 13)]
    spike = spikes.iloc[0]
    assert spike["complaints"] >= 25 and spike["z"] >= 4.0
    assert spike["baseline"] < 10  # the same hour of day over the trailing 14 days, not the jump


def test_a_series_that_starts_late_is_scored_against_its_zeros() -> None:
    """Warm-up is about the data's history, not the first complaint of a category."""
    rules = AlertRules(threshold=4.0, min_count=5)
    counts = pd.DataFrame({"bucket_start": [at(20, 14)], "category": "退款", "complaints": [12], "brand": "星阅"})
    spikes = detect_spikes(counts, rules, start=START, end=at(29, 23))
    assert spikes["bucket_start"].tolist() == [at(20, 14)]


def test_noise_on_a_busy_series_does_not_alert() -> None:
    rules = AlertRules(threshold=4.0, min_count=5)
    counts, end = hourly_counts(40, mean_per_hour=15.0, seed=5)
    assert detect_spikes(counts, rules, start=START, end=end).empty


def test_a_flat_baseline_is_floored_by_counting_noise() -> None:
    """A constant baseline has MAD 0; a few extra posts over 20 an hour are noise, a tripling is not."""
    rules = AlertRules(threshold=3.0, min_count=5)
    index = pd.date_range(START, periods=20 * 24, freq="h")
    counts = np.full(len(index), 20)
    counts[15 * 24 + 10] = 28  # a raw-count z with a floor of 1 would be 8; on the square-root scale 1.6
    counts[16 * 24 + 10] = 60
    frame = pd.DataFrame({"bucket_start": index, "category": "质量/故障", "complaints": counts, "brand": "星阅"})
    spikes = detect_spikes(frame, rules, start=START, end=index[-1])
    assert spikes["bucket_start"].tolist() == [index[16 * 24 + 10]]
    assert spikes["z"].iat[0] == pytest.approx(2 * (np.sqrt(60.375) - np.sqrt(20.375)), abs=0.01)


# --------------------------------------------------------------------------- sparse series


@pytest.mark.parametrize("min_count", [1, 2, 5])
def test_sparse_series_of_zeros_ones_and_twos_does_not_alert(min_count: int) -> None:
    rules = AlertRules(threshold=3.0, min_count=min_count)
    rng = np.random.default_rng(11)
    index = pd.date_range(START, periods=45 * 24, freq="h")
    counts = rng.choice([0, 1, 2], size=len(index), p=[0.85, 0.1, 0.05])
    frame = pd.DataFrame({"bucket_start": index, "category": "客服", "complaints": counts, "brand": "星阅"})
    spikes = detect_spikes(frame[frame["complaints"] > 0], rules, start=START, end=index[-1])
    assert spikes.empty, spikes


def test_two_or_three_posts_over_a_zero_baseline_do_not_score_as_a_big_spike() -> None:
    rules = AlertRules(threshold=0.0, min_count=1)  # report every scored bucket
    buckets = [at(10, 9), at(11, 9), at(12, 9), at(13, 9)]
    counts = pd.DataFrame({"bucket_start": buckets, "category": "客服", "complaints": [2, 3, 8, 20], "brand": "星阅"})
    spikes = detect_spikes(counts, rules, start=START, end=at(14, 0))
    z = dict(zip(spikes["complaints"], spikes["z"], strict=True))
    assert z[2] < 2.0 and z[3] < 2.5  # MAD 0: only the floor of the scale bounds these
    assert 4.0 < z[8] < 5.0 and z[20] > 7.5


# --------------------------------------------------------------------------- alert states


def _posts(bursts: dict[pd.Timestamp, int], days: int = 14) -> pd.DataFrame:
    """Posts: one quiet complaint a day at 03:00 plus ``bursts`` (complaints at the given hours)."""
    times: list[pd.Timestamp] = [START + pd.Timedelta(days=d, hours=3) for d in range(days)]
    for when, n in bursts.items():
        times += [when + pd.Timedelta(minutes=m % 60) for m in range(n)]
    n = len(times)
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "created_at": pd.to_datetime(times).tz_convert("UTC"),
            "text": ["电池鼓包了，手机号13812345678"] * n,
            "author_id": [f"u{i % 7}" for i in range(n)],
            "followers": [100 * (i % 5) for i in range(n)],
            "brands": [["星阅"]] * n,
            "complaint": [True] * n,
            "complaint_category": ["质量/故障"] * n,
        }
    )


def _detect(posts: pd.DataFrame, rules: AlertRules, upto: pd.Timestamp) -> pd.DataFrame:
    seen = posts[posts["created_at"] < upto]
    counts = complaint_counts(seen, ["星阅"], rules)
    customers = pd.DataFrame({"author_id": ["u1"], "customer_id": ["c1"], "clv": [1200.0]})
    start = posts["created_at"].min().tz_convert(upto.tz)
    spikes = detect_spikes(counts, rules, start=start, end=upto - pd.Timedelta(minutes=1))
    return score_spikes(spikes, seen, customers, rules)


def test_escalation_new_then_ongoing_then_resolved() -> None:
    rules = AlertRules(threshold=4.0, min_count=5, resolve_after=3)
    burst = at(10, 13)
    posts = _posts({burst: 20, burst + pd.Timedelta(hours=1): 30})
    alerts = pd.DataFrame()
    states: list[tuple[str, list[str]]] = []
    for hours in (1, 2, 3, 6):  # monitoring passes after 13:00, 14:00, 15:00 and 18:00
        now = burst + pd.Timedelta(hours=hours)
        alerts, events = update_alerts(alerts, _detect(posts, rules, now), now, rules)
        states.append((str(alerts["status"].iat[0]), [e["event"] for e in events]))
    assert states == [("new", ["new"]), ("ongoing", ["ongoing"]), ("ongoing", []), ("resolved", ["resolved"])]
    assert len(alerts) == 1
    alert = alerts.iloc[0]
    assert alert["started_at"] == burst and alert["complaints"] == 50
    assert alert["affected_customers"] == ["c1"]
    assert all("13812345678" not in e["text"] for e in alert["evidence"])

    again, events = update_alerts(alerts, _detect(posts, rules, burst + pd.Timedelta(hours=6)), now, rules)
    assert events == [] and again["status"].tolist() == ["resolved"]  # re-running a pass dispatches nothing


def test_no_alert_state_is_created_during_warmup() -> None:
    rules = AlertRules(threshold=4.0, min_count=5)
    posts = _posts({at(1, 13): 40})
    now = at(2, 0)
    alerts, events = update_alerts(pd.DataFrame(), _detect(posts, rules, now), now, rules)
    assert alerts.empty and events == []


def test_events_and_the_table_carry_report_time() -> None:
    rules = AlertRules(threshold=4.0, min_count=5)
    burst = at(10, 13)
    posts = _posts({burst: 30})
    alerts, events = update_alerts(pd.DataFrame(), _detect(posts, rules, at(10, 14)), at(10, 14), rules)
    assert [e["event"] for e in events] == ["new"]
    assert str(events[0]["started_at"]) == "2026-03-12 13:00:00+08:00"
    assert alerts["categories"].iat[0] == {"质量/故障": 30}


# --------------------------------------------------------------------------- report timezone


def test_days_are_china_days_not_utc_days() -> None:
    """23:30 and 00:30 China time are 15:30 and 16:30 UTC of the same UTC day, but two China days."""
    rules = AlertRules(bucket="day")
    times = pd.to_datetime(["2026-03-10 23:30", "2026-03-11 00:30"]).tz_localize("Asia/Shanghai").tz_convert("UTC")
    assert times.normalize().nunique() == 1  # one UTC day
    posts = pd.DataFrame(
        {"created_at": times, "brands": [["星阅"]] * 2, "complaint": [True] * 2, "complaint_category": ["客服"] * 2}
    )
    counts = complaint_counts(posts, ["星阅"], rules)
    assert [str(t) for t in counts["bucket_start"]] == ["2026-03-10 00:00:00+08:00", "2026-03-11 00:00:00+08:00"]
    assert counts["complaints"].tolist() == [1, 1]
    hourly = complaint_counts(posts, ["星阅"], AlertRules())
    assert [t.hour for t in hourly["bucket_start"]] == [23, 0]  # hour of day in China: the daily season
    assert [str(t) for t in hourly["bucket_start"]] == ["2026-03-10 23:00:00+08:00", "2026-03-11 00:00:00+08:00"]


def test_warmup_ends_at_a_china_midnight_whatever_the_timezone_of_the_data() -> None:
    start_utc = pd.Timestamp("2026-03-01 16:30", tz="UTC")  # 2026-03-02 00:30 in China
    assert str(warmup_end(start_utc, AlertRules(bucket="day"))) == "2026-03-09 00:00:00+08:00"
    assert str(warmup_end(start_utc, AlertRules())) == "2026-03-09 00:00:00+08:00"
    assert warmup_end(pd.Timestamp("2026-03-01 16:30"), AlertRules(bucket="day")) == warmup_end(
        start_utc, AlertRules(bucket="day")
    )  # naive times are UTC, as stored


def test_a_burst_just_after_china_midnight_is_a_spike_of_that_china_day() -> None:
    """Complaints at 00:10–00:50 China time are on the previous UTC day; the daily spike is the China day."""
    rules = AlertRules(threshold=4.0, min_count=5, bucket="day")
    rng = np.random.default_rng(4)
    times = [START + pd.Timedelta(days=d, hours=int(h)) for d in range(30) for h in rng.integers(8, 23, size=3)]
    burst_day = START + pd.Timedelta(days=20)
    times += [burst_day + pd.Timedelta(minutes=10 + m) for m in range(40)]
    created = pd.DatetimeIndex(times).tz_convert("UTC")
    posts = pd.DataFrame(
        {
            "created_at": created,
            "brands": [["星阅"]] * len(created),
            "complaint": [True] * len(created),
            "complaint_category": ["物流/配送"] * len(created),
        }
    )
    counts = complaint_counts(posts, ["星阅"], rules)
    spikes = detect_spikes(counts, rules, start=created.min(), end=created.max())
    assert [str(t) for t in spikes["bucket_start"]] == [str(burst_day)]
    assert spikes["complaints"].iat[0] >= 40


# --------------------------------------------------------------------------- incidents across categories

BACKGROUND = [  # everyday complaints about many things: (category, keywords)
    ("质量/故障", "星阅X5 屏幕 卡顿 避雷"),
    ("质量/故障", "星阅Pad 死机 重启 投诉"),
    ("物流/配送", "星阅 快递 发货 太慢"),
    ("客服", "星阅 客服 态度 投诉"),
    ("安全", "星阅X5 充电器 发热 避雷"),
    ("其他", "星阅 活动 规则 离谱"),
    ("退款/售后", "星阅Pad 退款 审核 消协"),
]


def _incident_posts(bursts: list[tuple[pd.Timestamp, str, str, int]], days: int = 14) -> pd.DataFrame:
    """Background complaints (a few an hour in the daytime) plus bursts of (start, category, keywords, posts)."""
    rng = np.random.default_rng(21)
    rows: list[tuple[pd.Timestamp, str, str]] = []
    for d in range(days):
        for h in range(8, 23):
            for _ in range(int(rng.poisson(0.7))):
                cat, kw = BACKGROUND[int(rng.integers(len(BACKGROUND)))]
                rows.append((at(d, h) + pd.Timedelta(minutes=int(rng.integers(60))), cat, kw))
    for when, cat, kw, n in bursts:
        rows += [(when + pd.Timedelta(minutes=(7 * i) % 120), cat, kw) for i in range(n)]
    n = len(rows)
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "created_at": pd.DatetimeIndex([r[0] for r in rows]).tz_convert("UTC"),
            "text": [r[2].replace(" ", "，") for r in rows],
            "keywords": [r[2] for r in rows],
            "author_id": [f"u{i % 50}" for i in range(n)],
            "followers": [10] * n,
            "brands": [["星阅"]] * n,
            "complaint": [True] * n,
            "complaint_category": [r[1] for r in rows],
        }
    )


BATTERY = [  # one burst — bulging X5 batteries — filed under three categories by the classifier
    ("质量/故障", "星阅X5 电池 鼓包 充电 避雷", 60),
    ("安全", "星阅X5 充电 焦味 鼓包 吓人", 25),
    ("其他", "星阅X5 电池 鼓起来 充电 投诉", 12),
]
DELIVERY = ("物流/配送", "星阅Pad 快递 丢件 物流 消协", 30)  # at the same hours, about something else


def test_one_burst_split_across_categories_is_one_alert_and_an_unrelated_burst_another() -> None:
    rules = AlertRules(threshold=4.0, min_count=5, resolve_after=3)
    burst = at(10, 13)
    posts = _incident_posts([(burst, c, kw, n) for c, kw, n in [*BATTERY, DELIVERY]])
    spikes = _detect(posts, rules, at(10, 18))
    assert set(spikes["category"]) == {"质量/故障", "安全", "其他", "物流/配送"}  # each category spikes on its own
    terms = {s.category: s.terms for s in spikes[spikes["bucket_start"] == burst].itertuples()}
    for category in ("安全", "其他"):
        assert burst_similarity(terms[category], terms["质量/故障"]) >= 2 * rules.merge_similarity
    assert burst_similarity(terms["物流/配送"], terms["质量/故障"]) < rules.merge_similarity / 2

    alerts, events = update_alerts(pd.DataFrame(), spikes, at(10, 18), rules)

    assert len(alerts) == 2, alerts[["category", "categories"]]
    battery = alerts[alerts["category"] == "质量/故障"].iloc[0]
    assert list(battery["categories"]) == ["质量/故障", "安全", "其他"]  # dominant first
    assert battery["complaints"] == sum(battery["categories"].values()) >= 90  # the burst's spiking hours
    assert {"鼓包", "星阅X5"} <= set(list(battery["keywords"])[:6])
    delivery = alerts[alerts["category"] == "物流/配送"].iloc[0]
    assert list(delivery["categories"]) == ["物流/配送"]
    assert "丢件" in delivery["keywords"] and "鼓包" not in delivery["keywords"]
    assert sorted(e["event"] for e in events if e["event"] == "new") == ["new", "new"]  # two dispatches, not four


def test_a_split_burst_escalates_as_one_alert_pass_by_pass() -> None:
    rules = AlertRules(threshold=4.0, min_count=5, resolve_after=3)
    burst = at(10, 13)
    posts = _incident_posts([(burst, c, kw, n) for c, kw, n in BATTERY])
    alerts = pd.DataFrame()
    log: list[list[tuple[str, str]]] = []
    for hours in (1, 2, 3, 8):  # passes after 13:00, 14:00, 15:00 and 20:00
        now = burst + pd.Timedelta(hours=hours)
        alerts, events = update_alerts(alerts, _detect(posts, rules, now), now, rules)
        log.append([(e["event"], e["category"]) for e in events])
    assert log == [[("new", "质量/故障")], [("ongoing", "质量/故障")], [], [("resolved", "质量/故障")]]
    assert len(alerts) == 1 and set(alerts["categories"].iat[0]) == {"质量/故障", "安全", "其他"}
    again, events = update_alerts(alerts, _detect(posts, rules, burst + pd.Timedelta(hours=8)), now, rules)
    assert events == [] and again["complaints"].tolist() == alerts["complaints"].tolist()


def test_the_first_event_of_a_split_burst_lists_every_category_of_its_bucket() -> None:
    rules = AlertRules(threshold=4.0, min_count=5)
    burst = at(10, 13)
    posts = _incident_posts([(burst, c, kw, n) for c, kw, n in BATTERY])
    spikes = _detect(posts, rules, burst + pd.Timedelta(hours=1))
    _, events = update_alerts(pd.DataFrame(), spikes, burst + pd.Timedelta(hours=1), rules)
    assert len(events) == 1
    assert set(events[0]["categories"]) == set(spikes["category"]) and len(spikes) > 1


def test_alerts_stored_before_incidents_are_read_as_one_category_each() -> None:
    """A table without categories/keywords columns (the earlier shape): re-running detection adds nothing."""
    rules = AlertRules(threshold=4.0, min_count=5)
    burst = at(10, 13)
    posts = _posts({burst: 20, burst + pd.Timedelta(hours=1): 30})
    first, _ = update_alerts(pd.DataFrame(), _detect(posts, rules, at(10, 14)), at(10, 14), rules)
    legacy = first.drop(columns=["categories", "keywords"])
    legacy["started_at"] = legacy["started_at"].dt.tz_convert("UTC")  # as the warehouse returns it
    again, events = update_alerts(legacy, _detect(posts, rules, at(10, 14)), at(10, 14), rules)
    assert events == [] and len(again) == 1
    assert again["categories"].iat[0] == {"质量/故障": 20} and again["keywords"].iat[0] == {}
    later, events = update_alerts(legacy, _detect(posts, rules, at(10, 15)), at(10, 15), rules)
    assert [e["event"] for e in events] == ["ongoing"] and later["complaints"].tolist() == [50]


# --------------------------------------------------------------------------- the alerts stage and command


def test_alerts_stage_and_command_say_when_alerting_starts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from yuqing.flows import stages
    from yuqing.flows.cli import app
    from yuqing.store.schema import Platform, Post
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    path = tmp_path / "w.duckdb"
    first = dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC)  # 2026-03-02 00:30 in China
    posts = [
        Post(platform=Platform.WEIBO, id=f"p{i}", text="星阅X5电池鼓包", created_at=first + dt.timedelta(hours=7 * i))
        for i in range(10)
    ]
    with Warehouse.open(path) as wh:
        wh.upsert_posts(posts)
    settings = load_settings(None, warehouse={"path": str(path)})
    lines = stages.alerts(settings, dispatch=False)
    assert lines and lines[0].startswith("warm-up: complaint alerts start at 2026-03-09 00:00 (Asia/Shanghai)")

    result = CliRunner().invoke(app, ["alerts", "--warehouse", str(path)])
    assert result.exit_code == 0, result.output
    assert "alerts start at 2026-03-09 00:00" in result.output and "no alerts" in result.output


def test_day_to_day_swings_widen_the_scale_where_one_hour_looked_steady() -> None:
    """Overdispersed traffic: every hour swings from day to day, except that 15:00 happened to be steady.

    The same-hour spread alone (zero here) would score a bump inside the usual swings as a spike; the
    spread of all hours' seasonal residuals over the window does not.  A real burst still fires.
    """
    rng = np.random.default_rng(3)
    index = pd.date_range(START, periods=21 * 24, freq="h")
    counts = rng.integers(40, 101, size=len(index))
    counts[15::24] = 60  # a steady hour
    bump, burst = at(18, 15), at(20, 15)
    counts[index.get_loc(bump)] = 100  # inside the usual day-to-day range of every other hour
    counts[index.get_loc(burst)] = 400
    frame = pd.DataFrame({"bucket_start": index, "category": "质量/故障", "complaints": counts, "brand": "星阅"})
    rules = AlertRules(threshold=4.0, min_count=8, baseline_days=14)
    spikes = detect_spikes(frame, rules, start=START, end=index[-1])
    assert spikes["bucket_start"].tolist() == [burst]
