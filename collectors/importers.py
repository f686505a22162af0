"""Importers for the exports of popular open-source crawlers and plain CSV/JSONL.

* ``mediacrawler`` — NanmiCoder/MediaCrawler Weibo exports (CSV or JSON): notes with ``note_id``,
  ``content``, ``create_time`` (unix seconds), ``liked_count``, ``comments_count``, ``shared_count``,
  ``ip_location``, ``user_id``, ``nickname``…; comments with ``comment_id``, ``note_id``,
  ``parent_comment_id``, ``comment_like_count``, ``sub_comment_count``.
* ``weibo-crawler`` — dataabc/weibo-crawler CSV, Chinese header (id, 用户昵称, 正文, 位置, 日期, 工具,
  点赞数, 评论数, 转发数, 话题, @用户) or English header (id, screen_name, text, created_at, …).
* ``csv`` / ``jsonl`` — any columns, mapped with ``--map field=column`` onto Post fields.

Rows stream in chunks; a bad row is reported with file, line and field (:class:`InputError`) and the
rest still loads.  Writing goes through the warehouse upsert, so re-importing changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from collectors.weibo.parse import parse_count, parse_time
from store.errors import InputError, ParseError
from store.schema import Author, Platform, Post, PostKind

__all__ = ["FORMATS", "ImportResult", "import_file", "read_records"]

_MEDIACRAWLER_NOTE = {
    "id": "note_id",
    "text": "content",
    "created_at": "create_time",
    "attitudes_count": "liked_count",
    "comments_count": "comments_count",
    "reposts_count": "shared_count",
    "location": "ip_location",
    "author_id": "user_id",
    "author_name": "nickname",
}
_MEDIACRAWLER_COMMENT = {
    "id": "comment_id",
    "root_id": "note_id",
    "parent_id": "parent_comment_id",
    "text": "content",
    "created_at": "create_time",
    "attitudes_count": "comment_like_count",
    "comments_count": "sub_comment_count",
    "location": "ip_location",
    "author_id": "user_id",
    "author_name": "nickname",
}
_WEIBO_CRAWLER_ZH = {
    "id": "id",
    "author_id": "user_id",
    "author_name": "用户昵称",
    "text": "正文",
    "location": "位置",
    "created_at": "日期",
    "source": "工具",
    "attitudes_count": "点赞数",
    "comments_count": "评论数",
    "reposts_count": "转发数",
    "topics": "话题",
    "at_users": "@用户",
}
_WEIBO_CRAWLER_EN = {
    "id": "id",
    "author_id": "user_id",
    "author_name": "screen_name",
    "text": "text",
    "location": "location",
    "created_at": "created_at",
    "source": "source",
    "attitudes_count": "attitudes_count",
    "comments_count": "comments_count",
    "reposts_count": "reposts_count",
    "topics": "topics",
    "at_users": "at_users",
}
FORMATS = ("mediacrawler", "weibo-crawler", "csv", "jsonl")
_COUNTS = ("reposts_count", "comments_count", "attitudes_count")
_LISTS = ("topics", "at_users")


@dataclass
class ImportResult:
    rows: int = 0
    loaded: int = 0
    errors: list[InputError] = field(default_factory=list)


def _chunks(path: Path, fmt: str, chunk: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first line number, frame) chunks; CSV line numbers count the header as line 1."""
    suffix = path.suffix.lower()
    if fmt == "jsonl" or suffix == ".jsonl":
        with pd.read_json(path, lines=True, dtype=False, chunksize=chunk) as reader:
            for i, frame in enumerate(reader):
                yield 1 + i * chunk, frame.astype(object).where(frame.notna(), "")
    elif suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        yield 1, pd.DataFrame(data if isinstance(data, list) else data.get("data", [])).fillna("")
    else:
        with pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk, encoding="utf-8-sig") as reader:
            for i, frame in enumerate(reader):
                yield 2 + i * chunk, frame


def _mapping(fmt: str, columns: list[str], user_map: dict[str, str]) -> tuple[dict[str, str], PostKind]:
    if fmt == "mediacrawler":
        if "comment_id" in columns:
            return {**_MEDIACRAWLER_COMMENT, **user_map}, PostKind.COMMENT
        return {**_MEDIACRAWLER_NOTE, **user_map}, PostKind.POST
    if fmt == "weibo-crawler":
        base = _WEIBO_CRAWLER_ZH if "正文" in columns else _WEIBO_CRAWLER_EN
        return {**base, **user_map}, PostKind.POST
    return {**{f: f for f in Post.model_fields if f in columns}, **user_map}, PostKind.POST


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "").strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except json.JSONDecodeError:
            pass
    return [t.strip().strip("#@") for t in text.replace("，", ",").split(",") if t.strip()]


