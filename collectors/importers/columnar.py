"""The bulk path of the generic CSV format: whole columns parsed at once, one warehouse transaction per batch.

A CSV whose columns are named like :class:`store.schema.Post` fields (or mapped with ``--map``) is read in batches
of rows; each column of a batch is parsed with the column functions of :mod:`collectors.fields` (the common shapes
on the column, every other cell by the per-value rule), rows with a bad cell are rejected with the line and column
the row-by-row parser (:mod:`.generic`) names, and the batch is written as Arrow tables
(:meth:`store.warehouse.Warehouse.ingest_batch`) in one transaction.  Memory is bounded by the batch, not the file.

Before the first batch is written the whole file is read once (decoding and CSV structure): a file that cannot be
read to its end (bytes of another encoding late in it, a broken quote) commits nothing.  An import interrupted
between batches (killed) leaves whole batches; importing the file again completes it and changes nothing else.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from yuqing.collectors.fields import clean_texts, extract_many, parse_counts, parse_ids, parse_times
from yuqing.collectors.importers import generic
from yuqing.collectors.importers.files import csv_cells
from yuqing.collectors.importers.records import Cells, FileContext, RowError, raw_json
from yuqing.collectors.weibo.parse import interactions_for
from yuqing.store.errors import InputError
from yuqing.store.schema import Interaction, Platform, Post, PostKind

__all__ = ["BATCH_ROWS", "Batch", "read_batches"]

BATCH_ROWS = 50_000
_IDS = ("parent_id", "root_id", "parent_author_id", "author_id")
_COUNTS = ("reposts_count", "comments_count", "attitudes_count")
_LISTS = ("topics", "at_users", "urls", "pics")
_TEXTS = ("author_name", "source", "location", "query")
_MAX_ID = 256


class Batch:
    """One parsed batch: Arrow tables for the warehouse, the rows it rejected, and its edges."""

    __slots__ = ("authors", "edges", "errors", "platforms", "posts", "rows")

    def __init__(
        self,
        posts: pa.Table,
        authors: pa.Table,
        edges: list[Interaction],
        errors: list[InputError],
        rows: int,
        platforms: set[Platform],
    ) -> None:
        self.posts, self.authors, self.edges, self.errors = posts, authors, edges, errors
        self.rows, self.platforms = rows, platforms


class _RowTimes:
    """Each row's crawl time as an aware datetime, made only for the cells the per-value parser reads."""

    def __init__(self, micros: np.ndarray) -> None:
        self.micros = micros

    def __getitem__(self, i: int) -> dt.datetime:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(self.micros[i]))


def read_batches(
    path: Path, encoding: str, ctx: FileContext, *, batch_rows: int = BATCH_ROWS
) -> tuple[list[str], Iterator[Batch]]:
    """(the header, the file's batches).  Raises :class:`InputError` before yielding anything when the file
    cannot be read to its end or its columns do not make posts."""
    cells = csv_cells(path, encoding)
    header = next(cells, None)
    if header is None:
        return [], iter(())
    columns = header[1]
    mapped = generic.field_map(ctx, columns)
    for _ in cells:  # the whole file once: a late decoding or CSV error fails it before anything is written
        pass
    return columns, _batches(path, encoding, ctx, columns, mapped, batch_rows)


