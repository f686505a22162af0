"""The crawler formats on the column-wise path (collectors/importers/columnar.py: weibo-search CSV, MediaCrawler
contents and comments as CSV, JSON and JSON Lines) against their row parsers (``load_file(..., row_wise=True)``):
the same warehouse rows in every table, the same rejected rows (line, column, why) and the same counts, on the
fixtures the tools' own writer code describes and on copies of them with odd cells written into them."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

import duckdb
import pytest

from yuqing.collectors.importers import columnar, find_files, load_file
from yuqing.store.warehouse import Warehouse

FIX = Path(__file__).parent / "fixtures" / "importers"
MC = FIX / "mediacrawler" / "data"
WS = FIX / "weibo_search" / "结果文件"
WC = FIX / "weibo_crawler" / "weibo"
TABLES = {
    "posts": "SELECT * EXCLUDE (first_seen_at) FROM posts ORDER BY platform, id",
    "post_metrics": "SELECT * FROM post_metrics ORDER BY ALL",
    "authors": "SELECT * FROM authors ORDER BY platform, id",
    "author_metrics": "SELECT * FROM author_metrics ORDER BY ALL",
    "interactions": "SELECT * FROM interactions ORDER BY ALL",
}
ODD: list[Any] = [
    "", "0", "-3", "很多", "1.2万", "100万+", "abc", "2026-02-30", "刚刚", "5分钟前", "昨天 12:30", "1791860000",
    "1791860000123", "x" * 300, "nan", "\t12\t", "12.0", "<b>粗</b>&amp; #话题# @某人 http://t.cn/x", "发布于 广东",
    "[]", '["a", "http://p.cn/1.jpg"]', "0", "蓝V",
]  # fmt: skip
ODD_JSON: list[Any] = [*ODD, None, 12, 1.5, -1, True, ["a", "b"], {"k": 1}]


def _files(root: Path) -> list[Path]:
    return [p for p in find_files(root) if "creator" not in p.name and "dynamic" not in p.name
            and not (root == WC and p.suffix == ".json")]  # fmt: skip


def _import(files: list[Path], db: Path, *, row_wise: bool) -> list[tuple[Any, ...]]:
    done = []
    with Warehouse.open(db) as wh:
        for path in files:
            r = load_file(wh, path, chunk=7, row_wise=row_wise)
            errors = [(e.line, e.field, str(e)) for e in r.errors]
            done.append((path.name, r.format, r.rows, r.loaded, r.posts, r.inserted, r.updated, r.edges, errors,
                         str(r.failed) if r.failed else None))  # fmt: skip
    return done


def _tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}


def _same_both_ways(files: list[Path], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    row_db, col_db = tmp / "rows.duckdb", tmp / "columns.duckdb"
    by_rows = _import(files, row_db, row_wise=True)
    batches: list[Path] = []
    real = columnar.read_batches

    def spy(path: Path, *args: Any, **kwargs: Any) -> Any:
        batches.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(columnar, "read_batches", spy)
    by_columns = _import(files, col_db, row_wise=False)
    assert sorted(batches) == sorted(files)  # every file took the column-wise path
    assert by_columns == by_rows
    got, want = _tables(col_db), _tables(row_db)
    for name in TABLES:
        assert got[name] == want[name], name
    # a second import of the same files changes nothing, either way
    assert [r[5:7] for r in _import(files, col_db, row_wise=False)] == [(0, 0)] * len(files)
    assert _tables(col_db) == want
    return got


def test_fixtures_give_the_same_warehouse_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(WC) + _files(MC) + _files(WS)  # weibo-crawler's profile before weibo-search names him
    assert {p.suffix for p in files} == {".csv", ".json", ".jsonl"} and len(files) >= 15
    got = _same_both_ways(files, tmp_path, monkeypatch)
    assert len(got["posts"]) > 20 and got["authors"] and got["interactions"]
    profile = [a for a in got["authors"] if a[:2] == ("weibo", "5000000001")]
    assert profile and profile[0][3] > 0  # weibo-crawler's users.csv: the author with followers
    assert any(p[0] == "weibo" and p[2] == "repost" and p[7] for p in got["posts"])  # a repost under its source


def _mutate_csv(src: Path, dst: Path, rng: random.Random) -> None:
    text = src.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    out = [list(r) for r in body]
    for copy in range(4):  # more copies: repeats of the same ids, some newer, with odd cells
        for row in body:
            cells = [rng.choice(ODD) if rng.random() < 0.2 else c for c in row]
            if copy == 3 and rng.random() < 0.5:
                cells = cells[: rng.randrange(1, len(cells))]  # a short row
            out.append(cells)
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *out])
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(buf.getvalue(), encoding="utf-8-sig")


def _mutate_json(src: Path, dst: Path, rng: random.Random) -> None:
    lines = src.suffix == ".jsonl"
    text = src.read_text(encoding="utf-8")
    records = [json.loads(x) for x in text.splitlines() if x.strip()] if lines else json.loads(text)
    out: list[Any] = list(records)
    for _ in range(4):
        for record in records:
            out.append({k: rng.choice(ODD_JSON) if rng.random() < 0.2 else v for k, v in record.items()})
    out.append("not an object")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if lines:
        dst.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in out) + "\n", encoding="utf-8")
    else:
        dst.write_text(json.dumps(out, ensure_ascii=False, indent=4), encoding="utf-8")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_odd_cells_are_parsed_and_rejected_the_same_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    users = tmp_path / "in" / WC.relative_to(FIX) / "users.csv"  # weibo-crawler's profiles, as they are
    users.parent.mkdir(parents=True)
    users.write_bytes((WC / "users.csv").read_bytes())
    files = []
    for src in _files(MC) + _files(WS) + _files(WC):
        dst = tmp_path / "in" / src.relative_to(FIX)
        (_mutate_csv if src.suffix == ".csv" else _mutate_json)(src, dst, rng)
        files.append(dst)
    got = _same_both_ways(files, tmp_path, monkeypatch)
    assert got["posts"]


def test_postgres_stores_the_same_authors_and_posts_from_the_exports(pg_url: str, tmp_path: Path) -> None:
    """The column-wise imports on both backends: the authors' verified/location/raw columns the exports give too."""
    files = _files(WC) + _files(MC) + _files(WS)
    got = {}
    for name, target in (("duckdb", tmp_path / "w.duckdb"), ("postgres", pg_url)):
        with Warehouse.open(target) as wh:
            for path in files:
                assert not load_file(wh, path, chunk=7).failed
            got[name] = [
                wh.query(f"SELECT {cols} FROM {table} ORDER BY platform, id").astype(str).to_dict("records")
                for table, cols in (
                    ("authors", "platform, id, screen_name, followers_count, verified, verified_type, "
                                "verified_reason, gender, location, raw::VARCHAR AS raw"),
                    ("posts", "platform, id, kind, text, author_id, parent_id, root_id, parent_author_id, "
                              "reposts_count, comments_count, attitudes_count, location"),
                )
            ]  # fmt: skip
    assert got["postgres"] == got["duckdb"]
    assert any(a["verified"] == "True" for a in got["duckdb"][0])  # weibo-search's 蓝V
    assert any("creator_hash" in a["raw"] for a in got["duckdb"][0])  # MediaCrawler's masked authors


