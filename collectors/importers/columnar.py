"""The bulk path of the importers: whole columns parsed at once, one warehouse transaction per batch.

A file is read in batches of rows (:class:`Rows`: a CSV's cells, or the values of JSON/JSON Lines records, by
column).  A format turns a batch into post fields (:class:`Columns`) with the column rules below (each reads the
first non-empty of its columns per row, as the row parser's :class:`records.Cells` readers do, through the column
functions of :mod:`collectors.fields`: the common shapes on the column, every other cell by the per-value rule) and
lists its checks in the order its row parser makes them, so that a rejected row is named by the same line and
column.  :func:`assemble` then cleans the text, extracts entities, keeps the newest crawl per key and the first row
naming each author, and the batch is written as Arrow tables (:meth:`store.warehouse.Warehouse.ingest_batch`) in
one transaction.  Memory is bounded by the batch, not the file.  The generic format is here (:func:`generic_plan`,
CSV and JSON records); weibo-search, weibo-crawler (CSV) and MediaCrawler contents/comments give their own
(``columns_plan`` in their modules).

Before the first batch is written the whole file is read once (decoding and CSV/JSON structure): a file that cannot
be read to its end (bytes of another encoding late in it, a broken quote, a cut JSON array) commits nothing.  An
import interrupted between batches (killed) leaves whole batches; importing the file again completes it and changes
nothing else.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yuqing.collectors.fields import PY_SPACE, clean_texts, extract_many, parse_counts, parse_ids, parse_times
from yuqing.collectors.importers import generic
from yuqing.collectors.importers.files import Layout, Row, csv_cells, read_rows
from yuqing.collectors.importers.records import Cells, FileContext, RowError, raw_json, raw_of
from yuqing.collectors.weibo.parse import interactions_for
from yuqing.store.errors import InputError
from yuqing.store.schema import Author, Interaction, Platform, Post, PostKind

__all__ = [
    "BATCH_ROWS",
    "Batch",
    "Checks",
    "Columns",
    "Planner",
    "Rows",
    "assemble",
    "counts_of",
    "crawl_times_of",
    "encode_json",
    "generic_plan",
    "ids_of",
    "lists_of",
    "read_batches",
    "texts_of",
    "times_of",
]

BATCH_ROWS = 122_880
"""Rows per batch and transaction: one DuckDB row group (:data:`store.warehouse.LOAD_BATCH_ROWS`), written to the
file at commit instead of through the write-ahead log (400k generic rows: 10.1 vs 12.9 CPU-s with 50k-row batches,
peak RSS ~1.0 vs 0.76 GB)."""
_IDS = ("parent_id", "root_id", "parent_author_id", "author_id")
_COUNTS = ("reposts_count", "comments_count", "attitudes_count")
_LISTS = ("topics", "at_users", "urls", "pics")
_TEXTS = ("author_name", "source", "location", "query")
_MAX_ID = 256
_NOT_ITEMS = pa.array(["nan", "None", "null"], pa.string())
_AUTHOR_TYPES = {
    "verified": pa.bool_(),
    "verified_type": pa.int64(),
    "verified_reason": pa.string(),
    "gender": pa.string(),
    "location": pa.string(),
    "raw": pa.string(),
}
"""Author columns a format may give beyond (platform, id, screen_name, fetched_at)."""
_AUTHOR_DEFAULTS: dict[str, Any] = {
    "verified": False,
    "verified_type": None,
    "verified_reason": "",
    "gender": "",
    "location": "",
    "raw": None,
}
"""Their values when a format gives none (:class:`store.schema.Author`'s defaults)."""


Checks = dict[int, tuple[str, str]]
"""Rows a check rejects: row in the batch → (the source column at fault, why)."""


class Batch:
    """One parsed batch: Arrow tables for the warehouse, the rows it rejected, and its edges."""

    __slots__ = ("authors", "edges", "errors", "platforms", "posts", "profiles", "rows")

    def __init__(
        self,
        posts: pa.Table,
        authors: pa.Table,
        edges: list[Interaction],
        errors: list[InputError],
        rows: int,
        platforms: set[Platform],
        profiles: list[Author] | None = None,
    ) -> None:
        self.posts, self.authors, self.edges, self.errors = posts, authors, edges, errors
        self.rows, self.platforms = rows, platforms
        self.profiles: list[Author] = profiles or []  # authors with their profile (counts): upserted


class Rows:
    """A batch of a file's rows as columns: each row's first physical line and, per column, its cells (text in a
    CSV; any JSON value in JSON/JSON Lines, where ``records`` keeps each row's object for ``raw``)."""

    __slots__ = ("arrays", "cells", "columns", "lines", "n", "records", "rejected", "where")

    def __init__(
        self,
        lines: np.ndarray,
        cells: dict[str, list[Any]],
        columns: list[str],
        *,
        records: list[dict[str, Any]] | None = None,
        rejected: Checks | None = None,
        arrays: dict[str, pa.Array] | None = None,
    ) -> None:
        self.lines, self.cells, self.columns, self.records = lines, cells, columns, records
        self.arrays: dict[str, pa.Array] = arrays or {}  # CSV cells as Arrow strings, when read so
        self.n = len(lines)
        self.rejected: Checks = rejected or {}
        self.where: list[str] | None = None  # records of a JSON document: where each is (``data[3]``)

    @classmethod
    def of_records(cls, chunk: list[Row]) -> Rows:
        """JSON/JSON Lines records; a record that is not an object is rejected as the row parser rejects it."""
        records = [r.values for r in chunk]
        names = list(dict.fromkeys(k for r in records for k in r if not (k.startswith("__") and k.endswith("__"))))
        cells = {name: [r.get(name) for r in records] for name in names}
        rejected = {i: (str(r.get("__where__") or ""), str(r["__error__"])) for i, r in enumerate(records)
                    if r.get("__error__")}  # fmt: skip
        lines = np.array([r.line or 0 for r in chunk], dtype=np.int64)
        rows = cls(lines, cells, names, records=records, rejected=rejected)
        where = [str(r.get("__where__") or "") for r in records]
        if any(where):
            rows.where = where
        return rows

    def column(self, name: str) -> list[Any]:
        found = self.cells.get(name)
        return found if found is not None else [None] * self.n

    def first(self, *names: str) -> tuple[list[Any], _Where]:
        """Per row, the first of ``names`` holding a value (:meth:`records.Cells.first`): (values, the column each
        came from, told for the rows asked); an empty value (``None``, ``""``, NaN) where none does."""
        present = [n for n in dict.fromkeys(names) if n in self.cells]
        if not present:
            return [None] * self.n, _Where([], [])
        if len(present) == 1:
            return self.cells[present[0]], _Where(present, [])
        columns = [self.cells[n] for n in present]
        if self.records is None:  # CSV cells: all text, empty is ""
            arrays = [self._array(n) for n in present]
            out = arrays[-1]
            for array in reversed(arrays[:-1]):
                out = pc.if_else(pc.equal(array, ""), out, array)
            return out.to_pylist(), _Where(present, columns)
        values: list[Any] = [None] * self.n
        for i in range(self.n):
            for col in columns:
                if not _empty(col[i]):
                    values[i] = col[i]
                    break
        return values, _Where(present, columns)

    def _array(self, name: str) -> pa.Array:
        found = self.arrays.get(name)
        return found if found is not None else pa.array(self.cells[name], pa.string())

    def raw(self) -> list[str | None]:
        """Each row as ``raw`` stores it: the JSON text of :func:`records.raw_of` of the row."""
        if self.records is not None:
            return [_json(raw_of(r)) for r in self.records]
        return list(raw_json(self.columns, [self._array(c) for c in self.columns]))


class _Where:
    """The column each row's value came from in :meth:`Rows.first`, told for the rows asked (rejected ones)."""

    __slots__ = ("columns", "names")

    def __init__(self, names: list[str], columns: list[list[Any]]) -> None:
        self.names, self.columns = names, columns

    def __getitem__(self, i: int) -> str:
        if not self.columns:
            return self.names[0] if self.names else ""
        return next((n for n, c in zip(self.names, self.columns, strict=True) if not _empty(c[i])), "")


class _RowTimes:
    """Each row's crawl time as an aware datetime, made only for the cells the per-value parser reads."""

    def __init__(self, micros: np.ndarray) -> None:
        self.micros = micros

    def __getitem__(self, i: int) -> dt.datetime:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(self.micros[i]))


