"""Issue 15, bounded memory: ``post_counts`` (posts per China hour x platform x kind x brand x polarity x complaint
category, kept up to date by the analyse stage) and the alerts stage that reads it instead of every complaint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import make_author, make_post
from yuqing.store.schema import CHINA_TZ
from yuqing.store.settings import Settings, load_settings
from yuqing.store.warehouse import Warehouse

BRAND = "星阅"
DAY0 = dt.datetime(2026, 10, 1, tzinfo=CHINA_TZ)
COUNT_COLUMNS = ["posts", "engagement", "sentiment_n", "sentiment_sum", "positive", "negative"]


def _settings(tmp_path: Path) -> Settings:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "yuqing.toml"
    config.write_text(f'[brand]\nname = "{BRAND}"\n[[competitors]]\nname = "楚风"\n', encoding="utf-8")
    return load_settings(config, warehouse={"path": str(tmp_path / "w.duckdb")})


def _analysis(ids: list[str], *, complaint: bool, keywords: str, brands: list[str]) -> pd.DataFrame:
    score = 0.2 if complaint else 0.7
    return pd.DataFrame(
        {
            "platform": "weibo",
            "id": ids,
            "sentiment": score,
            "polarity": "negative" if complaint else "positive",
            "complaint": complaint,
            "complaint_category": "质量" if complaint else "",
            "emotion": "anger" if complaint else "joy",
            "keywords": keywords,
            "brands": [brands] * len(ids),
            "brand_sentiment": [{b: score for b in brands}] * len(ids),
            "tokens": keywords,
        }
    )


def _complaint_world(settings: Settings, copies: int) -> None:
    """Ten days of hourly posts naming the brand, a few complaints in the warm-up days and one burst of complaints
    on day 9 at 14:00 (China time); ``copies`` times each post, over the same 40 authors, days and brands."""
    posts, analyses = [], []
    n = 0

    def add(at: dt.datetime, count: int, *, complaint: bool, keywords: str, text: str) -> None:
        nonlocal n
        ids = []
        for k in range(count):
            ids.append(f"p{n}")
            posts.append(
                make_post(n, id=f"p{n}", text=text, created_at=at + dt.timedelta(seconds=k), author_id=str(n % 40))
            )
            n += 1
        analyses.append(_analysis(ids, complaint=complaint, keywords=keywords, brands=[BRAND]))

    for day in range(10):
        for hour in range(24):
            at = DAY0 + dt.timedelta(days=day, hours=hour)
            add(at, copies, complaint=False, keywords="天气 不错", text="星阅 今天天气不错")
    for day in (1, 2, 3):  # before the warm-up ends: never scored, the background terms are lifted against
        add(DAY0 + dt.timedelta(days=day, hours=10), copies, complaint=True, keywords="快递 太慢", text="星阅 快递太慢")
    burst = DAY0 + dt.timedelta(days=9, hours=14)
    add(burst, 6 * copies, complaint=True, keywords="电池 鼓包 发热", text="星阅X5 电池鼓包 发热")
    add(burst, 2 * copies, complaint=True, keywords="", text="星阅X5电池鼓包了 help")  # terms from the text
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.ingest(posts=posts, authors=[make_author(i) for i in range(40)])
        wh.save_analysis(pd.concat(analyses, ignore_index=True))


def _recount(wh: Warehouse) -> pd.DataFrame:
    """post_counts recounted in pandas from one row per post and brand (the reference)."""
    posts = wh.query(
        "SELECT p.created_at, p.platform, p.kind, p.reposts_count + p.comments_count + p.attitudes_count AS e, "
        "a.sentiment, coalesce(a.polarity, '') AS polarity, coalesce(a.complaint, false) AS complaint, "
        "coalesce(a.complaint_category, '') AS complaint_category, a.brands, a.brand_sentiment::VARCHAR AS bs "
        "FROM posts p LEFT JOIN post_analysis a USING (platform, id)"
    )
    import json

    rows = []
    for r in posts.itertuples():
        hour = pd.Timestamp(r.created_at).tz_convert(CHINA_TZ).floor("h").tz_localize(None)
        scores = json.loads(r.bs) if isinstance(r.bs, str) else {}
        named = list(dict.fromkeys(r.brands)) if r.brands is not None else []
        for brand, s in [("", r.sentiment), *[(b, scores.get(b)) for b in named]]:
            s = None if s is None or pd.isna(s) else float(s)
            rows.append(
                {
                    "hour": hour, "platform": r.platform, "kind": r.kind, "brand": brand, "polarity": r.polarity,
                    "complaint": bool(r.complaint), "complaint_category": r.complaint_category, "posts": 1,
                    "engagement": int(r.e), "sentiment_n": int(s is not None), "sentiment_sum": s or 0.0,
                    "positive": int(s is not None and s >= 0.6), "negative": int(s is not None and s < 0.4),
                }
            )  # fmt: skip
    key = ["hour", "platform", "kind", "brand", "polarity", "complaint", "complaint_category"]
    return pd.DataFrame(rows).groupby(key, as_index=False)[COUNT_COLUMNS].sum().sort_values(key, ignore_index=True)


def _stored(wh: Warehouse) -> pd.DataFrame:
    key = ["hour", "platform", "kind", "brand", "polarity", "complaint", "complaint_category"]
    frame = wh.query(f"SELECT {', '.join(key + COUNT_COLUMNS)} FROM post_counts")
    return frame.sort_values(key, ignore_index=True)


def test_post_counts_equal_a_per_post_recount_and_a_reanalysis_counts_each_post_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _complaint_world(settings, 1)
    with Warehouse.open(settings.warehouse.path) as wh:
        first = _stored(wh)
        pd.testing.assert_frame_equal(first, _recount(wh), check_dtype=False)
        assert first.loc[first["brand"] == BRAND, "posts"].sum() == 240 + 3 + 8
        analysis = wh.read_table("post_analysis", decode_json=True).drop(columns=["analysed_at"])
        wh.save_analysis(analysis)  # --reanalyse writes every row again: hours recounted, nothing counted twice
        pd.testing.assert_frame_equal(_stored(wh), first, check_dtype=False)
        # a later fetch of a post with more engagement: the hour is recounted at the next refresh
        wh.ingest(posts=[make_post(0, id="p0", text="星阅 今天天气不错", created_at=DAY0, author_id="0",
                                   reposts_count=1000, fetched_at=DAY0 + dt.timedelta(days=30))])  # fmt: skip
        assert wh.refresh_post_counts() == 1
        after = _stored(wh)
        pd.testing.assert_frame_equal(after, _recount(wh), check_dtype=False)
        every = after["brand"] == ""  # brand '' counts each post once
        assert after.loc[every, "engagement"].sum() == first.loc[first["brand"] == "", "engagement"].sum() + 1000
        assert wh.refresh_post_counts() == 0  # nothing changed since: nothing recounted


def _reference_alerts(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Complaint counts and scored spikes computed the way the stage did before, from every complaint post."""
    from yuqing.flows import stages
    from yuqing.reports.data import load_frames
    from yuqing.reports.warning import AlertRules, complaint_counts, detect_spikes, score_spikes

    rules = AlertRules.from_settings(settings.alerts)
    frames = load_frames(settings.warehouse.path, complaints_only=True, text=True)
    counts = complaint_counts(frames.posts, [b.name for b in settings.all_brands], rules)
    span = stages.data_span(settings)
    assert span is not None
    spikes = detect_spikes(counts, rules, start=span[0], end=span[1])
    return counts, score_spikes(spikes, frames.posts, frames.customers, rules)


