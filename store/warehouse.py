"""The embedded warehouse: one DuckDB file, schema created and migrated by yuqing.

Idempotence rules
-----------------
* posts/authors are keyed by ``(platform, id)``.  Inside one batch, duplicates are
  resolved before writing: the newest ``fetched_at`` wins.  Against stored rows,
  a fetch only overwrites when it is strictly newer than the stored one: an older
  fetch never overwrites newer data, and on equal ``fetched_at`` the row already
  stored (or the first occurrence in the batch) is kept, so any order of re-ingests
  converges to the same table.  An existing post's ``created_at`` never moves.
* ``post_metrics`` keeps one snapshot per (post, fetched_at) whose counts differ
  from the latest stored snapshot — re-ingesting the same data adds nothing.
* interactions are keyed by (platform, kind, source, target, post_id).
* ``customer_links`` is append-only (an audit trail); nothing updates or deletes it.
* :meth:`Warehouse.ingest` writes rows **and** the collection checkpoint in one
  transaction: a crash never skips or double-counts.

Locking: every open takes an advisory lock on ``<warehouse>.lock`` (shared for
readers, exclusive for a writer) besides DuckDB's own file lock, so a second
writer process gets :class:`store.errors.WarehouseLocked` (naming the holder),
never a corrupt file.  :meth:`Warehouse.hold` keeps the exclusive lock for a
whole pass (``yuqing run``) while its stages open and close connections: the
holding process and its children (the spider processes) open freely, every
other process is refused until the pass ends.

File modes: the warehouse holds the CRM's customer table (clear names, phones, e-mails), so the file, its
write-ahead log (``.wal``, which DuckDB deletes and re-creates at each checkpoint) and DuckDB's spill directory
are private to their owner (0600 / 0700) whatever the umask: while a connection is open for writing, this
process creates files with ``umask | 0o077`` (see :class:`_PrivateFiles`), and an existing file readable by
others is tightened when it is opened, with a one-line notice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from yuqing.store.errors import StoreError, WarehouseLocked
from yuqing.store.schema import (
    Author,
    Customer,
    CustomerAccountLink,
    Interaction,
    InteractionKind,
    Order,
    Platform,
    Post,
    PostKind,
)
from yuqing.store.tables import TABLES, Table, derived_tables

if TYPE_CHECKING:
    from yuqing.store.crm import Ticket

__all__ = [
    "DELIVERY_COLUMNS",
    "LOAD_BATCH_ROWS",
    "MIGRATION_NAMES",
    "NEW_AUTHOR_DEFAULTS",
    "POST_ARROW_SCHEMA",
    "SCHEMA_VERSION",
    "CampaignCustomers",
    "Checkpoint",
    "UpsertResult",
    "Warehouse",
    "analysis_rows",
    "encode_json",
    "list_holds",
    "prefetched",
]

_T = TypeVar("_T")
POST_COLUMNS = list(Post.model_fields)
AUTHOR_COLUMNS = list(Author.model_fields)
_LIST_COLUMNS = ("topics", "at_users", "urls", "pics")
_COUNTS = ("reposts_count", "comments_count", "attitudes_count")
_STRING_LIST = pa.list_(pa.string())
_UTC = pa.timestamp("us", tz="UTC")
POST_ARROW_SCHEMA = pa.schema(
    [(c, pa.string()) for c in ("platform", "id", "kind", "text")]
    + [("created_at", _UTC)]
    + [(c, pa.string()) for c in ("author_id", "author_name", "parent_id", "root_id", "parent_author_id")]
    + [(c, pa.int64()) for c in ("reposts_count", "comments_count", "attitudes_count")]
    + [("source", pa.string()), ("location", pa.string())]
    + [(c, _STRING_LIST) for c in ("topics", "at_users", "urls", "pics")]
    + [("query", pa.string()), ("fetched_at", _UTC), ("raw", pa.string())]
)
"""The Arrow types of a posts batch (:meth:`Warehouse.ingest_batch`), ``raw`` as JSON text; in ``POST_COLUMNS``
order."""
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "VARCHAR[]": pa.list_(pa.string()),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMPTZ": pa.timestamp("ns", tz="UTC"),
    "TIMESTAMP": pa.timestamp("ns"),
    "DECIMAL": pa.float64(),
}
"""Arrow type of each declared column type (store/tables.py) for frames written to derived tables."""
LOAD_BATCH_ROWS = 122_880
"""Rows per transaction of the bulk paths (:meth:`Warehouse.load_posts`, ``yuqing import`` of a CSV): one DuckDB
row group, which a transaction writes straight to the database file instead of through the write-ahead log (186k
post rows: 2.4 → 1.6 CPU-s for the merge and commits against 50k-row batches; docs/benchmarks.md)."""
NEW_AUTHOR_DEFAULTS = {
    "platform": "platform",
    "id": "id",
    "screen_name": "screen_name",
    "followers_count": "0",
    "friends_count": "0",
    "statuses_count": "0",
    "verified": "false",
    "verified_type": "NULL",
    "verified_reason": "''",
    "gender": "''",
    "location": "''",
    "description": "''",
    "created_at": "NULL",
    "fetched_at": "fetched_at",
    "raw": "NULL",
}
"""An author known only from a post row: the value of each column when the row gives none (Author's defaults)."""
_LINK_COLUMNS = ["platform", "id", "kind", "author_id", "parent_id", "root_id", "parent_author_id", "created_at"]


_CREATED_LATER = {"post_counts"}  # derived tables a later migration creates (7)


def _declare_derived(con: duckdb.DuckDBPyConnection) -> None:
    """6: the derived tables as store/tables.py declares them.  Before, each was created from the first frame
    written to it (types inferred, no key on the wholesale-replaced ones, JSON as text): an existing one is
    rebuilt with its declared types and key, keeping the columns it shares with its declaration (values cast;
    a duplicate key keeps one row), dropping the others; a missing one is created empty."""
    existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for decl in derived_tables():
        if decl.name in _CREATED_LATER:
            continue
        if decl.name not in existing:
            con.execute(decl.ddl())
            continue
        have = {r[0] for r in con.execute(f"DESCRIBE {decl.name}").fetchall()}
        shared = [c for c in decl.columns if c.name in have]
        scratch = f"_{decl.name}_v6"
        con.execute(decl.ddl(name=scratch))
        if shared and all(k in have for k in decl.key):
            names = ", ".join(c.name for c in shared)
            values = ", ".join(f"TRY_CAST({c.name} AS {c.type}) AS {c.name}" for c in shared)
            distinct = f"DISTINCT ON ({', '.join(decl.key)}) " if decl.key else ""
            keyed = " AND ".join(f"{k} IS NOT NULL" for k in decl.key) or "TRUE"
            con.execute(f"INSERT INTO {scratch} ({names}) SELECT {distinct}{values} FROM {decl.name} WHERE {keyed}")
        con.execute(f"DROP TABLE {decl.name}")
        con.execute(f"ALTER TABLE {scratch} RENAME TO {decl.name}")


# ---------------------------------------------------------------------- post counts (reports and alerts read them)
BRAND_POSITIVE, BRAND_NEGATIVE = 0.6, 0.4
"""A brand sentiment at/above ``BRAND_POSITIVE`` is positive, below ``BRAND_NEGATIVE`` negative (reports, graph)."""
REPORT_TZ = "Asia/Shanghai"
"""The wall clock ``post_counts.hour`` is in: report days and alert buckets are China days and hours."""
_HOUR = f"date_trunc('hour', p.created_at AT TIME ZONE '{REPORT_TZ}')"
_POST_COUNT_KEY = "hour, platform, kind, brand, polarity, complaint, complaint_category"


def _post_counts_select(where: str) -> str:
    """The rows of ``post_counts`` for the posts ``where`` selects (``p`` posts, ``a`` their analysis): brand ''
    counts every post with its own sentiment, each brand it names (a post's list names a brand once: nlp.pipeline)
    the post with the brand's sentiment.  Plain SQL: the PostgreSQL warehouse runs it too."""
    return f"""
    WITH src AS (
        SELECT {_HOUR} AS hour, p.platform, p.kind, p.fetched_at, a.analysed_at,
               p.reposts_count + p.comments_count + p.attitudes_count AS engagement,
               coalesce(a.polarity, '') AS polarity, coalesce(a.complaint, false) AS complaint,
               coalesce(a.complaint_category, '') AS complaint_category, a.sentiment, a.brands, a.brand_sentiment
        FROM posts p LEFT JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id
        WHERE {where}
    ), named AS (
        SELECT src.*, u.brand, CAST(src.brand_sentiment ->> u.brand AS DOUBLE PRECISION) AS s
        FROM src, unnest(src.brands) AS u(brand)
    ), counted AS (
        SELECT hour, platform, kind, '' AS brand, polarity, complaint, complaint_category, engagement,
               sentiment AS s, fetched_at, analysed_at FROM src
        UNION ALL
        SELECT hour, platform, kind, brand, polarity, complaint, complaint_category, engagement, s, fetched_at,
               analysed_at FROM named
    )
    SELECT {_POST_COUNT_KEY}, count(*) AS posts, CAST(sum(engagement) AS BIGINT) AS engagement,
           count(s) AS sentiment_n,
           coalesce(sum(s), 0) AS sentiment_sum, coalesce(sum(s * s), 0) AS sentiment_sumsq,
           count(CASE WHEN s >= {BRAND_POSITIVE} THEN 1 END) AS positive,
           count(CASE WHEN s < {BRAND_NEGATIVE} THEN 1 END) AS negative,
           max(max(fetched_at)) OVER (PARTITION BY hour) AS fetched_upto,
           max(max(analysed_at)) OVER (PARTITION BY hour) AS analysed_upto
    FROM counted GROUP BY {_POST_COUNT_KEY}
    """


_STALE_HOURS = f"""
    WITH p AS (
        SELECT {_HOUR} AS hour, count(*) AS n, max(p.fetched_at) AS f, max(a.analysed_at) AS an
        FROM posts p LEFT JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id GROUP BY 1
    ), c AS (
        SELECT hour, sum(CASE WHEN brand = '' THEN posts ELSE 0 END) AS n, max(fetched_upto) AS f,
               max(analysed_upto) AS an
        FROM post_counts GROUP BY hour
    )
    SELECT coalesce(p.hour, c.hour) AS hour FROM p FULL JOIN c ON p.hour = c.hour
    WHERE p.hour IS NULL OR c.hour IS NULL OR p.n <> c.n OR p.f IS DISTINCT FROM c.f OR p.an IS DISTINCT FROM c.an
"""


def refresh_post_counts(
    con: duckdb.DuckDBPyConnection, *, everything: bool = False, select: Callable[[str], str] = _post_counts_select
) -> int:
    """Bring ``post_counts`` up to date with posts and their analysis; returns the hours recounted.

    An hour is recounted whole (its rows deleted and counted again from ``posts`` and ``post_analysis``) when its
    posts, their newest fetch or their newest analysis differ from when it was counted: idempotent (re-analysis or
    a re-fetch never counts a post twice) and incremental (only the hours a pass touched).  Run by
    :meth:`Warehouse.save_analysis` in the analysis's transaction and by :meth:`Warehouse.refresh_post_counts`;
    ``select`` makes the counting query of the posts a condition selects (store/postgres.py has its own)."""
    if everything:
        con.execute("DELETE FROM post_counts")
        con.execute(f"INSERT INTO post_counts SELECT * FROM ({select('TRUE')}) AS c")
        return int(con.execute("SELECT count(DISTINCT hour) FROM post_counts").fetchall()[0][0])
    con.execute("DROP TABLE IF EXISTS _stale_hours")
    con.execute(f"CREATE TEMP TABLE _stale_hours AS {_STALE_HOURS}")
    try:
        stale = int(con.execute("SELECT count(*) FROM _stale_hours").fetchall()[0][0])
        if stale:
            con.execute("DELETE FROM post_counts WHERE hour IN (SELECT hour FROM _stale_hours)")
            where = f"{_HOUR} IN (SELECT hour FROM _stale_hours)"
            con.execute(f"INSERT INTO post_counts SELECT * FROM ({select(where)}) AS c")
    finally:
        con.execute("DROP TABLE IF EXISTS _stale_hours")
    return stale


def linspace_sql(n: int, num: int) -> str:
    """A query of the rows ``numpy.linspace(0, n - 1, num).astype(int)`` picks (``num`` >= 2), in the same float
    arithmetic (``k * ((n - 1) / (num - 1))``, truncated; the last exactly ``n - 1``)."""
    step = f"(CAST({int(n) - 1} AS DOUBLE PRECISION) / {int(num) - 1})"
    return (
        f"SELECT CASE WHEN k = {int(num) - 1} THEN {int(n) - 1} ELSE CAST(floor(k * {step}) AS BIGINT) END AS i "
        f"FROM generate_series(0, {int(num) - 1}) AS g(k)"
    )


def _create_post_counts(con: duckdb.DuckDBPyConnection) -> None:
    """7: ``post_counts`` created and counted from the posts and analysis already stored."""
    con.execute(TABLES["post_counts"].ddl())
    refresh_post_counts(con, everything=True)


_MIGRATIONS: list[str | Callable[[duckdb.DuckDBPyConnection], None]] = [
    # 1: core tables
    """
    CREATE TABLE posts (
        platform VARCHAR NOT NULL, id VARCHAR NOT NULL, kind VARCHAR NOT NULL, text VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, author_id VARCHAR, author_name VARCHAR,
        parent_id VARCHAR, root_id VARCHAR, parent_author_id VARCHAR,
        reposts_count BIGINT NOT NULL, comments_count BIGINT NOT NULL, attitudes_count BIGINT NOT NULL,
        source VARCHAR, location VARCHAR, topics VARCHAR[], at_users VARCHAR[], urls VARCHAR[], pics VARCHAR[],
        query VARCHAR, fetched_at TIMESTAMPTZ NOT NULL, raw JSON,
        first_seen_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (platform, id)
    );
    CREATE TABLE post_metrics (
        platform VARCHAR NOT NULL, post_id VARCHAR NOT NULL, fetched_at TIMESTAMPTZ NOT NULL,
        reposts_count BIGINT NOT NULL, comments_count BIGINT NOT NULL, attitudes_count BIGINT NOT NULL,
        PRIMARY KEY (platform, post_id, fetched_at)
    );
    CREATE TABLE authors (
        platform VARCHAR NOT NULL, id VARCHAR NOT NULL, screen_name VARCHAR,
        followers_count BIGINT NOT NULL, friends_count BIGINT NOT NULL, statuses_count BIGINT NOT NULL,
        verified BOOLEAN NOT NULL, verified_type INTEGER, verified_reason VARCHAR, gender VARCHAR,
        location VARCHAR, description VARCHAR, created_at TIMESTAMPTZ, fetched_at TIMESTAMPTZ NOT NULL, raw JSON,
        PRIMARY KEY (platform, id)
    );
    CREATE TABLE author_metrics (
        platform VARCHAR NOT NULL, author_id VARCHAR NOT NULL, fetched_at TIMESTAMPTZ NOT NULL,
        followers_count BIGINT NOT NULL,
        PRIMARY KEY (platform, author_id, fetched_at)
    );
    CREATE TABLE interactions (
        platform VARCHAR NOT NULL, kind VARCHAR NOT NULL, source_author_id VARCHAR NOT NULL,
        target_author_id VARCHAR NOT NULL, post_id VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL,
        weight DOUBLE NOT NULL,
        PRIMARY KEY (platform, kind, source_author_id, target_author_id, post_id)
    );
    CREATE TABLE checkpoints (
        platform VARCHAR NOT NULL, scope VARCHAR NOT NULL, cursor VARCHAR NOT NULL,
        since TIMESTAMPTZ, until TIMESTAMPTZ, updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (platform, scope)
    );
    """,
    # 2: CRM (clear PII only in customers)
    """
    CREATE TABLE customers (
        customer_id VARCHAR PRIMARY KEY, name VARCHAR, phone VARCHAR, email VARCHAR, city VARCHAR,
        registered_at TIMESTAMPTZ, handles JSON, updated_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE customer_identifiers (
        customer_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, value VARCHAR NOT NULL,
        PRIMARY KEY (customer_id, kind, value)
    );
    CREATE TABLE orders (
        order_id VARCHAR PRIMARY KEY, customer_id VARCHAR NOT NULL, amount DECIMAL(18, 2) NOT NULL,
        ordered_at TIMESTAMPTZ NOT NULL, product VARCHAR, channel VARCHAR
    );
    CREATE SEQUENCE customer_links_seq;
    CREATE TABLE customer_links (
        seq BIGINT PRIMARY KEY DEFAULT nextval('customer_links_seq'),
        customer_id VARCHAR NOT NULL, platform VARCHAR NOT NULL, author_id VARCHAR NOT NULL,
        method VARCHAR NOT NULL, confidence DOUBLE NOT NULL, linked_at TIMESTAMPTZ NOT NULL, note VARCHAR
    );
    """,
    # 3: alert delivery outbox (reports/delivery.py): one row per (alert, state change, channel)
    """
    CREATE TABLE alert_deliveries (
        key VARCHAR PRIMARY KEY, alert_id VARCHAR NOT NULL, event VARCHAR NOT NULL, channel VARCHAR NOT NULL,
        label VARCHAR NOT NULL, payload JSON NOT NULL, state VARCHAR NOT NULL, attempts INTEGER NOT NULL,
        last_error VARCHAR, created_at TIMESTAMPTZ NOT NULL, next_attempt_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL, delivered_at TIMESTAMPTZ
    );
    """,
    # 4: personal-data lifecycle (store/crm.py): where a customer and a link came from, by which command;
    # the fingerprint of the key the identifier hashes were made with; what was forgotten or expired
    """
    ALTER TABLE customers ADD COLUMN source VARCHAR;
    ALTER TABLE customer_links ADD COLUMN source VARCHAR;
    ALTER TABLE customer_links ADD COLUMN command VARCHAR;
    CREATE TABLE crm_key (fingerprint VARCHAR NOT NULL, set_at TIMESTAMPTZ NOT NULL);
    CREATE SEQUENCE privacy_log_seq;
    CREATE TABLE privacy_log (
        seq BIGINT PRIMARY KEY DEFAULT nextval('privacy_log_seq'), logged_at TIMESTAMPTZ NOT NULL,
        action VARCHAR NOT NULL, subject VARCHAR NOT NULL, detail VARCHAR NOT NULL, command VARCHAR NOT NULL
    );
    """,
    # 5: customer-service tickets (store/crm.py read_tickets): complaints without a ticket, churn
    """
    CREATE TABLE tickets (
        ticket_id VARCHAR PRIMARY KEY, customer_id VARCHAR NOT NULL, opened_at TIMESTAMPTZ NOT NULL,
        category VARCHAR, status VARCHAR NOT NULL, is_open BOOLEAN NOT NULL
    );
    """,
    _declare_derived,
    _create_post_counts,
]
SCHEMA_VERSION = len(_MIGRATIONS)
MIGRATION_NAMES = [
    "posts, metrics, authors, interactions, checkpoints",
    "CRM: customers, identifiers, orders, links",
    "alert delivery outbox",
    "personal-data lifecycle: sources, key fingerprint, privacy log",
    "customer-service tickets",
    "derived tables as store/tables.py declares them (types, keys, JSON columns)",
    "post_counts: posts per hour, platform, kind, brand, polarity and complaint category (backfilled)",
]
"""One line per migration, for ``yuqing db status``/``upgrade``."""
DELIVERY_COLUMNS = ["key", "alert_id", "event", "channel", "label", "payload", "state", "attempts", "last_error",
                    "created_at", "next_attempt_at", "expires_at", "delivered_at"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    platform: Platform
    scope: str
    cursor: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class CampaignCustomers:
    """What :meth:`Warehouse.campaign_customers` returns: customer ids, dates and amounts, never names/phones/e-mails.

    ``participants``: customer_id, platform, author_id, actions (posts, reposts, comments), link method;
    ``customers``: customer_id, registered_at; ``orders``: customer_id, amount, ordered_at;
    ``accounts``: accounts that took part, linked or not."""

    participants: pd.DataFrame
    customers: pd.DataFrame
    orders: pd.DataFrame
    accounts: int


_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # json.dumps(..., ensure_ascii=False, default=str)
_quoted: Callable[[str], str] = json.encoder.encode_basestring  # how that encoder quotes a text (ensure_ascii off)


def encode_json(value: Any) -> str | None:
    """The text a JSON column stores for ``value`` (``None`` → NULL)."""
    if value is None:
        return None
    return _JSON_ENCODER.encode(value)


_json = encode_json


def _period(since: dt.datetime | None, until: dt.datetime | None) -> tuple[list[str], list[Any]]:
    """WHERE terms and parameters for ``since <= created_at < until`` (either end open)."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if since is not None:
        where.append("created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("created_at < ?")
        params.append(until)
    return where, params


def _first_row(mask: pd.Series) -> int:
    return int(mask.to_numpy().nonzero()[0][0])


def _checked_frame(
    frame: pd.DataFrame, columns: list[str], table: str, enums: dict[str, Any], ids: tuple[str, ...]
) -> pd.DataFrame:
    """A frame of a record type's ``columns`` checked column-wise as the record would be: enum values, non-empty
    ids (missing optional columns take the record's defaults)."""
    model = Author if table == "authors" else Interaction
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        if col in frame.columns:
            out[col] = frame[col]
        elif model.model_fields[col].is_required():
            raise StoreError(f"{table} frame lacks required column {col}")
        else:
            default = model.model_fields[col].get_default(call_default_factory=True)
            out[col] = [default] * len(frame) if isinstance(default, dict | list) else default
    out = out.reset_index(drop=True)
    for col, enum in enums.items():
        out[col] = out[col].astype(str)
        _check_values(out, col, {e.value for e in enum}, table)
    for col in ids:
        bad = out[col].isna() | (out[col].astype(str).str.len() == 0)
        if bad.any():
            raise StoreError(f"{table} frame row {_first_row(bad)}, field {col}: empty id")
        out[col] = out[col].astype(str)
    return out


def _counts(frame: pd.DataFrame, col: str, table: str) -> pd.Series:
    num = pd.to_numeric(frame[col], errors="coerce")
    bad = (num.isna() & frame[col].notna()) | (num < 0) | (num % 1 != 0)
    if bad.any():
        row = _first_row(bad)
        raise StoreError(
            f"{table} frame row {row}, field {col}: {frame[col].iloc[row]!r} is not a non-negative integer"
        )
    return num.fillna(0).astype("int64")


def _check_values(frame: pd.DataFrame, col: str, allowed: set[str], table: str = "posts") -> None:
    bad = ~frame[col].isin(allowed)
    if bad.any():
        row = _first_row(bad)
        raise StoreError(
            f"{table} frame row {row}, field {col}: {frame[col].iloc[row]!r} is not one of {sorted(allowed)}"
        )


def _raw_texts(values: pd.Series) -> list[str | None]:
    """A ``raw`` column as JSON text: dicts encoded, text kept, missing (None, NaN) as NULL."""
    return [None if v is None or (type(v) is float and v != v) else v if type(v) is str else _json(v) for v in values]


def _string_lists(values: pd.Series) -> pa.Array:
    """A list column as Arrow ``list<string>``: lists, tuples or numpy arrays of strings; None/NaN → ``[]``."""
    try:
        array = pa.array(values, type=_STRING_LIST, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # items that are not strings: as text
        array = pa.array(
            [[str(x) for x in v] if v is not None and not isinstance(v, float) else None for v in values],
            type=_STRING_LIST,
        )
    return pc.fill_null(array, pa.scalar([], type=_STRING_LIST))


def _posts_arrow(frame: pd.DataFrame) -> pa.Table:
    """A prepared posts frame (:meth:`Warehouse._prepare_posts`) as a :data:`POST_ARROW_SCHEMA` table."""
    scalars = [f for f in POST_ARROW_SCHEMA if f.name not in _LIST_COLUMNS]
    table = pa.Table.from_pandas(frame[[f.name for f in scalars]], schema=pa.schema(scalars), preserve_index=False)
    for name in _LIST_COLUMNS:
        table = table.append_column(name, _string_lists(frame[name]))
    return table.select(POST_COLUMNS)


def list_holds(items: str, value: str, *, postgres: bool) -> str:
    """SQL true when the list column ``items`` holds ``value`` (an expression or ``?``).  On DuckDB
    ``list_contains``: DuckDB plans ``value = ANY(list)`` as a correlated subquery over the unnested list and
    materialises every row of the join around it (250k posts: ``top_mentions`` +271 MB -> +81 MB, and half the
    CPU); PostgreSQL's ``= ANY(array)`` is its native array test."""
    return f"{value} = ANY({items})" if postgres else f"list_contains({items}, {value})"


def analysis_rows(frame: pd.DataFrame) -> pa.Table:
    """The text stage's rows (``platform, id``, nlp.pipeline.OUTPUT_COLUMNS, ``tokens``) as the Arrow table
    :meth:`Warehouse.save_analysis` writes: declared types, ``brand_sentiment`` as JSON text.  Made in the analyse
    workers, so the single writer neither unpickles nor converts a Python object per row."""
    return Warehouse._encoded(TABLES["post_analysis"], frame)


def analysis_arrow(keys: pa.Table, columns: dict[str, Any]) -> pa.Table:
    """The rows :func:`analysis_rows` makes of the frame of ``keys`` (``platform, id``) beside the text stage's
    ``columns`` (``nlp.pipeline.analyze_columns``; ``tokens`` already space-joined), built column by column: the
    same table (types, values, nulls), without the frame in between (the analyse workers' own cost per row)."""
    decl = TABLES["post_analysis"]
    names = ["platform", "id", *columns]
    unknown = [c for c in columns if c not in decl.names]
    if unknown:
        raise StoreError(f"table post_analysis: column(s) {unknown} are not declared in store/tables.py")
    arrays: list[pa.Array | pa.ChunkedArray] = [keys[k].cast(pa.string()) for k in ("platform", "id")]
    for name, values in columns.items():
        kind = _ARROW_TYPES[decl.column(name).type.split("(")[0]]
        if name in decl.json_columns:
            values = [_json_map(v) for v in values]
        arrays.append(pa.array(values, type=kind, from_pandas=True))
    return pa.Table.from_arrays(arrays, names=names)


def _json_map(value: Any) -> str | None:
    """:func:`encode_json` of a JSON column's value, spelled out for the text stage's brand maps (``{}``, or
    text keys and finite floats: keys as ``json`` quotes them, floats as their repr, ``", "`` and ``": "`` between,
    what the encoder writes) — half its cost per row; anything else goes to the encoder."""
    if value is None or isinstance(value, str):
        return value
    if type(value) is dict:
        if not value:
            return "{}"
        if all(type(k) is str and type(v) is float and math.isfinite(v) for k, v in value.items()):
            return "{" + ", ".join(f"{_quoted(k)}: {float.__repr__(v)}" for k, v in value.items()) + "}"
    return encode_json(value)


def prefetched(items: Iterable[Any], *, depth: int = 1) -> Iterator[Any]:
    """``items`` made by a background thread up to ``depth`` ahead of the caller, in order: a bulk load parses
    its next batch while DuckDB (which releases the GIL) writes and commits the one before, on another core.  An
    exception raised making an item is raised here, at that item; stopping early stops the thread."""
    import queue

    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    done = object()

    def put(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, done))
        except BaseException as exc:  # handed to the caller, raised there
            put((False, exc))

    worker = threading.Thread(target=make, name="yuqing-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = ready.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        worker.join()


# ---------------------------------------------------------------------- the pass lock
HOLD_ENV = "YUQING_WAREHOUSE_HOLD"  # "<lock file>\t<token>": set by the holder, inherited by its children


_MEMORY_LIMIT: ContextVar[str] = ContextVar("yuqing_duckdb_memory_limit", default="")


@contextmanager
def duckdb_memory_limit(limit: str) -> Iterator[None]:
    """DuckDB warehouses opened inside bound their execution memory to ``limit`` (DuckDB's ``memory_limit``, e.g.
    ``"256MB"``): joins, aggregations, sorts and window functions past it spill to ``<warehouse>.tmp`` instead of
    growing with the corpus.  Without it DuckDB allows itself 80 % of the machine's memory.  A plan that cannot
    spill fails with ``duckdb.OutOfMemoryException`` (the caller decides whether to run it again unbounded).
    PostgreSQL warehouses are not affected: the server bounds its own memory (``work_mem``)."""
    token = _MEMORY_LIMIT.set(limit)
    try:
        yield
    finally:
        _MEMORY_LIMIT.reset(token)


def memory_bounded(limit: str, run: Callable[[], _T], *, what: str) -> _T:
    """``run()`` with its DuckDB warehouses bounded to ``limit`` (:func:`duckdb_memory_limit`); when a plan cannot
    spill within it (``duckdb.OutOfMemoryException``), ``run()`` once more without the bound, with a warning
    naming ``what``: a stage that needs more than its bound is slower and larger, not failed."""
    try:
        with duckdb_memory_limit(limit):
            return run()
    except duckdb.OutOfMemoryException as exc:
        logging.getLogger("yuqing.store").warning(
            "%s needed more than its DuckDB memory bound %s (%s); running it again unbounded",
            what,
            limit,
            str(exc).splitlines()[0],
        )
        return run()


def lock_path(path: str | Path) -> Path:
    """The advisory lock file next to a warehouse file."""
    path = Path(path).resolve()
    return path.with_name(path.name + ".lock")


class _ProcessLocks:
    """flock()s this process holds, one descriptor per lock file, counted (threads and nested opens share it)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[str, list[Any]] = {}  # lock file -> [fd, exclusive, count]

    def acquire(self, lock: Path, *, exclusive: bool, owner: str = "") -> None:
        import fcntl

        key = str(lock)
        with self._guard:
            entry = self._held.get(key)
            if entry is not None and (entry[1] or not exclusive):
                entry[2] += 1
                return
            fd = entry[0] if entry is not None else os.open(key, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except BlockingIOError:
                if entry is None:
                    os.close(fd)
                raise WarehouseLocked(_holder_message(lock)) from None
            if exclusive:
                os.ftruncate(fd, 0)
                os.pwrite(fd, (owner or _describe_self()).encode("utf-8"), 0)
            if entry is None:
                self._held[key] = [fd, exclusive, 1]
            else:
                entry[1], entry[2] = True, entry[2] + 1

    def release(self, lock: Path) -> None:
        import fcntl

        key = str(lock)
        with self._guard:
            entry = self._held.get(key)
            if entry is None:
                return
            entry[2] -= 1
            if entry[2] > 0:
                return
            del self._held[key]
            if entry[1]:
                os.ftruncate(entry[0], 0)
            fcntl.flock(entry[0], fcntl.LOCK_UN)
            os.close(entry[0])


_LOCKS = _ProcessLocks()

log = logging.getLogger(__name__)
PRIVATE = 0o077  # the permission bits no one but the owner gets on a warehouse file


class _PrivateFiles:
    """``umask | 0o077`` while this process has a warehouse open for writing, counted like the locks.

    DuckDB creates the warehouse file at connect and re-creates its ``.wal`` at the first write after each
    checkpoint, with the process umask (usually 0644): the only way to make them private from their first
    byte, whatever the user's umask, is the umask itself.  Files this process creates meanwhile are private
    too; the previous umask is back when the last writer closes."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._count = 0
        self._previous = 0

    def enter(self) -> None:
        with self._guard:
            if self._count == 0:
                self._previous = os.umask(PRIVATE)
                os.umask(self._previous | PRIVATE)
            self._count += 1

    def exit(self) -> None:
        with self._guard:
            self._count -= 1
            if self._count == 0:
                os.umask(self._previous)


_PRIVATE_FILES = _PrivateFiles()


def _tighten(path: Path) -> None:
    """Make a warehouse file (and its ``.wal``) readable by its owner only; one notice line for each it changed.
    A file owned by someone else is left as it is (only its owner may change it)."""
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & PRIVATE:
                file.chmod(mode & ~PRIVATE)
                log.warning(
                    "%s was readable by others (mode %04o; it holds customer data): now %04o",
                    file,
                    mode,
                    mode & ~PRIVATE,
                )
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("%s is readable by others (it holds customer data) and not ours to chmod", file)


def _describe_self() -> str:
    import sys

    command = " ".join(["yuqing", *sys.argv[1:3]]) if sys.argv and "yuqing" in sys.argv[0] else "a yuqing process"
    return f"pid {os.getpid()} ({command}, since {dt.datetime.now().strftime('%H:%M:%S')})"


def _holder_message(lock: Path) -> str:
    warehouse = lock.with_name(lock.name.removesuffix(".lock"))
    try:
        holder = lock.read_text(encoding="utf-8").partition("\n")[0].strip()
    except OSError:
        holder = ""
    who = f": {holder}" if holder else " (reading it)"
    return (
        f"warehouse {warehouse} is in use by another process{who}; yuqing allows one writer — "
        "wait for it to finish (or open read-only when no run is writing)"
    )


def _inside_hold(lock: Path) -> bool:
    """True in the process that holds the pass lock and in its children (the token is in their environment)."""
    value = os.environ.get(HOLD_ENV, "")
    held, _, token = value.partition("\t")
    if held != str(lock) or not token:
        return False
    try:
        return token in lock.read_text(encoding="utf-8")
    except OSError:
        return False


class FrameRegistry(Protocol):
    """What :func:`registered` needs of a connection: DuckDB's, or :class:`store.postgres.PgConnection`."""

    def register(self, name: str, frame: Any, /) -> Any: ...

    def unregister(self, name: str, /) -> Any: ...


@contextmanager
def registered(con: FrameRegistry, **frames: Any) -> Iterator[None]:
    """``frames`` (DataFrames or Arrow tables) visible to ``con``'s SQL under their names while the block runs,
    unregistered after it whatever happens: the bulk statements over a whole frame that replace ``executemany``
    (row at a time in DuckDB)."""
    names: list[str] = []
    try:
        for name, frame in frames.items():
            con.register(name, frame)
            names.append(name)
        yield
    except BaseException:
        for name in names:  # inside a failed transaction unregistering fails too: the first error is the one
            with suppress(Exception):
                con.unregister(name)
        raise
    for name in names:
        con.unregister(name)


class Warehouse:
    """A DuckDB warehouse file.  Use as a context manager: ``with Warehouse.open(path) as wh: ...``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only
        self._tx_depth = 0
        self._fresh = True  # the last bulk batch held new posts only: the next one tries plain INSERTs first
        self._plain = False  # new posts expected in a transaction of the batch's own (:meth:`_own_transaction`)
        self._lock: Path | None = None
        self._closed = False

    @classmethod
    @contextmanager
    def hold(
        cls, path: str | Path, *, wait: float = 0.0, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        """Hold the warehouse for a whole pass: other processes get :class:`WarehouseLocked` until it ends.

        Connections opened inside (by this process or its children) do not re-lock.  With ``wait``,
        a warehouse in use is retried for that many seconds; ``on_wait`` hears once who holds it.
        """
        from yuqing.store.postgres import hold_pass, is_url

        if is_url(path):  # one pass at a time, writers not held up (store.postgres.hold_pass)
            with hold_pass(str(path), wait=wait, on_wait=on_wait):
                yield
            return
        lock = lock_path(path)
        if _inside_hold(lock):  # already held by this pass (the CLI holds it before the flow starts)
            yield
            return
        lock.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                _LOCKS.acquire(lock, exclusive=True, owner=f"{_describe_self()}\ntoken {token}")
                break
            except WarehouseLocked as exc:
                if time.monotonic() >= deadline:
                    raise
                if on_wait is not None and not told:
                    on_wait(f"{exc}; waiting up to {wait:.0f} s")
                    told = True
                time.sleep(0.5)
        previous = os.environ.get(HOLD_ENV)
        os.environ[HOLD_ENV] = f"{lock}\t{token}"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(HOLD_ENV, None)
            else:
                os.environ[HOLD_ENV] = previous
            _LOCKS.release(lock)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> Warehouse:
        """The warehouse at ``path``: a DuckDB file, or a PostgreSQL server's ``postgresql://`` URL
        (:class:`store.postgres.PostgresWarehouse`)."""
        from yuqing.store.postgres import PostgresWarehouse, is_url

        if is_url(path):
            return PostgresWarehouse.open(path, read_only=read_only)
        path = Path(path)
        if read_only and not path.exists():
            raise StoreError(f"warehouse {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = lock_path(path)
        locked = not _inside_hold(lock)
        if locked:
            _LOCKS.acquire(lock, exclusive=not read_only)
        if not read_only:
            _PRIVATE_FILES.enter()
        try:
            _tighten(path)
            try:
                con = duckdb.connect(str(path), read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" in str(exc).lower():
                    raise WarehouseLocked(
                        f"warehouse {path} is open for writing by another process; "
                        "yuqing allows one writer — wait for it to finish or open read-only"
                    ) from exc
                raise StoreError(f"cannot open warehouse {path}: {exc}") from exc
        except BaseException:
            if not read_only:
                _PRIVATE_FILES.exit()
            if locked:
                _LOCKS.release(lock)
            raise
        wh = cls(con, path, read_only)
        wh._lock = lock if locked else None
        try:
            if limit := _MEMORY_LIMIT.get():
                con.execute(f"SET memory_limit = '{limit}'")
            if read_only:
                wh._check_version()
            else:
                wh._migrate()
        except BaseException:
            wh.close()
            raise
        return wh

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.con.close()
        finally:
            if not self.read_only:
                _PRIVATE_FILES.exit()
            if self._lock is not None:
                _LOCKS.release(self._lock)
                self._lock = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        self.con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ)")
        row = self.con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
        current = int(row[0]) if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"warehouse {self.path} has schema version {current}, newer than this yuqing ({SCHEMA_VERSION})"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            step = _MIGRATIONS[version - 1]
            with self.transaction():
                if callable(step):
                    step(self.con)
                else:
                    self.con.execute(step)
                self.con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
            if current:  # a fresh warehouse is created, not upgraded: only upgrades are worth a line
                log.info("warehouse %s upgraded to schema version %d", self.path, version)

    def _check_version(self) -> None:
        """A reader needs the schema this yuqing was written for: an older warehouse is upgraded by a writer
        (``yuqing db upgrade``, or any command that writes), a newer one by a newer yuqing."""
        version = self.schema_version
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"warehouse {self.path} has schema version {version}; this yuqing reads version {SCHEMA_VERSION}: "
                f"run `yuqing db upgrade` (or any command that writes to it) first"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"warehouse {self.path} has schema version {version}, newer than this yuqing ({SCHEMA_VERSION})"
            )

    @property
    def schema_version(self) -> int:
        """The newest migration applied (0: not a yuqing warehouse, or an empty one)."""
        if not self._has_table("schema_version"):
            return 0
        row = self.con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
        return int(row[0]) if row and row[0] is not None else 0

    @staticmethod
    def stored_version(path: str | Path) -> int:
        """The schema version of the warehouse file at ``path``, read without upgrading it (0 for a file
        yuqing never initialised)."""
        from yuqing.store.postgres import PostgresWarehouse, is_url

        if is_url(path):
            return PostgresWarehouse.stored_version(path)
        con = duckdb.connect(str(path), read_only=True)
        try:
            if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version'").fetchall()[
                0
            ][0]:
                return 0
            row = con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
            return int(row[0]) if row[0] is not None else 0
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing.  A nested call joins the enclosing transaction (an imported file is one transaction)."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield
            finally:
                self._tx_depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._tx_depth = 1
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")
        finally:
            self._tx_depth = 0

    # ------------------------------------------------------------------ posts
    @staticmethod
    def posts_to_frame(posts: Iterable[Post]) -> pd.DataFrame:
        # column-wise attribute reads: several times faster than a model_dump per post
        items = list(posts)
        return pd.DataFrame({c: [getattr(p, c) for p in items] for c in POST_COLUMNS}, columns=POST_COLUMNS)

    def upsert_posts(self, posts: Iterable[Post]) -> UpsertResult:
        """Idempotent upsert keyed by (platform, id); see the module docstring for the rules."""
        frame = self.posts_to_frame(posts)
        with self.transaction():
            return self._upsert_posts_frame(frame)

    def upsert_posts_frame(self, frame: pd.DataFrame) -> UpsertResult:
        """Bulk path: a DataFrame with Post columns (missing optional columns are filled)."""
        with self.transaction():
            return self._upsert_posts_frame(frame)

    def _prepare_posts(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = {"platform", "id", "created_at"} - set(frame.columns)
        if missing:
            raise StoreError(f"posts frame lacks required column(s): {sorted(missing)}")
        frame = frame.copy()
        defaults: dict[str, Any] = {
            "kind": "post",
            "text": "",
            "author_id": "",
            "author_name": "",
            "parent_id": None,
            "root_id": None,
            "parent_author_id": None,
            "reposts_count": 0,
            "comments_count": 0,
            "attitudes_count": 0,
            "source": "",
            "location": "",
            "query": "",
            "raw": None,
        }
        for col, default in defaults.items():
            if col not in frame.columns:
                frame[col] = default
        for col in _LIST_COLUMNS:
            if col not in frame.columns:
                frame[col] = None  # an empty list in every row (_posts_arrow)
        if "fetched_at" not in frame.columns:
            frame["fetched_at"] = pd.Timestamp.now(tz="UTC")
        frame = frame.reset_index(drop=True)
        # StrEnum members stringify to their value, so enums and plain strings convert alike
        frame["platform"] = frame["platform"].astype(str)
        frame["kind"] = frame["kind"].astype(str)
        _check_values(frame, "platform", {p.value for p in Platform})
        _check_values(frame, "kind", {k.value for k in PostKind})
        bad_id = frame["id"].isna() | (frame["id"].astype(str).str.len() == 0)
        if bad_id.any():
            raise StoreError(f"posts frame row {_first_row(bad_id)}, field id: empty post id")
        frame["id"] = frame["id"].astype(str)
        frame["raw"] = _raw_texts(frame["raw"])
        for col in ("reposts_count", "comments_count", "attitudes_count"):
            frame[col] = _counts(frame, col, "posts")
        for col in ("created_at", "fetched_at"):
            try:
                frame[col] = pd.to_datetime(frame[col], utc=True, format="mixed")
            except (ValueError, TypeError) as exc:
                raise StoreError(f"posts frame field {col}: not a timestamp ({exc})") from exc
            if frame[col].isna().any():
                raise StoreError(f"posts frame row {_first_row(frame[col].isna())}, field {col}: missing timestamp")
        # newest fetch wins inside the batch; on equal fetch times the first occurrence wins
        frame = frame.sort_values("fetched_at", ascending=False, kind="stable").drop_duplicates(
            ["platform", "id"], keep="first"
        )
        return frame[POST_COLUMNS]

    def _upsert_posts_frame(self, frame: pd.DataFrame) -> UpsertResult:
        if frame.empty:
            return UpsertResult()
        return self._merge_posts(_posts_arrow(self._prepare_posts(frame)))

    def _checked_arrow(self, part: pa.Table) -> pa.Table:
        """An Arrow batch of posts as :meth:`_prepare_posts` would make it, checked on the columns: every column of
        :data:`POST_ARROW_SCHEMA` castable to its type, known platforms and kinds, non-empty ids, counts and times
        given, one row per key.  Any other batch (a column missing, a bad value, a repeated key) takes the frame
        path, which fills the defaults, keeps the newest fetch per key, or names the row and field at fault."""
        try:
            table = part.select(POST_COLUMNS).cast(POST_ARROW_SCHEMA)
        except (KeyError, ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            table = None
        if table is not None and table.num_rows:
            ok = [
                pc.all(pc.is_in(table["platform"], pa.array([p.value for p in Platform]))),
                pc.all(pc.is_in(table["kind"], pa.array([k.value for k in PostKind]))),
                pc.all(pc.greater(pc.binary_length(table["id"]), 0)),
                *(pc.all(pc.greater_equal(table[c], 0)) for c in _COUNTS),
            ]
            counted = ("platform", "kind", "id", "text", "created_at", "fetched_at", *_COUNTS)
            unique = table.group_by(["platform", "id"]).aggregate([]).num_rows == table.num_rows
            if unique and all(v.as_py() is True for v in ok) and not any(table[c].null_count for c in counted):
                lists = [pc.fill_null(table[c], pa.scalar([], type=_STRING_LIST)) for c in _LIST_COLUMNS]
                for name, values in zip(_LIST_COLUMNS, lists, strict=True):
                    table = table.set_column(table.schema.get_field_index(name), name, values)
                return table
        return _posts_arrow(self._prepare_posts(part.to_pandas()))

    def load_posts(self, frame: pd.DataFrame | pa.Table, *, batch_rows: int = LOAD_BATCH_ROWS) -> UpsertResult:
        """Bulk load: ``frame`` in batches of ``batch_rows``, one transaction each (memory bounded by the batch;
        an interrupted load leaves whole batches, and loading again completes it).  The next batch is checked and
        converted to Arrow while the one before is written (:func:`prefetched`)."""

        def batches() -> Iterator[pa.Table]:
            for lo in range(0, len(frame), max(1, batch_rows)):
                if isinstance(frame, pa.Table):
                    yield self._checked_arrow(frame.slice(lo, batch_rows))
                else:
                    part = frame.iloc[lo : lo + batch_rows]
                    if not part.empty:
                        yield _posts_arrow(self._prepare_posts(part))

        result = UpsertResult()
        for batch in prefetched(batches()):
            result += self._own_transaction(partial(self._merge_posts_as, batch), plain=self._fresh)
        return result

    def _own_transaction(self, write: Callable[[bool], _T], *, plain: bool) -> _T:
        """``write(plain)`` in a transaction of its own.  With ``plain``, the rows are expected to be new and
        ``write(True)`` stores them by plain INSERTs: no conflict handling and no probe of stored rows, both of
        which grow with the warehouse.  A stored key then fails an INSERT (a constraint error): the transaction is
        rolled back and ``write(False)`` writes the rows the usual way.  Inside an enclosing transaction, the
        usual way only."""
        if plain and not self._tx_depth:
            try:
                with self.transaction():
                    return write(True)
            except Exception as exc:
                if not self._is_conflict(exc):
                    raise
        with self.transaction():
            return write(False)

    @staticmethod
    def _is_conflict(exc: Exception) -> bool:
        """A write refused for a key already stored (or another constraint): DuckDB's, or PostgreSQL's SQLSTATE
        class 23 (integrity constraint violation)."""
        return isinstance(exc, duckdb.ConstraintException) or str(getattr(exc, "sqlstate", "") or "").startswith("23")

    def _merge_posts_as(self, batch: pa.Table, plain: bool) -> UpsertResult:
        self._plain = plain
        try:
            return self._merge_posts(batch)
        finally:
            self._plain = False

    def ingest_batch(
        self,
        posts: pa.Table,
        *,
        authors: pa.Table | None = None,
        interactions: Iterable[Interaction] = (),
        profiles: Iterable[Author] = (),
    ) -> UpsertResult:
        """One batch of a bulk import in ONE transaction: ``posts`` (:data:`POST_ARROW_SCHEMA`, one row per key),
        ``authors`` known only by name from the rows (platform, id, screen_name, fetched_at and maybe more columns:
        added when new, never over a stored author), ``profiles`` (authors with their counts, upserted: the newer
        fetch wins) and their edges."""
        profiles, interactions = list(profiles), list(interactions)  # a batch may be written twice

        def write(plain: bool) -> UpsertResult:
            result = self._merge_posts_as(posts, plain)
            if authors is not None and authors.num_rows:
                self._add_new_authors(authors)
            self._upsert_authors(profiles)
            self._add_interactions(interactions)
            return result

        return self._own_transaction(write, plain=self._fresh)

    def _merge_posts(self, batch: pa.Table) -> UpsertResult:
        """Write a batch with one key per row: new posts in one INSERT, a metrics snapshot where counts changed,
        and stored posts overwritten only from a strictly newer fetch (their ``created_at`` never moves).

        A bulk batch expected to hold new posts only (:meth:`_own_transaction`) is two plain INSERTs: no conflict
        handling, no join with the stored posts or snapshots, which grow with the warehouse (676k rows of
        bench_e2e's world: 15.4 → 7.8 CPU-s with the joins gone, → 6.2 with plain INSERTs; docs/benchmarks.md).
        Any other batch whose middle row is not stored yet inserts its new posts first (``ON CONFLICT DO
        NOTHING``): when all were new, no join either.  A batch whose middle row is stored (a re-import) is joined
        with the stored posts first, and inserts only when some are new.

        ``INSERT … ON CONFLICT DO UPDATE`` would insert and update in one statement, but DuckDB runs it ~12x slower
        than an UPDATE joined to the batch (100k newer rows: 3.7 vs 0.3 CPU-s, measured with DuckDB 2.0)."""
        if batch.num_rows == 0:
            return UpsertResult()
        con = self.con
        cols = ", ".join(POST_COLUMNS)
        snapshot = "SELECT b.platform, b.id, b.fetched_at, b.reposts_count, b.comments_count, b.attitudes_count"
        insert = f"INSERT INTO posts ({cols}, first_seen_at) SELECT {cols}, now() FROM _batch ON CONFLICT DO NOTHING"
        newer = "posts.platform = b.platform AND posts.id = b.id AND b.fetched_at > posts.fetched_at"
        stats = (
            "SELECT count(*) FILTER (WHERE posts.id IS NULL), count(*) FILTER (WHERE b.fetched_at > posts.fetched_at) "
            "FROM _batch b LEFT JOIN posts ON posts.platform = b.platform AND posts.id = b.id"
        )
        with registered(con, _batch=batch):
            if self._plain:  # new posts expected (:meth:`_own_transaction`): a stored key fails an INSERT
                con.execute(insert.removesuffix(" ON CONFLICT DO NOTHING"))
                con.execute(f"INSERT INTO post_metrics {snapshot} FROM _batch b")
                return UpsertResult(inserted=batch.num_rows)
            middle = batch.slice(batch.num_rows // 2, 1).select(["platform", "id"]).to_pylist()[0]
            known = con.execute("SELECT count(*) FROM posts WHERE platform = ? AND id = ?", list(middle.values()))
            self._fresh = False
            if known.fetchall()[0][0]:  # a batch of stored posts (a re-import): what is new is found by a join
                found = con.execute(stats).fetchall()[0]
                inserted, updated = int(found[0]), int(found[1])
                if inserted:
                    con.execute(insert)
            else:  # the new posts are inserted before anything else: a batch of new posts only needs no join
                inserted = int(con.execute(insert).fetchall()[0][0])
                self._fresh = inserted == batch.num_rows
                if self._fresh:  # no earlier snapshot exists for any of them
                    con.execute(f"INSERT INTO post_metrics {snapshot} FROM _batch b ON CONFLICT DO NOTHING")
                    return UpsertResult(inserted=inserted)
                # the rows just inserted hold the batch's fetched_at: not newer, so neither counted nor updated
                updated = int(con.execute(stats).fetchall()[0][1])
            # a metrics snapshot where counts differ from the latest one (or none yet)
            con.execute(
                f"""
                INSERT INTO post_metrics {snapshot}
                FROM _batch b
                LEFT JOIN (
                    SELECT platform, post_id, arg_max(reposts_count, fetched_at) AS r,
                           arg_max(comments_count, fetched_at) AS c, arg_max(attitudes_count, fetched_at) AS a,
                           max(fetched_at) AS f
                    FROM post_metrics pm SEMI JOIN _batch bb ON pm.platform = bb.platform AND pm.post_id = bb.id
                    GROUP BY platform, post_id
                ) m ON m.platform = b.platform AND m.post_id = b.id
                WHERE m.post_id IS NULL
                   OR (b.fetched_at > m.f AND (b.reposts_count <> m.r OR b.comments_count <> m.c
                                               OR b.attitudes_count <> m.a))
                ON CONFLICT DO NOTHING
                """
            )
            if updated:
                # LIST columns are rewritten only where they changed (an update of one is a delete + insert in
                # DuckDB), before the scalars: it is conditioned on the stored fetched_at
                list_changed = " OR ".join(f"b.{c} IS DISTINCT FROM posts.{c}" for c in _LIST_COLUMNS)
                list_sets = ", ".join(f"{c} = b.{c}" for c in _LIST_COLUMNS)
                con.execute(f"UPDATE posts SET {list_sets} FROM _batch b WHERE {newer} AND ({list_changed})")
                fixed = ("platform", "id", "created_at", *_LIST_COLUMNS)
                scalar_sets = ", ".join(f"{c} = b.{c}" for c in POST_COLUMNS if c not in fixed)
                con.execute(f"UPDATE posts SET {scalar_sets} FROM _batch b WHERE {newer}")
        return UpsertResult(inserted=inserted, updated=updated, unchanged=batch.num_rows - inserted - updated)

    # ------------------------------------------------------------------ authors / interactions
    def upsert_authors(self, authors: Iterable[Author] | pd.DataFrame) -> UpsertResult:
        """Upsert authors: :class:`Author` records, or a frame of their columns (the bulk path: checked column-wise,
        no record per row)."""
        with self.transaction():
            return self._upsert_authors(authors)

    @staticmethod
    def _author_rows(authors: Iterable[Author] | pd.DataFrame) -> pd.DataFrame:
        """Authors as rows of ``authors``' columns, checked, one per key (the newest fetch): what both backends
        write."""
        if isinstance(authors, pd.DataFrame):
            frame = _checked_frame(authors, AUTHOR_COLUMNS, "authors", {"platform": Platform}, ("id",))
            for col in ("followers_count", "friends_count", "statuses_count"):
                frame[col] = _counts(frame, col, "authors")
        else:
            frame = pd.DataFrame([a.model_dump(mode="python") for a in authors], columns=AUTHOR_COLUMNS)
            frame["platform"] = frame["platform"].map(lambda v: getattr(v, "value", v))  # a frame's: checked text
        if frame.empty:
            return frame
        frame["raw"] = _raw_texts(frame["raw"])
        frame["verified_type"] = frame["verified_type"].astype("Int64")
        for col in ("created_at", "fetched_at"):
            frame[col] = pd.to_datetime(frame[col], utc=True)
        frame = frame.sort_values("fetched_at", ascending=False, kind="stable").drop_duplicates(
            ["platform", "id"], keep="first"
        )
        return frame

    def _upsert_authors(self, authors: Iterable[Author] | pd.DataFrame) -> UpsertResult:
        frame = self._author_rows(authors)
        if frame.empty:
            return UpsertResult()
        con = self.con
        with registered(con, _authors=frame):
            row = con.execute(
                "SELECT count(*) FILTER (WHERE a.id IS NULL), count(*) FILTER (WHERE a.id IS NOT NULL AND "
                "b.fetched_at > a.fetched_at) FROM _authors b LEFT JOIN authors a "
                "ON a.platform = b.platform AND a.id = b.id"
            ).fetchall()[0]
            assert row is not None
            con.execute(
                """
                INSERT INTO author_metrics
                SELECT b.platform, b.id, b.fetched_at, b.followers_count FROM _authors b
                LEFT JOIN (SELECT platform, author_id, arg_max(followers_count, fetched_at) AS f, max(fetched_at) AS t
                           FROM author_metrics GROUP BY ALL) m
                  ON m.platform = b.platform AND m.author_id = b.id
                WHERE m.author_id IS NULL OR (b.fetched_at > m.t AND b.followers_count <> m.f)
                ON CONFLICT DO NOTHING
                """
            )
            cols = ", ".join(AUTHOR_COLUMNS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in AUTHOR_COLUMNS if c not in ("platform", "id"))
            con.execute(
                f"INSERT INTO authors ({cols}) SELECT {cols} FROM _authors "
                f"ON CONFLICT (platform, id) DO UPDATE SET {updates} WHERE excluded.fetched_at > authors.fetched_at"
            )
        inserted, updated = int(row[0]), int(row[1])
        return UpsertResult(inserted, updated, len(frame) - inserted - updated)

    def _add_new_authors(self, authors: pa.Table) -> None:
        """Authors known only from the posts naming them (platform, id, screen_name, fetched_at, and any of
        verified, verified_type, verified_reason, gender, location, raw): stored when new, with their first
        followers snapshot (0), never over a stored author; the other columns take the record's defaults."""
        given = set(authors.column_names)
        values = {c: c if c in given else default for c, default in NEW_AUTHOR_DEFAULTS.items()}
        con = self.con
        with registered(con, _new_authors=authors):
            con.execute(
                "INSERT INTO author_metrics SELECT a.platform, a.id, a.fetched_at, 0 FROM _new_authors a "
                "ANTI JOIN authors x ON x.platform = a.platform AND x.id = a.id "
                "ANTI JOIN author_metrics m ON m.platform = a.platform AND m.author_id = a.id ON CONFLICT DO NOTHING"
            )
            con.execute(
                f"INSERT INTO authors ({', '.join(values)}) SELECT {', '.join(values.values())} FROM _new_authors "
                "ON CONFLICT DO NOTHING"
            )

    def link_parent_authors(self, platforms: Iterable[Platform]) -> pd.DataFrame:
        """Set ``parent_author_id`` of stored comments/reposts whose parent is now stored with an author (files
        import in any order).  Returns the rows it set (platform, id, kind, author_id, parent_id, root_id,
        parent_author_id, created_at) so the caller can add their interaction edges."""
        names = sorted({Platform(p).value for p in platforms})
        if not names:
            return pd.DataFrame(columns=_LINK_COLUMNS)
        with self.transaction():
            # select first, then update: an UPDATE joining posts to itself skips rows whose parent it also updates
            found = self.con.execute(
                f"SELECT {', '.join('c.' + c for c in _LINK_COLUMNS[:-2])}, p.author_id AS parent_author_id, "
                "c.created_at FROM posts c JOIN posts p ON p.platform = c.platform AND p.id = c.parent_id "
                "WHERE c.platform IN (SELECT unnest(?::VARCHAR[])) AND c.kind <> 'post' "
                "AND c.parent_author_id IS NULL AND coalesce(p.author_id, '') <> ''",
                [names],
            ).df()
            if found.empty:
                return pd.DataFrame(columns=_LINK_COLUMNS)
            with registered(self.con, _links=found):
                self.con.execute(
                    "UPDATE posts SET parent_author_id = l.parent_author_id FROM _links l "
                    "WHERE posts.platform = l.platform AND posts.id = l.id"
                )
        return found[_LINK_COLUMNS]

    def known_authors(self, platform: Platform, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are stored authors of ``platform``."""
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        rows = self.con.execute(
            "SELECT id FROM authors WHERE platform = ? AND id IN (SELECT unnest(?::VARCHAR[]))",
            [Platform(platform).value, wanted],
        ).fetchall()
        return {str(r[0]) for r in rows}

    def add_interactions(self, interactions: Iterable[Interaction] | pd.DataFrame) -> int:
        """Add edges: :class:`Interaction` records, or a frame of their columns (the bulk path)."""
        with self.transaction():
            return self._add_interactions(interactions)

    @staticmethod
    def _interaction_rows(interactions: Iterable[Interaction] | pd.DataFrame) -> pd.DataFrame:
        """Edges as rows of ``interactions``' columns, checked, one per key: what both backends write."""
        cols = list(Interaction.model_fields)
        if isinstance(interactions, pd.DataFrame):
            kinds = {"platform": Platform, "kind": InteractionKind}
            frame = _checked_frame(interactions, cols, "interactions", kinds, ("source_author_id", "target_author_id"))
        else:
            frame = pd.DataFrame([i.model_dump(mode="python") for i in interactions], columns=cols)
            for col in ("platform", "kind"):  # a frame's are checked text already
                frame[col] = frame[col].map(lambda v: getattr(v, "value", v))
        if frame.empty:
            return frame
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        frame = frame.drop_duplicates(["platform", "kind", "source_author_id", "target_author_id", "post_id"])
        return frame

    def _add_interactions(self, interactions: Iterable[Interaction] | pd.DataFrame) -> int:
        frame = self._interaction_rows(interactions)
        if frame.empty:
            return 0
        cols = list(frame.columns)
        before = self._count("interactions")
        with registered(self.con, _edges=frame):
            self.con.execute(
                f"INSERT INTO interactions ({', '.join(cols)}) SELECT {', '.join(cols)} FROM _edges "
                "ON CONFLICT DO NOTHING"
            )
        return self._count("interactions") - before

    # ------------------------------------------------------------------ ingest + checkpoints
    def ingest(
        self,
        *,
        posts: Iterable[Post] = (),
        authors: Iterable[Author] = (),
        interactions: Iterable[Interaction] = (),
        checkpoint: Checkpoint | None = None,
    ) -> UpsertResult:
        """Write a collected page and its checkpoint in ONE transaction."""
        with self.transaction():
            result = self._upsert_posts_frame(self.posts_to_frame(posts))
            self._upsert_authors(authors)
            self._add_interactions(interactions)
            if checkpoint is not None:
                self.con.execute(
                    "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, now()) ON CONFLICT (platform, scope) DO UPDATE "
                    "SET cursor = excluded.cursor, since = excluded.since, until = excluded.until, "
                    "updated_at = excluded.updated_at",
                    [
                        checkpoint.platform.value,
                        checkpoint.scope,
                        checkpoint.cursor,
                        checkpoint.since,
                        checkpoint.until,
                    ],
                )
        return result

    def get_checkpoint(self, platform: Platform, scope: str) -> Checkpoint | None:
        rows = self.con.execute(
            "SELECT cursor, since, until, updated_at FROM checkpoints WHERE platform = ? AND scope = ?",
            [platform.value, scope],
        ).fetchall()
        if not rows:
            return None
        row = rows[0]
        return Checkpoint(platform, scope, row[0], row[1], row[2], row[3])

    # ------------------------------------------------------------------ CRM
    def upsert_customers(self, customers: Iterable[Customer], hmac_key: bytes, *, source: str = "") -> int:
        """Clear values go to ``customers`` only; keyed hashes go to ``customer_identifiers``.

        A customer's identifiers are replaced, not added to (a changed phone leaves no old hash), and the key
        must be the one the stored hashes were made with (:func:`store.crm.rotate_key` changes it).
        """
        from yuqing.store.crm import check_key_fingerprint, record_key
        from yuqing.store.pii import customer_identifiers

        check_key_fingerprint(self, hmac_key)
        rows: list[tuple[Any, ...]] = []
        idents: list[tuple[str, str, str]] = []
        for c in customers:
            rows.append((c.customer_id, c.name, c.phone, c.email, c.city, c.registered_at, _json(c.handles)))
            idents.extend(customer_identifiers(c, hmac_key))
        customers_df = pd.DataFrame(
            rows, columns=["customer_id", "name", "phone", "email", "city", "registered_at", "handles"]
        ).drop_duplicates("customer_id", keep="last")
        customers_df["registered_at"] = pd.to_datetime(customers_df["registered_at"], utc=True)
        idents_df = pd.DataFrame(idents, columns=["customer_id", "kind", "value"]).drop_duplicates()
        # bulk statements over registered frames: executemany is row-at-a-time in DuckDB
        with self.transaction():
            record_key(self, hmac_key)
            with registered(self.con, _customers=customers_df, _idents=idents_df):
                if rows:
                    self.con.execute(
                        "INSERT INTO customers (customer_id, name, phone, email, city, registered_at, handles, "
                        "updated_at, source) SELECT customer_id, name, phone, email, city, registered_at, "
                        "handles::JSON, now(), ? FROM _customers ON CONFLICT (customer_id) DO UPDATE SET "
                        "name = excluded.name, phone = excluded.phone, email = excluded.email, city = excluded.city, "
                        "registered_at = excluded.registered_at, handles = excluded.handles, updated_at = now(), "
                        "source = excluded.source",
                        [source or None],
                    )
                    self.con.execute(
                        "DELETE FROM customer_identifiers WHERE customer_id IN (SELECT customer_id FROM _customers)"
                    )
                if idents:
                    self.con.execute("INSERT INTO customer_identifiers SELECT * FROM _idents ON CONFLICT DO NOTHING")
        return len(rows)

    row_id = "rowid"
    """How the engine names a row's address (forgetting a customer rewrites single rows: store/crm.py)."""

    def columns(self) -> list[tuple[str, str, str]]:
        """``(table, column, type)`` of every column of the warehouse's tables, types as DuckDB spells them."""
        rows = self.con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE NOT internal ORDER BY 1, 2"
        ).fetchall()
        return [(str(t), str(c), str(d)) for t, c, d in rows]

    @staticmethod
    def _sql_type(declared: str) -> str:
        """How this engine spells a type of store/tables.py (DuckDB: as declared; PostgreSQL maps it)."""
        return declared

    def _cast(self, decl: Table, cols: Iterable[str]) -> str:
        """The SELECT list writing a frame's ``cols`` into declared table ``decl``: each cast to its type."""
        return ", ".join(f"CAST({c} AS {self._sql_type(decl.column(c).type)})" for c in cols)

    def _upsert_declared(self, table: str, frame: pd.DataFrame) -> int:
        """Upsert ``frame`` into an ingest table by its declared key (store/tables.py), values cast to the declared
        types; inside the frame the last row of a key wins.  Returns the rows written."""
        decl = TABLES[table]
        frame = frame.drop_duplicates(list(decl.key), keep="last").copy()
        cols = [c for c in decl.names if c in frame.columns]
        for c in cols:
            if decl.column(c).type == "TIMESTAMPTZ":  # aware datetimes of mixed zones arrive as objects
                frame[c] = pd.to_datetime(frame[c], utc=True)
        values = self._cast(decl, cols)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in decl.key)
        with self.transaction(), registered(self.con, _rows=frame[cols]):
            self.con.execute(
                f"INSERT INTO {table} ({', '.join(cols)}) SELECT {values} FROM _rows "
                f"ON CONFLICT ({', '.join(decl.key)}) DO UPDATE SET {updates}"
            )
        return len(frame)

    def add_orders(self, orders: Iterable[Order]) -> int:
        """Upsert orders by id (a re-import corrects amounts and dates)."""
        frame = pd.DataFrame(
            [(o.order_id, o.customer_id, str(o.amount), o.ordered_at, o.product, o.channel) for o in orders],
            columns=["order_id", "customer_id", "amount", "ordered_at", "product", "channel"],
        )
        return self._upsert_declared("orders", frame) if len(frame) else 0

    def add_tickets(self, tickets: Iterable[Ticket]) -> int:
        """Upsert tickets by id (a re-import updates the status)."""
        frame = pd.DataFrame(
            [(t.ticket_id, t.customer_id, t.opened_at, t.category, t.status, t.is_open) for t in tickets],
            columns=["ticket_id", "customer_id", "opened_at", "category", "status", "is_open"],
        )
        return self._upsert_declared("tickets", frame) if len(frame) else 0

    @staticmethod
    def _link_rows(links: Iterable[CustomerAccountLink]) -> pd.DataFrame:
        """New links as the frame both backends' :meth:`add_links` insert from (``linked_at`` in UTC)."""
        rows = [
            (lk.customer_id, lk.platform.value, lk.author_id, lk.method.value, lk.confidence, lk.linked_at, lk.note)
            for lk in links
        ]
        frame = pd.DataFrame(
            rows, columns=["customer_id", "platform", "author_id", "method", "confidence", "linked_at", "note"]
        )
        frame["linked_at"] = pd.to_datetime(frame["linked_at"], utc=True)
        return frame

    def add_links(self, links: Iterable[CustomerAccountLink], *, command: str = "") -> int:
        """Append to the audit table; a link identical to the current one for the same triple is not repeated.

        Each row records its evidence (``note``), the CRM file the customer came from and ``command``.
        """
        frame = self._link_rows(links)
        if frame.empty:
            return 0
        before = self._count("customer_links")
        with self.transaction(), registered(self.con, _links=frame):
            self.con.execute(
                """
                    INSERT INTO customer_links (customer_id, platform, author_id, method, confidence, linked_at, note,
                                                source, command)
                    SELECT n.customer_id, n.platform, n.author_id, n.method, n.confidence, n.linked_at, n.note,
                           (SELECT c.source FROM customers c WHERE c.customer_id = n.customer_id), ?
                    FROM _links n LEFT JOIN (
                        SELECT customer_id, platform, author_id, arg_max(method, seq) AS method,
                               arg_max(confidence, seq) AS confidence
                        FROM customer_links GROUP BY ALL
                    ) cur USING (customer_id, platform, author_id)
                    WHERE cur.method IS NULL OR cur.method <> n.method OR cur.confidence <> n.confidence
                    """,
                [command or None],
            )
        return self._count("customer_links") - before

    def campaign_customers(self, hashtags: Sequence[str], since: dt.datetime, until: dt.datetime) -> CampaignCustomers:
        """The CRM side of a campaign: who took part, every customer and every order (no clear PII).

        A participating account posted between ``since`` and ``until`` (exclusive) a post carrying one of
        ``hashtags`` (in its topics or as ``#tag#`` in its text), or reposted or commented on such a post
        (its root or parent) in that time; participants are the customers currently linked to one.
        """
        empty = CampaignCustomers(
            participants=pd.DataFrame(columns=["customer_id", "platform", "author_id", "actions", "method"]),
            customers=pd.DataFrame(columns=["customer_id", "registered_at"]),
            orders=pd.DataFrame(columns=["customer_id", "amount", "ordered_at"]),
            accounts=0,
        )
        if not hashtags:
            return empty
        tags = [str(h).strip("#") for h in hashtags]
        in_text = " OR ".join("strpos(text, ?) > 0" for _ in tags)  # SQL both backends speak (store/postgres.py)
        accounts = self.query(
            f"""
            WITH tagged AS (
                SELECT platform, id, author_id FROM posts
                WHERE created_at >= ? AND created_at < ? AND (topics && ?::TEXT[] OR {in_text})
            ), acts AS (
                SELECT platform, author_id FROM tagged
                UNION ALL
                SELECT p.platform, p.author_id FROM posts p
                    JOIN tagged t ON p.platform = t.platform AND p.root_id = t.id
                WHERE p.created_at >= ? AND p.created_at < ?
                UNION ALL
                SELECT p.platform, p.author_id FROM posts p JOIN tagged t ON p.platform = t.platform
                    AND p.parent_id = t.id AND p.root_id IS DISTINCT FROM t.id
                WHERE p.created_at >= ? AND p.created_at < ?
            )
            SELECT platform, author_id, count(*) AS actions FROM acts WHERE author_id IS NOT NULL
            GROUP BY platform, author_id
            """,
            [since, until, tags, *[f"#{t}#" for t in tags], since, until, since, until],
        )
        links = self.customer_links_current()
        participants = accounts.merge(
            links[["customer_id", "platform", "author_id", "method"]], on=["platform", "author_id"]
        )
        return CampaignCustomers(
            participants=participants[["customer_id", "platform", "author_id", "actions", "method"]].reset_index(
                drop=True
            ),
            customers=self.query("SELECT customer_id, registered_at FROM customers ORDER BY customer_id"),
            orders=self.query("SELECT customer_id, amount::FLOAT8 AS amount, ordered_at FROM orders"),
            accounts=len(accounts),
        )

    def customer_links_current(self) -> pd.DataFrame:
        """Latest link per (customer, platform, author), with its method and confidence."""
        return self.query(
            "SELECT customer_id, platform, author_id, arg_max(method, seq) AS method, "
            "arg_max(confidence, seq) AS confidence, max(linked_at) AS linked_at "
            "FROM customer_links GROUP BY customer_id, platform, author_id ORDER BY customer_id"
        )

    # ------------------------------------------------------------------ graph reads (bounded by authors/edges)
    def interaction_edges(
        self, *, since: dt.datetime | None = None, until: dt.datetime | None = None, kinds: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Author → author edges aggregated in SQL: one row per (platform, source, target, kind) with ``n``
        interactions and ``weight`` (their summed stored weights) — as many rows as distinct edges, not posts.

        Mentions are made here: each ``@name`` in a post's ``at_users`` becomes a ``mention`` interaction on the
        one author of that platform with that screen name, when the name is known and not ambiguous (two accounts
        shown as "张**" resolve to neither), once per (post, target) and never twice with a stored mention.
        Authors are keyed by their stored id, never by name.  Ordered by the key, so a graph built from the
        rows does not depend on storage order.  (SQL both backends speak: store/postgres.py inherits it.)
        """
        return self.query(*self._interaction_edges_sql(since, until, kinds))

    def interaction_edge_batches(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        kinds: Sequence[str] = (),
        batch_rows: int = 100_000,
    ) -> Iterator[pd.DataFrame]:
        """:meth:`interaction_edges`, the same rows in the same order, fetched ``batch_rows`` at a time (rounded up
        to DuckDB's 2,048-row vectors): the graph stage builds its arrays batch by batch and never holds the
        edges as one frame of strings, nor DuckDB's whole result beside it."""
        sql, params = self._interaction_edges_sql(since, until, kinds)
        cursor = self.con.execute(sql, params)
        vectors = max(1, -(-batch_rows // 2048))
        while True:
            chunk = cursor.fetch_df_chunk(vectors)
            if chunk.empty:
                return
            self.rows_fetched += len(chunk)
            yield chunk

    def interaction_edge_codes(
        self, *, since: dt.datetime | None = None, until: dt.datetime | None = None, kinds: Sequence[str] = ()
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:meth:`interaction_edges` with the authors as integers: ``nodes`` (``platform, author_id``: author code
        ``i`` is row ``i``) and ``edges`` (``src``, ``dst`` codes, ``kind`` categorical, ``weight``), the same rows
        in the same order as :meth:`interaction_edges`.  Only one string key per author crosses into Python, not
        two per edge row: on DuckDB the edges are aggregated into a temporary table, the authors numbered in key
        order there and the rows returned as numbers (ordered by codes, which is the key order)."""
        if not isinstance(self.con, duckdb.DuckDBPyConnection):
            return self.edge_codes_from_batches(self.interaction_edge_batches(since=since, until=until, kinds=kinds))
        sql, params = self._interaction_edges_sql(since, until, kinds, ordered=False)
        con = self.con
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _graph_edges AS {sql}", params)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _graph_nodes AS SELECT platform, author_id, "
                "(row_number() OVER (ORDER BY platform, author_id) - 1)::BIGINT AS i FROM ("
                "SELECT platform, source_author_id AS author_id FROM _graph_edges "
                "UNION SELECT platform, target_author_id FROM _graph_edges)"
            )
            nodes = self.query("SELECT platform, author_id FROM _graph_nodes ORDER BY i")
            kind_names = [r[0] for r in con.execute("SELECT DISTINCT kind FROM _graph_edges ORDER BY kind").fetchall()]
            arrays = con.execute(
                "SELECT s.i AS src, t.i AS dst, (list_position(?::VARCHAR[], e.kind) - 1)::TINYINT AS k, e.weight "
                "FROM _graph_edges e "
                "JOIN _graph_nodes s ON s.platform = e.platform AND s.author_id = e.source_author_id "
                "JOIN _graph_nodes t ON t.platform = e.platform AND t.author_id = e.target_author_id "
                "ORDER BY src, dst, k",  # = platform, source, target, kind: codes number the keys in their order
                [kind_names],
            ).fetchnumpy()
        finally:
            con.execute("DROP TABLE IF EXISTS _graph_edges")
            con.execute("DROP TABLE IF EXISTS _graph_nodes")
        edges = pd.DataFrame(
            {
                "src": arrays["src"].astype(np.int64, copy=False),
                "dst": arrays["dst"].astype(np.int64, copy=False),
                "kind": pd.Categorical.from_codes(arrays["k"].astype(np.int8, copy=False), categories=kind_names),
                "weight": arrays["weight"].astype(np.float64, copy=False),
            }
        )
        self.rows_fetched += len(edges) + len(kind_names)
        return nodes, edges

    @staticmethod
    def edge_codes_from_batches(batches: Iterable[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:meth:`interaction_edge_codes` from rows of :meth:`interaction_edge_batches` (a backend without the
        temporary-table path, or any batches of aggregated edges): authors numbered in order of first appearance,
        only one batch's strings held at a time; what is kept between batches is the author keys and three numbers
        per edge row."""
        known = pd.Index([], dtype=object)  # "platform\x1fauthor_id" of every author so far, by code
        platforms: list[np.ndarray] = []
        authors: list[np.ndarray] = []
        parts: list[pd.DataFrame] = []
        for batch in batches:
            if batch.empty:
                continue
            platform = np.repeat(batch["platform"].astype(str).to_numpy(dtype=object), 2)
            author = np.column_stack(
                [
                    batch["source_author_id"].astype(str).to_numpy(dtype=object),
                    batch["target_author_id"].astype(str).to_numpy(dtype=object),
                ]
            ).ravel()
            keys = platform + "\x1f" + author
            codes = known.get_indexer(keys)
            fresh = codes < 0
            if fresh.any():
                codes_new, new_keys = pd.factorize(keys[fresh])  # in order of appearance, no sort of strings
                _, first = np.unique(codes_new, return_index=True)
                at = np.flatnonzero(fresh)[first]
                known = known.append(pd.Index(new_keys, dtype=object))
                platforms.append(platform[at])
                authors.append(author[at])
                codes = known.get_indexer(keys)
            pairs = codes.astype(np.int64).reshape(-1, 2)
            parts.append(
                pd.DataFrame(
                    {
                        "src": pairs[:, 0],
                        "dst": pairs[:, 1],
                        "kind": batch["kind"].astype(str).to_numpy(dtype=object),
                        "weight": batch["weight"].to_numpy(dtype=np.float64),
                    }
                )
            )
        nodes = pd.DataFrame(
            {
                "platform": np.concatenate(platforms) if platforms else np.zeros(0, dtype=object),
                "author_id": np.concatenate(authors) if authors else np.zeros(0, dtype=object),
            }
        )
        empty = pd.DataFrame({"src": np.zeros(0, np.int64), "dst": np.zeros(0, np.int64), "kind": [], "weight": 0.0})
        edges = pd.concat(parts, ignore_index=True) if parts else empty
        return nodes, edges.astype({"kind": "category"})

    @staticmethod
    def _interaction_edges_sql(
        since: dt.datetime | None, until: dt.datetime | None, kinds: Sequence[str], *, ordered: bool = True
    ) -> tuple[str, list[Any]]:
        where, params = _period(since, until)
        if kinds:
            where.append("kind IN (SELECT unnest(?::VARCHAR[]))")
            params.append([str(getattr(k, "value", k)) for k in kinds])
        key = "platform, kind, source_author_id, target_author_id, post_id"
        sql = f"""
            WITH named AS (
                SELECT platform, screen_name, min(id) AS id FROM authors WHERE coalesce(screen_name, '') <> ''
                GROUP BY platform, screen_name HAVING count(*) = 1
            ), said AS (
                SELECT platform, author_id, id AS post_id, created_at, unnest(at_users) AS name FROM posts
                WHERE coalesce(author_id, '') <> ''
            ), mentions AS (
                SELECT s.platform, 'mention' AS kind, s.author_id AS source_author_id, n.id AS target_author_id,
                       s.post_id, min(s.created_at) AS created_at, 1.0::FLOAT8 AS weight
                FROM said s JOIN named n ON n.platform = s.platform AND n.screen_name = s.name
                WHERE n.id <> s.author_id
                GROUP BY s.platform, s.author_id, n.id, s.post_id
            ), edge_rows AS (
                SELECT {key}, created_at, weight FROM interactions
                UNION ALL
                SELECT {key}, created_at, weight FROM mentions m WHERE NOT EXISTS (
                    SELECT 1 FROM interactions i WHERE i.platform = m.platform AND i.kind = m.kind
                    AND i.source_author_id = m.source_author_id AND i.target_author_id = m.target_author_id
                    AND i.post_id = m.post_id)
            )
            SELECT platform, source_author_id, target_author_id, kind, count(*) AS n, sum(weight) AS weight
            FROM edge_rows WHERE {" AND ".join(where)}
            GROUP BY platform, source_author_id, target_author_id, kind
        """
        if ordered:
            sql += " ORDER BY platform, source_author_id, target_author_id, kind"
        return sql, params

    def repost_cascades(self) -> pd.DataFrame:
        """Per original author: reposts received across their posts' cascades (``cascade_size``) and the deepest
        repost chain (``cascade_depth``; a repost of the post itself is depth 1) — one row per author, in SQL."""
        return self.query(
            """
            WITH RECURSIVE rp AS (SELECT platform, id, parent_id, root_id FROM posts WHERE kind = 'repost'),
            depth(platform, id, d) AS (
                SELECT r.platform, r.id, 1 FROM rp r WHERE NOT EXISTS (
                    SELECT 1 FROM rp q WHERE q.platform = r.platform AND q.id = r.parent_id)
                UNION ALL
                SELECT c.platform, c.id, depth.d + 1 FROM rp c
                JOIN depth ON c.platform = depth.platform AND c.parent_id = depth.id
                WHERE depth.d < 100000
            ), per_root AS (
                SELECT r.platform, r.root_id, count(*) AS size, max(depth.d) AS d
                FROM rp r LEFT JOIN depth USING (platform, id) WHERE r.root_id IS NOT NULL
                GROUP BY r.platform, r.root_id
            )
            SELECT o.platform, o.author_id, sum(size)::BIGINT AS cascade_size,
                   coalesce(max(d), 0)::BIGINT AS cascade_depth
            FROM per_root JOIN posts o ON o.platform = per_root.platform AND o.id = per_root.root_id
            WHERE o.kind = 'post' AND o.author_id IS NOT NULL
            GROUP BY o.platform, o.author_id ORDER BY o.platform, o.author_id
            """
        )

    def author_profiles(self) -> pd.DataFrame:
        """``platform, id, screen_name, followers_count, verified`` of every stored author."""
        return self.query(
            "SELECT platform, id, screen_name, followers_count, verified FROM authors ORDER BY platform, id"
        )

    def community_profiles(self, members: pd.DataFrame, *, top_words: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
        """What each community's members posted, aggregated in SQL over ``members`` (platform, author_id,
        community): its ``top_words`` keywords (``community, word, n``; ties by word) and its posts by polarity
        (``community, polarity, n``; polarity NULL for posts not analysed) — rows per community, not per post.
        (SQL both backends speak: store/postgres.py inherits it.)"""
        base = """
            WITH member_posts AS (
                SELECT m.community, a.keywords, a.polarity
                FROM posts p JOIN _members m ON m.platform = p.platform AND m.author_id = p.author_id
                LEFT JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id
            )"""
        with registered(self.con, _members=members[["platform", "author_id", "community"]]):
            words = self.query(
                base
                + """, words AS (
                    SELECT community, unnest(regexp_split_to_array(trim(keywords), '\\s+')) AS word
                    FROM member_posts WHERE keywords IS NOT NULL
                ), counted AS (
                    SELECT community, word, count(*) AS n,
                           row_number() OVER (PARTITION BY community ORDER BY count(*) DESC, word) AS r
                    FROM words WHERE word <> '' GROUP BY community, word)
                SELECT community, word, n FROM counted WHERE r <= ? ORDER BY community, n DESC, word""",
                [top_words],
            )
            polarity = self.query(
                base + " SELECT community, polarity, count(*) AS n FROM member_posts GROUP BY community, polarity "
                "ORDER BY community, polarity"
            )
        return words, polarity

    def author_posts(self, authors: pd.DataFrame) -> pd.DataFrame:
        """Posts of the given authors (``platform, author_id`` rows) with ``created_at`` and their analysis's
        ``sentiment`` (NULL when not analysed) and ``complaint`` (false when not analysed) — a few accounts' posts,
        never the corpus."""
        with registered(self.con, _wanted=authors[["platform", "author_id"]].drop_duplicates()):
            return self.query(
                "SELECT p.platform, p.id, p.author_id, p.created_at, a.sentiment, "
                "coalesce(a.complaint, false) AS complaint FROM posts p "
                "LEFT JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id WHERE EXISTS ("
                "SELECT 1 FROM _wanted w WHERE w.platform = p.platform AND w.author_id = p.author_id) "
                "ORDER BY p.platform, p.id"  # EXISTS, not DuckDB's SEMI JOIN: SQL both backends speak
            )

    # ------------------------------------------------------------------ alert delivery outbox
    def enqueue_deliveries(self, rows: pd.DataFrame) -> int:
        """Add outbox rows (``DELIVERY_COLUMNS``); a key already queued is left as it is.  Returns rows added."""
        if rows.empty:
            return 0
        before = self._count("alert_deliveries")
        with self.transaction(), registered(self.con, _deliveries=rows[DELIVERY_COLUMNS]):
            self.con.execute("INSERT INTO alert_deliveries SELECT * FROM _deliveries ON CONFLICT DO NOTHING")
        return self._count("alert_deliveries") - before

    def deliveries(self, states: Sequence[str] = ()) -> pd.DataFrame:
        """Outbox rows, oldest first (all states, or only ``states``)."""
        where = f"WHERE state IN ({', '.join('?' for _ in states)})" if states else ""
        return self.query(f"SELECT * FROM alert_deliveries {where} ORDER BY created_at, key", list(states))

    def record_delivery(
        self, key: str, *, state: str, error: str | None, next_attempt_at: Any, attempts: int = 1
    ) -> None:
        """The outcome of ``attempts`` attempts (0: a state change without one, such as expiry)."""
        self.con.execute(
            "UPDATE alert_deliveries SET state = ?, last_error = coalesce(?, last_error), next_attempt_at = ?, "
            "attempts = attempts + ?, delivered_at = CASE WHEN ? = 'delivered' THEN now() ELSE delivered_at END "
            "WHERE key = ?",
            [state, error, next_attempt_at, attempts, state, key],
        )

    # ------------------------------------------------------------------ queries / analysis tables
    rows_fetched = 0
    """Rows this connection has returned through :meth:`query` and the typed reads built on it (a stage's
    memory bound is checked against it)."""

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        frame = self.con.execute(sql, params).df() if params is not None else self.con.execute(sql).df()
        self.rows_fetched += len(frame)
        return frame

    def posts_frame(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        platforms: Sequence[Platform] | None = None,
        kinds: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        where, params = _period(since, until)
        if platforms:
            where.append(f"platform IN ({', '.join('?' for _ in platforms)})")
            params.extend(p.value for p in platforms)
        if kinds:
            where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            params.extend(str(getattr(k, "value", k)) for k in kinds)
        allowed = set(POST_COLUMNS) | {"first_seen_at"}
        cols = list(columns) if columns else POST_COLUMNS
        bad = [c for c in cols if c not in allowed]
        if bad:
            raise StoreError(f"unknown post column(s): {bad}")
        sql = f"SELECT {', '.join(cols)} FROM posts WHERE {' AND '.join(where)} ORDER BY created_at"
        return self.query(sql, params)

    def report_posts(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        complaints_only: bool = False,
        text: bool = False,
        linked_only: bool = False,
    ) -> pd.DataFrame:
        """Posts of ``since <= created_at < until`` with their analysis, topic and author's followers, oldest first:
        the per-post frame reports compute from (``reports.data.load_frames``; columns listed there).  With
        ``linked_only`` only the posts of accounts linked to a customer and only the columns the brand report's CRM
        sections read: ``platform, id, kind, created_at, author_id, sentiment, complaint, complaint_category,
        brands``.

        Lean on purpose: no ``text`` unless asked (:meth:`post_texts` reads the few shown); the list columns
        ``topics`` and ``brands`` arrive as one string joined by U+001F (a numpy array of Python strings per row
        cost ~1 KB a post); fetched in chunks of ~20k rows, so DuckDB's result and the frame are never both whole.
        """
        where, params = _period(since, until)
        where = [w.replace("created_at", "p.created_at") for w in where]
        cols = (
            "a.sentiment, a.polarity, coalesce(a.complaint, false) AS complaint, a.complaint_category, a.emotion, "
            "a.keywords, array_to_string(a.brands, chr(31)) AS brands, a.brand_sentiment, t.topic, t.topic_label"
        )
        join = "LEFT JOIN post_analysis a USING (platform, id) LEFT JOIN post_topics t USING (platform, id)"
        if complaints_only:
            where.append("a.complaint")
        if linked_only:
            where.append(
                "EXISTS (SELECT 1 FROM customer_links l WHERE l.platform = p.platform AND l.author_id = p.author_id)"
            )
            # what the CRM sections read (complaints without a ticket, churn), nothing more: every column joined
            # from post_analysis is carried through DuckDB's join over the whole table (at 400k posts the read
            # peaked at +290 MB with all of them, +115 MB with these)
            cols = (
                "a.sentiment, coalesce(a.complaint, false) AS complaint, a.complaint_category, "
                "array_to_string(a.brands, chr(31)) AS brands"
            )
            sql = (
                "SELECT p.platform, p.id, p.kind, p.created_at, p.author_id, "
                + ("p.text, " if text else "")
                + f"{cols} FROM posts p {self._analysis_by_post} "
                f"WHERE {' AND '.join(where)} ORDER BY p.created_at"
            )
            return self._chunked_frame(sql, params)
        sql = (
            "SELECT p.platform, p.id, p.kind, p.created_at, p.author_id, p.author_name, "
            + ("p.text, " if text else "")
            + "p.reposts_count, p.comments_count, p.attitudes_count, array_to_string(p.topics, chr(31)) AS topics, "
            f"coalesce(u.followers_count, 0) AS followers, {cols} FROM posts p {join} "
            "LEFT JOIN authors u ON u.platform = p.platform AND u.id = p.author_id "
            f"WHERE {' AND '.join(where)} ORDER BY p.created_at"
        )
        return self._chunked_frame(sql, params)

    _analysis_by_post = "LEFT JOIN post_analysis a USING (platform, id)"
    """How a read of a few accounts' posts ``p`` joins their analyses ``a`` (store/postgres.py probes them)."""

    def _chunked_frame(self, sql: str, params: list[Any]) -> pd.DataFrame:
        cursor = self.con.execute(sql, params)
        parts: list[pd.DataFrame] = []
        while True:
            chunk = cursor.fetch_df_chunk(10)  # 10 vectors of 2,048 rows
            if chunk.empty:
                break
            parts.append(chunk)
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else (parts[0] if parts else chunk)
        self.rows_fetched += len(frame)
        return frame

    def post_texts(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Texts of the given posts by ``(platform, id)``: the few a report shows, fetched when shown (the
        report's per-post frame carries no text)."""
        wanted = {(str(p), str(i)) for p, i in keys}
        if not wanted:
            return {}
        ids = sorted({i for _p, i in wanted})
        frame = self.query(f"SELECT platform, id, text FROM posts WHERE id IN ({', '.join('?' for _ in ids)})", ids)
        return {
            (str(p), str(i)): str(t or "")
            for p, i, t in zip(frame["platform"], frame["id"], frame["text"], strict=True)
            if (str(p), str(i)) in wanted
        }

    # ------------------------------------------------------------------ derived tables (store/tables.py)
    def _declared(self, table: str, frame: pd.DataFrame | pa.Table | None = None) -> Table:
        """The declaration of ``table``; a frame to write must hold its key and only declared columns."""
        decl = TABLES.get(table)
        if decl is None or not decl.derived:
            raise StoreError(f"{table!r} is not a derived table of the warehouse contract (store/tables.py)")
        if frame is not None:
            names = frame.column_names if isinstance(frame, pa.Table) else list(frame.columns)
            unknown = [c for c in names if c not in decl.names]
            if unknown:
                raise StoreError(f"table {table}: column(s) {unknown} are not declared in store/tables.py")
            missing = [k for k in decl.key if k not in names]
            if missing:
                raise StoreError(f"table {table}: the frame lacks key column(s) {missing}")
        return decl

    @staticmethod
    def _encoded(decl: Table, frame: pd.DataFrame) -> pa.Table:
        """The frame as Arrow columns of its declared types, JSON columns as JSON text (the one place values are
        encoded; :meth:`read_table` decodes).  Typed here, not guessed by the engine from a sample of the rows: a
        window where few posts name a brand made DuckDB read ``brands`` as a list of NULL and refuse it."""
        out = frame.copy()
        for c in decl.json_columns:
            if c in out.columns:
                out[c] = [v if v is None or isinstance(v, str) else encode_json(v) for v in out[c]]
        schema = pa.schema([(c, _ARROW_TYPES[decl.column(c).type.split("(")[0]]) for c in out.columns])
        return pa.Table.from_pandas(out, schema=schema, preserve_index=False)

    def write_frame(self, table: str, frame: pd.DataFrame) -> int:
        """Upsert rows of a derived table by its declared key, in one transaction.  Columns the frame lacks
        keep their stored values (a new row gets NULL)."""
        decl = self._declared(table, frame)
        if frame.empty:
            return 0
        with self.transaction():
            return self._write_rows(decl, self._encoded(decl, frame))

    def _write_rows(self, decl: Table, rows: pa.Table, *, stamp: str = "", plain: bool = False) -> int:
        """Upsert Arrow ``rows`` of declared table ``decl`` by its key (with ``plain``, a plain INSERT: rows known
        to be new); ``stamp`` names a TIMESTAMPTZ column set to now."""
        names = rows.column_names
        values = self._cast(decl, names)
        if stamp:
            names, values = [*names, stamp], f"{values}, CAST(? AS TIMESTAMPTZ)"
        sql = f"INSERT INTO {decl.name} ({', '.join(names)}) SELECT {values} FROM _frame"
        if not plain:
            non_key = [c for c in names if c not in decl.key]
            action = "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in non_key) if non_key else "DO NOTHING"
            sql += f" ON CONFLICT ({', '.join(decl.key)}) {action}"
        with registered(self.con, _frame=rows):
            self.con.execute(sql, [pd.Timestamp.now(tz="UTC").to_pydatetime()] if stamp else None)
        return rows.num_rows

    def replace_frame(self, table: str, frame: pd.DataFrame) -> int:
        """Replace a derived table's rows wholesale (leaders, communities…), in one transaction."""
        decl = self._declared(table, frame)
        rows = self._encoded(decl, frame)
        with self.transaction():
            self.con.execute(f"DELETE FROM {table}")
            if rows.num_rows:
                cols = ", ".join(rows.column_names)
                with registered(self.con, _frame=rows):
                    self.con.execute(
                        f"INSERT INTO {table} ({cols}) SELECT {self._cast(decl, rows.column_names)} FROM _frame"
                    )
        return rows.num_rows

    def read_table(self, table: str, *, decode_json: bool = False) -> pd.DataFrame:
        """A derived table or ``tickets`` whole, columns in declared order; with ``decode_json`` JSON columns
        arrive as Python values, else as JSON text."""
        decl = TABLES.get(table)
        if decl is None or not (decl.derived or table == "tickets"):
            raise StoreError(f"{table!r} is not a table read whole (store/tables.py)")
        frame = self.query(f"SELECT {', '.join(decl.names)} FROM {table}")
        if decode_json:
            for c in decl.json_columns:
                frame[c] = [json.loads(v) if isinstance(v, str) else v for v in frame[c]]
        return frame

    # ------------------------------------------------------------------ what the stages read and write
    def has_customers(self) -> bool:
        return bool(self.con.execute("SELECT EXISTS (SELECT 1 FROM customers)").fetchall()[0][0])

    def post_span(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """Times of the first and last post (UTC), or None when there is none."""
        lo, hi = self.con.execute("SELECT min(created_at), max(created_at) FROM posts").fetchall()[0]
        if lo is None:
            return None
        return pd.Timestamp(lo).tz_convert("UTC"), pd.Timestamp(hi).tz_convert("UTC")

    def data_end(self) -> pd.Timestamp | None:
        """The latest of the last post and the last order (UTC): "now" for a warehouse replayed from exports."""
        row = self.con.execute(
            "SELECT greatest((SELECT max(created_at) FROM posts), (SELECT max(ordered_at) FROM orders))"
        ).fetchall()[0]
        return None if row[0] is None else pd.Timestamp(row[0]).tz_convert("UTC")

    def unanalysed_posts(
        self, *, reanalyse: bool = False, after: tuple[str, str] | None = None, limit: int | None = None
    ) -> pa.Table:
        """``platform, id, text`` of the posts without an analysis row (every post with ``reanalyse``), ordered by
        ``(platform, id)``: with ``after`` only those past that key, with ``limit`` at most that many (the analyse
        stage walks the corpus a window at a time).  Arrow: the window goes to the workers as column buffers,
        not a Python object per text."""
        where, params = [], []
        if not reanalyse:
            where.append(self._NOT_ANALYSED)
        if after is not None:
            where.append("(p.platform > ? OR (p.platform = ? AND p.id > ?))")
            params += [after[0], after[0], after[1]]
        sql = (
            "SELECT p.platform, p.id, p.text FROM posts p"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY p.platform, p.id"
            + (f" LIMIT {int(limit)}" if limit else "")
        )
        return self._arrow(sql, params)

    def unanalysed_windows(self, rows: int, *, reanalyse: bool = False) -> list[tuple[str, str, str]]:
        """The analyse stage's windows over the posts without an analysis row (every post with ``reanalyse``):
        ``(platform, first, last)``, the first and last key of ``rows`` of those posts of one platform (a
        platform's last window fewer), in key order.  Read once as a stage starts (one sort of those posts' keys,
        no text), so that each window is then read by its key range (:meth:`unanalysed_window`): a read with
        ``after`` and ``limit`` (:meth:`unanalysed_posts`) ordered every remaining post with its text, for each
        window (1.6 CPU-s and a 1,260 MB peak a window at 1M posts)."""
        where = "" if reanalyse else f"WHERE {self._NOT_ANALYSED}"
        rows = max(1, int(rows))
        sql = (
            "SELECT platform, id, r FROM (SELECT p.platform, p.id, "
            "row_number() OVER (PARTITION BY p.platform ORDER BY p.id) AS r, "
            "count(*) OVER (PARTITION BY p.platform) AS n "
            f"FROM posts p {where}) AS k WHERE (r - 1) % {rows} = 0 OR r % {rows} = 0 OR r = n ORDER BY platform, r"
        )
        windows: list[tuple[str, str, str]] = []
        for platform, key, r in zip(*self._arrow(sql, []).to_pydict().values(), strict=True):
            if (r - 1) % rows == 0:  # a window's first post
                windows.append((platform, key, key))
            else:  # its last
                windows[-1] = (platform, windows[-1][1], key)
        return windows

    def unanalysed_window(self, platform: str, first: str, last: str, *, reanalyse: bool = False) -> pa.Table:
        """``platform, id, text`` of the posts of a window of :meth:`unanalysed_windows` still without an analysis
        row (all of them with ``reanalyse``); a post stored since the windows were read is in it when its key
        falls between the window's first and last.  The range is a filter on single columns, so the engine
        applies it inside the scans of ``posts`` and ``post_analysis``: what the read holds is the window,
        whatever the corpus's size (test)."""
        terms, bounds = ["platform = ?", "id >= ?", "id <= ?"], [platform, first, last]

        def in_range(alias: str) -> str:
            return " AND ".join(f"{alias}.{t}" for t in terms)

        sql, params = f"SELECT p.platform, p.id, p.text FROM posts p WHERE {in_range('p')}", bounds
        if not reanalyse:
            same = "a.platform = p.platform AND a.id = p.id"
            sql += f" AND NOT EXISTS (SELECT 1 FROM post_analysis a WHERE {in_range('a')} AND {same})"
            params = bounds + bounds
        return self._arrow(sql, params)

    _NOT_ANALYSED = "NOT EXISTS (SELECT 1 FROM post_analysis a WHERE a.platform = p.platform AND a.id = p.id)"

    def _arrow(self, sql: str, params: list[Any]) -> pa.Table:
        """The rows of a read as one Arrow table."""
        return self.con.sql(sql, params=params or None).to_arrow_table()

    def save_analysis(self, frame: pd.DataFrame | pa.Table, *, count: bool = True, new: bool = False) -> int:
        """The text stage's rows (``platform, id`` and nlp.pipeline.OUTPUT_COLUMNS, ``tokens``: a frame, or the
        Arrow table :func:`analysis_rows` makes of one), stamped now, and ``post_counts`` brought up to date in the
        same transaction — unless ``count`` is false: the analyse stage writes window after window (each touching
        most hours) and counts once at its end (:meth:`refresh_post_counts`).

        With ``new`` (the analyse stage's windows of unanalysed posts) the rows are stored by a plain INSERT, which
        a stored analysis fails: then they are written again as the upsert they otherwise are (DuckDB's
        ``ON CONFLICT DO UPDATE`` costs several times the INSERT)."""
        decl = self._declared("post_analysis", frame)
        rows = frame if isinstance(frame, pa.Table) else self._encoded(decl, frame)
        if "analysed_at" in rows.column_names:
            rows = rows.drop_columns(["analysed_at"])

        def write(plain: bool) -> int:
            n = self._write_rows(decl, rows, stamp="analysed_at", plain=plain) if rows.num_rows else 0
            if count:
                self._refresh_counts()
            return n

        return self._own_transaction(write, plain=new)

    def refresh_post_counts(self) -> int:
        """Recount the hours of ``post_counts`` whose posts changed since they were counted (analysed, re-analysed
        or re-fetched with new engagement since), in one transaction; returns the hours recounted."""
        with self.transaction():
            return self._refresh_counts()

    def _refresh_counts(self) -> int:
        """:func:`refresh_post_counts` on this warehouse, inside the caller's transaction."""
        return refresh_post_counts(self.con)

    _TOPIC_CORPUS = (
        "FROM post_analysis a JOIN posts p ON p.platform = a.platform AND p.id = a.id "
        "WHERE p.kind = 'post' AND length(a.tokens) > 0"
    )

    def topic_corpus_size(self) -> int:
        """How many analysed top-level posts have words to model."""
        return int(self.query(f"SELECT count(*) AS n {self._TOPIC_CORPUS}")["n"].iat[0])

    def topic_corpus_bounds(self, window: int) -> list[tuple[str, str]]:
        """The last ``(platform, id)`` of every full window of ``window`` posts of the topic corpus, in order: the
        topics stage reads the corpus window by window between them (:meth:`topic_corpus`).  One sort of the keys
        alone per pass: ``ORDER BY ... LIMIT window`` per window ran as a full sort of every remaining post with
        its tokens (DuckDB's estimate of the corpus was below the window), memory with the corpus."""
        frame = self.query(
            f"SELECT platform, id FROM (SELECT a.platform, a.id, row_number() OVER (ORDER BY a.platform, a.id) AS r "
            f"{self._TOPIC_CORPUS}) AS k WHERE r % {int(window)} = 0 ORDER BY platform, id"
        )
        return list(zip(frame["platform"].astype(str), frame["id"].astype(str), strict=True))

    def topic_corpus(
        self, *, after: tuple[str, str] | None = None, upto: tuple[str, str] | None = None
    ) -> pd.DataFrame:
        """``platform, id, tokens, created_at`` of the analysed top-level posts that have words, by ``(platform,
        id)`` (the model's sample, so its topics, do not depend on storage order): past ``after`` and up to
        ``upto`` included (a window of the topics stage, :meth:`topic_corpus_bounds`)."""
        where, params = "", []
        if after is not None:
            where += " AND (a.platform > ? OR (a.platform = ? AND a.id > ?))"
            params += [after[0], after[0], after[1]]
        if upto is not None:
            where += " AND (a.platform < ? OR (a.platform = ? AND a.id <= ?))"
            params += [upto[0], upto[0], upto[1]]
        return self.query(
            f"SELECT a.platform, a.id, a.tokens, p.created_at {self._TOPIC_CORPUS}{where} ORDER BY a.platform, a.id",
            params,
        )

    def save_topics(
        self, assignments: pd.DataFrame | Iterable[pd.DataFrame], summary: pd.DataFrame | Callable[[], pd.DataFrame]
    ) -> int:
        """A refit's topic per post and its topic table, both replaced in one transaction.  ``assignments`` may
        come a window at a time (each frame written as it arrives) and ``summary`` be computed after the last
        one.  Returns the posts assigned.

        The table is emptied first and each post is assigned once, so rows go in by plain INSERTs.  On DuckDB it is
        dropped and created again from its declaration inside the transaction: an upsert into the emptied table
        kept every key of the pass in the transaction's in-memory index until the commit (1M posts: +400 MB, the
        topics stage's peak), plain appends to a table created in the transaction are written out a row group at
        a time (250k posts: +109 -> +43 MB, 4.8 -> 0.5 CPU-s)."""
        frames = [assignments] if isinstance(assignments, pd.DataFrame) else assignments
        decl = TABLES["post_topics"]
        written = 0
        with self.transaction():
            if isinstance(self.con, duckdb.DuckDBPyConnection):
                self.con.execute("DROP TABLE post_topics")
                self.con.execute(decl.ddl())
            else:
                self.con.execute("DELETE FROM post_topics")
            for frame in frames:
                if not frame.empty:
                    rows = self._encoded(self._declared("post_topics", frame), frame)
                    written += self._write_rows(decl, rows, plain=True)
            self.replace_frame("topics", summary() if callable(summary) else summary)
        return written

    def save_graph(
        self,
        leaders: pd.DataFrame,
        communities: pd.DataFrame,
        members: pd.DataFrame,
        customer_view: pd.DataFrame | None = None,
    ) -> None:
        """The graph stage's tables, replaced together (a reader never sees leaders of one pass and communities
        of another); the customer view only when there are customers.

        On DuckDB the keyed tables are dropped and created again from their declarations inside the transaction
        before the rows go in: deleting every row of a table with a primary key makes the commit take each old
        key out of the index, the graph stage's slowest write (163k leaders and members on the 400k-post world:
        2.4 CPU-s per table at the commit, 0.1 this way).  On PostgreSQL the flows' role may not drop tables
        (and grants live on them): rows are deleted there."""
        tables = ["leaders", "communities", "community_members"]
        if customer_view is not None:
            tables.append("customer_view")
        with self.transaction():
            if isinstance(self.con, duckdb.DuckDBPyConnection):
                for name in tables:
                    self.con.execute(f"DROP TABLE {name}")
                    self.con.execute(TABLES[name].ddl())
            self.replace_frame("leaders", leaders)
            self.replace_frame("communities", communities)
            self.replace_frame("community_members", members)
            if customer_view is not None:
                self.replace_frame("customer_view", customer_view)

    def alerts(self) -> pd.DataFrame:
        """The alert table with its JSON columns decoded (categories, keywords, customers, evidence)."""
        return self.read_table("alerts", decode_json=True)

    def save_alerts(self, frame: pd.DataFrame) -> int:
        """Alert rows upserted by ``alert_id`` (JSON columns encoded here)."""
        return self.write_frame("alerts", frame)

    def linked_customer_values(self) -> pd.DataFrame:
        """``author_id, customer_id, clv`` of the customer view's customers linked to an account: what alert scoring
        looks up for a burst's authors (the whole view, 24 columns of every customer, was +135 MB at 1M posts)."""
        return self.query(  # in the view's order, as the whole view was read (an account linked twice: the last)
            "SELECT author_id, customer_id, clv FROM customer_view WHERE author_id IS NOT NULL"
        )

    def customers_for_graph(self) -> pd.DataFrame:
        """``customer_id, name, phone, email, city``: clear values, for the masked customer view only."""
        return self.query("SELECT customer_id, name, phone, email, city FROM customers ORDER BY customer_id")

    def customer_names(self) -> pd.DataFrame:
        """``customer_id, name`` (clear names: masked by the caller before anything shows them)."""
        return self.query("SELECT customer_id, name FROM customers ORDER BY customer_id")

    def orders(self) -> pd.DataFrame:
        """Every order (``order_id, customer_id, amount, ordered_at, product, channel``), amounts as floats."""
        return self.query(
            "SELECT order_id, customer_id, amount::DOUBLE AS amount, ordered_at, product, channel FROM orders "
            "ORDER BY ordered_at, order_id"
        )

    def tickets(self) -> pd.DataFrame:
        return self.read_table("tickets")

    def linked_customer_posts(self) -> pd.DataFrame:
        """``platform, author_id, created_at, sentiment, complaint, brands`` of the posts of accounts linked to a
        customer (analysis values NULL where not analysed)."""
        return self.query(
            "SELECT p.platform, p.author_id, p.created_at, a.sentiment, coalesce(a.complaint, false) AS complaint, "
            "coalesce(a.brands, []) AS brands FROM posts p LEFT JOIN post_analysis a USING (platform, id) "
            "WHERE (p.platform, p.author_id) IN (SELECT (platform, author_id) FROM customer_links)"
        )

    def linking_authors(self) -> pd.DataFrame:
        """``platform, id, screen_name, raw`` of every account: what customer linking compares."""
        return self.query("SELECT platform, id, screen_name, raw FROM authors")

    def customer_identifiers(self) -> pd.DataFrame:
        """``customer_id, kind, value``: keyed hashes of the customers' identifiers."""
        return self.query("SELECT customer_id, kind, value FROM customer_identifiers")

    def table_counts(self) -> dict[str, int]:
        names = [r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {name: self._count(name) for name in names}

    def _has_table(self, table: str) -> bool:
        row = self.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchall()[0]
        return bool(row and row[0])

    def _count(self, table: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ post counts: what reports and alerts read
    # Aggregates of ``post_counts`` and the few rows a report or alert shows, computed in SQL: the rows they
    # return grow with hours, brands and categories, never with posts.

    def complaint_counts(self, brands: Sequence[str], *, bucket: str = "hour") -> pd.DataFrame:
        """``bucket_start`` (China wall-clock hour or day, naive), ``brand``, ``category``, ``complaints``: the
        complaints naming each of ``brands`` per bucket and complaint category (from ``post_counts``)."""
        if bucket not in ("hour", "day") or not brands:
            return pd.DataFrame(columns=["bucket_start", "brand", "category", "complaints"])
        return self.query(
            f"SELECT date_trunc('{bucket}', hour) AS bucket_start, brand, complaint_category AS category, "
            "CAST(sum(posts) AS BIGINT) AS complaints FROM post_counts WHERE complaint AND complaint_category <> '' "
            f"AND brand IN ({', '.join('?' for _ in brands)}) GROUP BY 1, 2, 3 ORDER BY 2, 3, 1",
            list(brands),
        )

    @staticmethod
    def _values(frame: pd.DataFrame, name: str) -> tuple[str, list[Any]]:
        """A small frame as ``(VALUES (?, ...), ...) AS name(columns)`` and its parameters: what a read-only
        connection joins to (it may not create the temporary table ``registered`` needs on PostgreSQL)."""
        rows = [[v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in r] for r in frame.itertuples(False)]
        marks = ", ".join("(" + ", ".join("?" for _ in frame.columns) + ")" for _ in rows)
        return f"(VALUES {marks}) AS {name}({', '.join(frame.columns)})", [v for r in rows for v in r]

    _SPIKE_POSTS = """
        SELECT s.idx, p.platform, p.id, p.created_at, p.author_id, p.text, a.keywords,
               coalesce(u.followers_count, 0) AS followers
        FROM {spikes} JOIN posts p ON p.created_at >= s.lo AND p.created_at < s.hi
        JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id
        LEFT JOIN authors u ON u.platform = p.platform AND u.id = p.author_id
        WHERE a.complaint AND a.complaint_category = s.category AND {names_brand}
    """
    # a post's terms (reports.warning._post_terms): its keywords, else character bigrams of its text's Chinese
    # runs and its ASCII words lowercased — as DuckDB and as PostgreSQL write it
    _TERMS_PG = """
        CASE WHEN trim(coalesce(keywords, '')) <> ''
             THEN ARRAY(SELECT DISTINCT w FROM unnest(string_to_array(keywords, ' ')) AS w WHERE w <> '')
             ELSE ARRAY(SELECT DISTINCT CASE WHEN r ~ '^[A-Za-z0-9]+$' THEN lower(r) ELSE substr(r, i, 2) END
                        FROM (SELECT (regexp_matches(text, '[一-鿿]+|[A-Za-z0-9]+', 'g'))[1] AS r) AS x,
                             generate_series(1, CASE WHEN r ~ '^[A-Za-z0-9]+$' THEN 1
                                                     ELSE greatest(1, length(r) - 1) END) AS i)
        END
    """
    _TERMS = """
        CASE WHEN trim(coalesce(keywords, '')) <> ''
             THEN list_distinct(list_filter(string_split(keywords, ' '), lambda w: w <> ''))
             ELSE list_distinct(flatten(list_transform(
                 regexp_extract_all(text, '[一-鿿]+|[A-Za-z0-9]+'),
                 lambda r: CASE WHEN regexp_full_match(r, '[A-Za-z0-9]+') THEN [lower(r)]
                           ELSE list_transform(range(greatest(1, length(r) - 1)), lambda i: substr(r, i + 1, 2)) END)))
        END
    """

    @property
    def _terms(self) -> str:
        return self._TERMS if isinstance(self.con, duckdb.DuckDBPyConnection) else self._TERMS_PG

    def _holds(self, items: str, value: str) -> str:
        """:func:`list_holds` in this warehouse's dialect."""
        return list_holds(items, value, postgres=not isinstance(self.con, duckdb.DuckDBPyConnection))

    def spike_posts(self, spikes: pd.DataFrame, *, evidence: int = 5) -> dict[str, pd.DataFrame]:
        """What alert scoring needs of the complaints of each spike (``spikes``: ``idx, brand, category, lo, hi``
        — lo/hi UTC bounds of its bucket), aggregated in SQL:

        ``summary`` idx, posts, reach (sum of the authors' followers); ``customers`` idx, author_id of the authors
        the customer view links to a customer; ``terms`` idx, term, df (posts holding it, terms of at least two
        posts); ``evidence`` idx, platform, id, text of the ``evidence`` posts of the most followed authors."""
        values, params = self._values(spikes[["idx", "brand", "category", "lo", "hi"]], "s")
        spike = self._SPIKE_POSTS.format(spikes=values, names_brand=self._holds("a.brands", "s.brand"))
        return {
            "summary": self.query(
                f"SELECT idx, count(*) AS posts, CAST(sum(followers) AS BIGINT) AS reach FROM ({spike}) AS sp "
                "GROUP BY idx ORDER BY idx",
                params,
            ),
            "customers": self.query(
                f"SELECT DISTINCT sp.idx, sp.author_id FROM ({spike}) sp "
                "JOIN customer_view c ON c.author_id = sp.author_id ORDER BY 1, 2",
                params,
            ),
            "terms": self.query(
                f"WITH sp AS ({spike}), n AS (SELECT idx, count(*) AS n FROM sp GROUP BY idx), "
                f"t AS (SELECT idx, unnest({self._terms}) AS term FROM sp) "
                "SELECT t.idx, t.term, count(*) AS df FROM t JOIN n ON n.idx = t.idx "
                "GROUP BY t.idx, t.term, n.n HAVING count(*) >= least(2, n.n) ORDER BY 1, 2",
                params,
            ),
            "evidence": self.query(
                f"SELECT idx, platform, id, text FROM (SELECT sp.*, row_number() OVER (PARTITION BY idx "
                f"ORDER BY followers DESC, created_at, platform, id) AS r FROM ({spike}) AS sp) AS e "
                f"WHERE r <= {int(evidence)} ORDER BY idx, r",
                params,
            ),
        }

    _QUIET = """
        SELECT p.platform, p.id, p.text, a.keywords,
               row_number() OVER (ORDER BY p.created_at, p.platform, p.id) - 1 AS i
        FROM posts p JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id
        WHERE a.complaint AND {names_brand}
          AND NOT EXISTS (SELECT 1 FROM {spiking} WHERE p.created_at >= s.lo AND p.created_at < s.hi)
    """

    def quiet_complaints(self, brand: str, spiking: pd.DataFrame) -> int:
        """How many complaints naming ``brand`` lie outside the ``spiking`` buckets (``lo, hi``, UTC)."""
        values, params = self._values(spiking[["lo", "hi"]], "s")
        quiet = self._QUIET.format(spiking=values, names_brand=self._holds("a.brands", "?"))
        return int(self.con.execute(f"SELECT count(*) FROM ({quiet}) AS q", [brand, *params]).fetchall()[0][0])

    def quiet_terms(
        self, brand: str, spiking: pd.DataFrame, quiet: int, sample: int, terms: Sequence[str]
    ) -> pd.DataFrame:
        """``term, df``: of ``terms``, in how many of the ``quiet`` complaints naming ``brand`` outside the
        ``spiking`` buckets each occurs — of ``sample`` of them evenly spaced in time when there are more (rows
        ``numpy.linspace(0, quiet - 1, sample).astype(int)``, computed here in the same float arithmetic): the
        background rates alert terms are lifted against."""
        if not terms:
            return pd.DataFrame({"term": pd.Series(dtype=object), "df": pd.Series(dtype="int64")})
        values, params = self._values(spiking[["lo", "hi"]], "s")
        q = self._QUIET.format(spiking=values, names_brand=self._holds("a.brands", "?"))
        picked = f"i IN ({linspace_sql(quiet, sample)})" if quiet > sample else "TRUE"
        wanted = ", ".join("?" for _ in terms)
        return self.query(
            f"WITH q AS ({q}), t AS (SELECT unnest({self._terms}) AS term FROM q WHERE {picked}) "
            f"SELECT term, count(*) AS df FROM t WHERE term IN ({wanted}) GROUP BY term ORDER BY term",
            [brand, *params, *terms],
        )

    # ------------------------------------------------------------------ the brand report's figures, in SQL
    @staticmethod
    def _report_period(since: dt.datetime, until: dt.datetime) -> tuple[str, list[Any], list[Any]]:
        """``p.created_at`` terms and parameters for ``since <= created_at < until``, and the same bounds as
        ``post_counts`` hours (China wall clock)."""
        local = [t.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None) for t in (since, until)]
        return "p.created_at >= ? AND p.created_at < ?", [since, until], local

    _MENTIONS = """
        SELECT p.platform, p.id, p.kind, p.created_at, p.author_id, p.author_name, p.reposts_count,
               p.comments_count, p.attitudes_count,
               p.reposts_count + p.comments_count + p.attitudes_count AS engagement,
               coalesce(a.complaint, false) AS complaint, a.complaint_category, a.keywords,
               CAST(a.brand_sentiment ->> CAST(? AS VARCHAR) AS DOUBLE PRECISION) AS bs
        FROM posts p JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id
        WHERE {names_brand} AND {period}
    """

    def _mentions(self, brand: str, since: dt.datetime, until: dt.datetime) -> tuple[str, list[Any]]:
        """The posts of the period naming ``brand`` (``bs``: its sentiment toward it) as SQL and parameters."""
        period, params, _ = self._report_period(since, until)
        return self._MENTIONS.format(period=period, names_brand=self._holds("a.brands", "?")), [brand, brand, *params]

    def brand_counts(self, brands: Sequence[str], since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
        """``post_counts`` of the period summed per brand ('' every post), China day, platform and complaint
        category: ``brand, day, platform, complaint, complaint_category, posts, engagement, sentiment_n,
        sentiment_sum, sentiment_sumsq, positive, negative``."""
        _, _, hours = self._report_period(since, until)
        return self.query(
            "SELECT brand, CAST(hour AS DATE) AS day, platform, complaint, complaint_category, "
            + ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in ("posts", "engagement", "sentiment_n"))
            + ", sum(sentiment_sum) AS sentiment_sum, sum(sentiment_sumsq) AS sentiment_sumsq, "
            + ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in ("positive", "negative"))
            + " "
            f"FROM post_counts WHERE hour >= ? AND hour < ? AND brand IN ({', '.join('?' for _ in ['', *brands])}) "
            "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
            [*hours, "", *brands],
        )

    def brand_authors(self, brands: Sequence[str], since: dt.datetime, until: dt.datetime) -> dict[str, int]:
        """Distinct authors (by id) of the period's posts naming each brand: not additive, so counted here."""
        if not brands:
            return {}
        period, params, _ = self._report_period(since, until)
        naming, named = self._naming_any("a.brands", brands)
        frame = self.query(
            "SELECT brand, count(DISTINCT author_id) AS authors FROM (SELECT p.author_id, unnest(a.brands) AS brand "
            f"FROM posts p JOIN post_analysis a ON a.platform = p.platform AND a.id = p.id WHERE {period}{naming}) "
            f"AS b WHERE brand IN ({', '.join('?' for _ in brands)}) GROUP BY brand",
            [*params, *named, *brands],
        )
        return {str(b): int(n) for b, n in zip(frame["brand"], frame["authors"], strict=True)}

    def _naming_any(self, items: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """A condition (`` AND …``) and its parameters that keep the rows whose list ``items`` holds one of
        ``values``, where it spares the engine work (PostgreSQL: store/postgres.py); here none."""
        return "", []

    def top_mentions(
        self, brand: str, since: dt.datetime, until: dt.datetime, *, n: int, per_category: bool = False
    ) -> pd.DataFrame:
        """The ``n`` posts naming ``brand`` with the most engagement (reposts + comments + likes), ties by id — with
        ``per_category``, the ``n`` of each complaint category (NULL and '' as 其他) among its complaints, ties
        oldest first — with their texts: ``category`` (per_category), ``platform, id, author_name, author_id,
        text, created_at, engagement, bs`` (the brand's sentiment), ``first`` (when the category's first
        complaint was posted)."""
        mentions, params = self._mentions(brand, since, until)
        category = "coalesce(nullif(m.complaint_category, ''), '其他')" if per_category else "''"
        where = "WHERE m.complaint" if per_category else ""
        # ranked without the texts, which the n rows kept get afterwards (ranking every mention with its text held
        # DuckDB's window over the period's texts: the reports stage's peak at 400k posts)
        text, join = self._KEPT_TEXT
        return self.query(
            f"SELECT t.category, t.platform, t.id, t.author_name, t.author_id, {text}, t.created_at, t.engagement, "
            "t.bs, t.first FROM ("
            f"SELECT m.platform, m.id, m.author_name, m.author_id, m.created_at, m.engagement, m.bs, "
            f"{category} AS category, min(m.created_at) OVER (PARTITION BY {category}) AS first, "
            f"row_number() OVER (PARTITION BY {category} "
            f"ORDER BY m.engagement DESC, {'m.created_at, ' if per_category else ''}m.id) AS r "
            f"FROM ({mentions}) m {where}) AS t {join} "
            f"WHERE t.r <= {int(n)} ORDER BY t.category, t.r",
            params,
        )

    # how :meth:`top_mentions`' kept rows get their texts: the column and the join that brings it (DuckDB joins;
    # store/postgres.py reads each by key)
    _KEPT_TEXT = ("p.text", "JOIN posts p ON p.platform = t.platform AND p.id = t.id")

    def post_authors(self, ids: Sequence[str], since: dt.datetime, until: dt.datetime) -> dict[str, str]:
        """Author name (else id) of the period's posts among ``ids`` (alert evidence shown in a report)."""
        if not ids:
            return {}
        period, params, _ = self._report_period(since, until)
        frame = self.query(
            "SELECT p.id, coalesce(p.author_name, p.author_id) AS author FROM posts p "
            f"WHERE {period} AND p.id IN ({', '.join('?' for _ in ids)}) ORDER BY p.created_at",
            [*params, *ids],
        )
        return {str(i): a for i, a in zip(frame["id"], frame["author"], strict=True)}

    def brand_topics(self, brand: str, since: dt.datetime, until: dt.datetime, *, top: int = 10) -> pd.DataFrame:
        """The ``top`` topics of the period's posts naming ``brand``: ``topic, topic_label, posts, sentiment`` (mean
        sentiment toward the brand), ``complaints``; most posts first."""
        mentions, params = self._mentions(brand, since, until)
        return self.query(
            "SELECT t.topic, t.topic_label, count(*) AS posts, avg(m.bs) AS sentiment, "
            f"count(CASE WHEN m.complaint THEN 1 END) AS complaints FROM ({mentions}) m "
            "JOIN post_topics t ON t.platform = m.platform AND t.id = m.id "
            "WHERE t.topic >= 0 AND t.topic_label IS NOT NULL GROUP BY t.topic, t.topic_label "
            f"ORDER BY posts DESC, t.topic LIMIT {int(top)}",
            params,
        )

    def brand_keyword_counts(
        self, brand: str, since: dt.datetime, split: dt.datetime, until: dt.datetime
    ) -> tuple[pd.DataFrame, dict[bool, int]]:
        """Keywords of the posts naming ``brand``, before ``split`` and from it on: ``recent, keyword, posts``
        (posts holding it) and the posts on each side (``{recent: posts}``), for rising keywords."""
        mentions, params = self._mentions(brand, since, until)
        side = "m.created_at >= ?"
        docs = self.query(
            f"SELECT {side} AS recent, count(*) AS posts FROM ({mentions}) m GROUP BY 1", [split, *params]
        )
        words = self.query(
            f"SELECT recent, keyword, count(*) AS posts FROM (SELECT DISTINCT m.platform, m.id, {side} AS recent, "
            f"unnest(string_to_array(coalesce(m.keywords, ''), ' ')) AS keyword FROM ({mentions}) m) AS k "
            "WHERE keyword <> '' GROUP BY 1, 2 ORDER BY 1, 2",
            [split, *params],
        )
        return words, {bool(r): int(n) for r, n in zip(docs["recent"], docs["posts"], strict=True)}

    def brand_leaders(self, brand: str, since: dt.datetime, until: dt.datetime, *, top: int = 15) -> pd.DataFrame:
        """Opinion leaders who spoke about ``brand`` in the period (with a sentiment toward it), best score first:
        the ``top`` leaders' rows with ``brand_posts`` and ``brand_sentiment`` (their mean), and on every row
        ``advocates`` / ``detractors``: how many such leaders average >= 0.6 / <= 0.4."""
        mentions, params = self._mentions(brand, since, until)
        return self.query(
            f"WITH per AS (SELECT author_id, avg(bs) AS brand_sentiment, count(*) AS brand_posts FROM ({mentions}) m "
            "WHERE bs IS NOT NULL GROUP BY author_id), "
            "j AS (SELECT l.*, per.brand_sentiment, per.brand_posts FROM leaders l JOIN per USING (author_id)) "
            "SELECT *, (SELECT count(*) FROM j WHERE brand_sentiment >= 0.6) AS advocates, "
            "(SELECT count(*) FROM j WHERE brand_sentiment <= 0.4) AS detractors "
            f"FROM j ORDER BY score DESC, rank LIMIT {int(top)}",
            params,
        )

    def brand_communities(
        self, brand: str, others: Sequence[str], since: dt.datetime, until: dt.datetime, *, top: int = 10
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Communities whose members named ``brand`` in the period, most posts first (``top``): ``community, posts,
        speakers, complaints, advocates, detractors, neutral`` (members by their mean sentiment toward the brand),
        ``size, leaders`` (communities table); and their words: ``community, kind`` ('topic': topic labels,
        'keyword': keywords naming none of ``brand`` and ``others``), ``word, n``, most frequent first, ties in
        order of first use, at most 5 a community and kind."""
        mentions, params = self._mentions(brand, since, until)
        base = (
            f"WITH mem AS (SELECT author_id, min(community) AS community FROM community_members GROUP BY author_id), "
            f"mm AS (SELECT m.*, mem.community, row_number() OVER (ORDER BY m.created_at, m.platform, m.id) AS seq "
            f"FROM ({mentions}) m JOIN mem ON mem.author_id = m.author_id WHERE mem.community IS NOT NULL), "
            "c AS (SELECT community, count(*) AS posts, count(DISTINCT author_id) AS speakers, "
            "count(CASE WHEN complaint THEN 1 END) AS complaints FROM mm GROUP BY community "
            f"ORDER BY posts DESC, community LIMIT {int(top)}) "
        )
        rows = self.query(
            base + ", per AS (SELECT community, author_id, avg(bs) AS mean FROM mm GROUP BY 1, 2) "
            "SELECT c.*, count(CASE WHEN per.mean >= 0.6 THEN 1 END) AS advocates, "
            "count(CASE WHEN per.mean < 0.4 THEN 1 END) AS detractors, "
            "count(CASE WHEN per.mean >= 0.4 AND per.mean < 0.6 THEN 1 END) AS neutral, "
            "max(i.size) AS size, max(i.leaders) AS leaders, count(i.community) > 0 AS described "
            "FROM c JOIN per USING (community) LEFT JOIN communities i ON i.community = c.community "
            "GROUP BY c.community, c.posts, c.speakers, c.complaints ORDER BY c.posts DESC, c.community",
            params,
        )
        excluded = " AND ".join("strpos(word, ?) = 0" for _ in [brand, *others]) or "TRUE"
        words = self.query(
            base + ", said AS (SELECT mm.community, 'topic' AS kind, t.topic_label AS word, mm.seq * 1000 AS seen "
            "FROM mm JOIN c USING (community) JOIN post_topics t ON t.platform = mm.platform AND t.id = mm.id "
            "WHERE t.topic_label IS NOT NULL "
            "UNION ALL SELECT community, 'keyword', word, seen FROM (SELECT mm.community, "
            "unnest(string_to_array(mm.keywords, ' ')) AS word, mm.seq * 1000 + generate_subscripts(string_to_array("
            "mm.keywords, ' '), 1) AS seen FROM mm JOIN c USING (community) WHERE coalesce(mm.keywords, '') <> '') "
            f"AS k WHERE word <> '' AND {excluded}) "
            "SELECT community, kind, word, n FROM (SELECT community, kind, word, count(*) AS n, "
            "row_number() OVER (PARTITION BY community, kind ORDER BY count(*) DESC, min(seen)) AS r "
            "FROM said GROUP BY 1, 2, 3) AS w WHERE r <= 5 ORDER BY community, kind, r",
            [*params, brand, *others],
        )
        return rows, words

    # ------------------------------------------------------------------ the campaign report's figures, in SQL
    def brand_reach(self, brand: str, since: dt.datetime, until: dt.datetime, *, daily: bool = False) -> pd.DataFrame:
        """Followers of the distinct accounts that named ``brand`` in the period (each account once) — per China
        day with ``daily``: ``day, reach`` (else one row, ``day`` NULL)."""
        mentions, params = self._mentions(brand, since, until)
        day = f"CAST(m.created_at AT TIME ZONE '{REPORT_TZ}' AS DATE)" if daily else "CAST(NULL AS DATE)"
        return self.query(
            "SELECT day, CAST(sum(followers) AS BIGINT) AS reach FROM (SELECT DISTINCT "
            f"{day} AS day, m.platform, m.author_id, coalesce(u.followers_count, 0) AS followers FROM ({mentions}) m "
            "LEFT JOIN authors u ON u.platform = m.platform AND u.id = m.author_id) AS d GROUP BY day ORDER BY day",
            params,
        )

    def hashtag_posts(
        self, hashtags: Sequence[str], since: dt.datetime, until: dt.datetime, *, carriers: int = 10, groups: int = 5
    ) -> dict[str, Any]:
        """The period's posts carrying one of ``hashtags`` (in their hashtags, or ``#tag#`` in their text):
        ``posts``, ``authors`` (distinct ids), ``reach`` (followers of the distinct accounts), ``customers``
        (customers linked to their authors), ``carriers`` (the ``carriers`` accounts reaching most: platform,
        author_id, author_name — the last one used —, posts, reach, engagement — reposts —) and ``communities``
        (the ``groups`` communities with most of them: community, posts, authors)."""
        period, params, _ = self._report_period(since, until)
        tagged = " OR ".join(f"{self._holds('p.topics', '?')} OR strpos(p.text, ?) > 0" for _ in hashtags) or "FALSE"
        tags = [v for h in hashtags for v in (h, f"#{h}#")]
        base = (
            "WITH t AS (SELECT p.platform, p.id, p.created_at, p.author_id, p.author_name, p.reposts_count, "
            "coalesce(u.followers_count, 0) AS followers FROM posts p "
            "LEFT JOIN authors u ON u.platform = p.platform AND u.id = p.author_id "
            f"WHERE {period} AND ({tagged})) "
        )
        args = [*params, *tags]
        summary = self.query(
            base + "SELECT count(*) AS posts, count(DISTINCT author_id) AS authors, "
            "(SELECT CAST(coalesce(sum(followers), 0) AS BIGINT) FROM (SELECT DISTINCT platform, author_id, followers "
            "FROM t) AS d) AS reach, (SELECT count(DISTINCT l.customer_id) FROM customer_links l "
            "WHERE l.author_id IN (SELECT author_id FROM t)) AS customers FROM t",
            args,
        )
        top = self.query(
            base + "SELECT platform, author_id, (array_agg(author_name ORDER BY created_at DESC) "
            "FILTER (WHERE author_name IS NOT NULL))[1] AS author_name, count(*) AS posts, max(followers) AS reach, "
            "CAST(sum(reposts_count) AS BIGINT) AS engagement FROM t GROUP BY platform, author_id "
            f"ORDER BY reach DESC, posts DESC, platform, author_id LIMIT {int(carriers)}",
            args,
        )
        communities = self.query(
            base + ", mem AS (SELECT author_id, min(community) AS community FROM community_members GROUP BY author_id) "
            "SELECT mem.community, count(*) AS posts, count(DISTINCT t.author_id) AS authors FROM t "
            "JOIN mem ON mem.author_id = t.author_id WHERE mem.community IS NOT NULL GROUP BY mem.community "
            f"ORDER BY posts DESC, mem.community LIMIT {int(groups)}",
            args,
        )
        row = summary.iloc[0]
        return {
            "posts": int(row["posts"]),
            "authors": int(row["authors"]),
            "reach": int(row["reach"]),
            "customers": int(row["customers"]),
            "carriers": top,
            "communities": communities,
        }