def _empty(value: Any) -> bool:
    return value is None or value == "" or (type(value) is float and value != value)


# ------------------------------------------------------------------------ column rules with the row parser's errors
#
# Each reads the first non-empty of ``names`` per row, as the row parser's :class:`records.Cells` readers do, and
# names the column a rejected row failed on as they do.


def texts_of(rows: Rows, *names: str) -> list[str]:
    """:meth:`Cells.text` of every row."""
    values, _ = rows.first(*names)
    return [v if type(v) is str else "" if _empty(v) else str(v) for v in values]


def ids_of(rows: Rows, *names: str, required: bool = False) -> tuple[list[str], Checks]:
    """:meth:`Cells.id` of every row: (ids, rejected rows)."""
    values, found = rows.first(*names)
    ids = parse_ids(values)
    checks: Checks = {}
    if ids and max(map(len, ids)) > _MAX_ID:
        checks = {i: (found[i], "id longer than 256 characters") for i, v in enumerate(ids) if len(v) > _MAX_ID}
    if required and "" in ids:
        first = names[0] if names else "id"
        checks = {**{i: (first, "empty id") for i, v in enumerate(ids) if not v}, **checks}
    return ids, checks


def counts_of(rows: Rows, *names: str) -> tuple[np.ndarray, Checks]:
    """:meth:`Cells.count` of every row."""
    values, found = rows.first(*names)
    counts, errors = parse_counts([v if v is not None else "" for v in values])
    return counts, {i: (found[i], why) for i, why in errors.items()}


