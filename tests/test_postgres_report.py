"""The simulated world's brand report from a PostgreSQL warehouse has the figures of the DuckDB one, with the
CRM imported by a CRM role and every stage run by a flow role (masked personal data only)."""

from __future__ import annotations

import json
from pathlib import Path

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
