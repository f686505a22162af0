"""The whole product on a simulated world: fake platform on 127.0.0.1 → real collectors and spider →
real Prefect flow → warehouse, reports and alerts; checked against the planted truth."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from flows.cli import quiet_prefect_env

quiet_prefect_env()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prefect.testing.utilities import prefect_test_harness

    from flows.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    with prefect_test_harness(server_startup_timeout=180):
        run_demo(out, posts=1000, seed=7, faults=True, hmac_key=secrets.token_hex(16))
    return out


@pytest.mark.slow
def test_everything_the_world_holds_is_stored_exactly_once(demo: Path) -> None:
    from collectors.fake.world import load_world
    from store.warehouse import Warehouse

    world = load_world(demo / "world", records=False)
    with Warehouse.open(demo / "yuqing.duckdb", read_only=True) as wh:
        ids = wh.query("SELECT id FROM posts")["id"]
        counts = wh.table_counts()
    assert ids.is_unique
    assert set(ids) == set(world.posts["id"])
    for table in ("posts", "authors", "interactions", "customers", "orders", "customer_links", "post_analysis"):
        assert counts[table] > 0, table


@pytest.mark.slow
def test_planted_kols_lead_and_burst_raises_one_alert(demo: Path) -> None:
    from store.warehouse import Warehouse

    truth = json.loads((demo / "world" / "truth.json").read_text(encoding="utf-8"))
    with Warehouse.open(demo / "yuqing.duckdb", read_only=True) as wh:
        leaders = wh.query("SELECT author_id FROM leaders ORDER BY rank LIMIT 10")["author_id"].tolist()
        alerts = wh.read_frame("alerts")
    assert set(truth["kols"]) <= set(leaders)
    assert len(alerts) == 1, alerts[["brand", "category", "started_at"]]
    alert = alerts.iloc[0]
    assert alert["brand"] == truth["burst"]["brand"]
    assert str(alert["started_at"])[:10] == truth["burst"]["date"]
    evidence = json.loads(alert["evidence"])
    assert evidence and any("鼓包" in e["text"] or "电池" in e["text"] for e in evidence)


@pytest.mark.slow
def test_reports_recover_the_campaign_lift_and_match_the_warehouse(demo: Path) -> None:
    from store.warehouse import Warehouse

    truth = json.loads((demo / "world" / "truth.json").read_text(encoding="utf-8"))
    campaign = json.loads(next((demo / "reports").glob("campaign_*.json")).read_text(encoding="utf-8"))
    low, high = campaign["did_volume"]["ci95"]
    assert low > 0
    assert low <= truth["campaign"]["planted_volume_lift"] <= high
    brand = json.loads((demo / "reports" / "brand_report.json").read_text(encoding="utf-8"))
    with Warehouse.open(demo / "yuqing.duckdb", read_only=True) as wh:
        mentions = wh.query("SELECT count(*) AS n FROM post_analysis WHERE list_contains(brands, ?)", [truth["brand"]])[
            "n"
        ].iat[0]
    assert brand["totals"][truth["brand"]]["mentions"] == mentions
    # the pass raises alerts before it writes reports: the planted burst is in the report with its evidence
    shown = [a for a in brand["alerts"] if a["started_at"][:10] == truth["burst"]["date"]]
    assert shown and shown[0]["evidence"]
    html = (demo / "reports" / "brand_report.html").read_text(encoding="utf-8")
    assert "<svg" in html and truth["brand"] in html and "http" not in html.split("<body>")[0]