def test_alert_counts_and_spikes_from_the_warehouse_equal_those_from_every_complaint(tmp_path: Path) -> None:
    from yuqing.flows import stages
    from yuqing.reports.warning import AlertRules, complaint_counts, detect_spikes, score_spikes

    settings = _settings(tmp_path)
    _complaint_world(settings, 3)
    old_counts, old_spikes = _reference_alerts(settings)
    rules = AlertRules.from_settings(settings.alerts)
    span = stages.data_span(settings)
    assert span is not None
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        counts = complaint_counts(wh, [b.name for b in settings.all_brands], rules)
        spikes = score_spikes(detect_spikes(counts, rules, start=span[0], end=span[1]), wh, pd.DataFrame(), rules)
    key = ["brand", "category", "bucket_start"]
    pd.testing.assert_frame_equal(
        counts.sort_values(key, ignore_index=True)[[*key, "complaints"]],
        old_counts.sort_values(key, ignore_index=True)[[*key, "complaints"]],
        check_dtype=False,
    )
    assert len(spikes) == 1 and spikes["complaints"].iat[0] == 24
    assert {"鼓包", "电池", "help"} <= set(spikes["terms"].iat[0])  # keywords, and the text's terms without them
    for column in old_spikes.columns:
        assert spikes[column].tolist() == old_spikes[column].tolist(), column


