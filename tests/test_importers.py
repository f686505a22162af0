from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from collectors.importers import import_file
from flows.cli import app
from store.warehouse import Warehouse

FIX = Path(__file__).parent / "fixtures" / "importers"


def test_mediacrawler_export_bad_rows_named_rest_loads_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    result = import_file(FIX / "mediacrawler_weibo_notes.csv", "mediacrawler", db)
    assert (result.rows, result.loaded) == (4, 2)
    where = sorted((e.line, e.field) for e in result.errors)
    assert where == [(4, "create_time"), (5, "liked_count")]
    assert "mediacrawler_weibo_notes.csv:4 [create_time]" in str(result.errors[0])
    again = import_file(FIX / "mediacrawler_weibo_notes.csv", "mediacrawler", db)
    assert again.loaded == 2
    with Warehouse.open(db, read_only=True) as wh:
        posts = wh.query("SELECT id, attitudes_count, location, created_at FROM posts ORDER BY id")
        assert wh.table_counts()["post_metrics"] == 2
    assert posts["id"].tolist() == ["5021234567890123", "5021234567890124"]
    assert posts["attitudes_count"].tolist() == [12, 12_000]
    assert posts["location"].iat[0] == "发布于 广东"


def test_weibo_crawler_chinese_header(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    result = import_file(FIX / "weibo_crawler.csv", "weibo-crawler", db)
    assert result.loaded == 2 and not result.errors
    with Warehouse.open(db, read_only=True) as wh:
        row = wh.query("SELECT topics, at_users, reposts_count, author_name FROM posts WHERE id = '4987654321000001'")
    assert list(row["topics"].iat[0]) == ["星阅X5焕新季"] and list(row["at_users"].iat[0]) == ["小桃子"]
    assert row["reposts_count"].iat[0] == 300 and row["author_name"].iat[0] == "数码老王"


def test_plain_jsonl_with_mapping_through_the_cli(tmp_path: Path) -> None:
    src = tmp_path / "posts.jsonl"
    pd.DataFrame(
        {"msg_id": ["a1", "a2"], "content": ["好评", "差评"], "ts": ["2026-10-01 10:00:00", "2026-10-02"]}
    ).to_json(src, orient="records", lines=True, force_ascii=False)
    db = tmp_path / "w.duckdb"
    args = [
        "import",
        str(src),
        "--format",
        "jsonl",
        "--platform",
        "xiaohongshu",
        "--warehouse",
        str(db),
        "--map",
        "id=msg_id",
        "--map",
        "text=content",
        "--map",
        "created_at=ts",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 of 2 rows loaded" in result.output
    with Warehouse.open(db, read_only=True) as wh:
        assert wh.query("SELECT DISTINCT platform FROM posts")["platform"].tolist() == ["xiaohongshu"]
    missing = CliRunner().invoke(app, ["import", str(src), "--format", "jsonl", "--warehouse", str(db)])
    assert missing.exit_code != 0 and "use --map" in str(missing.exception)
