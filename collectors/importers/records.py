"""What every format shares: reading a row's cells with the column named on failure, and building records.

A format turns one row into :class:`Parsed` (posts and authors); any :class:`RowError` rejects that row alone,
with the column it came from.  Text is cleaned and ``#话题#``/``@mentions``/URLs extracted the same way for every
source (:mod:`collectors.fields`); the row itself is kept as ``raw``.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yuqing.collectors.fields import clean_text, extract, parse_count, parse_id, parse_list, parse_time
from yuqing.store.errors import ParseError
from yuqing.store.schema import Author, Platform, Post

__all__ = [
    "Cells",
    "FileContext",
    "Parsed",
    "RowError",
    "crawl_time_of",
    "finish_post",
    "literal",
    "make_author",
    "raw_json",
    "raw_of",
]


class RowError(Exception):
    """One row is rejected: ``column`` is the source column (or field) at fault."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


@dataclass
class FileContext:
    """What an importer knows about the file beyond its rows."""

    path: Path
    crawl_time: dt.datetime
    """When the file's rows were fetched, if no row says (date in the file name, else the file's mtime)."""
    platform: Platform | None = None
    """Forced by ``--platform``; else inferred (path, columns) or the format's own platform."""
    mapping: dict[str, str] = field(default_factory=dict)
    """``--map FIELD=COLUMN`` for the generic formats."""


@dataclass
class Parsed:
    posts: list[Post] = field(default_factory=list)
    authors: list[Author] = field(default_factory=list)


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


