"""Campaign evaluation on small frames built here (reach per unique author, the event study and its pre-trend test),
and the lift on CRM customers through `yuqing report campaign` on simulated worlds with and without a planted lift."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

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


# --- lift on CRM customers: a world with a planted lift, one without, through `yuqing report campaign` ----------

KEY = "test-key-" + "0" * 32


def _run(*args: str) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from yuqing.flows.cli import build_app

    result = CliRunner().invoke(build_app(), list(args), env={"YUQING_CRM__HMAC_KEY": KEY, "COLUMNS": "300"})
    return result.exit_code, result.stdout, result.stderr


def _world_report(tmp: Path, crm_lift: float) -> tuple[dict[str, Any], dict[str, Any], str, Path]:
    """A world (planted lift ``crm_lift``) stored raw (no analysis: the lift needs none), its CRM imported through
    the CLI, then `yuqing report campaign`: the truth, the report's JSON, the command's output, the out dir."""
    from yuqing.collectors.fake.world import generate_world, load_world
    from yuqing.store.schema import Author
    from yuqing.store.warehouse import Warehouse

    world, db, out = tmp / "world", tmp / "w.duckdb", tmp / "reports"
    generate_world(world, posts=3000, seed=11, crm_lift=crm_lift)
    w = load_world(world)
    with Warehouse.open(db) as wh:
        wh.upsert_posts_frame(w.posts)
        wh.upsert_authors(Author.model_validate(r) for r in w.authors.to_dict("records"))
    cfg = ("-c", str(world / "yuqing.toml"), "--warehouse", str(db))
    code, _, stderr = _run("crm", "import", str(world / "customers.csv"), str(world / "orders.csv"), *cfg)
    assert code == 0, stderr
    truth = json.loads((world / "truth.json").read_text(encoding="utf-8"))
    name = truth["campaign"]["name"]
    code, stdout, stderr = _run("report", "campaign", name, "--out", str(out), "--no-pdf", *cfg)
    assert code == 0, stderr
    report = json.loads(next(out.glob("campaign_*.json")).read_text(encoding="utf-8"))
    return truth, report, stdout, out


def test_crm_lift_recovers_the_lift_planted_in_the_world(tmp_path: Path) -> None:
    truth, report, stdout, out = _world_report(tmp_path, crm_lift=0.6)
    planted = truth["campaign"]["crm_lift"]
    lift = report["crm_lift"]
    # participants found in the warehouse are the exposed customers the world planted the lift on
    assert lift["participants"] == len(planted["exposed_customers"]) >= 30
    assert lift["matched"] + lift["unmatched"] == lift["participants"] and lift["controls"] >= 30
    assert lift["windows"]["post"] == planted["window"]
    lo, hi = lift["spend"]["ci95"]
    assert lo < planted["planted_spend_per_customer"] < hi and lo > 0, (lift["spend"], planted)
    lo, hi = lift["orders"]["ci95"]
    assert lo < planted["planted_orders_per_customer"] < hi and lo > 0, (lift["orders"], planted)
    balance = {b["covariate"]: b for b in lift["balance"]}
    assert all(b["smd_after"] == 0 for k, b in balance.items() if k.startswith("segment:"))  # exact on segment
    assert abs(balance["spend_baseline"]["smd_after"]) < min(0.1, abs(balance["spend_baseline"]["smd_before"]))
    assert all(abs(b["smd_after"]) < lift["smd_bar"] for b in balance.values())  # the rest within chance
    # the command says it, the CSVs hold it, the HTML shows it; no customer id or name leaves the customer table
    assert "CRM lift:" in stdout and "DiD lift" in stdout and "matched controls" in stdout
    rows = pd.read_csv(next(out.glob("campaign_*_crm_lift.csv")))
    assert {"participants", "matched_controls", "did_spend", "did_orders"} <= set(rows["row"])
    assert {"orders_pre", "orders_post", "spend_pre", "spend_post", "ci95_lo", "ci95_hi"} <= set(rows.columns)
    table = pd.read_csv(next(out.glob("campaign_*_crm_balance.csv")))
    assert {"smd_before", "smd_after"} <= set(table.columns) and len(table) == len(balance)
    html = next(out.glob("campaign_*.html")).read_text(encoding="utf-8")
    assert 'data-section="crm_lift"' in html and 'data-section="crm_balance"' in html
    customers = pd.read_csv(tmp_path / "world" / "customers.csv", dtype=str)
    everything = html + json.dumps(report, ensure_ascii=False) + rows.to_csv() + table.to_csv()
    assert not any(c in everything for c in customers["客户编号"].tolist() + customers["姓名"].tolist())


def test_crm_lift_interval_covers_zero_when_the_world_plants_none(tmp_path: Path) -> None:
    truth, report, _, _ = _world_report(tmp_path, crm_lift=0.0)
    assert truth["campaign"]["crm_lift"]["planted_spend_per_customer"] == 0
    lift = report["crm_lift"]
    assert lift["participants"] >= 30
    assert lift["spend"]["ci95"][0] < 0 < lift["spend"]["ci95"][1], lift["spend"]
    assert lift["orders"]["ci95"][0] < 0 < lift["orders"]["ci95"][1], lift["orders"]
    assert not lift["spend"]["significant"]


def test_no_crm_no_lift_section(tmp_path: Path) -> None:
    from yuqing.reports.campaign import campaign_figures

    day = dt.date(2026, 9, 15)
    rows = [(day, "fan", "星阅", 100)] + [(day - dt.timedelta(days=k), "fan", "云雀", 100) for k in range(1, 8)]
    figures = campaign_figures(ReportFrames(posts=_posts(rows)), _campaign(), "星阅", ["云雀"])
    assert figures["crm_lift"] is None and "crm_lift" not in figures["_sections"]
    # before the start the brand had no mention: a constant difference, no slope to test (was p = nan, "NOT parallel")
    assert figures["event_study"]["pretrend"]["parallel"] is None
    assert "无法做预趋势检验" in figures["conclusion"]["pretrend"]


def test_the_chart_engine_warms_up_once_in_the_background_and_charts_still_render() -> None:
    from yuqing.reports import charts

    charts.warm_up()
    charts.warm_up()
    assert len(charts._WARM) == 1 and charts._WARM[0].daemon
    svg = charts.group_bars(
        "g", [("活动前", "参与客户", 120.0), ("活动前", "匹配对照", 100.0), ("活动后", "参与客户", 300.0)],
        title="人均消费", empty="无",
    )  # fmt: skip
    charts._WARM[0].join(timeout=60)
    assert not charts._WARM[0].is_alive()
    assert "<svg" in svg and "参与客户" in svg and 'data-chart="g"' in svg
    assert charts.group_bars("e", [("活动前", "参与客户", 0.0)], title="t", empty="两组都没有消费") == (
        '<div class="chart-empty" data-chart="e">两组都没有消费</div>'
    )


def test_campaign_customers_are_the_linked_accounts_that_posted_reposted_or_commented_in_the_window(
    tmp_path: Path,
) -> None:
    from yuqing.store.schema import CHINA_TZ, Customer, CustomerAccountLink, LinkMethod, Order, Platform, Post
    from yuqing.store.warehouse import Warehouse

    day = dt.datetime(2026, 9, 15, 12, tzinfo=CHINA_TZ)
    since, until = dt.datetime(2026, 9, 15, tzinfo=CHINA_TZ), dt.datetime(2026, 9, 18, tzinfo=CHINA_TZ)

    def post(pid: str, author: str, when: dt.datetime, **kw: Any) -> Post:
        return Post(platform=Platform.WEIBO, id=pid, author_id=author, created_at=when, **kw)

    posts = [
        post("1", "a", day, text="冲了 #焕新# 活动", topics=["焕新"]),  # tagged (topics)
        post("2", "b", day, text="参加了#焕新#"),  # tagged (text only)
        post("3", "c", day - dt.timedelta(days=2), text="#焕新# 预热", topics=["焕新"]),  # before the window
        post("4", "d", day, kind="comment", text="好划算", parent_id="1", root_id="1"),  # comment on a tagged post
        post("5", "f", day, kind="comment", text="回复@d:是的", parent_id="4", root_id="1"),  # reply in its thread
        post("6", "e", day, kind="repost", text="转发", parent_id="3", root_id="3"),  # repost of the early post
        post("7", "g", day, kind="repost", text="转发", parent_id="2"),  # a repost with no root: its parent
        post("8", "h", day, text="星阅不错"),  # not about the campaign
        post("9", "u", day, text="#焕新# 路人"),  # took part, no linked customer
        post("10", "a2", until + dt.timedelta(hours=1), text="#焕新# 晚了"),  # after the window
    ]
    ids = ["a", "b", "c", "d", "f", "e", "g", "h", "a2"]
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_posts(posts)
        wh.upsert_customers(
            [Customer(customer_id=f"C-{x}", name=f"客户{x}", phone="13800138000") for x in ids], b"k" * 32
        )
        wh.add_links(
            CustomerAccountLink(
                customer_id=f"C-{x}", platform=Platform.WEIBO, author_id=x, method=LinkMethod.UID, confidence=1.0
            )
            for x in ids
        )
        wh.add_orders([Order(order_id="O1", customer_id="C-a", amount=99, ordered_at=day)])
        got = wh.campaign_customers(["#焕新#"], since, until)
    assert sorted(got.participants["customer_id"]) == ["C-a", "C-b", "C-d", "C-f", "C-g"]
    assert got.accounts == 6  # a, b, d, f, g and the unlinked u
    assert got.participants.set_index("customer_id").loc["C-a", "actions"] == 1
    assert set(got.customers.columns) == {"customer_id", "registered_at"}  # no name, phone or e-mail
    assert got.orders.to_dict("records")[0]["amount"] == 99.0
