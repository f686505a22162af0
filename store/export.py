"""Exports for BI tools and people: posts with their analysis, brand mentions and alerts.

Rows stream from the warehouse (DuckDB, or PostgreSQL through ``COPY``) as Arrow record
batches into the file, so memory holds one batch whatever the corpus size.  Every file is
written to a temporary name beside the target and renamed into place: a reader never sees
half a file, a failed export leaves none.

CSV is for people opening it in Excel/WPS: UTF-8 with a byte-order mark, lists and maps
as JSON, and any text cell starting with ``= + - @`` (or a tab/carriage return) prefixed
with ``'`` so a spreadsheet shows it as text instead of running it as a formula (OWASP
"CSV injection").  Parquet keeps native types (timestamps, lists, booleans) untouched.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from yuqing.store.errors import StoreError
from yuqing.store.query_sql import arrow_reader, dialect_of, period_where
from yuqing.store.schema import CHINA_TZ
from yuqing.store.warehouse import Warehouse

__all__ = ["EXPORT_TABLES", "Format", "export_sql", "guard_cells", "write_batches"]

Format = Literal["parquet", "csv"]
EXPORT_TABLES = ("posts", "mentions", "alerts")
BATCH_ROWS = 50_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# analysis columns exported with posts, with the type used when the analysis has not run yet
_ANALYSIS = {
    "sentiment": "DOUBLE",
    "polarity": "VARCHAR",
    "complaint": "BOOLEAN",
    "complaint_category": "VARCHAR",
    "emotion": "VARCHAR",
    "keywords": "VARCHAR",
    "brands": "VARCHAR[]",
}
_TOPIC = {"topic": "BIGINT", "topic_label": "VARCHAR"}


def guard_cells(values: pd.Series) -> pd.Series:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'``."""
    text = values.astype("string")
    risky = text.str.startswith(_FORMULA_START).fillna(False).astype(bool)
    if not risky.any():
        return values
    out = values.astype(object).copy()
    out[risky] = "'" + text[risky].astype(str)
    return out


