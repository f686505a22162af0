"""The warehouse contract (store/tables.py): what a warehouse holds is what is declared, an older warehouse
upgrades in place, and flows/ reaches the warehouse only through typed methods."""

from __future__ import annotations

import ast
import gzip
import json
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from yuqing.flows.cli import build_app
from yuqing.store.errors import StoreError
from yuqing.store.tables import TABLES
from yuqing.store.warehouse import SCHEMA_VERSION, Warehouse

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "warehouse"
_SPELLED = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
DEMO_BRANDS = (
    '[brand]\nname = "星阅"\naliases = ["XingYue", "星阅手机", "小星"]\n'
    'products = ["星阅X5", "星阅X5 Pro", "星阅Pad"]\n'
    '[[competitors]]\nname = "楚风"\naliases = ["ChuFeng", "楚风手机"]\nproducts = ["楚风K9", "楚风K9 Ultra"]\n'
    '[[competitors]]\nname = "云雀"\naliases = ["Yunque", "云雀科技"]\nproducts = ["云雀S3", "云雀Note"]\n'
)
"""The brands of the demo world the fixture warehouses were written with (`yuqing demo`)."""


def _shape(path: Path) -> dict[str, dict[str, object]]:
    """Per table: its columns and DuckDB types in order, and its primary key."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE NOT internal "
            "ORDER BY table_name, column_index"
        ).fetchall()
        keys = con.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    finally:
        con.close()
    shape: dict[str, dict[str, object]] = {}
    for table, column, type_ in cols:
        shape.setdefault(table, {"columns": [], "key": ()})["columns"].append((column, type_))  # type: ignore[union-attr]
    for table, names in keys:
        shape[table]["key"] = tuple(names)
    shape.pop("schema_version", None)
    return shape


def _declared() -> dict[str, dict[str, object]]:
    return {
        t.name: {"columns": [(c.name, _SPELLED.get(c.type, c.type)) for c in t.columns], "key": t.key}
        for t in TABLES.values()
    }


def _counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0] for n in names if n != "schema_version"}
    finally:
        con.close()


def test_a_new_warehouse_holds_exactly_the_declared_tables(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        assert wh.schema_version == SCHEMA_VERSION
    assert _shape(tmp_path / "w.duckdb") == _declared()


@pytest.fixture
def schema5(tmp_path: Path) -> Path:
    """A warehouse written by the release before the contract (schema version 5): `yuqing demo --posts 200 --seed 3`
    at commit ef445c1, every stage run (tests/fixtures/warehouse/README.md)."""
    path = tmp_path / "old.duckdb"
    with gzip.open(FIXTURES / "schema5-demo.duckdb.gz", "rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def test_a_schema5_warehouse_upgrades_in_place(schema5: Path, tmp_path: Path) -> None:
    before = _counts(schema5)
    assert Warehouse.stored_version(schema5) == 5
    with pytest.raises(StoreError, match="yuqing db upgrade"):  # a reader never works on an old schema
        Warehouse.open(schema5, read_only=True)
    runner = CliRunner()
    status = runner.invoke(build_app(), ["db", "status", "--warehouse", str(schema5)])
    assert status.exit_code == 2 and "6: derived tables" in status.output, status.output

    done = runner.invoke(build_app(), ["db", "upgrade", "--warehouse", str(schema5)])
    assert done.exit_code == 0, done.output
    assert f"schema version 5 -> {SCHEMA_VERSION}" in done.output
    assert _shape(schema5) == _declared()  # inferred types replaced by the declared ones, keys added
    after = _counts(schema5)
    assert after.pop("post_counts") > 0  # migration 7 counts the stored posts (tests/test_post_counts.py)
    assert after == before  # no row lost, none added
    again = runner.invoke(build_app(), ["db", "upgrade", "--warehouse", str(schema5)])
    assert again.exit_code == 0 and "up to date" in again.output
    assert runner.invoke(build_app(), ["db", "status", "--warehouse", str(schema5)]).exit_code == 0

    with Warehouse.open(schema5, read_only=True) as wh:
        alerts = wh.alerts()
        view = wh.read_table("customer_view")
    assert isinstance(alerts["categories"].iat[0], dict) and isinstance(alerts["evidence"].iat[0], list)
    assert str(view["community"].dtype) in ("Int64", "int64", "float64")  # BIGINT now; NULL-able


def test_the_upgraded_warehouse_reports_what_the_old_release_reported(schema5: Path, tmp_path: Path) -> None:
    """The brand report computed from the upgraded file by today's code equals the one the schema-5 release wrote
    from the same file (tests/fixtures/warehouse/schema5-demo-brand_report.json.gz)."""
    config = tmp_path / "yuqing.toml"
    config.write_text(DEMO_BRANDS, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(build_app(), ["db", "upgrade", "--warehouse", str(schema5)]).exit_code == 0
    out = tmp_path / "out"
    args = ["report", "brand", "--config", str(config), "--warehouse", str(schema5), "--out", str(out), "--no-pdf"]
    result = runner.invoke(build_app(), [*args, "--from", "2026-09-01", "--to", "2026-10-30"])
    assert result.exit_code == 0, result.output
    new = json.loads((out / "brand_report.json").read_text(encoding="utf-8"))
    old = json.loads(gzip.decompress((FIXTURES / "schema5-demo-brand_report.json.gz").read_bytes()))
    for section in ("period", "totals", "previous", "daily", "sov", "complaints", "alerts", "topics", "kols"):
        assert new[section] == old[section], section
    assert new["communities"] == old["communities"] and new["customers"] == old["customers"]


_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP)\b\s+\S")


def test_flows_hold_no_sql() -> None:
    """Stages and commands reach the warehouse through store.warehouse's typed methods, never through SQL."""
    found = []
    for path in sorted((ROOT / "flows").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
            if isinstance(node, ast.Attribute) and node.attr in ("query", "con", "execute"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    assert found == []


def test_the_text_stage_writes_the_declared_analysis_columns() -> None:
    """nlp is pure and cannot import the contract: its column list is checked against it here."""
    from yuqing.nlp.pipeline import OUTPUT_COLUMNS

    assert ["platform", "id", *OUTPUT_COLUMNS, "tokens", "analysed_at"] == TABLES["post_analysis"].names


def test_derived_rows_are_typed_by_their_declaration_not_by_a_sample(tmp_path: Path) -> None:
    """A window of the text stage where few posts name a brand: the engine, guessing column types from a sample of
    the rows, read ``brands`` as a list of NULL and refused the window (the analyse stage on a 150k-post world)."""
    n, named = 50_000, 20  # as in a window of a simulated world: a brand in one post in 2,500, none early
    frame = pd.DataFrame(
        {
            "platform": ["weibo"] * n,
            "id": [f"{i:05d}" for i in range(n)],
            "brands": [[] for _ in range(n - named)] + [["星阅"] for _ in range(named)],
            "complaint_category": [None] * (n - named) + ["质量"] * named,
            "brand_sentiment": [{} for _ in range(n - named)] + [{"星阅": 0.2} for _ in range(named)],
        }
    )
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        assert wh.save_analysis(frame) == n
        stored = wh.read_table("post_analysis", decode_json=True)
    assert sum(len(b) > 0 for b in stored["brands"]) == named
    assert stored["complaint_category"].notna().sum() == named
    assert stored.set_index("id").loc[f"{n - 1:05d}", "brand_sentiment"] == {"星阅": 0.2}


def test_every_declared_type_has_an_arrow_type() -> None:
    """Derived rows are typed by their declaration on the way to the engine: no declared type may lack one."""
    from yuqing.store.warehouse import _ARROW_TYPES

    assert {c.type.split("(")[0] for t in TABLES.values() for c in t.columns} <= set(_ARROW_TYPES)