def _row_to_post(
    row: dict[str, Any], mapping: dict[str, str], kind: PostKind, platform: Platform, fetched_at: dt.datetime
) -> Post:
    values: dict[str, Any] = {"platform": platform, "kind": kind, "fetched_at": fetched_at}
    for fld, column in mapping.items():
        if column not in row:
            continue
        raw = row[column]
        current = fld
        try:
            if fld == "created_at":
                values[fld] = parse_time(int(raw) if str(raw).isdigit() and len(str(raw)) >= 9 else raw)
            elif fld in _COUNTS:
                values[fld] = parse_count(raw)
            elif fld in _LISTS:
                values[fld] = _list(raw)
            elif fld in ("parent_id", "root_id"):
                values[fld] = str(raw) if raw not in ("", "0", 0, None) else None
            else:
                values[fld] = str(raw)
        except ParseError as exc:
            raise _FieldError(current, str(exc)) from exc
    if kind == PostKind.COMMENT:
        values["parent_id"] = values.get("parent_id") or values.get("root_id")
    values["raw"] = {k: (v if isinstance(v, str | int | float | bool) or v is None else str(v)) for k, v in row.items()}
    return Post.model_validate(values)


class _FieldError(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name


def read_records(
    path: Path,
    fmt: str,
    *,
    platform: Platform = Platform.WEIBO,
    mapping: dict[str, str] | None = None,
    chunk: int = 10_000,
) -> Iterator[tuple[list[Post], list[Author], list[InputError], int]]:
    """Chunks of (posts, authors, row errors, rows read)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})", file=str(path))
    fetched_at = dt.datetime.now(dt.UTC)
    for first_line, frame in _chunks(path, fmt, chunk):
        cols = [str(c) for c in frame.columns]
        field_map, kind = _mapping(fmt, cols, mapping or {})
        missing = [f for f in ("id", "text", "created_at") if field_map.get(f) not in cols]
        if missing:
            raise InputError(
                f"no column for {missing}; columns are {cols} (use --map FIELD=COLUMN)",
                file=str(path),
                line=1,
                field=missing[0],
            )
        posts: list[Post] = []
        authors: dict[str, Author] = {}
        errors: list[InputError] = []
        for offset, row in enumerate(frame.to_dict("records")):
            line = first_line + offset
            try:
                post = _row_to_post({str(k): v for k, v in row.items()}, field_map, kind, platform, fetched_at)
            except _FieldError as exc:
                errors.append(
                    InputError(str(exc), file=str(path), line=line, field=field_map.get(exc.field_name, exc.field_name))
                )
                continue
            except ValidationError as exc:
                err = exc.errors()[0]
                fld = str(err["loc"][0]) if err["loc"] else ""
                errors.append(InputError(err["msg"], file=str(path), line=line, field=field_map.get(fld, fld)))
                continue
            posts.append(post)
            if post.author_id:
                authors[post.author_id] = Author(
                    platform=platform, id=post.author_id, screen_name=post.author_name, fetched_at=fetched_at
                )
        yield posts, list(authors.values()), errors, len(frame)


def import_file(
    path: Path,
    fmt: str,
    warehouse_path: Path,
    *,
    platform: Platform = Platform.WEIBO,
    mapping: dict[str, str] | None = None,
    chunk: int = 10_000,
) -> ImportResult:
    """Stream ``path`` into the warehouse (idempotent); bad rows are collected, the rest is written."""
    from collectors.weibo.parse import interactions_for
    from store.warehouse import Warehouse

    result = ImportResult()
    with Warehouse.open(warehouse_path) as wh:
        for posts, authors, errors, rows in read_records(path, fmt, platform=platform, mapping=mapping, chunk=chunk):
            edges = [e for p in posts for e in interactions_for(p)]
            wh.ingest(posts=posts, authors=authors, interactions=edges)
            result.rows += rows
            result.loaded += len(posts)
            result.errors += errors
    return result