def _count_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the rows every warehouse connection fetched (``Warehouse.rows_fetched``), added at close."""
    fetched = [0]
    close = Warehouse.close

    def counting_close(self: Warehouse) -> None:
        if not self._closed:
            fetched[0] += self.rows_fetched
        close(self)

    monkeypatch.setattr(Warehouse, "close", counting_close)
    return fetched


def test_alerts_stage_rows_read_do_not_grow_with_posts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The must-show bound: 10x the posts over the same days, brands and authors fetch the same rows."""
    from yuqing.flows import stages

    fetched = _count_rows(monkeypatch)
    read = []
    for copies in (2, 20):
        settings = _settings(tmp_path / str(copies))
        _complaint_world(settings, copies)
        fetched[0] = 0
        lines = stages.alerts(settings, dispatch=False)
        assert lines[0].startswith(f"new: {BRAND} 质量 since 2026-10-10 14:00"), lines
        with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
            alert = wh.alerts().iloc[0]
            assert wh.table_counts()["posts"] == (240 + 3 + 8) * copies
        assert alert["complaints"] == 8 * copies and len(alert["evidence"]) == 5
        read.append(fetched[0])
    small, large = read
    assert 0 < small == large < 100, read


FIXTURES = Path(__file__).parent / "fixtures" / "warehouse"


