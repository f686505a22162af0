"""The simulated world's brand report from a PostgreSQL warehouse has the figures of the DuckDB one, with the
CRM imported by a CRM role and every stage run by a flow role (masked personal data only)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from yuqing.store.settings import Settings, load_settings


def _run(settings: Settings, crm: Settings, world: Path, out: Path) -> dict[str, object]:
    from yuqing.collectors.fake.world import load_world
    from yuqing.flows import stages
    from yuqing.store.warehouse import Warehouse

    data = load_world(world)
    with Warehouse.open(settings.warehouse.location) as wh:
        wh.load_posts(data.posts)
        wh.upsert_authors(data.authors)
        wh.add_interactions(data.interactions)
    stages.import_crm(crm, world / "customers.csv", world / "orders.csv")
    frames = [stages.analyse_chunk(c, settings) for c in stages.split(stages.load_unanalysed(settings), 5000)]
    stages.store_analysis(settings, frames)
    stages.topics(settings)
    stages.graph(settings)
    stages.alerts(settings, dispatch=False)
    stages.reports(settings, start=None, end=None, out_dir=out)
    return json.loads((out / "brand_report.json").read_text(encoding="utf-8"))


def test_brand_report_has_the_same_figures_on_both_backends(
    small_world: Path, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yuqing.store.warehouse import Warehouse

    monkeypatch.setenv("YUQING_CRM__HMAC_KEY", "test-key-" + "0" * 32)
    config = small_world / "yuqing.toml"
    duck = load_settings(config, warehouse={"path": str(tmp_path / "w.duckdb")})
    expected = _run(duck, duck, small_world, tmp_path / "duckdb")

    Warehouse.open(pg_url).close()  # the owner makes the schema and the roles
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("CREATE ROLE crm_import LOGIN IN ROLE yuqing_crm")
        con.execute("CREATE ROLE flow_run LOGIN IN ROLE yuqing_flow")
    as_role = {r: pg_url.replace("yuqing_admin@", f"{r}@") for r in ("crm_import", "flow_run")}
    flow = load_settings(config, warehouse={"url": as_role["flow_run"]})
    crm = load_settings(config, warehouse={"url": as_role["crm_import"]})
    got = _run(flow, crm, small_world, tmp_path / "postgres")

    assert got["totals"] == expected["totals"]  # the headline first: a clear message when it differs
    assert got == expected
    assert expected["customers"]["call_first"], "the world's customers reach the report"

    # search and export of the same world, by an analyst (digests and masked values only): the same rows
    from tests.test_postgres_search import utc
    from yuqing.nlp.query import Query
    from yuqing.store.export import EXPORT_TABLES, export_reader
    from yuqing.store.query_sql import search_page, search_reader

    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("CREATE ROLE ana_export LOGIN IN ROLE yuqing_analyst")
    queries = [b.mention_query for b in duck.all_brands] + [
        Query.parse(q)
        for q in ("星阅 (发热 | 烫 | 卡顿) -官方", '"X5 Pro" NEAR/10 (续航 OR 电池)', "#星阅X5焕新季# OR author:小星")
    ]
    seen = {}
    for name, target in (
        ("duckdb", duck.warehouse.location),
        ("postgres", pg_url.replace("yuqing_admin@", "ana_export@")),
    ):
        with Warehouse.open(target, read_only=True) as wh:
            pages = [(n, utc(rows)) for n, rows in (search_page(wh, q, limit=10) for q in queries)]
            hits = [utc(search_reader(wh, q, batch_rows=500).read_all().to_pandas()) for q in queries]
            files = {t: utc(export_reader(wh, t, batch_rows=300).read_all().to_pandas()) for t in EXPORT_TABLES}
        seen[name] = pages, hits, files
    (duck_pages, duck_hits, duck_files), (pg_pages, pg_hits, pg_files) = seen["duckdb"], seen["postgres"]
    assert [n for n, _ in pg_pages] == [n for n, _ in duck_pages] and all(n for n, _ in pg_pages[:3])
    for (_, a), (_, b), x, y in zip(pg_pages, duck_pages, pg_hits, duck_hits, strict=True):
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(x, y)
    for t in EXPORT_TABLES:
        assert len(duck_files[t]) > 0, t
        pd.testing.assert_frame_equal(pg_files[t], duck_files[t])