def times_of(rows: Rows, *names: str, now: np.ndarray) -> tuple[np.ndarray, Checks]:
    """:meth:`Cells.time` of every row (required), ``now`` the rows' crawl times in microseconds."""
    values, found = rows.first(*names)
    checks: Checks = {i: (names[0] if names else "created_at", "no time") for i, v in enumerate(values) if _empty(v)}
    times, errors = parse_times([v if v is not None else "" for v in values], _RowTimes(now))
    checks.update((i, (found[i], why)) for i, why in errors.items() if i not in checks)
    return times, checks


_ONE_ITEM = f"^[^{PY_SPACE},，;；、|\\[\\]()'\"]+$"
"""A list cell that is one item as it is: no separator, whitespace, bracket or quote (:func:`fields.parse_list`)."""


def lists_of(rows: Rows, *names: str) -> list[list[str]]:
    """:meth:`Cells.list` of every row (CSV cells holding one plain item or nothing on the column)."""
    if not any(n in rows.cells for n in names):
        return [[] for _ in range(rows.n)]
    values, _ = rows.first(*names)
    if rows.records is not None or not values:
        return [Cells({"c": v}).list("c") if not _empty(v) else [] for v in values]
    array = pa.array(values, pa.string())
    one = pc.and_(pc.match_substring_regex(array, _ONE_ITEM), pc.invert(pc.is_in(array, _NOT_ITEMS)))
    return [[v] if simple else [] if v == "" else Cells({"c": v}).list("c")
            for v, simple in zip(values, one.to_pylist(), strict=True)]  # fmt: skip


def crawl_times_of(rows: Rows, ctx: FileContext, *names: str) -> tuple[np.ndarray, Checks]:
    """:func:`records.crawl_time_of` of every row in microseconds: the row's own crawl time, else the file's plus
    the line in microseconds."""
    base = int((ctx.crawl_time - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1))
    fetched = base + rows.lines
    present = [n for n in names if n in rows.cells]
    checks: Checks = {}
    if present:
        values, found = rows.first(*present)
        given = np.flatnonzero(np.array([not _empty(v) for v in values], dtype=bool))
        if len(given):
            times, errors = parse_times([values[i] for i in given], ctx.crawl_time)
            ok = ~np.isnat(times)
            fetched[given[ok]] = times[ok].astype(np.int64)
            checks = {int(given[j]): (found[given[j]], why) for j, why in errors.items()}
    return fetched, checks