def _csv_frame(batch: pa.RecordBatch) -> pd.DataFrame:
    frame = batch.to_pandas(integer_object_nulls=True)
    for name, typ in zip(batch.schema.names, batch.schema.types, strict=True):
        col = frame[name]
        if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_map(typ) or pa.types.is_struct(typ):
            frame[name] = [None if v is None else json.dumps(_plain(v), ensure_ascii=False, default=str) for v in col]
            frame[name] = guard_cells(frame[name])
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            frame[name] = guard_cells(col)
        elif pa.types.is_timestamp(typ):  # China time, with its offset: unambiguous and what people read
            stamps = pd.to_datetime(col, utc=True).dt.tz_convert(CHINA_TZ)
            frame[name] = [None if pd.isna(v) else v.isoformat() for v in stamps]
    return frame


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list) and value and isinstance(value[0], tuple) and len(value[0]) == 2:
        return {str(k): v for k, v in value}  # a map arrives as (key, value) pairs
    return value


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_batches(
    reader: pa.RecordBatchReader,
    path: Path,
    fmt: Format,
    *,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Stream ``reader`` into ``path`` as Parquet or CSV, atomically; returns the rows written."""
    rows = 0
    with _atomic(path) as tmp:
        if fmt == "parquet":
            with pq.ParquetWriter(tmp, reader.schema, compression="zstd") as writer:
                for batch in reader:
                    if batch.num_rows:
                        writer.write_batch(batch)
                    rows += batch.num_rows
                    if on_batch:
                        on_batch(batch.num_rows)
        else:
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                # every text cell quoted: a lone carriage return inside a post stays inside its cell
                pd.DataFrame(columns=reader.schema.names).to_csv(fh, index=False, quoting=csv.QUOTE_NONNUMERIC)
                for batch in reader:
                    if batch.num_rows:
                        _csv_frame(batch).to_csv(fh, index=False, header=False, quoting=csv.QUOTE_NONNUMERIC)
                    rows += batch.num_rows
                    if on_batch:
                        on_batch(batch.num_rows)
    return rows


def _columns(wh: Warehouse, table: str) -> set[str]:
    if dialect_of(wh) == "postgres":  # the contract's tables, in their schema (store/postgres.py)
        sql = "SELECT column_name FROM information_schema.columns WHERE table_schema = 'yuqing' AND table_name = ?"
    else:
        sql = "SELECT column_name FROM duckdb_columns() WHERE table_name = ?"
    return {r[0] for r in wh.con.execute(sql, [table]).fetchall()}


def export_sql(
    wh: Warehouse, table: str, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> tuple[str, list[Any]] | None:
    """The ``SELECT`` exporting ``table`` (posts, mentions or alerts), or None when it has no source yet.  The
    same rows from DuckDB and PostgreSQL: only a brand's sentiment is read from the JSON map in each dialect."""
    params: list[Any] = []
    analysis = _columns(wh, "post_analysis")
    topics = _columns(wh, "post_topics")
    if table == "posts":
        cols = [f"a.{c}" if c in analysis else f"NULL::{typ} AS {c}" for c, typ in _ANALYSIS.items()] + [
            f"t.{c}" if c in topics else f"NULL::{typ} AS {c}" for c, typ in _TOPIC.items()
        ]
        joins = "LEFT JOIN post_analysis a USING (platform, id) " if analysis else ""
        joins += "LEFT JOIN post_topics t USING (platform, id) " if topics else ""
        where = period_where("p.created_at", since, until, params)
        sql = (
            "SELECT p.platform, p.id, p.kind, p.created_at, p.author_id, p.author_name, "
            "coalesce(u.followers_count, 0) AS author_followers, p.text, p.parent_id, p.root_id, "
            "p.reposts_count, p.comments_count, p.attitudes_count, p.source, p.location, p.topics, p.urls, "
            f"p.query, {', '.join(cols)} FROM posts p {joins}"
            "LEFT JOIN authors u ON u.platform = p.platform AND u.id = p.author_id "
            f"WHERE {where} ORDER BY p.created_at, p.platform, p.id"
        )
        return sql, params
    if table == "mentions":
        if not {"brands", "brand_sentiment"} <= analysis:
            return None
        where = period_where("p.created_at", since, until, params)
        if dialect_of(wh) == "postgres":  # a number, else NULL (as TRY_CAST gives)
            score = (
                "CASE WHEN json_typeof(a.brand_sentiment -> m.brand) = 'number' "
                "THEN (a.brand_sentiment ->> m.brand)::float8 END"
            )
        else:
            score = "TRY_CAST(json_extract(a.brand_sentiment, '$.' || to_json(m.brand)) AS DOUBLE)"
        sql = (
            "SELECT a.platform, a.id, p.created_at, p.author_id, p.author_name, m.brand, "
            f"{score} AS brand_sentiment, a.polarity, a.complaint, a.complaint_category "
            "FROM post_analysis a JOIN posts p USING (platform, id), unnest(a.brands) AS m(brand) "
            f"WHERE {where} ORDER BY p.created_at, a.platform, a.id, m.brand"
        )
        return sql, params
    if table == "alerts":
        alert_cols = _columns(wh, "alerts")
        if not alert_cols:
            return None
        # an alert belongs to the period when it was active in it
        conds = ["TRUE"]
        if since is not None and "last_spike_at" in alert_cols:
            conds.append("last_spike_at >= ?")
            params.append(since)
        if until is not None and "started_at" in alert_cols:
            conds.append("started_at < ?")
            params.append(until)
        order = "started_at, alert_id" if {"started_at", "alert_id"} <= alert_cols else "ALL"
        return f"SELECT * FROM alerts WHERE {' AND '.join(conds)} ORDER BY {order}", params
    raise StoreError(f"unknown export table {table!r} (known: {', '.join(EXPORT_TABLES)})")


def time_windows(
    wh: Warehouse, since: dt.datetime | None, until: dt.datetime | None, rows: int
) -> list[tuple[dt.datetime | None, dt.datetime | None]]:
    """``[since, until)`` cut at hour boundaries into consecutive windows of about ``rows`` posts each.

    Sorting a window costs memory for that window only; sorting the whole export at once grew with
    the corpus (400k posts: +250 MB before the first row came out).  Only per-hour counts are read
    to place the cuts.
    """
    params: list[Any] = []
    where = period_where("created_at", since, until, params)
    hours = wh.con.execute(
        f"SELECT date_trunc('hour', created_at) AS h, count(*) FROM posts WHERE {where} GROUP BY h ORDER BY h",
        params,
    ).fetchall()
    edges: list[dt.datetime | None] = [since]
    filled = 0
    for hour, count in hours:
        if filled and filled + count > rows:
            edges.append(hour)
            filled = 0
        filled += count
    edges.append(until)
    return list(itertools.pairwise(edges))


def export_reader(
    wh: Warehouse,
    table: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    batch_rows: int = BATCH_ROWS,
) -> pa.RecordBatchReader | None:
    """The rows of ``table`` in ``[since, until)`` as a stream of Arrow batches, oldest first.

    Posts and mentions are read one time window (about one batch of posts) at a time, each
    sorted on its own, so memory stays bounded however large the warehouse is.
    """
    found = export_sql(wh, table, since=since, until=until)
    if found is None:
        return None
    if table == "alerts":
        sql, params = found
        return arrow_reader(wh, sql, params, batch_rows)
    queries = [
        export_sql(wh, table, since=lo, until=hi) or found for lo, hi in time_windows(wh, since, until, batch_rows)
    ]
    first = arrow_reader(wh, queries[0][0], queries[0][1], batch_rows)

    def batches() -> Iterator[pa.RecordBatch]:
        yield from first
        for sql, params in queries[1:]:
            yield from arrow_reader(wh, sql, params, batch_rows)

    return pa.RecordBatchReader.from_batches(first.schema, batches())