GENERIC = ["id", "text", "created_at", "platform", "kind", "parent_id", "root_id", "parent_author_id", "author_id",
           "author_name", "attitudes_count", "comments_count", "reposts_count", "topics", "at_users", "urls", "pics",
           "source", "location", "query", "raw", "fetched_at", "extra"]  # fmt: skip
GOOD = {"id": "1", "text": "好 #话题# @某人", "created_at": 1791860000123, "platform": "douyin", "kind": "comment",
        "parent_id": "p1", "root_id": "r1", "parent_author_id": "u9", "author_id": "u1", "author_name": "甲",
        "attitudes_count": 3, "comments_count": "1.2万", "reposts_count": None, "topics": ["a", "b"],
        "at_users": "x,y", "urls": [], "pics": ["http://p.cn/1.jpg"], "source": "<b>iPhone</b>", "location": "广东",
        "query": "q", "raw": {"k": [1]}, "fetched_at": "2026-10-13 12:00", "extra": 1}  # fmt: skip


@pytest.mark.parametrize(("seed", "suffix"), [(1, ".jsonl"), (2, ".json"), (3, ".jsonl")])
def test_generic_json_records_give_the_same_warehouse_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, suffix: str
) -> None:
    rng = random.Random(seed)
    records: list[Any] = []
    for i in range(60):
        keys = [k for k in GENERIC if k in ("id", "text", "created_at") or rng.random() < 0.7]
        record = {k: rng.choice(ODD_JSON) if rng.random() < 0.25 else GOOD[k] for k in keys}
        record["id"] = record["id"] if rng.random() < 0.2 else str(i % 45)  # repeats, some newer
        records.append(record)
    records.append(["not", "an", "object"])
    path = tmp_path / "in" / f"posts{suffix}"
    path.parent.mkdir()
    if suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    else:
        path.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
    got = _same_both_ways([path], tmp_path, monkeypatch)
    assert len(got["posts"]) > 10


@pytest.mark.parametrize("key", ["data", "statuses"])
def test_a_json_object_holding_the_records_gives_the_same_warehouse_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """``{"data": [...]}`` (or an object with one list) takes the column-wise path: same rows, and a rejected
    record named as the row parser names it (``data[3].created_at``, no line)."""
    rng = random.Random(7)
    records: list[Any] = []
    for i in range(40):
        keys = [k for k in GENERIC if k in ("id", "text", "created_at") or rng.random() < 0.7]
        record = {k: rng.choice(ODD_JSON) if rng.random() < 0.25 else GOOD[k] for k in keys}
        record["id"] = str(i % 31)
        records.append(record)
    records.append("not an object")
    path = tmp_path / "in" / "posts.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"meta": {"n": 41}, key: records}, ensure_ascii=False), encoding="utf-8")
    got = _same_both_ways([path], tmp_path, monkeypatch)
    assert len(got["posts"]) > 10
    with Warehouse.open(tmp_path / "again.duckdb") as wh:
        errors = load_file(wh, path).errors
    assert errors and all(e.line is None and (e.field or "").startswith(f"{key}[") for e in errors)
    assert errors[-1].field == f"{key}[40]"