class Cells:
    """The cells of one row; each reader names the column it read when it fails."""

    __slots__ = ("values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def first(self, *columns: str) -> tuple[str, Any]:
        """The first of ``columns`` holding a non-empty value, as (column, value); ``("", None)`` if none."""
        for column in columns:
            value = self.values.get(column)
            if not _empty(value):
                return column, value
        return "", None

    def has(self, *columns: str) -> bool:
        return any(c in self.values for c in columns)

    def text(self, *columns: str) -> str:
        value = self.first(*columns)[1]
        if value is None:
            return ""
        return value if isinstance(value, str) else str(value)

    def id(self, *columns: str, required: bool = False) -> str:
        column, value = self.first(*columns)
        out = parse_id(value)
        if required and not out:
            raise RowError(columns[0] if columns else "id", "empty id")
        if len(out) > 256:
            raise RowError(column, "id longer than 256 characters")
        return out

    def count(self, *columns: str) -> int:
        column, value = self.first(*columns)
        try:
            return parse_count(value)
        except ParseError as exc:
            raise RowError(column, str(exc)) from exc

    def time(self, *columns: str, now: dt.datetime, required: bool = True) -> dt.datetime | None:
        column, value = self.first(*columns)
        if value is None:
            if required:
                raise RowError(columns[0] if columns else "created_at", "no time")
            return None
        try:
            return parse_time(value, now)
        except ParseError as exc:
            raise RowError(column, str(exc)) from exc

    def list(self, *columns: str) -> list[str]:
        column, value = self.first(*columns)
        if isinstance(value, str) and value.lstrip().startswith(("[", "(")):
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError:
                decoded = literal(value)
            if isinstance(decoded, list | tuple):
                return parse_list(list(decoded))
        try:
            return parse_list(value)
        except (TypeError, ValueError) as exc:  # pragma: no cover - parse_list takes anything
            raise RowError(column, f"not a list: {exc}") from exc


def literal(value: str) -> Any:
    """A Python-repr list cell, as pandas ``to_csv`` writes lists (``['a', 'b']``); ``None`` if it is not one."""
    if len(value) > 100_000:
        return None
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def raw_of(values: dict[str, Any]) -> dict[str, Any]:
    """The source row as stored in ``raw``: JSON-safe, internal keys dropped."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key.startswith("__") and key.endswith("__"):
            continue
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            value = None
        out[str(key)] = value
    return out


_JSON_ESCAPES = (
    ("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b"), ("\f", "\\f")
)  # fmt: skip
_JSON_RARE = "[\x00-\x07\x0b\x0e-\x1f]"


def raw_json(columns: list[str], values: list[Any]) -> list[str]:
    """``raw`` of many rows at once: the JSON text of :func:`raw_of` (``json.dumps(..., ensure_ascii=False)``) of
    each row, built from ``values`` (one Arrow string array per column of ``columns``) with Arrow compute; a row
    holding a rare control character is written by ``json.dumps`` itself."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kept = [(n, c) for n, c in zip(columns, values, strict=True) if not (n.startswith("__") and n.endswith("__"))]
    rows = len(values[0]) if values else 0
    if not kept:
        return ["{}"] * rows
    parts: list[Any] = []
    rare = np.zeros(rows, dtype=bool)
    for k, (name, col) in enumerate(kept):
        rare |= pc.fill_null(pc.match_substring_regex(col, _JSON_RARE), False).to_numpy(zero_copy_only=False)
        escaped = col
        if pc.any(pc.match_substring_regex(col, '[\\\\"\n\r\t\x08\x0c]')).as_py():
            for old, new in _JSON_ESCAPES:
                escaped = pc.replace_substring(escaped, old, new)
        key = json.dumps(str(name), ensure_ascii=False)
        parts += [pa.scalar(("{" if k == 0 else ", ") + key + ': "'), escaped, pa.scalar('"')]
    parts.append(pa.scalar("}"))
    out: list[str] = pc.binary_join_element_wise(*parts, "").to_pylist()
    for i in np.flatnonzero(rare):
        out[i] = json.dumps(raw_of({name: col[int(i)].as_py() for name, col in kept}), ensure_ascii=False)
    return out


def _merge(own: list[str], found: list[str]) -> list[str]:
    if not own or not found:
        return list(own or found)
    return list(dict.fromkeys([*own, *found]))


def finish_post(values: dict[str, Any], source_text: str) -> Post:
    """A :class:`Post` from field values; ``source_text`` (the text as the source sent it, maybe HTML) is cleaned
    and its topics, mentions and URLs merged with those the row already lists."""
    text = clean_text(source_text)
    found = extract(text, source_text)
    values["text"] = text
    values["topics"] = _merge(values.get("topics") or [], found.topics)
    values["at_users"] = _merge(values.get("at_users") or [], found.at_users)
    values["urls"] = _merge(values.get("urls") or [], found.urls)
    if values.get("source"):
        values["source"] = clean_text(values["source"])
    for key in ("parent_id", "root_id", "parent_author_id"):
        if values.get(key) == "":
            values[key] = None
    return Post.model_validate(values)


def make_author(
    platform: Platform,
    author_id: str,
    name: str,
    fetched_at: dt.datetime,
    *,
    masked: bool = False,
    **extra: Any,
) -> Author:
    """An :class:`Author`; ``masked`` marks a hashed id with a masked nickname (MediaCrawler since 2026-07)."""
    raw = {k: v for k, v in extra.pop("raw", {}).items() if not _empty(v)}
    if masked:
        raw |= {"creator_hash": author_id, "nickname_masked": True}
    return Author(platform=platform, id=author_id, screen_name=name, fetched_at=fetched_at, raw=raw or None, **extra)


def crawl_time_of(cells: Cells, ctx: FileContext, line: int | None, *columns: str) -> dt.datetime:
    """The row's own crawl time (e.g. ``last_modify_ts``), else the file's plus ``line`` microseconds, so that a
    later row of the same file is newer (file order breaks ties) and a re-import gives the same value."""
    if columns:
        column, value = cells.first(*columns)
        if value is not None:
            try:
                return parse_time(value, ctx.crawl_time)
            except ParseError as exc:
                raise RowError(column, str(exc)) from exc
    return ctx.crawl_time + dt.timedelta(microseconds=line or 0)