def test_a_schema6_warehouse_upgrades_to_counted_posts_and_reports_what_it_reported(tmp_path: Path) -> None:
    """A warehouse written by the release before post_counts (`yuqing demo --posts 200 --seed 3` at deb100c) gets
    the table by `yuqing db upgrade`, counted from its posts, and today's brand report from it (reading the counts)
    equals the one that release wrote."""
    import gzip
    import json
    import shutil

    from typer.testing import CliRunner

    from tests.test_contract import DEMO_BRANDS
    from yuqing.flows.cli import build_app
    from yuqing.store.warehouse import SCHEMA_VERSION

    path = tmp_path / "old.duckdb"
    with gzip.open(FIXTURES / "schema6-demo.duckdb.gz", "rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    assert Warehouse.stored_version(path) == 6
    runner = CliRunner()
    done = runner.invoke(build_app(), ["db", "upgrade", "--warehouse", str(path)])
    assert done.exit_code == 0, done.output
    assert f"schema version 6 -> {SCHEMA_VERSION}" in done.output
    with Warehouse.open(path) as wh:
        counts = _stored(wh)
        posts = wh.table_counts()["posts"]
        assert counts.loc[counts["brand"] == "", "posts"].sum() == posts > 0
        pd.testing.assert_frame_equal(counts, _recount(wh), check_dtype=False)
        assert wh.refresh_post_counts() == 0  # counted as it stands: nothing stale
    old = json.loads(gzip.decompress((FIXTURES / "schema6-demo-brand_report.json.gz").read_bytes()))
    config = tmp_path / "yuqing.toml"
    config.write_text(DEMO_BRANDS, encoding="utf-8")
    out = tmp_path / "out"
    args = ["report", "brand", "--config", str(config), "--warehouse", str(path), "--out", str(out), "--no-pdf"]
    result = runner.invoke(build_app(), [*args, "--from", old["period"]["from"], "--to", old["period"]["to"]])
    assert result.exit_code == 0, result.output
    new = json.loads((out / "brand_report.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in new.items() if k != "generated_at"} == {
        k: v for k, v in old.items() if k != "generated_at"
    }
    # the campaign report (its figures in SQL now) is the one that release wrote too
    config.write_text(
        DEMO_BRANDS + '[[campaigns]]\nname = "焕新季"\nhashtags = ["星阅X5焕新季"]\nstart = 2026-09-21\n'
        "end = 2026-09-28\npre_days = 14\npost_days = 7\n",
        encoding="utf-8",
    )
    args = ["report", "campaign", "焕新季", "--config", str(config), "--warehouse", str(path), "--out", str(out)]
    result = runner.invoke(build_app(), [*args, "--no-pdf"])
    assert result.exit_code == 0, result.output
    got = json.loads((out / "campaign_焕新季.json").read_text(encoding="utf-8"))
    want = json.loads(gzip.decompress((FIXTURES / "schema6-demo-campaign_report.json.gz").read_bytes()))
    for key in want:
        assert got[key] == want[key], key
    assert got == want


def test_brand_and_campaign_reports_rows_read_do_not_grow_with_posts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The must-show bound for the reports stage (brand and campaign report): 10x the posts over the same days,
    brands and authors fetch the same rows (counts per day, platform and category; the top posts and examples
    shown; distinct accounts' reach per day)."""
    from yuqing.reports.brand import brand_report
    from yuqing.reports.campaign import campaign_figures
    from yuqing.reports.data import campaign_frames
    from yuqing.store.settings import Campaign

    fetched = _count_rows(monkeypatch)
    read, figures = [], []
    for copies in (2, 20):
        settings = _settings(tmp_path / str(copies))
        _complaint_world(settings, copies)
        fetched[0] = 0
        f = brand_report(settings.warehouse.path, BRAND, ["楚风"], DAY0.date(), (DAY0 + dt.timedelta(days=9)).date())
        campaign = Campaign(name="焕新", hashtags=["星阅X5"], start=DAY0.date() + dt.timedelta(days=5),
                            end=DAY0.date() + dt.timedelta(days=6), pre_days=4, post_days=2)  # fmt: skip
        c = campaign_figures(campaign_frames(settings.warehouse.path, campaign), campaign, BRAND, ["楚风"])
        assert c["daily"]["volume"][BRAND][0] == 25 * copies  # day 1: 24 hourly posts and a complaint
        figures.append(f)
        read.append(fetched[0])
    small, large = figures
    assert large["totals"][BRAND]["mentions"] == 10 * small["totals"][BRAND]["mentions"] == (240 + 3 + 8) * 20
    assert large["complaints"][0]["posts"] == 10 * small["complaints"][0]["posts"] == 11 * 2 * 10
    assert len(large["top_posts"]) == 10 and len(large["complaints"][0]["examples"]) == 3
    assert 0 < read[0] == read[1] < 200, read


def _materialised_rows(plan: dict[str, Any]) -> int:
    """The most rows any operator of a DuckDB ``EXPLAIN (ANALYZE, FORMAT JSON)`` plan read back from a materialised
    CTE (``CTE_SCAN``): rows DuckDB held whole in memory for the query."""
    here = int(plan.get("intermediate_rows", 0)) if plan.get("type") == "CTE_SCAN" else 0
    below = [_materialised_rows(c) for c in [*plan.get("children", []), *plan.get("operator", [])]]
    return max([here, *below])


def test_report_reads_hold_no_row_per_post_in_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows a report read returns are bounded (test above); what DuckDB holds while it runs must be too.
    ``? = ANY(a.brands)`` was planned as a correlated subquery over the unnested list, which materialised every
    post of the period's join (a CTE of 5,020 rows here at 20 copies, 502 at 2; at 250k simulated posts
    ``top_mentions`` peaked +271 MB, +81 MB with ``list_contains``). Every SQL read of the brand and campaign
    report is run again under EXPLAIN ANALYZE: what any of them materialises is the same at 10x the posts."""
    import json

    from yuqing.reports.brand import brand_report
    from yuqing.reports.campaign import campaign_figures
    from yuqing.reports.data import campaign_frames
    from yuqing.store.settings import Campaign

    reads: list[tuple[str, Any]] = []
    query = Warehouse.query

    def recording(self: Warehouse, sql: str, params: Any = None) -> pd.DataFrame:
        reads.append((sql, params))
        return query(self, sql, params)

    monkeypatch.setattr(Warehouse, "query", recording)
    held = []
    for copies in (2, 20):
        settings = _settings(tmp_path / str(copies))
        _complaint_world(settings, copies)
        reads.clear()
        brand_report(settings.warehouse.path, BRAND, ["楚风"], DAY0.date(), (DAY0 + dt.timedelta(days=9)).date())
        campaign = Campaign(name="焕新", hashtags=["星阅X5"], start=DAY0.date() + dt.timedelta(days=5),
                            end=DAY0.date() + dt.timedelta(days=6), pre_days=4, post_days=2)  # fmt: skip
        campaign_figures(campaign_frames(settings.warehouse.path, campaign), campaign, BRAND, ["楚风"])
        assert len(reads) > 10
        with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
            plans = [
                wh.con.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchall()[0][1]
                for sql, params in reads
            ]
        held.append(max(_materialised_rows(json.loads(p)) for p in plans))
    small, large = held
    assert large == small < 100, held


def test_the_background_sample_in_sql_picks_the_rows_numpy_picks() -> None:
    """The alerts' background sample (evenly spaced quiet complaints) is chosen in SQL: the same rows as
    ``numpy.linspace(0, n - 1, num).astype(int)``, the reference path's choice."""
    import duckdb
    import numpy as np

    from yuqing.store.warehouse import linspace_sql

    con = duckdb.connect()
    for n, num in [(3, 2), (10, 7), (20_001, 20_000), (29_999, 20_000), (123_457, 20_000), (1_000_003, 20_000)]:
        got = sorted(r[0] for r in con.execute(linspace_sql(n, num)).fetchall())
        assert got == np.linspace(0, n - 1, num).astype(int).tolist(), (n, num)
