"""CRM import, customer ↔ account linking, RFM/CLV and the customer lists people act on."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from yuqing.graph.customers import author_identifier_hashes, customer_actions, customer_view, link_customers, rfm
from yuqing.store.crm import read_customers, read_orders
from yuqing.store.errors import ConfigError, InputError
from yuqing.store.pii import customer_identifiers, hmac_hex
from yuqing.store.schema import Author, LinkMethod, Platform
from yuqing.store.warehouse import Warehouse

KEY = b"test-key-not-secret-0123456789abc"
# DuckDB's ``.df()`` (inside Warehouse.query) calls ``DataFrame.drop(inplace=True)`` for some column types,
# which pandas 3.1 deprecates; third-party code, not ours.
DUCKDB_DF_WARNING = "ignore:The inplace keyword in DataFrame.drop"
NOW = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)

CUSTOMERS_CSV = (
    "客户编号,姓名,手机,邮箱,城市,注册时间,微博UID\n"
    "C1,张伟,138-0013-8000,zw@example.com,北京,2025-01-02,9001\n"
    "C2,李娜,+86 139 0000 1111,,上海,2025-02-03,\n"
    "C3,王芳,,WangFang@Example.COM,广州,not-a-date,\n"
    ",无编号,13700000000,,深圳,,\n"
    "C5,赵磊,,,杭州,2025-05-06,\n"
)
ORDERS_CSV = (
    "订单号,客户编号,实付金额,下单时间,商品\n"
    'O1,C1,"1,299.00",2026-09-30 10:00,手机\n'
    "O2,C1,abc,2026-09-20,耳机\n"
    "O3,C2,¥50,2026-09-25,壳\n"
    "O4,C3,-5,2026-09-25,壳\n"
    "O5,C5,20,,壳\n"
)


def _write(tmp_path: Path) -> tuple[Path, Path]:
    c, o = tmp_path / "customers.csv", tmp_path / "orders.csv"
    c.write_text(CUSTOMERS_CSV, encoding="utf-8")
    o.write_text(ORDERS_CSV, encoding="utf-8")
    return c, o


# ---------------------------------------------------------------------------- import


def test_read_customers_maps_chinese_headers_and_reports_bad_rows(tmp_path: Path) -> None:
    c, _ = _write(tmp_path)
    records, report = read_customers(c)
    assert [r.customer_id for r in records] == ["C1", "C2", "C5"]
    assert records[0].handles == {"weibo": "9001"} and records[0].phone == "138-0013-8000"
    assert records[0].registered_at is not None and records[0].registered_at.tzinfo is not None
    errors = {(e.line, e.field) for e in report.errors}
    assert errors == {(4, "registered_at"), (5, "customer_id")}
    assert all(e.file == str(c) for e in report.errors)
    assert report.loaded == 3


def test_read_orders_reports_amount_and_time_errors_and_loads_the_rest(tmp_path: Path) -> None:
    _, o = _write(tmp_path)
    records, report = read_orders(o)
    assert [r.order_id for r in records] == ["O1", "O3"]
    assert float(records[0].amount) == 1299.0 and float(records[1].amount) == 50.0
    assert {(e.line, e.field) for e in report.errors} == {(3, "amount"), (5, "amount"), (6, "ordered_at")}
    assert "line 3" in str(report.errors[0]) or "3" in str(report.errors[0])


def test_column_mapping_overrides_and_unknown_mapping_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("member,联系电话\nM1,13800138000\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_customers(path)
    assert exc.value.field == "customer_id" and exc.value.line == 1
    records, report = read_customers(path, {"customer_id": "member", "phone": "联系电话"})
    assert records[0].customer_id == "M1" and records[0].phone == "13800138000" and not report.errors
    with pytest.raises(InputError, match="not in header"):
        read_customers(path, {"customer_id": "nope"})


# ---------------------------------------------------------------------------- linking


def _authors() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "platform": ["weibo"] * 5,
            "id": ["9001", "9002", "9003", "9004", "9005"],
            "screen_name": ["张伟的日常", "小李", "WF", "王芳爱旅行", "赵磊"],
            "raw": [
                None,
                json.dumps({"contact_phone": "13900001111"}),  # C2's phone, another format
                json.dumps({"email": " wangfang@example.com "}),  # C3's e-mail
                None,
                json.dumps({"contact_phone": "not a phone"}),
            ],
        }
    )


def test_author_hashes_never_hold_clear_values() -> None:
    hashes = author_identifier_hashes(_authors(), KEY)
    assert set(hashes["author_id"]) == {"9002", "9003"}
    flat = " ".join(hashes.astype(str).agg(" ".join, axis=1))
    assert "13900001111" not in flat and "wangfang" not in flat
    assert hmac_hex(KEY, "+8613900001111") in set(hashes["value"])


def test_link_order_explicit_then_hash_and_fuzzy_only_as_candidates(tmp_path: Path) -> None:
    c, _ = _write(tmp_path)
    customers, _ = read_customers(c)
    idents = pd.DataFrame(
        [row for cu in customers for row in customer_identifiers(cu, KEY)], columns=["customer_id", "kind", "value"]
    )
    cust_frame = pd.DataFrame([cu.model_dump() for cu in customers])
    authors = _authors()
    links, candidates = link_customers(idents, authors, author_identifier_hashes(authors, KEY), cust_frame, now=NOW)
    by = {lk.customer_id: lk for lk in links}
    assert set(by) == {"C1", "C2"}  # C3's row was rejected at import; C5 only fuzzily
    assert (by["C1"].author_id, by["C1"].method, by["C1"].confidence) == ("9001", LinkMethod.UID, 1.0)
    assert (by["C2"].author_id, by["C2"].method) == ("9002", LinkMethod.PHONE_HASH)
    assert 0.5 < by["C2"].confidence < 1.0
    assert list(candidates["customer_id"]) == ["C5"]
    assert candidates.iloc[0]["author_id"] == "9005" and candidates.iloc[0]["confidence"] <= 0.5


_SPELLINGS = st.sampled_from(["1001", "1002", "1003", "小李", "小王", "1004", "ghost"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    accounts=st.lists(st.tuples(st.sampled_from(["weibo", "douyin"]), _SPELLINGS, _SPELLINGS), max_size=12),
    handles=st.lists(st.tuples(st.sampled_from(["weibo", "douyin"]), _SPELLINGS), max_size=6),
)
def test_handles_link_as_a_lookup_over_every_account(
    accounts: list[tuple[str, str, str]], handles: list[tuple[str, str]]
) -> None:
    # the handle lookup reads only the accounts some handle spells (by id or by name): the links are those of a
    # lookup over every account -- an id first, else the last account of that name on the platform
    authors = pd.DataFrame(accounts, columns=["platform", "id", "screen_name"]).assign(raw=None)
    idents = pd.DataFrame(
        [(f"C{i}", f"handle:{p}", v) for i, (p, v) in enumerate(handles)], columns=["customer_id", "kind", "value"]
    )
    links, _ = link_customers(idents, authors, author_identifier_hashes(authors, KEY), now=NOW)
    known = {(p, a) for p, a, _n in accounts}
    by_name = {(p, n): a for p, a, n in accounts}
    expected = {
        (f"C{i}", p, v if (p, v) in known else by_name[(p, v)])
        for i, (p, v) in enumerate(handles)
        if (p, v) in known or (p, v) in by_name
    }
    assert {(lk.customer_id, lk.platform.value, lk.author_id) for lk in links} == expected


@pytest.mark.filterwarnings(DUCKDB_DF_WARNING)
def test_email_hash_link_and_links_are_append_only_audit(tmp_path: Path) -> None:
    idents = pd.DataFrame(
        [("C3", "email_hash", hmac_hex(KEY, "wangfang@example.com"))], columns=["customer_id", "kind", "value"]
    )
    authors = _authors()
    links, _ = link_customers(idents, authors, author_identifier_hashes(authors, KEY), now=NOW)
    assert [(lk.customer_id, lk.author_id, lk.method) for lk in links] == [("C3", "9003", LinkMethod.EMAIL_HASH)]
    with Warehouse.open(tmp_path / "wh.duckdb") as wh:
        assert wh.add_links(links) == 1
        assert wh.add_links(links) == 0  # the same link again is not repeated
        stronger = links[0].model_copy(update={"method": LinkMethod.HANDLE, "confidence": 1.0})
        assert wh.add_links([stronger]) == 1
        audit = wh.query("SELECT method, confidence FROM customer_links ORDER BY seq")
        current = wh.customer_links_current()
    assert list(audit["method"]) == ["email_hash", "handle"]
    assert current.iloc[0]["method"] == "handle"


# ---------------------------------------------------------------------------- RFM / CLV


def _orders() -> pd.DataFrame:
    rows = [
        ("C1", 100, "2026-09-30"),
        ("C1", 200, "2026-09-20"),
        ("C1", 300, "2026-09-10"),
        ("C2", 50, "2026-09-25"),
        *[("C3", 400, f"2026-0{m}-01") for m in range(1, 6)],
        ("C4", 20, "2025-01-01"),
        ("C4", 20, "2024-12-01"),
        *[("C5", 15, f"2026-0{m}-01") for m in range(5, 9)],
    ]
    return pd.DataFrame(
        [(f"O{i}", c, a, pd.Timestamp(t, tz="UTC")) for i, (c, a, t) in enumerate(rows)],
        columns=["order_id", "customer_id", "amount", "ordered_at"],
    )


def test_rfm_scores_segments_and_clv_on_a_hand_computed_example() -> None:
    r = rfm(_orders(), now=NOW).set_index("customer_id")
    # recency days: C1 1, C2 6, C3 153, C4 638, C5 61 -> R (recent = 5): C1 5, C2 4, C5 3, C3 2, C4 1
    assert r["recency_days"].to_dict() == {"C1": 1, "C2": 6, "C3": 153, "C4": 638, "C5": 61}
    assert r["r"].to_dict() == {"C1": 5, "C2": 4, "C3": 2, "C4": 1, "C5": 3}
    assert r["f"].to_dict() == {"C1": 3, "C2": 1, "C3": 5, "C4": 2, "C5": 4}
    assert r["m"].to_dict() == {"C1": 4, "C2": 2, "C3": 5, "C4": 1, "C5": 3}
    assert r["rfm_segment"].to_dict() == {
        "C1": "重要价值客户",
        "C2": "一般发展客户",
        "C3": "重要保持客户",
        "C4": "一般挽留客户",
        "C5": "重要价值客户",
    }
    # CLV = AOV x orders/year (over max(history, 1 year)) x 3 years, halved when silent > 1 year
    assert r.loc["C1", "clv"] == pytest.approx(200 * 3 * 3)
    assert r.loc["C3", "clv"] == pytest.approx(400 * 5 * 3)
    assert r.loc["C4", "clv"] == pytest.approx(round(20 * (2 / (669 / 365.25)) * 3 * 0.5, 2))


# ---------------------------------------------------------------------------- customer view and actions


def test_customer_view_masks_pii_and_actions_name_who_to_reward_and_call() -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "name": ["张伟", "李娜", "王芳"],
            "phone": ["13800138000", "13900001111", ""],
            "email": ["zw@example.com", "", "wf@example.com"],
            "city": ["北京", "上海", "广州"],
        }
    )
    orders = _orders()
    orders = orders[orders["customer_id"].isin(["C1", "C2", "C3"])]
    links = pd.DataFrame(
        {
            "customer_id": ["C1", "C3"],
            "author_id": ["kol", "angry"],
            "method": ["uid", "phone_hash"],
            "confidence": [1.0, 0.95],
        }
    )
    leaders = pd.DataFrame({"author_id": ["kol", "angry"], "score": [0.95, 0.3], "rank": [1, 40]})
    base = pd.Timestamp("2026-09-20", tz="UTC")
    posts = pd.DataFrame(
        {
            "author_id": ["kol", "kol", "angry", "angry", "angry"],
            "created_at": [base, base + pd.Timedelta(days=5), base - pd.Timedelta(days=30), base, base],
            "sentiment": [0.9, 0.8, 0.6, 0.1, 0.2],
            "complaint": [False, False, True, True, True],
        }
    )
    view = customer_view(customers, rfm(orders, now=NOW), links, leaders, {"kol": 0, "angry": 1}, posts)
    text = view.to_csv()
    for clear in ("13800138000", "13900001111", "zw@example.com", "张伟", "王芳"):
        assert clear not in text
    v = view.set_index("customer_id")
    assert v.loc["C1", "leader_rank"] == 1 and v.loc["C1", "community"] == 0
    assert v.loc["C3", "open_complaints"] == 2 and v.loc["C3", "complaints"] == 3
    assert v["sentiment_trend"].to_dict()["C3"] < 0
    actions = customer_actions(view)
    assert list(actions["advocates"]["customer_id"]) == ["C1"]
    assert list(actions["call_first"]["customer_id"]) == ["C3"]
    comm = actions["communities"].set_index("community")
    assert comm.loc[1, "clv"] == pytest.approx(6000.0) and actions["communities"]["community"].iloc[0] == 1


# ---------------------------------------------------------------------------- CLI


def _app() -> typer.Typer:
    from yuqing.flows.commands.graph import register

    app = typer.Typer()
    register(app)
    return app


def test_crm_import_refuses_without_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YUQING_CRM__HMAC_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    c, o = _write(tmp_path)
    result = CliRunner().invoke(_app(), ["crm", "import", str(c), str(o), "--warehouse", str(tmp_path / "w.duckdb")])
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
    assert "HMAC_KEY" in str(result.exception)
    assert not (tmp_path / "w.duckdb").exists()


@pytest.mark.parametrize("key", ["", "too-short-key"])
def test_crm_import_refuses_an_empty_or_short_key(tmp_path: Path, key: str) -> None:
    c, o = _write(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUQING_")} | {"YUQING_CRM__HMAC_KEY": key}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("yuqing")), "crm", "import", str(c), str(o), "--warehouse", "w.duckdb"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: YUQING_CRM__HMAC_KEY is {'empty' if not key else f'{len(key)} bytes'}; it must be at least 32 "
        "bytes (make one with: python -c 'import secrets; print(secrets.token_hex(32))')"
    ]
    assert not (tmp_path / "w.duckdb").exists()


@pytest.mark.filterwarnings(DUCKDB_DF_WARNING)
def test_crm_import_loads_good_rows_reports_bad_ones_and_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, result = _imported(tmp_path, monkeypatch)
    assert "customers: 3 loaded; orders: 2 loaded; links: 2" in result.output
    assert "line 5" in result.output or ":5" in result.output
    with Warehouse.open(db, read_only=True) as wh:
        links = wh.customer_links_current()
        idents = wh.query("SELECT * FROM customer_identifiers")
        authors = wh.query("SELECT raw FROM authors")
    assert set(zip(links["customer_id"], links["method"], strict=True)) == {("C1", "uid"), ("C2", "phone_hash")}
    assert "13800138000" not in idents.to_csv() and "+8613800138000" not in idents.to_csv()
    assert len(authors) == 5


# ---------------------------------------------------------------------------- personal-data lifecycle

KEY2 = b"a-rotated-key-0123456789abcdefghijk"


def _imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Result]:
    """The warehouse after `yuqing crm import` of the CSVs above, with the five authors stored first."""
    monkeypatch.setenv("YUQING_CRM__HMAC_KEY", KEY.decode())
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db) as wh:
        wh.upsert_authors(
            Author(platform=Platform.WEIBO, id=a, screen_name=n, raw=json.loads(r) if isinstance(r, str) else None)
            for a, n, r in _authors()[["id", "screen_name", "raw"]].itertuples(index=False)
        )
    c, o = _write(tmp_path)
    result = CliRunner().invoke(_app(), ["crm", "import", str(c), str(o), "--warehouse", str(db)])
    assert result.exit_code == 0, result.output
    return db, result


def _hashes(db: Path) -> pd.DataFrame:
    with Warehouse.open(db, read_only=True) as wh:
        return wh.query(
            "SELECT customer_id, kind, value FROM customer_identifiers WHERE kind LIKE '%hash' ORDER BY 1, 2"
        )


@pytest.mark.filterwarnings(DUCKDB_DF_WARNING)
def test_reimport_and_key_rotation_leave_one_hash_per_identifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = _imported(tmp_path, monkeypatch)
    c = tmp_path / "customers.csv"
    c.write_text(CUSTOMERS_CSV.replace("+86 139 0000 1111", "13911112222"), encoding="utf-8")  # C2's new phone
    assert CliRunner().invoke(_app(), ["crm", "import", str(c), "--warehouse", str(db)]).exit_code == 0
    expected = {
        ("C1", "email_hash", hmac_hex(KEY, "zw@example.com")),
        ("C1", "phone_hash", hmac_hex(KEY, "+8613800138000")),
        ("C2", "phone_hash", hmac_hex(KEY, "+8613911112222")),  # the old number's hash is gone
    }  # (C3's row is rejected: bad registration date)
    assert set(_hashes(db).itertuples(index=False, name=None)) == expected and len(_hashes(db)) == 3

    # another key: imports are refused until the hashes are rotated
    monkeypatch.setenv("YUQING_CRM__HMAC_KEY", KEY2.decode())
    refused = CliRunner().invoke(_app(), ["crm", "import", str(c), "--warehouse", str(db)])
    assert isinstance(refused.exception, ConfigError) and "rotate-key" in str(refused.exception)
    rotated = CliRunner().invoke(_app(), ["crm", "rotate-key", "--warehouse", str(db)])
    assert rotated.exit_code == 0, rotated.output
    after = _hashes(db)
    assert len(after) == 3 and not after.duplicated(["customer_id", "kind"]).any()
    assert set(after["value"]) == {hmac_hex(KEY2, v) for v in ("zw@example.com", "+8613800138000", "+8613911112222")}
    assert not set(after["value"]) & {v for _, _, v in expected}
    with Warehouse.open(db, read_only=True) as wh:
        log = wh.query("SELECT action, detail, command FROM privacy_log")
    assert log.to_dict("records") == [
        {
            "action": "rotate-key",
            "detail": '{"customers": 3, "hashes_removed": 3, "hashes_written": 3}',
            "command": "yuqing crm rotate-key",
        }
    ]
    assert CliRunner().invoke(_app(), ["crm", "import", str(c), "--warehouse", str(db)]).exit_code == 0


def _mentions(db: Path, needles: list[str], *, skip: tuple[str, ...] = ()) -> list[str]:
    """Every (table, needle) where a row of any table, any column, contains the needle."""
    import re

    found = []
    with Warehouse.open(db, read_only=True) as wh:
        for table in wh.table_counts():
            if table in skip:
                continue
            text = wh.query(f"SELECT * FROM {table}").to_csv(index=False)
            found += [f"{table}: {n}" for n in needles if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w])", text)]
    return found


@pytest.mark.filterwarnings(DUCKDB_DF_WARNING)
def test_crm_forget_leaves_no_row_mentioning_the_customer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from yuqing.flows import stages
    from yuqing.store.crm import subject_ref
    from yuqing.store.schema import Interaction, InteractionKind
    from yuqing.store.settings import load_settings

    db, _ = _imported(tmp_path, monkeypatch)
    settings = load_settings(None, warehouse={"path": str(db)})
    with Warehouse.open(db) as wh:
        wh.add_interactions(
            Interaction(platform=Platform.WEIBO, kind=InteractionKind.REPOST, source_author_id=s,
                        target_author_id=t, post_id=f"p{i}", created_at=NOW)
            for i, (s, t) in enumerate([("9001", "9002"), ("9003", "9001"), ("9002", "9003")])
        )  # fmt: skip
    stages.graph(settings)  # builds customer_view: derived scores (RFM, CLV) per customer
    with Warehouse.open(db) as wh:
        assert "C1" in set(wh.read_table("customer_view")["customer_id"])
        wh.write_frame(
            "alerts",
            pd.DataFrame({"alert_id": ["a1"], "affected_customers": [["C1", "C2"]],
                          "evidence": [[{"customer_id": "C1", "clv": 1299.0}, {"customer_id": "C2", "clv": 50.0}]]}),
        )  # fmt: skip
    before = _mentions(db, ["C1"])
    assert {"customers: C1", "orders: C1", "customer_links: C1", "customer_view: C1", "alerts: C1"} <= set(before)

    result = CliRunner().invoke(_app(), ["crm", "forget", "C1", "--warehouse", str(db)])
    assert result.exit_code == 0, result.output
    secrets_of_c1 = [
        "C1",
        "13800138000",
        "138-0013-8000",
        "zw@example.com",
        hmac_hex(KEY, "+8613800138000"),
        hmac_hex(KEY, "zw@example.com"),
    ]
    assert _mentions(db, secrets_of_c1) == []
    assert _mentions(db, ["张伟"], skip=("authors",)) == []  # the public account 张伟的日常 stays; its link is gone
    with Warehouse.open(db, read_only=True) as wh:
        assert set(wh.query("SELECT customer_id FROM customers")["customer_id"]) == {"C2", "C5"}
        alerts = wh.read_table("alerts")
        log = wh.query("SELECT action, subject, command FROM privacy_log")
    assert json.loads(alerts["affected_customers"].iat[0]) == ["C2"]
    assert json.loads(alerts["evidence"].iat[0]) == [
        {"customer_id": "(forgotten)", "clv": 1299.0},
        {"customer_id": "C2", "clv": 50.0},
    ]
    assert log.to_dict("records") == [
        {"action": "forget", "subject": subject_ref("C1"), "command": "yuqing crm forget"}
    ]
    again = CliRunner().invoke(_app(), ["crm", "forget", "C1", "--warehouse", str(db)])
    assert isinstance(again.exception, InputError) and "no customer 'C1'" in str(again.exception)


@pytest.mark.filterwarnings(DUCKDB_DF_WARNING)
def test_crm_links_shows_the_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = _imported(tmp_path, monkeypatch)
    result = CliRunner().invoke(_app(), ["crm", "links", "--warehouse", str(db)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "weibo:" in line]
    assert len(rows) == 2
    uid, phone = sorted(rows)
    assert "C1" in uid and "weibo:9001" in uid and "uid" in uid and "'9001' names this account" in uid
    assert "C2" in phone and "phone_hash" in phone and "keyed hash (HMAC-SHA256) of the CRM phone" in phone
    for row in rows:
        assert str(tmp_path / "customers.csv") in row and "yuqing crm import customers.csv" in row
    assert "13900001111" not in result.output and "+86 139" not in result.output


@pytest.mark.filterwarnings(DUCKDB_DF_WARNING)
def test_retention_empties_old_raw_payloads_and_forgets_inactive_customers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yuqing.store.crm import enforce_retention

    db, _ = _imported(tmp_path, monkeypatch)
    fetched = {"8001": NOW - dt.timedelta(days=400), "8002": NOW - dt.timedelta(days=10)}
    with Warehouse.open(db) as wh:
        wh.upsert_authors(
            Author(platform=Platform.WEIBO, id=a, screen_name="x", fetched_at=t, raw={"k": a})
            for a, t in fetched.items()
        )
        wh.con.execute("UPDATE customers SET updated_at = ?", [NOW - dt.timedelta(days=800)])
        done = enforce_retention(wh, raw_days=180, customer_days=365, command="yuqing retention", now=NOW)
        raws = dict(wh.query("SELECT id, raw FROM authors WHERE id IN ('8001', '8002')").itertuples(index=False))
        left = set(wh.query("SELECT customer_id FROM customers")["customer_id"])
        log = wh.query("SELECT action, command FROM privacy_log ORDER BY seq")
    assert raws["8001"] is None or pd.isna(raws["8001"])
    assert json.loads(raws["8002"]) == {"k": "8002"}
    # C1's last order (2026-09-30) and C2's (2026-09-25) are recent: kept; C5 has no order
    assert left == {"C1", "C2"} and done["customers"] == 1 and done["authors_raw"] >= 1
    assert list(log["action"]) == ["retention-raw", "forget"]
    assert log["command"].iat[1].startswith("yuqing retention (no order or update for 365 days)")


@pytest.mark.filterwarnings(DUCKDB_DF_WARNING)
def test_author_payloads_keep_no_clear_contact_details_and_linking_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yuqing.flows import stages
    from yuqing.store.settings import load_settings

    db, _ = _imported(tmp_path, monkeypatch)
    with Warehouse.open(db, read_only=True) as wh:
        raw = wh.query("SELECT id, raw::VARCHAR AS raw FROM authors ORDER BY id").set_index("id")["raw"]
    text = raw.to_csv()
    assert "13900001111" not in text and "wangfang@example.com" not in text.lower()
    assert json.loads(raw["9002"]) == {"contact_phone_hash": hmac_hex(KEY, "+8613900001111")}
    # the next link pass (graph stage) matches on the stored hashes: the phone link stays current
    with Warehouse.open(db) as wh:
        wh.con.execute("DELETE FROM customer_links")
    with Warehouse.open(db) as wh:
        assert stages._link(wh, KEY, command="test") == 2
        links = wh.customer_links_current()
    assert set(zip(links["customer_id"], links["method"], strict=True)) == {("C1", "uid"), ("C2", "phone_hash")}
    # without a CRM key (retention stage), clear contacts in new payloads are masked
    payload = {"email": "a.b@qq.com", "bio": "call 13812345678"}
    with Warehouse.open(db) as wh:
        wh.upsert_authors([Author(platform=Platform.WEIBO, id="7001", screen_name="x", raw=payload)])
    monkeypatch.delenv("YUQING_CRM__HMAC_KEY")
    assert stages.retention(load_settings(None, warehouse={"path": str(db)}))["authors_pseudonymised"] == 1
    with Warehouse.open(db, read_only=True) as wh:
        masked = json.loads(wh.query("SELECT raw::VARCHAR AS r FROM authors WHERE id = '7001'")["r"].iat[0])
    assert masked == {"email": "a***@qq.com", "bio": "call +86 138****5678"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.lists(st.lists(st.text(max_size=10), min_size=1, max_size=5), max_size=5).map(
            lambda rows: "\n".join(",".join(r) for r in rows).encode("gb18030")
        ),
    )
)
def test_crm_readers_turn_any_bytes_into_customers_rejected_rows_or_one_error(tmp_path: Path, body: bytes) -> None:
    from yuqing.flows.commands.io import open_table

    path = tmp_path / "customers.csv"
    path.write_bytes(("客户编号,姓名,手机,邮箱,注册时间\n").encode("gb18030") + body)
    try:
        table = open_table(path)
        records, report = read_customers(path, encoding=table.encoding)
        orders, order_report = read_orders(path, {"order_id": "客户编号", "amount": "手机", "ordered_at": "注册时间"},
                                           encoding=table.encoding)  # fmt: skip
    except InputError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    for err in report.errors + order_report.errors:
        assert err.file == str(path) and err.line is not None and err.line >= 2
    assert all(c.customer_id for c in records) and all(o.amount is not None for o in orders)
