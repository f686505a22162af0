"""Any CSV / JSON Lines / JSON array: columns named like :class:`store.schema.Post` fields, or mapped with
``--map FIELD=COLUMN``.

A file of the project's own ``Post`` records re-imports unchanged, whichever way it was written: lists
(``topics``, ``at_users``, ``urls``, ``pics``) as JSON arrays, JSON in a CSV cell, pandas' ``['a', 'b']`` or
comma/space separated; times as ISO text or epoch milliseconds (pandas ``to_json``); ``raw`` as an object or JSON
text; ``platform``/``kind`` per row.  ``fetched_at`` (or ``last_modify_ts``) is the row's crawl time, against which
relative times such as ``5分钟前`` are resolved.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from yuqing.collectors.importers.files import Row
from yuqing.collectors.importers.records import (
    Cells,
    FileContext,
    Parsed,
    RowError,
    crawl_time_of,
    finish_post,
    literal,
    make_author,
)
from yuqing.collectors.importers.records import raw_of as _raw_of
from yuqing.collectors.platforms import platform_named
from yuqing.store.errors import InputError
from yuqing.store.schema import Platform, Post, PostKind

__all__ = ["crawl_columns", "explode", "field_map", "kind_of", "make_parser", "platform_of", "raw_value"]

_FIELDS = set(Post.model_fields)
_REQUIRED = ("id", "text", "created_at")
_LISTS = ("topics", "at_users", "urls", "pics")
_COUNTS = ("reposts_count", "comments_count", "attitudes_count")
_IDS = ("parent_id", "root_id", "parent_author_id", "author_id")
_CRAWL = ("fetched_at", "last_modify_ts", "crawled_at", "crawl_time")


def explode(doc: Any, path: Path) -> Iterator[Row]:
    """A JSON object holding one list of records (``{"data": [...]}``) → those records."""
    lists = {k: v for k, v in doc.items() if isinstance(v, list)} if isinstance(doc, dict) else {}
    records = lists.get("data") or (next(iter(lists.values())) if len(lists) == 1 else None)
    if records is None:
        raise InputError('a JSON object without a list of records (expected [...] or {"data": [...]})', file=str(path))
    key = "data" if "data" in lists else next(iter(lists))
    for i, item in enumerate(records):
        values = dict(item) if isinstance(item, dict) else {"__error__": f"{key}[{i}] is not an object"}
        values["__where__"] = f"{key}[{i}]"
        yield Row(None, values)


def field_map(ctx: FileContext, columns: Collection[str]) -> dict[str, str]:
    """Post field → column: columns named like the fields, and ``--map FIELD=COLUMN``; checks the required ones."""
    unknown = sorted(set(ctx.mapping) - _FIELDS)
    if unknown:
        raise InputError(
            f"--map {unknown[0]}=...: not a post field (one of {', '.join(sorted(_FIELDS))})", file=str(ctx.path)
        )
    mapped = {**{f: f for f in _FIELDS if f in columns}, **ctx.mapping}
    missing = [f for f in _REQUIRED if mapped.get(f) not in columns]
    if missing:
        raise InputError(
            f"no column for {missing}; columns are {sorted(columns)[:30]} (use --map FIELD=COLUMN)",
            file=str(ctx.path),
            line=1,
            field=missing[0],
        )
    return mapped


def crawl_columns(mapped: dict[str, str], columns: Collection[str]) -> tuple[str, ...]:
    """The columns holding a row's crawl time, first found first."""
    return tuple(c for c in (mapped.get("fetched_at"), *_CRAWL[1:]) if c and c in columns)


def make_parser(ctx: FileContext, columns: Collection[str]) -> Callable[[dict[str, Any], int | None], Parsed]:
    field_map_ = field_map(ctx, columns)
    col = field_map_.get
    raw_column = field_map_.get("raw")
    crawl_columns_ = crawl_columns(field_map_, columns)
    seen: set[tuple[Platform, str]] = set()  # one Author per id and file

    def parse(values: dict[str, Any], line: int | None) -> Parsed:
        cells = Cells(values)
        fetched = crawl_time_of(cells, ctx, line, *crawl_columns_)
        platform = ctx.platform or platform_of(cells, col("platform"))
        out: dict[str, Any] = {
            "platform": platform,
            "id": cells.id(field_map_["id"], required=True),
            "kind": kind_of(cells, col("kind")),
            "created_at": cells.time(field_map_["created_at"], now=fetched),
            "fetched_at": fetched,
        }
        for name in _IDS:
            if col(name):
                out[name] = cells.id(field_map_[name])
        for name in _COUNTS:
            if col(name):
                out[name] = cells.count(field_map_[name])
        for name in _LISTS:
            if col(name):
                out[name] = cells.list(field_map_[name])
        for name in ("author_name", "source", "location", "query"):
            if col(name):
                out[name] = cells.text(field_map_[name])
        out["raw"] = raw_value(values[raw_column]) if raw_column and raw_column in values else _raw_of(values)
        post = finish_post(out, cells.text(field_map_["text"]))
        authors = []
        if post.author_id and (platform, post.author_id) not in seen:
            seen.add((platform, post.author_id))
            authors.append(make_author(platform, post.author_id, post.author_name, fetched))
        return Parsed([post], authors)

    return parse


def platform_of(cells: Cells, column: str | None) -> Platform:
    """A row's platform from ``column`` (a value or alias of the registry); empty → Weibo."""
    value = cells.text(column).strip().lower() if column else ""
    if not value:
        return Platform.WEIBO
    try:
        return platform_named(value)
    except KeyError as exc:
        raise RowError(column or "platform", f"unknown platform {value!r}") from exc


def kind_of(cells: Cells, column: str | None) -> PostKind:
    """A row's kind from ``column`` (post, comment or repost); empty → post."""
    value = cells.text(column).strip().lower() if column else ""
    try:
        return PostKind(value) if value else PostKind.POST
    except ValueError as exc:
        raise RowError(column or "kind", f"unknown kind {value!r} (post, comment or repost)") from exc


def raw_value(value: Any) -> dict[str, Any] | None:
    """A ``raw`` cell: a dict, JSON text, pandas' repr of a dict, or anything else kept under ``value``."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, float) or value == "":
        return None
    text = str(value)
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError:
        decoded = literal(text) if text.lstrip().startswith("{") else None  # pandas to_csv writes a dict's repr
        if decoded is None:
            return {"value": text}
    return decoded if isinstance(decoded, dict) else {"value": decoded}