class Columns:
    """What a format makes of a batch: each post field for every row (rejected ones too), the checks that reject
    rows in the order its row parser makes them, and author columns beyond the id and name."""

    def __init__(self, rows: Rows, fetched: np.ndarray) -> None:
        n = rows.n
        self.rows, self.fetched = rows, fetched
        # a format making more than one post of a row lists them as entries: the row of each entry, and the
        # entries that are no post (dropped without an error); every field then has one value per entry
        self.owner: np.ndarray | None = None
        self.absent: np.ndarray | None = None
        # entries whose author is a profile (followers, ...): profile(entry) makes it, upserted like a collector's
        self.profiled: np.ndarray | None = None
        self.profile: Callable[[int], Author] | None = None
        self.platform: list[str] = [Platform.WEIBO.value] * n
        self.id: list[str] = [""] * n
        self.kind: list[str] = [PostKind.POST.value] * n
        self.created_at: np.ndarray = np.zeros(n, dtype="datetime64[us]")
        self.text: list[Any] = [""] * n  # as the source sent it: cleaned and searched for entities here
        self.author_id: list[str] = [""] * n
        self.texts: dict[str, list[str]] = {}  # author_name, source, location, query
        self.refs: dict[str, list[str | None]] = {}  # parent_id, root_id, parent_author_id ("" → NULL)
        self.counts: dict[str, np.ndarray] = {}
        self.lists: dict[str, list[list[str]]] = {}  # the row's own topics, at_users, urls, pics
        self.raw: list[str | None] | None = None
        self.checks: list[Checks] = []
        self.author_columns: dict[str, list[Any]] = {}  # e.g. location, gender, verified, raw (JSON text)

    def check(self, *checks: Checks) -> None:
        self.checks += [c for c in checks if c]


def assemble(cols: Columns, path: Path, seen: set[tuple[str, str]], *, edges: bool = False) -> Batch:
    """The batch as the warehouse takes it: rows failing a check rejected (the first check in order names the
    column), text cleaned and its topics/mentions/URLs merged with the row's own, one row per key (the newest
    crawl), and the authors the file names first in this batch."""
    rows = cols.rows
    failed: Checks = dict(rows.rejected)
    where = rows.where
    for checks in cols.checks:
        for i, (column, why) in checks.items():  # a document's record: the column named inside it, data[3].text
            failed.setdefault(i, (f"{where[i]}.{column}" if where and where[i] else column, why))
    good = np.ones(rows.n, dtype=bool)
    good[list(failed)] = False
    keep = good if cols.owner is None else good[cols.owner]
    if cols.absent is not None:
        keep = keep & ~cols.absent
    picked = np.flatnonzero(keep)
    errors = [
        InputError(why, file=str(path), line=int(rows.lines[i]) or None, field=column)
        for i, (column, why) in sorted(failed.items())
    ]
    pick = picked.tolist()
    every = len(pick) == len(cols.id)

    def take(values: list[Any]) -> list[Any]:
        return values if every else [values[i] for i in pick]

    source_text = take(cols.text)
    text = clean_texts(source_text)
    found_topics, found_mentions, found_urls = extract_many(text, [s if type(s) is str else "" for s in source_text])
    m = len(pick)
    post: dict[str, Any] = {
        "platform": take(cols.platform),
        "id": take(cols.id),
        "kind": take(cols.kind),
        "text": text,
        "created_at": cols.created_at[picked].astype(np.int64),
        "author_id": take(cols.author_id),
    }
    for name in _TEXTS:
        post[name] = take(cols.texts[name]) if name in cols.texts else [""] * m
    if "source" in cols.texts:
        post["source"] = clean_texts(post["source"])
    for name in ("parent_id", "root_id", "parent_author_id"):
        post[name] = [v or None for v in take(cols.refs[name])] if name in cols.refs else [None] * m
    for name in _COUNTS:
        post[name] = cols.counts[name][picked] if name in cols.counts else np.zeros(m, dtype=np.int64)
    own = {name: take(cols.lists[name]) if name in cols.lists else None for name in _LISTS}
    post["topics"] = _merge(own["topics"], found_topics)
    post["at_users"] = _merge(own["at_users"], found_mentions)
    post["urls"] = _merge(own["urls"], found_urls)
    post["pics"] = own["pics"]  # None: no pics, all empty
    post["fetched_at"] = cols.fetched[picked]
    post["raw"] = take(cols.raw if cols.raw is not None else rows.raw())
    extra = {name: take(values) for name, values in cols.author_columns.items()}
    every_row = _posts_table(post)
    profiled, profile = cols.profiled, cols.profile
    authors, profiles = _authors(  # the first row naming an author, as the row parser keeps it
        every_row,
        seen,
        extra,
        None if profiled is None else profiled[picked],
        None if profile is None else (lambda r: profile(pick[r])),
    )
    table = _newest(every_row)
    return Batch(
        table,
        authors,
        _edges(table) if edges else [],
        errors,
        rows.n,
        {Platform(p) for p in set(post["platform"])},
        profiles,
    )


