"""The PostgreSQL warehouse: the same contract as the embedded DuckDB one, for several concurrent writers.

``warehouse.url = "postgresql://user@host/db"`` selects it (:meth:`store.warehouse.Warehouse.open` dispatches
on the URL); DuckDB stays the default.  The tables are those of :mod:`store.tables`, created from the same
declarations (types mapped below); writes go through ``COPY`` into a temporary table and one
``INSERT … ON CONFLICT`` per table and batch, so any number of collectors write at once and ingest stays
exactly-once: a row and the checkpoint after it commit together, and a re-sent page changes nothing.

Schemas and roles
-----------------
* ``yuqing`` holds every table but one; ``yuqing_pii.customers`` holds the CRM's clear names, phones and
  e-mails.  ``yuqing.customers`` has the same columns with those three masked (:mod:`store.pii`), written with
  the clear row by :meth:`PostgresWarehouse.upsert_customers`.
* Group roles (NOLOGIN; grant them to login roles): ``yuqing_flow`` reads and writes ``yuqing`` (collectors,
  flows), ``yuqing_analyst`` reads it, ``yuqing_crm`` is a flow role that also reads and writes
  ``yuqing_pii``.  The search path is ``yuqing_pii, yuqing``: for a CRM role ``customers`` is the clear table,
  for every other role PostgreSQL skips the schema it may not use and ``customers`` is the masked one — the same
  code reads digests and masked values, and naming ``yuqing_pii.customers`` is refused.
* The role that creates the schema (``yuqing db upgrade``) owns the tables; it needs CREATEROLE the first time
  (or the three roles made by an administrator beforehand).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from yuqing.store.errors import StoreError, WarehouseLocked
from yuqing.store.schema import Author, Customer, CustomerAccountLink, Interaction
from yuqing.store.tables import TABLES, Table
from yuqing.store.warehouse import (
    _HOUR,
    _POST_COUNT_KEY,
    AUTHOR_COLUMNS,
    BRAND_NEGATIVE,
    BRAND_POSITIVE,
    DELIVERY_COLUMNS,
    NEW_AUTHOR_DEFAULTS,
    POST_COLUMNS,
    UpsertResult,
    Warehouse,
    refresh_post_counts,
    registered,
)

SCHEMA = "yuqing"
PII_SCHEMA = "yuqing_pii"
PII_TABLES = ("customers",)
FLOW_ROLE, ANALYST_ROLE, CRM_ROLE = "yuqing_flow", "yuqing_analyst", "yuqing_crm"

_TYPES = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
    "TIMESTAMPTZ": "timestamptz",
    "TIMESTAMP": "timestamp without time zone",  # post_counts.hour: a China wall-clock hour
    "JSON": "json",  # kept as written (jsonb reorders keys: DuckDB and PostgreSQL would then differ)
    "VARCHAR[]": "text[]",
}


def pg_type(declared: str) -> str:
    """The PostgreSQL type of a type as store/tables.py declares it (DuckDB's spelling)."""
    t = declared.upper().replace(" ", "")
    if t.startswith("DECIMAL"):
        return "numeric" + t[len("DECIMAL") :]
    try:
        return _TYPES[t]
    except KeyError:
        raise ValueError(f"no PostgreSQL type for {declared!r} (store/postgres.py)") from None


# ---------------------------------------------------------------------- SQL text: ? placeholders
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?|%")


@lru_cache(maxsize=512)
def qmark_to_pyformat(sql: str) -> str:
    """DuckDB's ``?`` placeholders as psycopg's ``%s`` (``%`` doubled), outside quotes and comments."""

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        return "%s" if tok == "?" else "%%" if tok == "%" else tok

    return _TOKEN.sub(sub, sql)


# ---------------------------------------------------------------------- Arrow -> COPY (FORMAT csv)
def _arrow_type_sql(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return _arrow_type_sql(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "text"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double precision"
    if pa.types.is_timestamp(t):
        return "timestamptz"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "text[]"
    raise ValueError(f"cannot send a column of Arrow type {t} to PostgreSQL")


def _array_literals(col: pa.Array) -> pa.Array:
    """``list<string>`` as PostgreSQL array literals ``{"a","b"}`` (a NULL list stays NULL)."""
    if not pa.types.is_string(col.type.value_type):
        col = col.cast(pa.list_(pa.string()))
    values = col.values
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    quoted = pc.if_else(pc.is_null(values), "NULL", pc.binary_join_element_wise('"', escaped, '"', ""))
    lists = pa.ListArray.from_arrays(col.offsets, quoted, mask=col.is_null())
    return pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", "")


def arrow_table(data: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    return pa.Table.from_pandas(data, preserve_index=False)


def copy_csv(table: pa.Table) -> bytes:
    """``table`` as ``COPY … FROM STDIN (FORMAT csv)`` input: text always quoted, NULL an empty unquoted field."""
    columns = []
    for col in table.columns:
        array = col.combine_chunks()
        t = array.type
        if pa.types.is_dictionary(t):
            array = array.cast(t.value_type)
        elif pa.types.is_large_list(t):
            array = array.cast(pa.list_(t.value_type))
        if pa.types.is_list(array.type):
            array = _array_literals(array)
        elif pa.types.is_null(array.type):
            array = array.cast(pa.string())
        columns.append(array)
    out = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    pacsv.write_csv(pa.table(columns, names=table.column_names), out, options)
    return out.getvalue().to_pybytes()


# ---------------------------------------------------------------------- results -> pandas
_TIMESTAMP_OIDS = {1114, 1184}
_NUMERIC_OID = 1700
_INT_OIDS = {20, 21, 23}


def result_frame(rows: Sequence[tuple[Any, ...]], description: Any) -> pd.DataFrame:
    """Rows as DuckDB's ``.df()`` would give them: timestamps ``datetime64[us, UTC]``, integers with NULLs
    ``Int64``, numerics as floats, JSON as its text."""
    names = [d.name for d in description or ()]
    frame = pd.DataFrame.from_records(list(rows), columns=names)
    for i, d in enumerate(description or ()):
        col = frame.iloc[:, i]
        if d.type_code in _TIMESTAMP_OIDS:
            frame.isetitem(i, pd.to_datetime(col, utc=True).astype("datetime64[us, UTC]"))
        elif d.type_code == _NUMERIC_OID:
            frame.isetitem(i, pd.to_numeric(col).astype("float64"))
        elif d.type_code in _INT_OIDS and col.isna().any():
            frame.isetitem(i, col.astype("Int64"))
    return frame


# ---------------------------------------------------------------------- results -> Arrow through COPY
# A read streams as ``COPY (SELECT …) TO STDOUT (FORMAT csv)`` parsed by Arrow's CSV reader a block at a time:
# the server's rows never become Python tuples (400k rows x 6 columns: 1.8 s against 3.1 s row by row), and
# memory holds one block of text and one batch, whatever the size of the result.  The column types come from a
# ``LIMIT 0`` run of the same statement first, which also raises what the server refuses before any row moves.
_TEXT_OIDS = {18, 19, 25, 114, 1042, 1043, 3802}  # char, name, text, json, bpchar, varchar, jsonb: their text
_FLOAT_OIDS = {700, 701}
_TEXT_ARRAY_OIDS = {1009, 1015}  # text[], varchar[]
_ARROW_INTS = {20: pa.int64(), 21: pa.int16(), 23: pa.int32()}
COPY_BLOCK = 1 << 22  # bytes of CSV text parsed at a time (~20k report rows)
_READ_SQL = re.compile(r"^\s*(?:\(\s*)*(?:SELECT|WITH|VALUES|TABLE)\b", re.IGNORECASE)
_WRITES = re.compile(r"\b(?:INSERT|UPDATE|DELETE|MERGE|nextval|setval|pg_advisory\w*)\b|\bFOR\s+(?:UPDATE|SHARE)\b",
                     re.IGNORECASE)  # fmt: skip


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _arrow_type(oid: int) -> pa.DataType | None:
    """The Arrow type a result column of PostgreSQL type ``oid`` streams as, or None for a type that does not."""
    if oid in _TEXT_OIDS:
        return pa.string()
    if oid == 16:
        return pa.bool_()
    if oid in _ARROW_INTS:
        return _ARROW_INTS[oid]
    if oid in _FLOAT_OIDS or oid == _NUMERIC_OID:
        return pa.float64()
    if oid in _TIMESTAMP_OIDS:
        return pa.timestamp("us", tz="UTC")
    if oid in _TEXT_ARRAY_OIDS:
        return pa.list_(pa.string())
    return None


def _copy_column(name: str, oid: int) -> tuple[str, pa.DataType]:
    """What the COPY selects for a result column, and the type Arrow's CSV reader reads that as: a timestamp as
    its microseconds since the epoch (exact, no date parsing), a list as U+001F before each element (a NULL
    element U+001E; so ``[]`` is ``''`` and ``['']`` is U+001F), anything else as PostgreSQL writes it."""
    col = f"_q.{_quoted(name)}"
    if oid in _TIMESTAMP_OIDS:
        return f"(extract(epoch FROM {col}) * 1000000)::int8", pa.int64()
    if oid in _TEXT_ARRAY_OIDS:
        return (
            f"CASE WHEN cardinality({col}) > 0 THEN chr(31) || array_to_string({col}, chr(31), chr(30)) "
            f"WHEN {col} IS NOT NULL THEN '' END",
            pa.string(),
        )
    typ = _arrow_type(oid)
    assert typ is not None
    return col, typ


def _lists(text: pa.Array) -> pa.Array:
    """A column written by :func:`_copy_column` for a list, back as ``list<string>``."""
    lists = pc.list_slice(pc.split_pattern(text, "\x1f"), 1)
    values = lists.values
    if pc.any(pc.equal(values, "\x1e")).as_py():
        values = pc.if_else(pc.equal(values, "\x1e"), pa.scalar(None, pa.string()), values)
    return pa.ListArray.from_arrays(lists.offsets, values, mask=pc.is_null(text))


def _blocks(copy: Any, size: int | None = None) -> Iterator[bytes]:
    """The rows of a ``COPY … TO STDOUT`` (one row per read) joined into blocks of about ``size`` bytes: each a
    CSV text of whole rows, parsed on its own (in this thread: the connection is never read from another)."""
    size = size or COPY_BLOCK
    parts: list[bytes] = []
    filled = 0
    while data := copy.read():
        parts.append(bytes(data))
        filled += len(data)
        if filled >= size:
            yield b"".join(parts)
            parts, filled = [], 0
    if parts:
        yield b"".join(parts)


@dataclass(frozen=True)
class _Stream:
    """How a read streams: the COPY statement, the CSV reader's column types, the batches' schema."""

    selects: str  # the COPY's select list over the read, named _q
    csv_types: dict[str, pa.DataType]
    schema: pa.Schema
    lists: tuple[str, ...]
    stamps: tuple[str, ...]


def _stream_plan(description: Any) -> _Stream | None:
    """How a read whose result columns are ``description`` streams; None when a column's name repeats or its
    type does not stream (then the rows are fetched as rows)."""
    names = [d.name for d in description]
    if len(set(names)) != len(names):
        return None
    selects, csv_types, fields = [], {}, []
    for i, d in enumerate(description):
        typ = _arrow_type(d.type_code)
        if typ is None:
            return None
        expr, read_as = _copy_column(d.name, d.type_code)
        selects.append(expr)
        csv_types[f"c{i}"] = read_as
        fields.append(pa.field(d.name, typ))
    return _Stream(
        ", ".join(selects),
        csv_types,
        pa.schema(fields),
        tuple(d.name for d in description if d.type_code in _TEXT_ARRAY_OIDS),
        tuple(d.name for d in description if d.type_code in _TIMESTAMP_OIDS),
    )


def _batch(plan: _Stream, raw: pa.RecordBatch) -> pa.RecordBatch:
    columns = []
    for field, col in zip(plan.schema, raw.columns, strict=True):
        if field.name in plan.lists:
            col = _lists(col)
        elif field.name in plan.stamps:
            col = col.cast(pa.timestamp("us", tz="UTC"))
        columns.append(col)
    return pa.RecordBatch.from_arrays(columns, schema=plan.schema)


def frame_of(batch: pa.RecordBatch | pa.Table) -> pd.DataFrame:
    """A streamed batch as :func:`result_frame` gives the same rows: integers ``int64`` (``Int64`` with NULLs),
    lists as Python lists."""
    frame = batch.to_pandas()
    for i, field in enumerate(batch.schema):
        if pa.types.is_integer(field.type):
            col = frame.iloc[:, i]
            frame.isetitem(i, col.astype("Int64") if batch.column(i).null_count else col.astype("int64"))
        elif pa.types.is_list(field.type):
            frame.isetitem(i, pd.Series(batch.column(i).to_pylist(), index=frame.index, dtype=object))
    return frame


def text_nulls(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """A text column holding only NULLs as ``object`` Nones (not ``str`` NaN), as DuckDB and rows give it."""
    for field in schema:
        if pa.types.is_string(field.type) and len(frame) and frame[field.name].isna().all():
            frame[field.name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame


class _Streamed:
    """A read under :meth:`PgConnection.streaming`: ``df`` and ``fetch_df_chunk`` stream it through COPY (see
    above); ``fetchall``/``fetchone`` fetch rows as usual."""

    def __init__(self, con: PgConnection, sql: str, params: Sequence[Any] | None, plan: _Stream) -> None:
        self._con, self._sql, self._params, self._plan = con, sql, params, plan
        self._chunks: Iterator[pa.RecordBatch] | None = None

    def df(self) -> pd.DataFrame:
        frames = [frame_of(b) for b in self._con.batches(self._plan, self._sql, self._params)]
        if not frames:
            return frame_of(self._plan.schema.empty_table())
        return text_nulls(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0], self._plan.schema)

    def fetch_df_chunk(self, vectors: int = 1) -> pd.DataFrame:
        """The next batch (one block of the COPY: ~4 MB of text, whatever ``vectors`` says); empty at the end."""
        if self._chunks is None:
            self._chunks = self._con.batches(self._plan, self._sql, self._params)
        batch = next(self._chunks, None)
        return frame_of(self._plan.schema.empty_table() if batch is None else batch)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._con.execute(self._sql, self._params, stream=False).fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._con.execute(self._sql, self._params, stream=False).fetchone()


class PostgresError(StoreError):
    """What the server refused, in one line (``permission denied for schema yuqing_pii``), with its SQLSTATE."""

    def __init__(self, exc: Exception) -> None:
        diag = getattr(exc, "diag", None)
        super().__init__(_one_line(diag.message_primary if diag is not None and diag.message_primary else exc))
        self.sqlstate: str | None = getattr(exc, "sqlstate", None)


class DuckDBOnly(StoreError, AttributeError):
    """A DuckDB connection's feature asked of the PostgreSQL one: one line for a person, ``hasattr`` still works."""


class _Result:
    """What DuckDB's ``execute`` returns, as far as yuqing uses it: ``fetchall``, ``fetchone``, ``df``,
    ``fetch_df_chunk``."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._cursor.description is None:  # INSERT/UPDATE/DELETE: DuckDB answers with the rows changed
            return [(self._cursor.rowcount,)] if self._cursor.rowcount >= 0 else []
        return self._cursor.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def df(self) -> pd.DataFrame:
        return result_frame(self.fetchall(), self._cursor.description)

    def fetch_df_chunk(self, vectors: int = 1) -> pd.DataFrame:
        return result_frame(self._cursor.fetchmany(2048 * vectors), self._cursor.description)


class PgConnection:
    """A psycopg connection speaking as much of DuckDB's Python API as the warehouse uses: ``execute`` with
    ``?`` placeholders, and ``register``/``unregister`` of frames (a temporary table filled by COPY) — so the
    contract's plain-SQL methods run on both backends, and only dialect differences are written twice."""

    def __init__(self, pg: Any) -> None:
        self.pg = pg
        self._streaming = 0
        self._analyse_frames = True
        self._open: Generator[pa.RecordBatch, None, None] | None = (
            None  # a COPY under way: ended before the next statement
        )

    def execute(self, sql: str, params: Sequence[Any] | None = None, *, stream: bool = True) -> _Result | _Streamed:
        """``sql`` with DuckDB's ``?`` placeholders; what the server refuses is a :class:`PostgresError`.
        Under :meth:`streaming` a plain read returns a result whose frames stream through COPY."""
        self._end_stream()
        if stream and self._streaming and _READ_SQL.match(sql) and not _WRITES.search(sql):
            probe = self._run(f"SELECT * FROM ({sql.strip().rstrip(';')}) _q LIMIT 0", params)
            plan = _stream_plan(probe.description)
            if plan is not None:
                return _Streamed(self, sql, params, plan)
        return _Result(self._run(sql, params))

    def _run(self, sql: str, params: Sequence[Any] | None) -> Any:
        import psycopg

        cursor = self.pg.cursor()
        try:
            if params is None:
                cursor.execute(sql)
            else:
                cursor.execute(qmark_to_pyformat(sql), list(params))
        except psycopg.Error as exc:
            raise PostgresError(exc) from exc
        return cursor

    @contextmanager
    def streaming(self) -> Iterator[None]:
        """Reads made inside stream their frames through ``COPY … TO STDOUT`` (the contract's bulk reads)."""
        self._streaming += 1
        try:
            yield
        finally:
            self._streaming -= 1

    def arrow_reader(
        self, sql: str, params: Sequence[Any] | None = None, batch_rows: int = 100_000
    ) -> pa.RecordBatchReader:
        """The rows of a read as Arrow record batches of at most ``batch_rows``, streamed through COPY; the
        statement runs (and the server's refusal is raised) now, the rows move as the batches are read."""
        self._end_stream()
        probe = self._run(f"SELECT * FROM ({sql.strip().rstrip(';')}) _q LIMIT 0", params)
        plan = _stream_plan(probe.description)
        if plan is None:
            names = [d.name for d in probe.description]
            raise StoreError(f"cannot stream a result with columns {names} (a repeated name or a type not mapped)")

        def sliced() -> Iterator[pa.RecordBatch]:
            for batch in self.batches(plan, sql, params):
                for start in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(start, batch_rows)

        return pa.RecordBatchReader.from_batches(plan.schema, sliced())

    def batches(self, plan: _Stream, sql: str, params: Sequence[Any] | None) -> Generator[pa.RecordBatch, None, None]:
        """The COPY of ``plan`` as Arrow batches, one ~4 MB block of CSV text at a time.  Only one COPY runs on a
        connection: the next statement reads out what is left of this one first (cancelling it would abort a
        transaction)."""
        gen = self._copy_batches(plan, sql, params)
        self._open = gen
        return gen

    def _copy_batches(
        self, plan: _Stream, sql: str, params: Sequence[Any] | None
    ) -> Generator[pa.RecordBatch, None, None]:
        import psycopg

        values = list(params) if params else None
        body = sql.strip().rstrip(";")
        if values:  # psycopg merges COPY's parameters client-side, as %s
            body = qmark_to_pyformat(body)
        statement = f"COPY (SELECT {plan.selects} FROM ({body}) _q) TO STDOUT (FORMAT csv)"
        options = (
            pacsv.ReadOptions(column_names=list(plan.csv_types), block_size=2 * COPY_BLOCK, use_threads=False),
            pacsv.ParseOptions(newlines_in_values=True),
            pacsv.ConvertOptions(column_types=plan.csv_types, null_values=[""], strings_can_be_null=True,
                                 quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"]),
        )  # fmt: skip
        cursor = self.pg.cursor()
        abandoned = False
        try:
            with cursor.copy(statement, values) as copy:
                try:
                    for block in _blocks(copy):
                        table = pacsv.read_csv(pa.BufferReader(block), *options)
                        for raw in table.to_batches():
                            yield _batch(plan, raw)
                except GeneratorExit:  # abandoned: read out the rest (a cancel would abort the transaction)
                    abandoned = True
                if abandoned:
                    while copy.read():
                        pass
        except psycopg.Error as exc:
            raise PostgresError(exc) from exc

    def _end_stream(self) -> None:
        if self._open is not None:
            gen, self._open = self._open, None
            gen.close()

    def __getattr__(self, name: str) -> Any:
        # DuckDB's other entry points (sql, arrow readers, …): the features built on them are DuckDB's only
        if name.startswith("__"):
            raise AttributeError(name)
        raise DuckDBOnly(
            f"this needs DuckDB ({name}); the PostgreSQL warehouse does not offer it yet (docs/scaling.md)"
        )

    @contextmanager
    def unanalysed(self) -> Iterator[None]:
        """Frames registered inside are not ANALYZEd (a frame only copied on by one ``INSERT … SELECT``)."""
        self._analyse_frames, before = False, self._analyse_frames
        try:
            yield
        finally:
            self._analyse_frames = before

    def register(self, name: str, data: pd.DataFrame | pa.Table) -> None:
        table = arrow_table(data)
        cols = ", ".join(f'"{f.name}" {_arrow_type_sql(f.type)}' for f in table.schema)
        self.pg.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
        self.pg.execute(f"CREATE TEMP TABLE {name} ({cols})")
        self.copy_into(name, table)
        if table.num_rows > 1000 and self._analyse_frames:  # autovacuum never analyses temporary tables: without
            self.pg.execute(f"ANALYZE {name}")  # statistics, joins on a large frame are planned as on a tiny one

    def unregister(self, name: str) -> None:
        from psycopg.pq import TransactionStatus

        if self.pg.info.transaction_status != TransactionStatus.INERROR:  # else the ROLLBACK drops it
            self.pg.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")

    def copy_into(self, name: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        cols = ", ".join(f'"{c}"' for c in table.column_names)
        data = copy_csv(table)  # before the COPY starts: the server does not wait on the client's conversion
        with self.pg.cursor() as cur, cur.copy(f"COPY {name} ({cols}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(data)

    def close(self) -> None:
        self.pg.close()


def is_url(location: object) -> bool:
    """Whether a warehouse location names a PostgreSQL server rather than a DuckDB file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def _one_line(what: object) -> str:
    return " ".join(str(what).split())


def shown_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _create_tables(con: PgConnection) -> None:
    """Every table of store/tables.py (``customers`` twice: clear in the PII schema, masked beside the others)."""
    for decl in TABLES.values():
        for seq in decl.sequences:
            con.execute(f"CREATE SEQUENCE {SCHEMA}.{seq}")
        schemas = (PII_SCHEMA, SCHEMA) if decl.name in PII_TABLES else (SCHEMA,)
        for schema in schemas:
            cols = [
                f'"{c.name}" {pg_type(c.type)}'
                + (" NOT NULL" if c.not_null else "")
                + (f" DEFAULT {c.default}" if c.default else "")
                for c in decl.columns
            ]
            if decl.key:
                cols.append(f"PRIMARY KEY ({', '.join(decl.key)})")
            con.execute(f"CREATE TABLE {schema}.{decl.name} ({', '.join(cols)})")
    _create_indexes(con)


# What the typed reads filter or join on besides keys (each index costs ~4 s per million rows loaded): a report's
# period, a few accounts' posts, and a repost's reposts (:meth:`PostgresWarehouse.repost_cascades` walks the
# cascades down from their first reposts: one probe per repost instead of a sort of every repost per level).
# PostgreSQL's own: DuckDB joins by hashing and needs none of them.  Made with the tables, and by the owner's next
# writable open on a warehouse made before one was added (:meth:`PostgresWarehouse._migrate`).
INDEXES = {
    "posts_created_at": "posts (created_at)",
    "posts_author": "posts (platform, author_id)",
    "posts_repost_parent": "posts (platform, parent_id) WHERE kind = 'repost'",
}


def _create_indexes(con: PgConnection, names: Iterable[str] = INDEXES) -> None:
    for name in names:
        con.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {SCHEMA}.{INDEXES[name]}")


def _missing_indexes(con: PgConnection) -> list[str]:
    """The indexes of :data:`INDEXES` the warehouse lacks, when this role may make them (owns ``posts``)."""
    rows = con.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = ? AND tablename = 'posts'", [SCHEMA]
    ).fetchall()
    missing = [name for name in INDEXES if name not in {r[0] for r in rows}]
    if not missing:
        return []
    owner = con.execute("SELECT pg_has_role(tableowner, 'USAGE') FROM pg_tables WHERE schemaname = ? AND "
                        "tablename = 'posts'", [SCHEMA]).fetchall()  # fmt: skip
    return missing if owner and owner[0][0] else []


def _grant(con: PgConnection) -> None:
    """The three group roles (made when missing) and what each may do; re-run at every upgrade."""
    missing = [
        r for r in (FLOW_ROLE, ANALYST_ROLE, CRM_ROLE)
        if not con.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", [r]).fetchall()
    ]  # fmt: skip
    for role in missing:
        con.execute(f"CREATE ROLE {role} NOLOGIN")
    if not con.execute("SELECT pg_has_role(?, ?, 'MEMBER')", [CRM_ROLE, FLOW_ROLE]).fetchall()[0][0]:
        con.execute(f"GRANT {FLOW_ROLE} TO {CRM_ROLE}")  # (needs CREATEROLE: done once, by whoever made the roles)
    con.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {FLOW_ROLE}, {ANALYST_ROLE}")
    con.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SCHEMA} TO {FLOW_ROLE}")
    con.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {FLOW_ROLE}")
    con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {ANALYST_ROLE}")
    con.execute(f"REVOKE ALL ON SCHEMA {PII_SCHEMA} FROM PUBLIC")
    con.execute(f"GRANT USAGE ON SCHEMA {PII_SCHEMA} TO {CRM_ROLE}")
    con.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {PII_SCHEMA} TO {CRM_ROLE}")


class PostgresWarehouse(Warehouse):
    """A warehouse in a PostgreSQL database: :class:`store.warehouse.Warehouse`'s methods, several writers.

    Methods whose SQL both engines speak are inherited (``?`` placeholders and registered frames work through
    :class:`PgConnection`); the ones below are written again where the dialects differ (DuckDB's ``arg_max``,
    ``ANTI``/``SEMI JOIN``, ``QUALIFY``, list functions) or where PostgreSQL does better (``ON CONFLICT … DO
    UPDATE … RETURNING`` counts inserts and updates of concurrent writers exactly)."""

    con: PgConnection  # type: ignore[assignment]

    def __init__(self, con: PgConnection, url: str, read_only: bool) -> None:
        super().__init__(con, Path(shown_url(url)), read_only)  # type: ignore[arg-type]
        self.url = url

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False, check: bool = True) -> PostgresWarehouse:
        import psycopg
        from psycopg.types.string import TextLoader

        url = str(path)
        try:
            pg = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to the warehouse at {shown_url(url)}: {_one_line(exc)}") from None
        for name in ("json", "jsonb"):  # JSON arrives as its text, as from DuckDB: decoded in one place
            pg.adapters.register_loader(name, TextLoader)
        pg.execute(f"SET timezone = 'UTC'; SET search_path = {PII_SCHEMA}, {SCHEMA}")
        if read_only:
            pg.execute("SET default_transaction_read_only = on")
        wh = cls(PgConnection(pg), url, read_only)
        try:
            if read_only and check:
                wh._check_version()
            elif not read_only:
                wh._migrate()
        except BaseException:
            wh.close()
            raise
        return wh

    @staticmethod
    def stored_version(path: str | Path) -> int:
        """The schema version of the database at ``path`` (a URL), read without upgrading it."""
        wh = PostgresWarehouse.open(path, read_only=True, check=False)
        try:
            return wh.schema_version
        finally:
            wh.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.con.close()

    # ------------------------------------------------------------------ bulk reads stream through COPY
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        with self.con.streaming():
            return super().query(sql, params)

    def report_posts(self, **kw: Any) -> pd.DataFrame:
        with self.con.streaming():
            frame = super().report_posts(**kw)
        texts = [c for c in frame.columns if frame[c].dtype == "str"]
        return text_nulls(frame, pa.schema([(c, pa.string()) for c in texts]))

    # ------------------------------------------------------------------ schema
    def _migrate(self) -> None:
        from yuqing.store.warehouse import SCHEMA_VERSION

        with self.transaction():
            self.con.execute("SELECT pg_advisory_xact_lock(hashtext('yuqing schema'))")  # one migrator at a time
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"warehouse {self.path} has schema version {current}, newer than this yuqing ({SCHEMA_VERSION})"
                )
            if current == SCHEMA_VERSION:
                _create_indexes(self.con, _missing_indexes(self.con))
                return
            if current == 0:
                self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {PII_SCHEMA}")
                self.con.execute(
                    f"CREATE TABLE {SCHEMA}.schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ)"
                )
                _create_tables(self.con)
            else:
                raise StoreError(
                    f"warehouse {self.path} has schema version {current}; this yuqing has no PostgreSQL migration "
                    f"to {SCHEMA_VERSION} (store/postgres.py)"
                )
            _grant(self.con)
            self.con.execute(f"INSERT INTO {SCHEMA}.schema_version VALUES (?, now())", [SCHEMA_VERSION])

    def _has_table(self, table: str) -> bool:
        row = self.con.execute("SELECT to_regclass(?) IS NOT NULL", [table]).fetchall()
        return bool(row and row[0][0])

    def table_counts(self) -> dict[str, int]:
        names = [
            r[0] for r in self.con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [SCHEMA]
            ).fetchall()
        ]  # fmt: skip
        return {name: self._count(name) for name in names}

    # ------------------------------------------------------------------ ingest
    def _stage(self, name: str, like: str, data: pd.DataFrame | pa.Table) -> list[str]:
        """A session's temporary table ``name`` with the columns of ``data`` typed as in table ``like`` (no
        constraints), emptied and filled by one COPY.  Returns the column names."""
        table = arrow_table(data)
        cols = ", ".join(f'"{c}"' for c in table.column_names)
        self.con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} AS SELECT {cols} FROM {like} WITH NO DATA")
        self.con.execute(f"TRUNCATE {name}")
        self.con.copy_into(name, table)
        return table.column_names

    def _arrow(self, sql: str, params: list[Any]) -> pa.Table:
        return self.con.arrow_reader(sql, params or None).read_all()

    def _merge_posts(self, batch: pa.Table) -> UpsertResult:
        """New posts inserted and stored ones overwritten from a strictly newer fetch (``created_at`` never
        moves) in one ``INSERT … ON CONFLICT DO UPDATE … WHERE``, then a metrics snapshot where counts changed.

        Rows are written in key order, so concurrent writers of overlapping batches lock them in one order;
        the conflict clause locks each stored row it meets, updated or not, so the snapshot that follows
        compares with the newest committed one."""
        if batch.num_rows == 0:
            return UpsertResult()
        if self._plain:  # new posts expected (Warehouse._own_transaction): a stored key fails the COPY (23505)
            return self._copy_new_posts(batch)
        cols = self._stage("_batch", "posts", batch.select(POST_COLUMNS))
        names = ", ".join(cols)
        fixed = ("platform", "id", "created_at")
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in fixed)
        flags = self.con.execute(
            f"INSERT INTO posts ({names}, first_seen_at) SELECT {names}, now() FROM _batch ORDER BY platform, id "
            f"ON CONFLICT (platform, id) DO UPDATE SET {sets} WHERE excluded.fetched_at > posts.fetched_at "
            "RETURNING xmax = 0"
        ).fetchall()
        inserted = sum(1 for (new,) in flags if new)
        self._fresh = inserted == batch.num_rows  # the next bulk batch tries the plain COPY only after all-new ones
        snapshot = "SELECT b.platform, b.id, b.fetched_at, b.reposts_count, b.comments_count, b.attitudes_count"
        if inserted == batch.num_rows:  # all new (a first load): no earlier snapshot can exist for any of them
            self.con.execute(f"INSERT INTO post_metrics {snapshot} FROM _batch b ON CONFLICT DO NOTHING")
        else:
            self.con.execute(
                f"""
                INSERT INTO post_metrics {snapshot}
                FROM _batch b LEFT JOIN LATERAL (
                    SELECT fetched_at, reposts_count, comments_count, attitudes_count FROM post_metrics m
                    WHERE m.platform = b.platform AND m.post_id = b.id ORDER BY fetched_at DESC LIMIT 1
                ) m ON TRUE
                WHERE m.fetched_at IS NULL OR (b.fetched_at > m.fetched_at AND (b.reposts_count, b.comments_count,
                      b.attitudes_count) IS DISTINCT FROM (m.reposts_count, m.comments_count, m.attitudes_count))
                ORDER BY b.platform, b.id
                ON CONFLICT DO NOTHING
                """
            )
        return UpsertResult(inserted, len(flags) - inserted, batch.num_rows - len(flags))

    def _now(self) -> pa.Scalar:
        """The server's ``now()``: the transaction's start, what ``now()`` in a statement of it gives."""
        stamp = self.con.execute("SELECT now()").fetchall()[0][0]
        return pa.scalar(stamp, pa.timestamp("us", tz="UTC"))

    def _copy_new_posts(self, batch: pa.Table) -> UpsertResult:
        """A bulk batch of posts expected new, ``COPY``'d straight into ``posts`` and its first metrics snapshot
        into ``post_metrics``: no temporary table, no ``INSERT … SELECT``, no conflict handling.  A stored key
        fails the COPY with a unique violation: :meth:`Warehouse._own_transaction` rolls the batch back and merges
        it the usual way.  (bench_e2e's bulk load: the server's CPU per loaded row fell from 39 to 28 µs, loaded
        machine; docs/benchmarks.md, "Warehouse on PostgreSQL".)"""
        rows = batch.select(POST_COLUMNS)
        now = self._now()
        self.con.copy_into("posts", rows.append_column("first_seen_at", pa.repeat(now, rows.num_rows)))
        metrics = rows.select(["platform", "id", "fetched_at", "reposts_count", "comments_count", "attitudes_count"])
        self.con.copy_into("post_metrics", metrics.rename_columns(["platform", "post_id", *metrics.column_names[2:]]))
        return UpsertResult(inserted=rows.num_rows)

    def _write_rows(self, decl: Table, rows: pa.Table, *, stamp: str = "", plain: bool = False) -> int:
        """As :meth:`Warehouse._write_rows`; rows known to be new (``plain``: the analyse stage's windows) are
        ``COPY``'d straight into the table, typed by its columns (a stored key fails the COPY: the caller then
        upserts), and the upsert's temporary table is not ANALYZEd (one ``INSERT … SELECT`` reads it, no join to
        plan)."""
        if not plain:
            with self.con.unanalysed():
                return super()._write_rows(decl, rows, stamp=stamp, plain=plain)
        if stamp:
            now = self._now()
            rows = rows.append_column(stamp, pa.repeat(now, rows.num_rows))
        self.con.copy_into(decl.name, rows)
        return rows.num_rows

    def _upsert_authors(self, authors: Iterable[Author] | pd.DataFrame) -> UpsertResult:
        frame = self._author_rows(authors)
        if frame.empty:
            return UpsertResult()
        cols = self._stage("_authors", "authors", frame[AUTHOR_COLUMNS])
        names = ", ".join(cols)
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("platform", "id"))
        flags = self.con.execute(
            f"INSERT INTO authors ({names}) SELECT {names} FROM _authors ORDER BY platform, id "
            f"ON CONFLICT (platform, id) DO UPDATE SET {sets} WHERE excluded.fetched_at > authors.fetched_at "
            "RETURNING xmax = 0"
        ).fetchall()
        self.con.execute(
            """
            INSERT INTO author_metrics
            SELECT b.platform, b.id, b.fetched_at, b.followers_count FROM _authors b LEFT JOIN LATERAL (
                SELECT fetched_at, followers_count FROM author_metrics m
                WHERE m.platform = b.platform AND m.author_id = b.id ORDER BY fetched_at DESC LIMIT 1
            ) m ON TRUE
            WHERE m.fetched_at IS NULL OR (b.fetched_at > m.fetched_at AND b.followers_count <> m.followers_count)
            ORDER BY b.platform, b.id
            ON CONFLICT DO NOTHING
            """
        )
        inserted = sum(1 for (new,) in flags if new)
        return UpsertResult(inserted, len(flags) - inserted, len(frame) - len(flags))

    def _add_new_authors(self, authors: pa.Table) -> None:
        """As :meth:`Warehouse._add_new_authors`: the columns ``authors`` gives (the importers give verified,
        location, raw, ... besides the name), the record's defaults for the others."""
        cols = self._stage("_new_authors", "authors", authors.select([c for c in authors.column_names
                                                                       if c in AUTHOR_COLUMNS]))  # fmt: skip
        values = {c: c if c in cols else default for c, default in NEW_AUTHOR_DEFAULTS.items()}
        self.con.execute(
            f"WITH new AS (INSERT INTO authors ({', '.join(values)}) SELECT {', '.join(values.values())} "
            "FROM _new_authors ORDER BY platform, id ON CONFLICT DO NOTHING RETURNING platform, id, fetched_at) "
            "INSERT INTO author_metrics SELECT platform, id, fetched_at, 0 FROM new ON CONFLICT DO NOTHING"
        )

    def _add_interactions(self, interactions: Iterable[Interaction] | pd.DataFrame) -> int:
        frame = self._interaction_rows(interactions)
        if frame.empty:
            return 0
        names = ", ".join(self._stage("_edges", "interactions", frame))
        return len(
            self.con.execute(
                f"INSERT INTO interactions ({names}) SELECT {names} FROM _edges "
                "ORDER BY platform, kind, source_author_id, target_author_id, post_id ON CONFLICT DO NOTHING "
                "RETURNING 1"
            ).fetchall()
        )

    # ------------------------------------------------------------------ CRM
    def _may_read_pii(self) -> bool:
        row = self.con.execute("SELECT has_schema_privilege(current_user, ?, 'USAGE')", [PII_SCHEMA]).fetchall()
        return bool(row[0][0])

    def upsert_customers(self, customers: Iterable[Customer], hmac_key: bytes, *, source: str = "") -> int:
        """As the embedded warehouse does, clear values into ``yuqing_pii.customers`` — and the same rows with
        name, phone and e-mail masked (:mod:`store.pii`) into ``yuqing.customers``, what other roles read.
        Refused to a role without the CRM grant (its ``customers`` is the masked table)."""
        from yuqing.store.pii import mask_email, mask_name, mask_phone

        if not self._may_read_pii():
            raise StoreError(
                f"role {self._role()} may not write customer data: it needs the {CRM_ROLE} role "
                f"(GRANT {CRM_ROLE} TO {self._role()})"
            )
        items = list(customers)
        with self.transaction():
            n = super().upsert_customers(items, hmac_key, source=source)
            masked = pd.DataFrame(
                {
                    "customer_id": [c.customer_id for c in items],
                    "name": [mask_name(c.name) for c in items],
                    "phone": [mask_phone(c.phone) if c.phone else "" for c in items],
                    "email": [mask_email(c.email) if c.email else "" for c in items],
                }
            ).drop_duplicates("customer_id", keep="last")
            if not masked.empty:
                with registered(self.con, _masked=masked):
                    self.con.execute(
                        f"INSERT INTO {SCHEMA}.customers SELECT c.customer_id, m.name, m.phone, m.email, c.city, "
                        "c.registered_at, c.handles, c.updated_at, c.source FROM _masked m "
                        f"JOIN {PII_SCHEMA}.customers c USING (customer_id) ON CONFLICT (customer_id) DO UPDATE SET "
                        "name = excluded.name, phone = excluded.phone, email = excluded.email, city = excluded.city, "
                        "registered_at = excluded.registered_at, handles = excluded.handles, "
                        "updated_at = excluded.updated_at, source = excluded.source"
                    )
        return n

    row_id = "ctid"

    def columns(self) -> list[tuple[str, str, str]]:
        """As :meth:`Warehouse.columns`, tables named with their schema (``customers`` is in both).  Refused to a
        role that cannot see the clear customer table: a listing without it would leave personal data behind."""
        if not self._may_read_pii():
            raise StoreError(
                f"role {self._role()} cannot see the customer table ({PII_SCHEMA}): this needs the {CRM_ROLE} role"
            )
        rows = self.con.execute(
            "SELECT table_schema || '.' || table_name, column_name, CASE data_type WHEN 'text' THEN 'VARCHAR' "
            "WHEN 'json' THEN 'JSON' ELSE upper(data_type) END FROM information_schema.columns "
            "WHERE table_schema IN (?, ?) ORDER BY 1, 2",
            [SCHEMA, PII_SCHEMA],
        ).fetchall()
        return [(str(t), str(c), str(d)) for t, c, d in rows]

    def _role(self) -> str:
        return str(self.con.execute("SELECT current_user").fetchall()[0][0])

    def add_links(self, links: Iterable[CustomerAccountLink], *, command: str = "") -> int:
        frame = self._link_rows(links)
        if frame.empty:
            return 0
        with self.transaction(), registered(self.con, _links=frame):
            # one writer of links at a time: "identical to the current link" must see the links just added
            self.con.execute("LOCK TABLE customer_links IN SHARE ROW EXCLUSIVE MODE")
            added = self.con.execute(
                """
                INSERT INTO customer_links (customer_id, platform, author_id, method, confidence, linked_at, note,
                                            source, command)
                SELECT n.customer_id, n.platform, n.author_id, n.method, n.confidence, n.linked_at, n.note,
                       (SELECT c.source FROM customers c WHERE c.customer_id = n.customer_id), ?
                FROM _links n LEFT JOIN (
                    SELECT DISTINCT ON (customer_id, platform, author_id) customer_id, platform, author_id, method,
                           confidence
                    FROM customer_links ORDER BY customer_id, platform, author_id, seq DESC
                ) cur USING (customer_id, platform, author_id)
                WHERE cur.method IS NULL OR cur.method <> n.method OR cur.confidence <> n.confidence
                RETURNING 1
                """,
                [command or None],
            ).fetchall()
        return len(added)

    def customer_links_current(self) -> pd.DataFrame:
        return self.query(
            "SELECT DISTINCT ON (customer_id, platform, author_id) customer_id, platform, author_id, method, "
            "confidence, max(linked_at) OVER (PARTITION BY customer_id, platform, author_id) AS linked_at "
            "FROM customer_links ORDER BY customer_id, platform, author_id, seq DESC"
        )

    def orders(self) -> pd.DataFrame:
        return self.query(
            "SELECT order_id, customer_id, amount::float8 AS amount, ordered_at, product, channel FROM orders "
            "ORDER BY ordered_at, order_id"
        )

    _analysis_by_post = (  # a probe per post, not a hash of every analysis (1M posts: 2.69M rows, past work_mem)
        "LEFT JOIN LATERAL (SELECT * FROM post_analysis a WHERE a.platform = p.platform AND a.id = p.id OFFSET 0) a "
        "ON TRUE"
    )

    def linked_customer_posts(self) -> pd.DataFrame:
        return self.query(
            "SELECT p.platform, p.author_id, p.created_at, a.sentiment, coalesce(a.complaint, false) AS complaint, "
            "coalesce(a.brands, '{}') AS brands FROM posts p LEFT JOIN post_analysis a USING (platform, id) "
            "WHERE (p.platform, p.author_id) IN (SELECT platform, author_id FROM customer_links)"
        )

    # ------------------------------------------------------------------ post counts
    def _refresh_counts(self) -> int:
        """:func:`store.warehouse.refresh_post_counts` with PostgreSQL's counting query (:func:`post_counts_select`)
        and, for this transaction's recount only, no sorts where a hash does (the groups are hashed)."""
        self.con.execute("SET LOCAL enable_sort = off")
        hours = refresh_post_counts(self.con, select=post_counts_select)  # type: ignore[arg-type]
        self.con.execute("SET LOCAL enable_sort = DEFAULT")  # (a failure rolls back, and the setting with it)
        return hours

    # ------------------------------------------------------------------ graph reads
    def repost_cascades(self) -> pd.DataFrame:
        """As :meth:`Warehouse.repost_cascades` (the same rows): the recursion walks down from each cascade's first
        reposts by probing ``posts_repost_parent`` for a level's reposts (``OFFSET 0`` keeps the lateral probe a
        nested loop: flattened into a join, the planner sorted every repost at every level, 8 levels at 250k posts:
        5.3 against 1.6 server CPU-s; 1M: 61 → 10 s of server time, loaded), over ``posts`` itself rather than a
        CTE of the reposts, which has no index."""
        return self.query(
            """
            WITH RECURSIVE depth(platform, id, root_id, d) AS (
                SELECT r.platform, r.id, r.root_id, 1 FROM posts r WHERE r.kind = 'repost' AND NOT EXISTS (
                    SELECT 1 FROM posts q WHERE q.platform = r.platform AND q.id = r.parent_id AND q.kind = 'repost')
                UNION ALL
                SELECT c.platform, c.id, c.root_id, depth.d + 1 FROM depth CROSS JOIN LATERAL (
                    SELECT c.platform, c.id, c.root_id FROM posts c
                    WHERE c.platform = depth.platform AND c.parent_id = depth.id AND c.kind = 'repost' OFFSET 0
                ) c
                WHERE depth.d < 100000
            ), reposts AS (
                SELECT r.platform, r.root_id, d.d FROM posts r
                LEFT JOIN depth d ON d.platform = r.platform AND d.id = r.id
                WHERE r.kind = 'repost' AND r.root_id IS NOT NULL
            ), per_root AS (
                SELECT platform, root_id, count(*) AS size, max(d) AS d FROM reposts GROUP BY platform, root_id
            )
            SELECT o.platform, o.author_id, sum(size)::BIGINT AS cascade_size,
                   coalesce(max(d), 0)::BIGINT AS cascade_depth
            FROM per_root JOIN posts o ON o.platform = per_root.platform AND o.id = per_root.root_id
            WHERE o.kind = 'post' AND o.author_id IS NOT NULL
            GROUP BY o.platform, o.author_id ORDER BY o.platform, o.author_id
            """
        )

    def community_profiles(self, members: pd.DataFrame, *, top_words: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
        """As :meth:`Warehouse.community_profiles` (the same frames): the members' posts joined once, not once per
        frame (the join of posts, members and analyses was most of each read), both aggregates read by one
        statement; and a post's keywords split on the whitespace DuckDB's ``\\s`` means (tab, newline, form feed,
        carriage return, space) by ``translate`` and ``string_to_array`` rather than a regular expression per post
        (PostgreSQL's ``\\s`` is its locale's spaces besides).  250k posts: 5.5 → 4.3 server CPU-s; 1M: the two
        statements' 80 s of server time → 32 s (loaded; docs/benchmarks.md)."""
        with registered(self.con, _members=members[["platform", "author_id", "community"]]):
            both = self.query(
                """
                WITH member_posts AS MATERIALIZED (
                    SELECT m.community, a.keywords, a.polarity
                    FROM posts p JOIN _members m ON m.platform = p.platform AND m.author_id = p.author_id
                    LEFT JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id
                ), words AS (
                    SELECT community, word FROM member_posts,
                         unnest(string_to_array(translate(keywords, E'\t\n\f\r', '    '), ' ')) AS w(word)
                    WHERE keywords IS NOT NULL AND word <> ''
                ), counted AS (
                    SELECT community, word, count(*) AS n,
                           row_number() OVER (PARTITION BY community ORDER BY count(*) DESC, word) AS r
                    FROM words GROUP BY community, word
                )
                SELECT true AS is_word, community, n AS o, word AS value, n FROM counted WHERE r <= ?
                UNION ALL
                SELECT false, community, 0, polarity, count(*) FROM member_posts GROUP BY community, polarity
                ORDER BY is_word, community, o DESC, value
                """,
                [top_words],
            )
        part = both["is_word"].to_numpy(dtype=bool)
        words = both.loc[part, ["community", "value", "n"]].rename(columns={"value": "word"}).reset_index(drop=True)
        polarity = both.loc[~part, ["community", "value", "n"]].rename(columns={"value": "polarity"})
        return text_nulls(words, pa.schema([("word", pa.string())])), text_nulls(
            polarity.reset_index(drop=True), pa.schema([("polarity", pa.string())])
        )

    # ------------------------------------------------------------------ the brand report's reads
    def _naming_any(self, items: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """Only the analyses naming one of ``values`` (``&&``) go into :meth:`Warehouse.brand_authors`' join: the
        others gave rows its brand filter then dropped, after the join (most posts name no brand; 250k posts:
        2.3 → 1.7 s, loaded)."""
        return f" AND {items} && CAST(? AS text[])", [list(values)]

    # top_mentions' kept rows read their texts by key, one probe each (joined, the planner took the ranking's
    # estimate of every mention for the rows kept and hashed all the posts)
    _KEPT_TEXT = ("(SELECT p.text FROM posts p WHERE p.platform = t.platform AND p.id = t.id) AS text", "")

    def brand_keyword_counts(
        self, brand: str, since: dt.datetime, split: dt.datetime, until: dt.datetime
    ) -> tuple[pd.DataFrame, dict[bool, int]]:
        """As :meth:`Warehouse.brand_keyword_counts`, in one read of the mentions instead of two: each post's row
        (ordinality 1 of ``[NULL, *keywords]``) counts the posts of its side, and a keyword counts a post at its
        first place in the post's list — what ``DISTINCT`` over every (post, keyword) pair did with a hash of
        them all."""
        mentions, params = self._mentions(brand, since, until)
        both = self.query(
            f"SELECT m.created_at >= ? AS recent, u.keyword, count(*) AS posts FROM ({mentions}) m, "
            "LATERAL (SELECT string_to_array(coalesce(m.keywords, ''), ' ') AS words) w, "
            "unnest(array_prepend(NULL::text, w.words)) WITH ORDINALITY AS u(keyword, k) "
            "WHERE u.k = 1 OR (u.keyword <> '' AND array_position(w.words, u.keyword) = u.k - 1) "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            [split, *params],
        )
        docs = both["keyword"].isna().to_numpy()
        words = both.loc[~docs].reset_index(drop=True)
        sides = both.loc[docs]
        return words, {bool(r): int(n) for r, n in zip(sides["recent"], sides["posts"], strict=True)}

    # ------------------------------------------------------------------ derived tables and the outbox
    _sql_type = staticmethod(pg_type)  # frames are written with casts to the declared types, spelt for PostgreSQL

    def enqueue_deliveries(self, rows: pd.DataFrame) -> int:
        if rows.empty:
            return 0
        with self.transaction(), registered(self.con, _deliveries=rows[DELIVERY_COLUMNS]):
            return len(
                self.con.execute(
                    f"INSERT INTO alert_deliveries ({', '.join(DELIVERY_COLUMNS)}) SELECT "
                    f"{self._cast(TABLES['alert_deliveries'], DELIVERY_COLUMNS)} FROM _deliveries "
                    "ON CONFLICT DO NOTHING RETURNING 1"
                ).fetchall()
            )


def post_counts_select(where: str) -> str:
    """:func:`store.warehouse._post_counts_select` as PostgreSQL runs it fast: the same rows from one pass over
    the posts ``where`` selects — each post's row for brand '' and a row per brand it names come from one unnest
    of ``[NULL, *brands]`` (ordinality 1 is the post's own row) instead of a CTE of the joined posts, which
    PostgreSQL writes out whole and reads twice; and the hours' newest fetch and analysis come from a join to the
    hours' maxima instead of a window over the groups, which made the planner sort every counted row (936k at 250k
    posts, spilled past ``work_mem``) to group them.  With ``enable_sort`` off (:meth:`PostgresWarehouse.
    _refresh_counts`) the groups are hashed: the planner takes ~10 rows per unnest, so expects many times the groups
    there are, and would sort them.  With every hour stale (scan + count), 250k posts: 7.0 → 6.5 server CPU-s; 1M:
    the count 55 → 21 s of server time (loaded; docs/benchmarks.md)."""
    return f"""
    WITH counted AS (
        SELECT {_HOUR} AS hour, p.platform, p.kind, CASE WHEN u.k = 1 THEN '' ELSE u.brand END AS brand,
               coalesce(a.polarity, '') AS polarity, coalesce(a.complaint, false) AS complaint,
               coalesce(a.complaint_category, '') AS complaint_category,
               p.reposts_count + p.comments_count + p.attitudes_count AS engagement,
               CASE WHEN u.k = 1 THEN a.sentiment
                    ELSE CAST(a.brand_sentiment ->> u.brand AS DOUBLE PRECISION) END AS s,
               p.fetched_at, a.analysed_at
        FROM posts p LEFT JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id,
             unnest(array_prepend(NULL::text, a.brands)) WITH ORDINALITY AS u(brand, k)
        WHERE {where}
    ), grouped AS (
        SELECT {_POST_COUNT_KEY}, count(*) AS posts, CAST(sum(engagement) AS BIGINT) AS engagement,
               count(s) AS sentiment_n, coalesce(sum(s), 0) AS sentiment_sum,
               coalesce(sum(s * s), 0) AS sentiment_sumsq,
               count(CASE WHEN s >= {BRAND_POSITIVE} THEN 1 END) AS positive,
               count(CASE WHEN s < {BRAND_NEGATIVE} THEN 1 END) AS negative,
               max(fetched_at) AS fetched, max(analysed_at) AS analysed
        FROM counted GROUP BY {_POST_COUNT_KEY}
    ), hours AS (
        SELECT hour, max(fetched) AS fetched_upto, max(analysed) AS analysed_upto FROM grouped GROUP BY hour
    )
    SELECT {_POST_COUNT_KEY}, posts, engagement, sentiment_n, sentiment_sum, sentiment_sumsq, positive, negative,
           h.fetched_upto, h.analysed_upto
    FROM grouped JOIN hours h USING (hour)
    """


_PASS_KEY = 0x7975_7169  # the advisory lock a pass holds ("yuqi")


@contextmanager
def hold_pass(url: str, *, wait: float = 0.0, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """One pass (``yuqing run``) at a time on a PostgreSQL warehouse: a session advisory lock held for the pass.
    Unlike the embedded warehouse's lock it excludes only other passes: collectors and readers go on.
    Inside a pass (this process and its children) holding again is a no-op."""
    import psycopg

    from yuqing.store.warehouse import HOLD_ENV, _describe_self

    marker = f"{shown_url(url)}\tpostgresql"
    if os.environ.get(HOLD_ENV) == marker:
        yield
        return
    me = _describe_self()
    try:
        pg = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name=me[:63])
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot connect to the warehouse at {shown_url(url)}: {_one_line(exc)}") from None
    try:
        deadline = time.monotonic() + wait
        told = False
        while not pg.execute("SELECT pg_try_advisory_lock(%s)", [_PASS_KEY]).fetchone()[0]:  # type: ignore[index]
            row = pg.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = %s AND l.granted",
                [_PASS_KEY],
            ).fetchone()
            holder = f": {row[0]}" if row and row[0] else ""
            message = f"warehouse {shown_url(url)} is in a pass of another process{holder}"
            if time.monotonic() >= deadline:
                raise WarehouseLocked(f"{message}; one pass at a time — wait for it to finish")
            if on_wait is not None and not told:
                on_wait(f"{message}; waiting up to {wait:.0f} s")
                told = True
            time.sleep(0.5)
        previous = os.environ.get(HOLD_ENV)
        os.environ[HOLD_ENV] = marker
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(HOLD_ENV, None)
            else:
                os.environ[HOLD_ENV] = previous
    finally:
        pg.close()  # ends the session: the lock goes with it
