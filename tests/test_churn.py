"""Churn warning (客户流失预警): the score on hand-made customers, and through the CLI on the simulated world's
planted churners (they complain, go quiet and stop buying)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from tests.test_crm_answers import _app, _run, world_db  # noqa: F401  (the module's warehouse fixture)
from yuqing.graph.churn import churn_risk, rfm_risk
from yuqing.graph.customers import rfm

NOW = pd.Timestamp("2026-10-31", tz="UTC")


def _orders() -> pd.DataFrame:
    rows = []
    # C1: every 10 days, last 40 days ago; C2: every 10 days, last 2 days ago; C3: one order 200 days ago
    for k in range(6):
        rows.append(("C1", 100.0, NOW - pd.Timedelta(days=40 + 10 * k)))
        rows.append(("C2", 100.0, NOW - pd.Timedelta(days=2 + 10 * k)))
    rows.append(("C3", 500.0, NOW - pd.Timedelta(days=200)))
    return pd.DataFrame(rows, columns=["customer_id", "amount", "ordered_at"])


def test_crm_side_reads_recency_against_the_customers_own_rhythm() -> None:
    orders = _orders()
    risk = churn_risk(orders, rfm(orders, now=NOW), now=NOW).set_index("customer_id")
    assert risk.loc["C1", "usual_gap_days"] == 10 and risk.loc["C1", "overdue"] == 1.0  # 4 gaps late
    assert risk.loc["C2", "overdue"] == 0.0 and risk.loc["C2", "risk"] == 0.0
    assert risk.loc["C1", "fewer"] == 1.0 and risk.loc["C1", "less"] == 1.0  # nothing in the last 30 days
    assert "距上次下单已 4.0 个购买周期（平时约 10 天一单）" in risk.loc["C1", "reasons"]
    assert risk.loc["C1", "risk"] > risk.loc["C3", "risk"] > risk.loc["C2", "risk"]
    assert risk.loc["C1", "clv_at_risk"] == round(risk.loc["C1", "risk"] * risk.loc["C1", "clv"], 2)


def test_social_side_negative_unresolved_complaint_and_competitor() -> None:
    orders = _orders()
    links = pd.DataFrame({"customer_id": ["C1", "C2"], "platform": "weibo", "author_id": ["a1", "a2"]})
    posts = pd.DataFrame(
        {
            "platform": "weibo",
            "author_id": ["a1", "a1", "a1", "a2", "a2"],
            "created_at": [NOW - pd.Timedelta(days=d) for d in (80, 10, 5, 20, 3)],
            "sentiment": [0.9, 0.1, 0.2, 0.5, 0.5],
            "complaint": [False, True, False, True, False],
            "brands": [["星阅"], ["星阅"], ["竞品A"], ["星阅"], ["竞品A", "星阅"]],
        }
    )
    # C2's complaint has a ticket closed after it; C1's has none
    tickets = pd.DataFrame({"customer_id": ["C2"], "opened_at": [NOW - pd.Timedelta(days=15)], "is_open": [False]})
    kw = {"posts": posts, "links": links, "tickets": tickets, "brand": "星阅", "competitors": ["竞品A"], "now": NOW}
    risk = churn_risk(orders, rfm(orders, now=NOW), **kw).set_index("customer_id")  # type: ignore[arg-type]
    assert risk.loc["C1", ["negative", "unresolved", "competitor"]].tolist() == [1.0, 1.0, 1.0]
    assert risk.loc["C2", ["negative", "unresolved", "competitor"]].tolist() == [0.0, 0.0, 1.0]
    why = " | ".join(risk.loc["C1", "reasons"])
    assert "情感转负（近期 0.15，此前 0.90）" in why and "公开投诉 1 次" in why
    assert "竞品A" in why
    assert risk.loc["C1", "risk"] == 1.0


def test_rfm_baseline_ranks_by_recency_alone() -> None:
    base = rfm_risk(rfm(_orders(), now=NOW))
    assert base["customer_id"].tolist()[0] == "C3"  # the oldest last order, whatever the customer's rhythm


def test_crm_churn_recovers_the_planted_churners_with_reasons(world_db: tuple[Path, Path], tmp_path: Path) -> None:  # noqa: F811
    db, world = world_db
    truth = json.loads((world / "truth.json").read_text(encoding="utf-8"))
    churners = set(truth["churners"])
    assert len(churners) >= 3
    cfg = ("-c", str(world / "yuqing.toml"), "--warehouse", str(db))
    code, stdout, stderr = _run("crm", "churn", "--output", str(tmp_path / "churn.csv"), *cfg)
    assert code == 0, stderr
    rows = pd.read_csv(tmp_path / "churn.csv", dtype={"customer_id": str, "name": str})
    assert rows["clv_at_risk"].is_monotonic_decreasing and (rows["risk"] >= 0.3).all()
    assert churners <= set(rows["customer_id"])  # all of them are warned about
    code, _, stderr = _run("crm", "churn", "--by", "risk", "--output", str(tmp_path / "by_risk.csv"), *cfg)
    likeliest = pd.read_csv(tmp_path / "by_risk.csv", dtype={"customer_id": str})
    assert code == 0 and likeliest["risk"].is_monotonic_decreasing
    top = set(likeliest["customer_id"].head(2 * len(churners)))
    assert len(top & churners) >= 0.6 * len(churners)  # most planted churners at the top
    bad = CliRunner().invoke(_app(), ["crm", "churn", "--by", "bogus", *cfg])
    assert bad.exit_code == 2 and "value, risk" in bad.stderr
    planted = rows[rows["customer_id"].isin(churners)]
    assert planted["reasons"].str.contains("购买周期").all()  # their rhythm broke
    names = pd.read_csv(world / "customers.csv", dtype=str).set_index("客户编号")["姓名"]
    assert not any(names[c] in stdout for c in rows["customer_id"].head(30))
    assert next(iter(rows["customer_id"])) in stdout


def test_brand_report_has_the_no_ticket_and_churn_sections(world_db: tuple[Path, Path], tmp_path: Path) -> None:  # noqa: F811
    from yuqing.flows import stages
    from yuqing.store.settings import load_settings

    db, world = world_db
    truth = json.loads((world / "truth.json").read_text(encoding="utf-8"))
    cfg = ("-c", str(world / "yuqing.toml"), "--warehouse", str(db))
    assert _run("crm", "import", "--tickets", str(world / "tickets.csv"), *cfg)[0] == 0
    stages.graph(load_settings(world / "yuqing.toml", warehouse={"path": str(db)}))  # the customer view
    code, _, stderr = _run("report", "brand", "--no-pdf", "--out", str(tmp_path), *cfg)
    assert code == 0, stderr
    html = (tmp_path / "brand_report.html").read_text(encoding="utf-8")
    assert "公开投诉但无工单的客户" in html and "客户流失预警" in html
    no_ticket = pd.read_csv(tmp_path / "brand_no_ticket.csv", dtype={"customer_id": str})
    assert set(no_ticket["customer_id"]) == set(truth["complaints_without_ticket"])
    churn = pd.read_csv(tmp_path / "brand_churn.csv", dtype={"customer_id": str})
    assert churn["clv_at_risk"].is_monotonic_decreasing and len(churn) > 0
    names = pd.read_csv(world / "customers.csv", dtype=str)["姓名"]
    assert not any(f">{n}<" in html for n in names)