# ------------------------------------------------------------------------------------------------------ reading

Planner = Callable[[Rows], Columns]
"""A format's rules for a batch of rows (made once per file from its columns)."""


def read_batches(
    path: Path,
    encoding: str,
    ctx: FileContext,
    *,
    batch_rows: int = BATCH_ROWS,
    layout: Layout = "csv",
    plan: Callable[[list[str]], tuple[Planner, bool]] | None = None,
) -> tuple[list[str], Iterator[Batch]]:
    """(the columns, the file's batches).  ``plan(columns)`` gives the format's rules for a batch and whether
    its rows make reply edges (default: the generic format).  Raises :class:`InputError` before yielding
    anything when the file cannot be read to its end or its columns do not make posts."""
    make = plan or (lambda columns: generic_plan(ctx, columns))
    if layout == "csv":
        cells = csv_cells(path, encoding)
        header = next(cells, None)
        if header is None:
            return [], iter(())
        columns = header[1]
        planner, edges = make(columns)
        chunks = _arrow_chunks(path, encoding, columns, batch_rows)
        if chunks is None:
            for _ in cells:  # the whole file once: a late decoding or CSV error fails it before anything is written
                pass
            chunks = _csv_chunks(path, encoding, columns, batch_rows)
        return columns, _batches(chunks, path, planner, edges)
    _, _, records = read_rows(path, layout, encoding)
    first = next(records, None)
    if first is not None and "__document__" in first.values:  # one JSON object holding the list of records
        document = first.values["__document__"]
        records = generic.explode(document, path)
        first = next(records, None)
        again: Callable[[], Iterator[Row]] = lambda: generic.explode(document, path)  # noqa: E731
    else:
        again = lambda: read_rows(path, layout, encoding)[2]  # noqa: E731
    if first is None:
        return [], iter(())
    columns = [c for c in first.values if not (c.startswith("__") and c.endswith("__"))]
    planner, edges = make(columns)
    for _ in records:
        pass
    chunks = (Rows.of_records(chunk) for chunk in _chunked(again(), batch_rows))
    return columns, _batches(chunks, path, planner, edges)


