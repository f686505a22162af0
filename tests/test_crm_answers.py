"""CRM answers through the CLI: tickets import, complaints without a ticket (planted in the simulated world),
KOLs ranked by the customers their audience reaches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from yuqing.store.errors import InputError

KEY = "test-key-" + "0" * 32


def _app() -> typer.Typer:
    from yuqing.flows.cli import build_app

    return build_app()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(_app(), list(args), env={"YUQING_CRM__HMAC_KEY": KEY, "COLUMNS": "300"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def world_db(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The small world's posts stored and analysed; the CRM export and tickets loaded through the CLI."""
    from yuqing.collectors.fake.world import load_world
    from yuqing.flows import stages
    from yuqing.store.schema import Author, Interaction
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    out = tmp_path_factory.mktemp("crm_answers")
    db = out / "w.duckdb"
    env = pytest.MonkeyPatch()  # the key for this module only: a leaked key would change later tests' hashing
    env.setenv("YUQING_CRM__HMAC_KEY", KEY)
    settings = load_settings(small_world / "yuqing.toml", warehouse={"path": str(db)})
    world = load_world(small_world)
    with Warehouse.open(db) as wh:
        wh.upsert_posts_frame(world.posts)
        wh.upsert_authors(Author.model_validate(r) for r in world.authors.to_dict("records"))
        wh.add_interactions(Interaction.model_validate(r) for r in world.interactions.to_dict("records"))
    frames = [stages.analyse_chunk(c, settings) for c in stages.split(stages.load_unanalysed(settings), 5000)]
    stages.store_analysis(settings, frames)
    code, _, stderr = _run(
        "crm", "import", str(small_world / "customers.csv"), str(small_world / "orders.csv"),
        "-c", str(small_world / "yuqing.toml"), "--warehouse", str(db),
    )  # fmt: skip
    assert code == 0, stderr
    yield db, small_world
    env.undo()


def _listed(path: Path) -> list[str]:
    return pd.read_csv(path, dtype=str, keep_default_na=False)["customer_id"].tolist()


def test_complaints_without_ticket_recover_exactly_the_planted_ones(
    world_db: tuple[Path, Path], tmp_path: Path
) -> None:
    db, world = world_db
    truth = json.loads((world / "truth.json").read_text(encoding="utf-8"))
    planted = truth["complaints_without_ticket"]
    assert len(planted) >= 3
    cfg = ("-c", str(world / "yuqing.toml"), "--warehouse", str(db))
    # before the tickets are loaded, every complaining customer is listed (and the command says why)
    code, _, stderr = _run("complaints", "--no-ticket", "--output", str(tmp_path / "before.csv"), *cfg)
    assert code == 0 and "no tickets imported" in stderr
    before = _listed(tmp_path / "before.csv")
    assert set(planted) < set(before)
    code, stdout, stderr = _run("crm", "import", "--tickets", str(world / "tickets.csv"), *cfg)
    assert code == 0, stderr
    n_tickets = len(pd.read_csv(world / "tickets.csv"))
    assert f"tickets: {n_tickets:,} loaded" in stdout
    code, stdout, stderr = _run("complaints", "--no-ticket", "--output", str(tmp_path / "after.csv"), *cfg)
    assert code == 0, stderr
    rows = pd.read_csv(tmp_path / "after.csv", dtype={"customer_id": str, "name": str})
    assert sorted(rows["customer_id"]) == planted
    assert rows["clv"].is_monotonic_decreasing  # ranked by customer value
    assert (rows["open_tickets"] == 0).all() and (rows["closed_tickets"] > 0).any()
    # identity masked: no clear name from the CRM in the output or on screen
    names = pd.read_csv(world / "customers.csv", dtype=str).set_index("客户编号")["姓名"]
    for cid, shown in zip(rows["customer_id"], rows["name"], strict=True):
        assert names[cid] not in stdout and shown != names[cid] and "*" in shown
    assert not rows["text"].str.contains(r"1[3-9]\d{9}", regex=True).any()  # no clear phone in a post's text
    # without --no-ticket the customers with an open ticket are listed too, with their count
    code, _, _ = _run("complaints", "--output", str(tmp_path / "all.csv"), *cfg)
    every = pd.read_csv(tmp_path / "all.csv", dtype={"customer_id": str})
    assert code == 0 and set(every["customer_id"]) == set(before)
    assert (every.set_index("customer_id").drop(planted)["open_tickets"] > 0).all()


