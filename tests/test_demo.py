"""The whole product on a simulated world: fake platform on 127.0.0.1 → real collectors and spider →
real Prefect flow → warehouse, reports and alerts; checked against the planted truth."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from yuqing.flows.cli import quiet_prefect_env
from yuqing.flows.demo import DemoSummary

YUQING = str(Path(sys.executable).with_name("yuqing"))

quiet_prefect_env()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    from prefect.testing.utilities import prefect_test_harness

    from yuqing.flows.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    with pytest.MonkeyPatch.context() as env, prefect_test_harness(server_startup_timeout=180):
        env.delenv("YUQING_CRM__HMAC_KEY", raising=False)  # a newcomer's shell: the demo's own key file only
        summary = run_demo(out, posts=1000, seed=7, faults=True, console=console)
    (out / "console.txt").write_text(console.file.getvalue(), encoding="utf-8")  # type: ignore[attr-defined]
    return out, summary


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Path, DemoSummary]) -> Path:
    return demo_run[0]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("YUQING_")} | {"COLUMNS": "200"}


def test_the_world_config_the_demo_leaves_names_the_demo_s_warehouse_reports_and_key(tmp_path: Path) -> None:
    """``demo-out/world/yuqing.toml`` named ``demo-out/world/yuqing.duckdb``, which nothing ever wrote (issue 14)."""
    from yuqing.collectors.fake.world import generate_world
    from yuqing.flows.demo import write_demo_config
    from yuqing.store.settings import load_settings

    out = tmp_path / "demo-out"
    generate_world(out / "world", posts=200, seed=3)
    demo = load_settings(write_demo_config(out, out / "world"))
    world = load_settings(out / "world" / "yuqing.toml")
    assert world.warehouse.path.resolve() == demo.warehouse.path.resolve() == (out / "yuqing.duckdb").resolve()
    assert world.flows.out_dir.resolve() == demo.flows.out_dir.resolve()
    assert world.crm.hmac_key_file and world.crm.hmac_key_file.resolve() == (out / "crm.key").resolve()
    assert world.brand == demo.brand and world.campaigns == demo.campaigns


@pytest.mark.slow
def test_the_demo_config_works_as_it_stands_with_its_own_0600_key(demo: Path) -> None:
    from yuqing.store.settings import load_settings

    truth = json.loads((demo / "world" / "truth.json").read_text(encoding="utf-8"))
    config = demo / "yuqing.toml"
    key_file = demo / "crm.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    env = {k: os.environ.pop(k) for k in list(os.environ) if k == "YUQING_CRM__HMAC_KEY"}
    try:
        settings = load_settings(config)
        assert settings.warehouse.path == demo / "yuqing.duckdb" and settings.warehouse.path.exists()
        assert (
            load_settings(demo / "world" / "yuqing.toml").warehouse.path.resolve() == settings.warehouse.path.resolve()
        )
        assert settings.brand.name == truth["brand"] != "示例品牌"
        assert settings.crm.hmac_key_file == key_file
        assert settings.crm.key_bytes() == key_file.read_text(encoding="utf-8").strip().encode()
    finally:
        os.environ.update(env)
    # the stored customer hashes were made with that key (and a command given another key is refused)
    from yuqing.store.crm import check_key_fingerprint
    from yuqing.store.errors import ConfigError
    from yuqing.store.warehouse import Warehouse

    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        assert wh.con.execute("SELECT count(*) FROM crm_key").fetchone() == (1,)
        check_key_fingerprint(wh, key_file.read_text(encoding="utf-8").strip().encode())
        with pytest.raises(ConfigError):
            check_key_fingerprint(wh, b"x" * 32)


@pytest.mark.slow
def test_the_next_commands_printed_by_the_demo_run_as_printed(
    demo_run: tuple[Path, DemoSummary], tmp_path: Path
) -> None:
    out, summary = demo_run
    truth = json.loads((out / "world" / "truth.json").read_text(encoding="utf-8"))
    assert len(summary.next_commands) == 3
    outputs = []
    for command in summary.next_commands:
        argv = shlex.split(command)
        assert argv[0] == "yuqing"
        proc = subprocess.run(
            [YUQING, *argv[1:]], cwd=Path.cwd(), env=_env(), capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, (command, proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr
        outputs.append(proc.stdout)
    brand = json.loads((out / "reports" / "brand_report.json").read_text(encoding="utf-8"))
    assert brand["totals"][truth["brand"]]["mentions"] > 0
    assert truth["brand"] in outputs[1]


@pytest.mark.slow
def test_progress_prints_each_stage_as_it_ends_with_its_time_and_rows(demo: Path) -> None:
    lines = (demo / "console.txt").read_text(encoding="utf-8").splitlines()
    done = {m.group(1): m.group(2) for line in lines if (m := re.match(r"✓ (\w+) +[\d.]+ s  (.*)$", line))}
    assert list(done)[:3] == ["collect", "crm", "analyse"], lines
    assert {"topics", "graph", "reports", "alerts"} <= set(done)
    assert re.fullmatch(r"[\d,]+ posts", done["analyse"]) and done["analyse"] != "0 posts"
    assert "customers" in done["crm"] and "leaders" in done["graph"]


@pytest.mark.slow
def test_everything_the_world_holds_is_stored_exactly_once(demo: Path) -> None:
    from yuqing.collectors.fake.world import load_world
    from yuqing.store.warehouse import Warehouse

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
    from yuqing.store.warehouse import Warehouse

    truth = json.loads((demo / "world" / "truth.json").read_text(encoding="utf-8"))
    with Warehouse.open(demo / "yuqing.duckdb", read_only=True) as wh:
        leaders = wh.query("SELECT author_id FROM leaders ORDER BY rank LIMIT 10")["author_id"].tolist()
        alerts = wh.read_table("alerts")
    assert set(truth["kols"]) <= set(leaders)
    assert len(alerts) == 1, alerts[["brand", "category", "started_at"]]
    alert = alerts.iloc[0]
    assert alert["brand"] == truth["burst"]["brand"]
    assert str(alert["started_at"])[:10] == truth["burst"]["date"]
    evidence = json.loads(alert["evidence"])
    assert evidence and any("鼓包" in e["text"] or "电池" in e["text"] for e in evidence)


@pytest.mark.slow
def test_reports_recover_the_campaign_lift_and_match_the_warehouse(demo: Path) -> None:
    from yuqing.store.warehouse import Warehouse

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


@pytest.mark.slow
def test_the_world_s_tickets_are_imported_and_the_no_ticket_section_is_filled(demo: Path) -> None:
    """The demo loads the world's service tickets with its customers and orders, so the brand report's
    公开投诉但无工单的客户 section (and its CSV) is made, not skipped for want of tickets."""
    import pandas as pd

    from yuqing.store.warehouse import Warehouse

    planted = pd.read_csv(demo / "world" / "tickets.csv")
    with Warehouse.open(demo / "yuqing.duckdb", read_only=True) as wh:
        stored = wh.table_counts()["tickets"]
    assert stored == len(planted) > 0
    no_ticket = pd.read_csv(demo / "reports" / "brand_no_ticket.csv")
    assert len(no_ticket) > 0
    assert "公开投诉但无工单的客户" in (demo / "reports" / "brand_report.html").read_text(encoding="utf-8")
