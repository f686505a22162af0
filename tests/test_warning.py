"""Complaint early warning on synthetic series: warm-up, real spikes, sparse series, alert states."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.warning import AlertRules, complaint_counts, detect_spikes, score_spikes, update_alerts, warmup_end
from store.settings import AlertSettings

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