def test_ticket_import_reports_bad_rows_reads_gbk_and_loads_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    src = tmp_path / "tickets.csv"
    src.write_bytes(
        "客户编号,创建时间,工单类型,状态\n"
        "C1,2026-10-01 09:00,物流,待处理\n"
        "C2,not a time,质量,已解决\n"
        ",2026-10-02 10:00,质量,处理中\n"
        "C3,2026-10-03 11:00,退款,\n"
        "C4,2026-10-04 12:00,退款,已关闭\n".encode("gb18030")
    )
    code, stdout, stderr = _run("crm", "import", "--tickets", str(src), "--warehouse", str(db))
    assert code == 0, stderr
    assert "tickets: 2 loaded (1 open)" in stdout
    assert f"{src}:3 [opened_at]" in stderr and f"{src}:4 [customer_id]" in stderr and f"{src}:5 [status]" in stderr
    assert "Traceback" not in stdout + stderr
    again, _, _ = _run("crm", "import", "--tickets", str(src), "--warehouse", str(db))  # re-import: same rows
    from yuqing.store.warehouse import Warehouse

    with Warehouse.open(db, read_only=True) as wh:
        got = wh.query("SELECT customer_id, status, is_open FROM tickets ORDER BY 1")
    assert again == 0 and got.values.tolist() == [["C1", "待处理", True], ["C4", "已关闭", False]]
    missing = tmp_path / "bad.csv"
    missing.write_text("客户编号,类别\nC1,物流\n", encoding="utf-8")
    failed = CliRunner().invoke(_app(), ["crm", "import", "--tickets", str(missing), "--warehouse", str(db)])
    assert isinstance(failed.exception, InputError)  # main() prints it as one line `error: FILE:LINE [field]: why`
    assert str(failed.exception).startswith(f"{missing}:1 [opened_at]")
    code, _, stderr = _run("crm", "import", "--warehouse", str(db))
    assert code == 2 and "--tickets" in stderr


def test_kol_reach_counts_the_linked_customers_in_the_audience_and_their_value() -> None:
    from yuqing.graph.customers import kol_customer_reach

    inter = pd.DataFrame(
        {
            "platform": ["weibo"] * 5,
            "source_author_id": ["a", "b", "b", "c", "x"],
            "target_author_id": ["kol", "kol", "kol", "kol", "other"],
        }
    )
    links = pd.DataFrame({"customer_id": ["C1", "C2", "C9"], "platform": "weibo", "author_id": ["a", "b", "x"]})
    values = pd.DataFrame({"customer_id": ["C1", "C2", "C9"], "clv": [100.0, 50.5, 7.0]})
    out = kol_customer_reach(inter, links, values).set_index("author_id")
    assert out.loc["kol", "customers_reached"] == 2 and out.loc["kol", "customers_value"] == 150.5
    assert out.loc["other", "customers_reached"] == 1 and "c" not in out.index


def test_graph_stage_stores_the_kols_customer_reach(world_db: tuple[Path, Path]) -> None:
    from yuqing.flows import stages
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    db, world = world_db
    settings = load_settings(world / "yuqing.toml", warehouse={"path": str(db)})
    stages.graph(settings)
    with Warehouse.open(db, read_only=True) as wh:
        leaders = wh.read_table("leaders")
        # the audience: stored interactions and the @mentions the warehouse resolves from posts
        wh.con.register("_edges", wh.interaction_edges())
        expected = wh.query(
            "SELECT i.target_author_id AS author_id, count(DISTINCT l.customer_id) AS n FROM _edges i "
            "JOIN customer_links l ON l.platform = i.platform AND l.author_id = i.source_author_id GROUP BY 1"
        ).set_index("author_id")["n"]
    truth = json.loads((world / "truth.json").read_text(encoding="utf-8"))
    kols = leaders[leaders["author_id"].isin(truth["kols"])].set_index("author_id")
    assert (kols["customers_reached"] > 0).sum() > len(kols) // 2  # KOLs' audiences hold customers
    assert kols["customers_value"].max() > 0
    got = leaders.set_index("author_id")["customers_reached"]
    assert got.reindex(expected.index).astype(int).tolist() == expected.astype(int).tolist()


def test_alerts_list_the_affected_customers_and_their_value(world_db: tuple[Path, Path]) -> None:
    from yuqing.flows import stages
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    db, world = world_db
    settings = load_settings(world / "yuqing.toml", warehouse={"path": str(db)})
    stages.graph(settings)
    stages.alerts(settings, dispatch=False)
    with Warehouse.open(db, read_only=True) as wh:
        alert = wh.read_table("alerts").sort_values("affected_clv").iloc[-1]
    hit = json.loads(alert["affected_customers"])
    truth = json.loads((world / "truth.json").read_text(encoding="utf-8"))
    assert len(set(truth["burst"]["high_value_complainers"]) & set(hit)) >= 2  # the planted burst complainers
    code, stdout, stderr = _run("alerts", "-c", str(world / "yuqing.toml"), "--warehouse", str(db))
    assert code == 0, stderr
    line = next(x for x in stdout.splitlines() if alert["alert_id"] in x)
    assert f"{len(hit)} ({', '.join(hit[:3])}" in line and f"{float(alert['affected_clv']):,.0f}" in line


def test_complaints_without_ticket_masks_names_and_contacts_in_post_text() -> None:
    from yuqing.graph.customers import complaints_without_ticket

    t = pd.Timestamp("2026-10-01", tz="UTC")
    posts = pd.DataFrame(
        {"platform": "weibo", "id": ["p1", "p2"], "author_id": ["a1", "a2"], "created_at": [t, t],
         "complaint_category": ["质量", "物流"], "text": ["退货被拒，联系我 13812345678", "快递太慢"]}
    )  # fmt: skip
    links = pd.DataFrame({"customer_id": ["C1", "C2"], "platform": "weibo", "author_id": ["a1", "a2"]})
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "name": ["张三丰", "李四"], "clv": [10.0, 99.0]})
    tickets = pd.DataFrame({"customer_id": ["C2"], "is_open": [True]})
    rows = complaints_without_ticket(posts, links, customers, tickets)
    assert rows["customer_id"].tolist() == ["C1"] and rows["name"].tolist() == ["张**"]
    assert "13812345678" not in rows["text"].iat[0] and "退货被拒" in rows["text"].iat[0]