def _chunked(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(itertools.islice(items, max(1, size))):
        yield chunk


def _csv_chunks(path: Path, encoding: str, columns: list[str], size: int) -> Iterator[Rows]:
    cells = csv_cells(path, encoding)
    next(cells)
    width = len(columns)
    for chunk in _chunked(cells, size):
        line_of, rows_of = zip(*chunk, strict=True)
        if any(len(r) != width for r in rows_of):  # cells beyond the header are not read (nor kept in raw)
            rows_of = tuple(r[:width] for r in rows_of)
        by_column = list(zip(*rows_of, strict=True))
        yield Rows(
            np.array(line_of, dtype=np.int64), {name: list(by_column[i]) for i, name in enumerate(columns)}, columns
        )


_ARROW_READ = 8 << 20  # bytes per block read


def _arrow_chunks(path: Path, encoding: str, columns: list[str], size: int) -> Iterator[Rows] | None:
    """The CSV's rows read by Arrow's CSV reader (C++, the cells exactly as Python's ``csv`` module reads them),
    when every row is one physical line: a UTF-8 file whose newlines number its rows plus the header, without NUL
    bytes or bare carriage returns, every row as wide as the header.  None otherwise (a cell holding a line break,
    blank lines, short or long rows, another encoding, bytes that are not UTF-8): the ``csv`` module reads it.
    The whole file is read once here, as the ``csv`` path does before anything is written."""
    if encoding not in ("utf-8", "utf-8-sig"):
        return None
    newlines = carriage = crlf = 0
    last = b""
    try:
        with path.open("rb") as f:
            while block := f.read(_ARROW_READ):
                if b"\x00" in block:
                    return None
                newlines += block.count(b"\n")
                carriage += block.count(b"\r")
                crlf += block.count(b"\r\n") + (last == b"\r" and block[:1] == b"\n")
                last = block[-1:]
        rows = sum(b.num_rows for b in _arrow_reader(path, len(columns)))
    except (OSError, pa.ArrowInvalid):
        return None
    if carriage != crlf or newlines != rows + (1 if last == b"\n" else 0):
        return None
    return _arrow_rows(path, columns, size)


def _arrow_reader(path: Path, width: int) -> Any:
    import pyarrow.csv as pcsv

    names = [f"c{i}" for i in range(width)]
    return pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(skip_rows=1, column_names=names, block_size=_ARROW_READ),
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )


def _arrow_rows(path: Path, columns: list[str], size: int) -> Iterator[Rows]:
    size = max(1, size)
    held: list[pa.RecordBatch] = []
    count = start = 0
    for batch in itertools.chain(_arrow_reader(path, len(columns)), [None]):
        if batch is not None:
            held.append(batch)
            count += batch.num_rows
        while count >= size or (batch is None and count):
            table = pa.Table.from_batches(held)
            part, rest = table.slice(0, size), table.slice(size)
            held, count = rest.to_batches(), rest.num_rows
            arrays = {name: part.column(i).combine_chunks() for i, name in enumerate(columns)}
            lines = np.arange(start + 2, start + 2 + part.num_rows, dtype=np.int64)
            start += part.num_rows
            yield Rows(lines, {name: a.to_pylist() for name, a in arrays.items()}, columns, arrays=arrays)


def _batches(chunks: Iterator[Rows], path: Path, planner: Planner, edges: bool) -> Iterator[Batch]:
    seen: set[tuple[str, str]] = set()  # one Author per id and file: the first row naming it
    for rows in chunks:
        with _no_cycle_collection():
            batch = assemble(planner(rows), path, seen, edges=edges)
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


# ------------------------------------------------------------------------------------------ the generic format


def generic_plan(ctx: FileContext, columns: list[str]) -> tuple[Planner, bool]:
    """The generic format's rules (:func:`generic.make_parser` on whole columns)."""
    mapped = generic.field_map(ctx, columns)
    crawl = generic.crawl_columns(mapped, columns)
    return (lambda rows: _generic(rows, ctx, mapped, crawl)), "parent_author_id" in mapped


def _generic(rows: Rows, ctx: FileContext, mapped: dict[str, str], crawl: tuple[str, ...]) -> Columns:
    fetched, crawl_checks = crawl_times_of(rows, ctx, *crawl)
    cols = Columns(rows, fetched)
    checks: list[Checks] = [crawl_checks]
    if ctx.platform is not None:
        cols.platform = [ctx.platform.value] * rows.n
    else:
        cols.platform, found = _per_value(rows, mapped.get("platform"), generic.platform_of, Platform.WEIBO)
        checks.append(found)
    cols.id, found = ids_of(rows, mapped["id"], required=True)
    checks.append(found)
    cols.kind, found = _per_value(rows, mapped.get("kind"), generic.kind_of, PostKind.POST)
    checks.append(found)
    cols.created_at, found = times_of(rows, mapped["created_at"], now=fetched)
    checks.append(found)
    for name in _IDS:
        if name in mapped:
            values, found = ids_of(rows, mapped[name])
            checks.append(found)
            if name == "author_id":
                cols.author_id = values
            else:
                cols.refs[name] = list(values)
    for name in _COUNTS:
        if name in mapped:
            cols.counts[name], found = counts_of(rows, mapped[name])
            checks.append(found)
    for name in _LISTS:
        if name in mapped:
            cols.lists[name] = lists_of(rows, mapped[name])
    for name in _TEXTS:
        if name in mapped:
            cols.texts[name] = texts_of(rows, mapped[name])
    cols.text = texts_of(rows, mapped["text"])
    raw_col = mapped.get("raw")
    if raw_col and raw_col in rows.cells and rows.records is not None:  # a record without it: the record itself
        cols.raw = [_json(generic.raw_value(r[raw_col]) if raw_col in r else raw_of(r)) for r in rows.records]
    elif raw_col and raw_col in rows.cells:
        cols.raw = [_json(generic.raw_value(v)) for v in rows.cells[raw_col]]
    cols.check(*checks)
    return cols


