"""Property-based: whatever a file holds, each row is loaded or rejected (file, line, field) and a file that
cannot be read is one line naming it — never a traceback, never a half-imported file."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yuqing.collectors.importers import FORMATS, load_file
from yuqing.store.errors import InputError
from yuqing.store.warehouse import Warehouse

SUFFIXES = [".csv", ".json", ".jsonl", ".txt"]
HEADERS = {
    "mediacrawler": [
        "note_id", "content", "create_time", "create_date_time", "liked_count", "comments_count", "shared_count",
        "last_modify_ts", "note_url", "creator_hash", "nickname", "source_keyword",
    ],
    "mediacrawler-comments": [
        "comment_id", "create_time", "aweme_id", "content", "creator_hash", "nickname", "sub_comment_count",
        "like_count", "last_modify_ts", "parent_comment_id", "pictures",
    ],
    "weibo-crawler": [
        "id", "bid", "正文", "原始图片url", "位置", "日期", "工具", "点赞数", "评论数", "转发数", "话题", "@用户",
        "完整日期", "是否原创", "源用户id", "源用户昵称", "源微博id", "源微博正文", "源微博日期",
    ],
    "weibo-search": [
        "id", "user_id", "用户昵称", "微博正文", "艾特用户", "话题", "转发数", "评论数", "点赞数", "发布时间",
        "retweet_id", "ip",
    ],
    "csv": ["id", "text", "created_at", "platform", "kind", "parent_id", "topics", "urls", "raw", "fetched_at"],
}  # fmt: skip

# cells that look like what the tools write, mixed with anything
TYPICAL = [
    "", "0", "1791860000", "1791860000123", "1.2万", "100万+", "刚刚", "5分钟前", "昨天 12:30", "09-01",
    "2026-10-13 12:00", "Tue Sep 01 20:15:00 +0800 2026", "False", "True", "[]", '["a", "b"]', "['a']",
    "{'x': 1}", "weibo", "douyin", "comment", "&gt;_&lt;<br>", "#话题# @某人 http://t.cn/x", "nan", "\t12\t",
]  # fmt: skip
CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(TYPICAL),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Warehouse]:
    with tempfile.TemporaryDirectory() as tmp, Warehouse.open(Path(tmp) / "w.duckdb") as wh:
        yield wh


def _check(wh: Warehouse, path: Path, fmt: str) -> None:
    before = wh.table_counts()["posts"]
    result = load_file(wh, path, fmt, chunk=3)
    if result.failed is not None:
        assert isinstance(result.failed, InputError)
        message = str(result.failed)
        assert "\n" not in message and message.startswith(str(path))
        assert wh.table_counts()["posts"] == before  # nothing of a failed file is kept
        return
    assert result.loaded + len(result.errors) == result.rows and result.loaded > 0
    for err in result.errors:
        assert "\n" not in str(err) and str(err).startswith(str(path))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES), fmt=st.sampled_from(FORMATS))
def test_any_bytes(warehouse: Warehouse, data: bytes, suffix: str, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"export{suffix}"
        path.write_bytes(data)
        _check(warehouse, path, fmt)


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([(row + [""] * len(header))[: len(header)] for row in rows])
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(sorted(HEADERS)),
    rows=st.lists(st.lists(CELL, min_size=3, max_size=19), min_size=1, max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_rows_in_each_format(warehouse: Warehouse, kind: str, rows: list[list[str]], encoding: str) -> None:
    fmt = kind.split("-comments")[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "search_comments_2026-10-13.csv" if "comments" in kind else Path(tmp) / f"{fmt}.csv"
        path.write_bytes(_csv(HEADERS[kind], rows).encode(encoding, errors="replace"))
        _check(warehouse, path, fmt if fmt != "mediacrawler" or "comments" not in kind else "mediacrawler")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(
        st.fixed_dictionaries(
            {"id": JSON_VALUE, "text": JSON_VALUE, "created_at": JSON_VALUE},
            optional={"topics": JSON_VALUE, "raw": JSON_VALUE, "platform": JSON_VALUE, "note_id": JSON_VALUE},
        )
        | JSON_VALUE,
        min_size=1,
        max_size=5,
    ),
    layout=st.sampled_from(["jsonl", "json"]),
    fmt=st.sampled_from(["auto", "jsonl", "mediacrawler"]),
)
def test_json_records(warehouse: Warehouse, records: list[Any], layout: str, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"posts.{layout}"
        if layout == "jsonl":
            path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
        else:
            path.write_text(json.dumps(records, ensure_ascii=False, indent=4), encoding="utf-8")
        _check(warehouse, path, fmt)
