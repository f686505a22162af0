"""Campaign evaluation on small frames built here: reach per unique author, the event study and its pre-trend test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from yuqing.reports.data import ReportFrames
from yuqing.store.settings import Campaign


def _posts(rows: list[tuple[dt.date, str, str, int]]) -> pd.DataFrame:
    from yuqing.store.schema import CHINA_TZ

    return pd.DataFrame(
        [
            {
                "platform": "weibo",
                "id": str(i),
                "kind": "post",
                "created_at": pd.Timestamp(dt.datetime.combine(day, dt.time(12), tzinfo=CHINA_TZ)),
                "author_id": author,
                "author_name": author,
                "text": f"{brand} #焕新# {i}",
                "reposts_count": 1,
                "comments_count": 0,
                "attitudes_count": 0,
                "topics": ["焕新"],
                "followers": followers,
                "brands": [brand],
                "brand_sentiment": {brand: 0.7},
            }
            for i, (day, author, brand, followers) in enumerate(rows)
        ]
    )


def _campaign() -> Campaign:
    return Campaign(
        name="焕新", hashtags=["焕新"], start=dt.date(2026, 9, 15), end=dt.date(2026, 9, 17), pre_days=7, post_days=2
    )


def test_reach_counts_each_author_once_not_a_kols_followers_per_post() -> None:
    from yuqing.reports.campaign import campaign_figures

    day = dt.date(2026, 9, 15)
    rows = [(day, "kol", "星阅", 1_000_000)] * 10 + [(day, "fan", "星阅", 100)]
    rows += [(day - dt.timedelta(days=k), "fan", "云雀", 100) for k in range(1, 8)]
    figures = campaign_figures(ReportFrames(posts=_posts(rows)), _campaign(), "星阅", ["云雀"])
    reach = dict(zip(figures["daily"]["days"], figures["daily"]["reach"], strict=True))
    assert reach["2026-09-15"] == 1_000_100  # not 10,000,100
    assert figures["unique_reach"]["during"] == 1_000_100
    assert figures["carriers"][0]["reach"] == 1_000_000 and figures["carriers"][0]["posts"] == 10


def _world(seed: int, trend: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Brand and competitor daily volume, +100 % for the brand on campaign days 0..6, ``trend`` per day before."""
    rng = np.random.default_rng(seed)
    rel = np.arange(-14, 10)
    pre = rel < 0
    ctrl = rng.poisson(200, len(rel)).astype(float)
    brand = rng.poisson(200, len(rel)).astype(float)
    brand[(rel >= 0) & (rel < 7)] *= 2.0
    brand[pre] *= np.exp(trend * (rel[pre] + 14))  # brand already rising before the campaign
    return brand, ctrl, pre, rel


def test_event_study_recovers_a_planted_effect_within_its_interval() -> None:
    from yuqing.reports.campaign import event_study

    brand, ctrl, pre, rel = _world(1, 0.0)
    es = event_study(brand, ctrl, pre, rel)
    days = (rel >= 0) & (rel < 7)
    effect = np.array(es["effect"], dtype=float)[days]
    lo, hi = np.array(es["lo"], dtype=float)[days], np.array(es["hi"], dtype=float)[days]
    assert 0.7 < effect.mean() < 1.3
    assert ((lo < 1.0) & (hi > 1.0)).mean() >= 6 / 7  # the planted +100 % inside the day's 95 % interval
    assert (lo > 0).all()  # and no-effect outside it
    after = np.array(es["effect"], dtype=float)[rel >= 7]
    assert np.abs(after).max() < 0.4  # back to no effect after the campaign


def test_pre_trend_test_has_its_size_and_power() -> None:
    """Parallel worlds pass the test about 95 % of the time; a 3 %/day pre-trend is caught nearly always."""
    from yuqing.reports.campaign import event_study

    seeds = range(60)
    false_alarms = sum(event_study(*_world(s, 0.0))["pretrend"]["parallel"] is False for s in seeds)
    caught = sum(event_study(*_world(s, 0.03))["pretrend"]["parallel"] is False for s in seeds)
    assert false_alarms <= 8  # 5 % nominal: 3 expected of 60
    assert caught >= 55