def _per_value(rows: Rows, column: str | None, rule: Any, default: Any) -> tuple[list[str], Checks]:
    """A platform/kind column: each distinct cell through ``rule`` once (a :class:`RowError` rejects its rows)."""
    if not column:
        return [default.value] * rows.n, {}
    decided: dict[Any, str | RowError] = {}
    out: list[str] = []
    checks: Checks = {}
    for i, value in enumerate(rows.column(column)):
        key = value if isinstance(value, str | int | float | None) else repr(value)  # JSON lists and objects
        got = decided.get(key)
        if got is None:
            try:
                got = rule(Cells({column: value}), column).value
            except RowError as exc:
                got = exc
            decided[key] = got
        if isinstance(got, RowError):
            checks[i] = (got.column, str(got))
            out.append(default.value)
        else:
            out.append(got)
    return out, checks


def _merge(own: list[list[str]] | None, found: list[list[str]]) -> list[list[str]]:
    if own is None:
        return found
    return [list(dict.fromkeys([*a, *b])) if a and b else list(a or b) for a, b in zip(own, found, strict=True)]


def encode_json(value: Any) -> str | None:
    """The text the warehouse stores for a JSON value (:func:`store.warehouse.encode_json`)."""
    from yuqing.store.warehouse import encode_json as encode

    return encode(value)


_json = encode_json


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


def _authors(
    table: pa.Table,
    seen: set[tuple[str, str]],
    extra: dict[str, list[Any]],
    profiled: np.ndarray | None = None,
    profile: Callable[[int], Author] | None = None,
) -> tuple[pa.Table, list[Author]]:
    """Authors named by the batch's rows, first in the file only: (platform, id, screen_name, fetched_at) and the
    ``extra`` author columns the format gives per row; a row marked ``profiled`` names its author by a profile
    (``profile(row)``) instead."""
    rows: list[int] = []
    profiles: list[Author] = []
    for row, key in enumerate(zip(table["platform"].to_pylist(), table["author_id"].to_pylist(), strict=True)):
        if key[1] and key not in seen:
            seen.add(key)
            if profiled is not None and profile is not None and profiled[row]:
                profiles.append(profile(row))
            else:
                rows.append(row)
    index = pa.array(rows, pa.int64())
    picked = table.take(index).select(["platform", "author_id", "author_name", "fetched_at"])
    picked = picked.rename_columns(["platform", "id", "screen_name", "fetched_at"])
    for name, kind in _AUTHOR_TYPES.items():  # every column, so that a backend stages one shape of table
        values = extra.get(name)
        column = [values[i] for i in rows] if values is not None else [_AUTHOR_DEFAULTS[name]] * len(rows)
        picked = picked.append_column(name, pa.array(column, kind))
    return picked, profiles


def _edges(table: pa.Table) -> list[Interaction]:
    names = ["platform", "id", "kind", "created_at", "author_id", "parent_id", "root_id", "parent_author_id"]
    linked = table.filter(table["parent_author_id"].is_valid()).select(names)
    edges: list[Interaction] = []
    for r in linked.to_pylist():
        edges += interactions_for(Post(**{**r, "author_id": r["author_id"] or ""}))
    return edges
