"""The bulk CSV path (collectors/importers/columnar.py) against the row-by-row parser it replaces for generic CSV:
the same posts, field by field, and the same rejected rows (line, column, why) on generated files; batches of one
transaction each; an interrupted import completed by importing again."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
import threading
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yuqing.collectors.importers import columnar, generic, import_file, load_file
from yuqing.collectors.importers.files import csv_cells
from yuqing.collectors.importers.load import _newest, _parse_row
from yuqing.collectors.importers.records import FileContext, raw_json, raw_of
from yuqing.store.errors import InputError
from yuqing.store.schema import CHINA_TZ, Platform
from yuqing.store.warehouse import Warehouse, encode_json

COLUMNS = [
    "id", "text", "created_at", "platform", "kind", "parent_id", "root_id", "parent_author_id", "author_id",
    "author_name", "attitudes_count", "comments_count", "topics", "at_users", "urls", "pics", "source", "location",
    "raw", "fetched_at", "extra",
]  # fmt: skip
TYPICAL = [
    "", "0", "7", "1791860000", "1791860000123", "1.2万", "100万+", "-3", "刚刚", "5分钟前", "昨天 12:30", "09-01",
    "2026-10-13 12:00", "2026-02-30", "Tue Sep 01 20:15:00 +0800 2026", "[]", '["a", "b"]', "['a']", "{'x': 1}",
    '{"k": [1]}', "weibo", "douyin", "wb", "mars", "comment", "repost", "Post", "&gt;_&lt;<br>", " x ",
    "#话题# @某人 http://t.cn/x", '<a href="https://e.com/a">链接</a>', "nan", "\t12\t", "12.0", "u1", "u2",
]  # fmt: skip
CELL = st.one_of(st.sampled_from(TYPICAL), st.text(max_size=12))
CRAWL = dt.datetime(2026, 10, 13, 15, 40, tzinfo=CHINA_TZ)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def _reference(path: Path, ctx: FileContext) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]], list[Any]]:
    """What the row parser (generic.make_parser) makes of the file: posts as stored, rejected rows, authors."""
    cells = csv_cells(path, "utf-8")
    columns = next(cells)[1]
    parse = generic.make_parser(ctx, columns)
    posts, errors, authors = [], [], []
    from yuqing.collectors.importers.files import Row

    for line, row in cells:
        values: dict[str, Any] = dict(zip(columns, row, strict=False))
        if len(row) > len(columns):
            values["__extra__"] = row[len(columns) :]
        parsed = _parse_row(parse, Row(line, values), path, errors)
        if parsed is not None:
            posts += parsed.posts
            authors += [
                (a.platform.value, a.id, a.screen_name, a.fetched_at.astimezone(dt.UTC)) for a in parsed.authors
            ]
    stored = [{**p.model_dump(), "raw": encode_json(p.raw)} for p in _newest(posts)]
    for p in stored:
        p["platform"], p["kind"] = p["platform"].value, p["kind"].value
        p["created_at"], p["fetched_at"] = p["created_at"].astimezone(dt.UTC), p["fetched_at"].astimezone(dt.UTC)
    return sorted(stored, key=_key), [(e.line, e.field, str(e)) for e in errors], authors


def _columnar(path: Path, ctx: FileContext) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]], list[Any]]:
    _, batches = columnar.read_batches(path, "utf-8", ctx, batch_rows=10_000)
    posts, errors, authors = [], [], []
    for batch in batches:
        posts += batch.posts.to_pylist()
        errors += [(e.line, e.field, str(e)) for e in batch.errors]
        authors += [(a["platform"], a["id"], a["screen_name"], a["fetched_at"]) for a in batch.authors.to_pylist()]
    for p in posts:
        p["created_at"], p["fetched_at"] = p["created_at"].astimezone(dt.UTC), p["fetched_at"].astimezone(dt.UTC)
    return sorted(posts, key=_key), errors, authors


def _key(post: dict[str, Any]) -> tuple[str, str]:
    return post["platform"], post["id"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picked=st.lists(st.sampled_from(COLUMNS[3:]), max_size=10, unique=True),
    rows=st.lists(st.lists(CELL, min_size=len(COLUMNS), max_size=len(COLUMNS) + 1), min_size=1, max_size=8),
    platform=st.sampled_from([None, Platform.DOUYIN]),
)
def test_columnar_path_equals_the_row_parser(picked: list[str], rows: list[list[str]], platform: Any) -> None:
    header = ["id", "text", "created_at", *picked]
    body = [[r[0] or "1", *r[1 : len(header)], *r[len(COLUMNS) :]] for r in rows]  # a few rows with extra cells
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.csv"
        _write(path, header, body)
        ctx = FileContext(path=path, crawl_time=CRAWL, platform=platform)
        assert _columnar(path, ctx) == _reference(path, ctx)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(max_size=15), min_size=3, max_size=3), min_size=1, max_size=10))
def test_raw_json_equals_json_dumps_of_the_row(rows: list[list[str]]) -> None:
    columns = ["id", 'te"xt\\', "__extra__"]
    arrays = [pa.array([r[i] for r in rows], pa.string()) for i in range(3)]
    expected = [json.dumps(raw_of(dict(zip(columns, r, strict=True))), ensure_ascii=False) for r in rows]
    assert raw_json(columns, arrays) == expected


def _table(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _big_csv(path: Path, rows: int) -> None:
    _write(
        path,
        ["id", "text", "created_at", "author_id", "author_name", "attitudes_count"],
        [[str(i % (rows - 50)), f"第{i}条 #话题# @u{i % 7}", f"2026-10-{1 + i % 28:02d} 12:00", f"u{i % 13}",
          f"用户{i % 13}", "1.2万" if i % 9 == 0 else str(i)] for i in range(rows)],
    )  # fmt: skip


def test_batches_commit_one_by_one_and_an_interrupted_import_completes_on_re_import(tmp_path: Path) -> None:
    src = tmp_path / "posts.csv"
    _big_csv(src, 1_000)
    clean = tmp_path / "clean.duckdb"
    done = import_file(src, "csv", clean, chunk=300)
    assert (done.files[0].rows, done.files[0].loaded, done.files[0].posts) == (1_000, 1_000, 1_000)

    broken = tmp_path / "broken.duckdb"

    class Interrupted(Exception):
        pass

    with Warehouse.open(broken) as wh:
        calls = 0
        real = wh.ingest_batch

        def stop_at_third(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 3:
                raise Interrupted
            return real(*args, **kwargs)

        wh.ingest_batch = stop_at_third  # type: ignore[method-assign]
        with pytest.raises(Interrupted):
            load_file(wh, src, "csv", chunk=300)
    assert _table(broken, "SELECT count(*) FROM posts") == [(600 - 0,)]  # two whole batches, nothing of the third
    again = import_file(src, "csv", broken, chunk=300)
    assert again.files[0].inserted == 350 and again.files[0].updated == 50  # ids 0-49 repeat later in the file
    query = "SELECT * EXCLUDE (first_seen_at) FROM posts ORDER BY id"
    assert _table(broken, query) == _table(clean, query)
    assert _table(broken, "SELECT * FROM authors ORDER BY id") == _table(clean, "SELECT * FROM authors ORDER BY id")


def test_a_late_bad_line_fails_the_file_before_any_batch_is_written(tmp_path: Path) -> None:
    src = tmp_path / "late.csv"
    _big_csv(src, 1_000)
    with src.open("ab") as f:
        f.write(b'9999,"never closed\x00,2026-10-01\n')
    with pytest.raises(InputError) as err:
        import_file(src, "csv", tmp_path / "w.duckdb", chunk=100)
    assert err.value.line == 1_002
    assert _table(tmp_path / "w.duckdb", "SELECT count(*) FROM posts") == [(0,)]


def test_an_author_comes_from_the_first_row_naming_it_even_when_its_post_repeats(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    rows = [
        ["1", "a", "2026-10-01", "u1", "甲"],
        ["2", "b", "2026-10-01", "u2", "丙"],
        ["1", "c", "2026-10-02", "u1", "X"],
    ]
    _write(path, ["id", "text", "created_at", "author_id", "author_name"], rows)
    ctx = FileContext(path=path, crawl_time=CRAWL)
    got, want = _columnar(path, ctx), _reference(path, ctx)
    assert got == want
    assert [(a[1], a[2]) for a in got[2]] == [("u1", "甲"), ("u2", "丙")]


@pytest.mark.parametrize(
    "body",
    [
        # a line break in a cell, a blank line
        '1,"两行\n文本",2026-10-01,5\n\n2,好,2026-10-01,很多\n3,好,2026-10-01,1\n',
        "1,好,2026-10-01,5\r\n2,好,2026-10-01,很多\r\n3,好,2026-10-01\r\n",  # CRLF, a short row
        "1,好,2026-10-01,5\n2,好,2026-10-01,很多\n3,好,2026-10-01,1",  # no newline at the end
        '1,"a""b",2026-10-01,5\n2,b"c,2026-10-01,很多\n"3"x,好,2026-10-01,1\n',  # quotes where Arrow could differ
    ],
)
def test_arrow_and_csv_module_read_the_same_cells_and_lines(tmp_path: Path, body: str) -> None:
    path = tmp_path / "posts.csv"
    path.write_text("id,text,created_at,attitudes_count\n" + body, encoding="utf-8", newline="")
    ctx = FileContext(path=path, crawl_time=CRAWL)
    got, want = _columnar(path, ctx), _reference(path, ctx)
    assert got == want
    assert [e[:2] for e in got[1]] == [(2 + body.count("\n", 0, body.index("2,")), "attitudes_count")]


def test_arrow_reads_a_file_of_one_line_rows(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    _big_csv(path, 500)
    chunks = columnar._arrow_chunks(path, "utf-8", next(csv_cells(path, "utf-8"))[1], 200)
    assert chunks is not None  # the fast path, not the csv module
    rows = list(chunks)
    assert [r.n for r in rows] == [200, 200, 100] and rows[-1].lines[-1] == 501
    assert columnar._arrow_chunks(path, "gb18030", ["id"], 200) is None


def test_prefetched_keeps_order_raises_at_the_failing_item_and_stops() -> None:
    from yuqing.store.warehouse import prefetched

    made: list[int] = []

    def items() -> Any:
        for i in range(100):
            made.append(i)
            if i == 5:
                raise ValueError("bad item 5")
            yield i

    got = []
    with pytest.raises(ValueError, match="bad item 5"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]

    def counted() -> Any:
        for i in range(1_000):
            made.append(i)
            yield i

    made.clear()
    stream = prefetched(counted())
    for item in stream:
        if item == 3:
            break
    stream.close()  # what a for loop left by an exception or return does
    assert item == 3 and len(made) <= 6  # at most one made ahead (and one waiting to be put)
    assert not any(t.name == "yuqing-prefetch" for t in threading.enumerate())


LIST_CELL = st.one_of(
    st.sampled_from(["", "a", "星阅X5", "a,b", "a b", " a", "nan", "None", "null", "[]", '["x"]', "['y']", "a|b", "(c)",
                     "'q'", '"r"', "a\u3000b", "x\xa0", "；", "、a"]),
    st.text(max_size=8),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(LIST_CELL, min_size=1, max_size=20))
def test_list_cells_on_the_column_equal_the_per_value_rule(cells: list[str]) -> None:
    from yuqing.collectors.importers.records import Cells

    rows = columnar.Rows(np.arange(len(cells), dtype=np.int64), {"c": cells}, ["c"])
    assert columnar.lists_of(rows, "c") == [Cells({"c": v}).list("c") for v in cells]


ENTITY_TEXT = st.lists(
    st.sampled_from(["#", "@", "a", "话题", " ", "\n", "\x00", "#话 题#", "@某人", "x@y", "##", "http://t.cn/x", ".",
                     "-", "\u3000", "_"]),
    max_size=12,
).map("".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(ENTITY_TEXT, min_size=1, max_size=12))
def test_topics_and_mentions_of_joined_rows_equal_each_rows_own(texts: list[str]) -> None:
    from yuqing.collectors.fields import extract, extract_many

    got = extract_many(texts)
    want = [extract(t) for t in texts]
    assert got[0] == [e.topics for e in want] and got[1] == [e.at_users for e in want]