def _batches(
    path: Path, encoding: str, ctx: FileContext, columns: list[str], mapped: dict[str, str], size: int
) -> Iterator[Batch]:
    rows = csv_cells(path, encoding)
    next(rows)
    seen: set[tuple[str, str]] = set()  # one Author per id and file: the first row naming it
    while chunk := list(itertools.islice(rows, max(1, size))):
        with _no_cycle_collection():
            batch = _parse(chunk, path, ctx, columns, mapped, seen)
        yield batch


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Parsing a batch makes a few hundred thousand lists and no reference cycles: without this, Python's cycle
    collector walks every live container again and again (a third of the parse time in bench_import)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse(
    chunk: list[tuple[int, list[str]]],
    path: Path,
    ctx: FileContext,
    columns: list[str],
    mapped: dict[str, str],
    seen: set[tuple[str, str]],
) -> Batch:
    width = len(columns)
    line_of, rows_of = zip(*chunk, strict=True)
    lines = np.array(line_of, dtype=np.int64)
    if any(len(r) != width for r in rows_of):  # cells beyond the header are not read (nor kept in raw)
        rows_of = tuple(r[:width] for r in rows_of)
    by_column = list(zip(*rows_of, strict=True))
    n = len(chunk)
    cell: dict[str, list[str]] = {name: list(by_column[i]) for i, name in enumerate(columns)}
    for name in mapped.values():  # --map onto a column the file lacks reads as empty, as the row parser does
        cell.setdefault(name, [""] * n)
    failed: dict[int, tuple[str, str]] = {}  # row -> (column, why): the first check that fails, in generic's order

    def reject(errors: dict[int, str], column: str) -> None:
        for i, why in errors.items():
            failed.setdefault(i, (column, why))

    # crawl time: the row's own (fetched_at, last_modify_ts, ...), else the file's plus the line in microseconds
    base = int((ctx.crawl_time - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1))
    fetched = base + lines
    crawl = generic.crawl_columns(mapped, columns)
    if crawl:
        chosen = [next((c for c in crawl if cell[c][i] != ""), "") for i in range(n)]
        given = np.flatnonzero(np.array([c != "" for c in chosen], dtype=bool))
        if len(given):
            times, errors = parse_times([cell[chosen[i]][i] for i in given], ctx.crawl_time)
            ok = ~np.isnat(times)
            fetched[given[ok]] = times[ok].astype(np.int64)
            for j, why in errors.items():
                failed.setdefault(int(given[j]), (chosen[given[j]], why))
    # platform and kind: each distinct value once, by the row parser's own rules
    platform_col, kind_col = mapped.get("platform"), mapped.get("kind")
    if ctx.platform is not None:
        platforms = [ctx.platform.value] * n
    else:
        platforms = _per_value(cell, platform_col, n, failed, generic.platform_of, Platform.WEIBO)
    id_col = mapped["id"]
    ids = parse_ids(cell[id_col])
    if "" in ids:
        reject({i: "empty id" for i, v in enumerate(ids) if not v}, id_col)
    _too_long(ids, id_col, reject)
    kinds = _per_value(cell, kind_col, n, failed, generic.kind_of, PostKind.POST)
    created_col = mapped["created_at"]
    if "" in cell[created_col]:
        reject({i: "no time" for i, v in enumerate(cell[created_col]) if v == ""}, created_col)
    created, errors = parse_times(cell[created_col], _RowTimes(fetched))
    reject(errors, created_col)
    out: dict[str, Any] = {}
    for name in _IDS:
        if name in mapped:
            out[name] = parse_ids(cell[mapped[name]])
            _too_long(out[name], mapped[name], reject)
    for name in _COUNTS:
        if name in mapped:
            out[name], errors = parse_counts(cell[mapped[name]])
            reject(errors, mapped[name])
    lists = {name: [Cells({"c": v}).list("c") if v else [] for v in cell[mapped[name]]] for name in _LISTS
             if name in mapped}  # fmt: skip
    keep = np.ones(n, dtype=bool)
    keep[list(failed)] = False
    rows = np.flatnonzero(keep)
    errors_out = [
        InputError(why, file=str(path), line=int(lines[i]), field=column) for i, (column, why) in sorted(failed.items())
    ]
    pick = rows.tolist()
    every = len(pick) == n

    def take(values: list[Any]) -> list[Any]:
        return values if every else [values[i] for i in pick]

    source_text = take(cell[mapped["text"]])
    text = clean_texts(source_text)
    found_topics, found_mentions, found_urls = extract_many(text, source_text)
    post: dict[str, Any] = {
        "platform": take(platforms),
        "id": take(ids),
        "kind": take(kinds),
        "text": text,
        "created_at": created[rows],
        "author_id": take(out["author_id"]) if "author_id" in out else [""] * len(pick),
    }
    for name in _TEXTS:
        post[name] = take(cell[mapped[name]]) if name in mapped else [""] * len(pick)
    post["source"] = clean_texts(post["source"]) if "source" in mapped else post["source"]
    for name in ("parent_id", "root_id", "parent_author_id"):
        post[name] = [v or None for v in take(out[name])] if name in out else [None] * len(pick)
    for name in _COUNTS:
        post[name] = out[name][rows] if name in out else np.zeros(len(pick), dtype=np.int64)
    own = {name: take(lists[name]) if name in lists else None for name in _LISTS}
    post["topics"] = _merge(own["topics"], found_topics)
    post["at_users"] = _merge(own["at_users"], found_mentions)
    post["urls"] = _merge(own["urls"], found_urls)
    post["pics"] = own["pics"]  # None: no pics column, all empty
    post["fetched_at"] = fetched[rows]
    raw_col = mapped.get("raw")
    if raw_col and raw_col in columns:
        post["raw"] = [_json(generic.raw_value(v)) for v in take(cell[raw_col])]
    else:
        post["raw"] = raw_json(columns, [pa.array(take(cell[c]), pa.string()) for c in columns])
    every_row = _posts_table(post)
    authors = _authors(every_row, seen)  # the first row naming an author, as the row parser keeps it
    table = _newest(every_row)
    edges = _edges(table) if "parent_author_id" in mapped else []
    return Batch(table, authors, edges, errors_out, n, {Platform(p) for p in set(post["platform"])})


def _too_long(ids: list[str], column: str, reject: Any) -> None:
    if ids and max(map(len, ids)) > _MAX_ID:
        reject({i: "id longer than 256 characters" for i, v in enumerate(ids) if len(v) > _MAX_ID}, column)


def _per_value(
    cell: dict[str, list[str]],
    column: str | None,
    n: int,
    failed: dict[int, tuple[str, str]],
    rule: Any,
    default: Any,
) -> list[str]:
    """A platform/kind column: each distinct cell through ``rule`` once (a :class:`RowError` rejects its rows)."""
    if not column:
        return [default.value] * n
    decided: dict[str, str | RowError] = {}
    out: list[str] = []
    for i, value in enumerate(cell[column]):
        got = decided.get(value)
        if got is None:
            try:
                got = rule(Cells({column: value}), column).value
            except RowError as exc:
                got = exc
            decided[value] = got
        if isinstance(got, RowError):
            failed.setdefault(i, (got.column, str(got)))
            out.append(default.value)
        else:
            out.append(got)
    return out


def _merge(own: list[list[str]] | None, found: list[list[str]]) -> list[list[str]]:
    if own is None:
        return found
    return [list(dict.fromkeys([*a, *b])) if a and b else list(a or b) for a, b in zip(own, found, strict=True)]


def _json(value: Any) -> str | None:
    from yuqing.store.warehouse import encode_json

    return encode_json(value)


def _posts_table(post: dict[str, Any]) -> pa.Table:
    from yuqing.store.warehouse import POST_ARROW_SCHEMA

    arrays = []
    for f in POST_ARROW_SCHEMA:
        value = post[f.name]
        if value is None:  # a list column without a source column: every row empty
            offsets = pa.array(np.zeros(len(post["id"]) + 1, dtype=np.int32))
            value = pa.ListArray.from_arrays(offsets, pa.array([], pa.string()))
        elif pa.types.is_timestamp(f.type):
            value = pa.array(np.asarray(value, dtype=np.int64), pa.int64()).cast(pa.timestamp("us")).cast(f.type)
        arrays.append(value if isinstance(value, pa.Array) else pa.array(value, f.type))
    return pa.Table.from_arrays(arrays, schema=POST_ARROW_SCHEMA)


def _newest(table: pa.Table) -> pa.Table:
    """One row per (platform, id): the newest crawl, on equal crawl times the later row of the file."""
    if table.num_rows < 2:
        return table
    keys = [f"{p}\x00{i}" for p, i in zip(table["platform"].to_pylist(), table["id"].to_pylist(), strict=True)]
    if len(set(keys)) == len(keys):
        return table
    fetched = table["fetched_at"].cast(pa.int64()).to_numpy()
    best: dict[str, int] = {}
    for row, key in enumerate(keys):
        held = best.get(key)
        if held is None or fetched[row] >= fetched[held]:
            best[key] = row
    return table.take(pa.array(sorted(best.values()), pa.int64()))


def _authors(table: pa.Table, seen: set[tuple[str, str]]) -> pa.Table:
    """Authors named by the batch's rows, first in the file only: (platform, id, screen_name, fetched_at)."""
    rows: list[int] = []
    for row, key in enumerate(zip(table["platform"].to_pylist(), table["author_id"].to_pylist(), strict=True)):
        if key[1] and key not in seen:
            seen.add(key)
            rows.append(row)
    picked = table.take(pa.array(rows, pa.int64())).select(["platform", "author_id", "author_name", "fetched_at"])
    return picked.rename_columns(["platform", "id", "screen_name", "fetched_at"])


def _edges(table: pa.Table) -> list[Interaction]:
    names = ["platform", "id", "kind", "created_at", "author_id", "parent_id", "root_id", "parent_author_id"]
    linked = table.filter(table["parent_author_id"].is_valid()).select(names)
    edges: list[Interaction] = []
    for r in linked.to_pylist():
        edges += interactions_for(Post(**{**r, "author_id": r["author_id"] or ""}))
    return edges
