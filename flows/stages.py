"""The monitoring stages as plain functions; :mod:`flows.monitor` wraps each in a Prefect task.

Each stage reads what it needs from the warehouse, calls the pure functions of
``nlp``/``graph``/``reports``, and writes results back.  Only
:func:`analyse_chunk` runs in worker processes; it touches no storage.
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime as dt
import functools
import gc
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from yuqing.store.schema import CHINA_TZ
from yuqing.store.settings import Settings

__all__ = [
    "CHINA_TZ",
    "CHUNK_ROWS",
    "Skipped",
    "Stopwatch",
    "alerts",
    "analyse_chunk",
    "analyse_window",
    "analyse_windows",
    "collect",
    "count_posts",
    "graph",
    "load_unanalysed",
    "nlp_workers",
    "preflight",
    "release_memory",
    "reports",
    "retention",
    "split",
    "store_analysis",
    "topics",
]

CHUNK_ROWS = 50_000
"""Posts a text-stage task scores (one task of the analyse flow's fan-out): each task costs its worker ~0.1 CPU-s
of Prefect's own (its run and states reported), 135 tasks at 1M posts with 20k-row chunks, 54 with these."""
_Rows = TypeVar("_Rows", pd.DataFrame, pa.Table)
_P = ParamSpec("_P")
_R = TypeVar("_R")
STAGE_DUCKDB_MEMORY = "256MB"
"""DuckDB's execution memory in the topics, graph, alerts and reports stages (``memory_limit`` of every warehouse
they open): past it DuckDB spills joins, aggregations and sorts to disk.  Unbounded, DuckDB's memory in these stages
grew with the corpus (1M posts: +350-560 MB per read, 256 MB bounded); a stage whose plan cannot spill within it
runs again unbounded (:func:`store.warehouse.memory_bounded`)."""
MIN_TOPIC_POSTS = 50
TOPIC_WINDOW = 250_000
"""Posts the topics stage reads at a time (its vocabulary, sample and assignment passes)."""


@dataclass(frozen=True)
class Skipped:
    """What a stage returns when it had nothing it could do: not a failure, and the reason says why."""

    reason: str


def preflight(settings: Settings, *, crm_import: bool = False) -> None:
    """Every setting and secret the pass will need, checked before any stage starts (one ``ConfigError``).

    The CRM key is needed when customers are imported or already stored (the graph stage links them).
    """
    from yuqing.store.crm import check_key_fingerprint
    from yuqing.store.errors import ConfigError
    from yuqing.store.warehouse import Warehouse

    problems: list[str] = []
    needs_key = crm_import
    if not needs_key and settings.warehouse.exists():
        with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
            needs_key = wh.has_customers()
    if needs_key:
        try:
            key = settings.crm.key_bytes()
            if settings.warehouse.exists():
                with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
                    check_key_fingerprint(wh, key)
        except ConfigError as exc:
            problems.append(f"{exc} (the warehouse holds customers to link)" if not crm_import else str(exc))
    for channel in settings.alerts.channels:
        for env in (channel.url_env, channel.secret_env):
            if env and not os.environ.get(env):
                problems.append(f"alerts channel {channel.name or channel.kind}: environment variable {env} is not set")
    out = settings.flows.out_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problems.append(f"flows.out_dir {out}: cannot create it ({exc.strerror})")
    else:
        if not os.access(out, os.W_OK):
            problems.append(f"flows.out_dir {out}: not writable")
    if problems:
        raise ConfigError("; ".join(problems))


class Stopwatch:
    """Records wall time per stage into a dict."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.into[name] = round(self.into.get(name, 0.0) + time.perf_counter() - started, 3)


def nlp_workers(settings: Settings) -> int:
    return settings.nlp.workers or max(1, os.cpu_count() or 1)


def split(frame: _Rows, rows: int) -> list[_Rows]:
    """``frame`` (a DataFrame or an Arrow table) in slices of at most ``rows`` rows.  An Arrow slice is copied
    out: a zero-copy one pickles its whole table's buffers (each chunk sent to a worker would carry the window)."""
    if isinstance(frame, pa.Table):
        n = frame.num_rows
        return [frame.take(np.arange(i, min(i + rows, n))) for i in range(0, n, rows)]
    return [frame.iloc[i : i + rows] for i in range(0, len(frame), rows)]


def _bounded(stage: Callable[_P, _R]) -> Callable[_P, _R]:
    """``stage`` with DuckDB's memory bounded to :data:`STAGE_DUCKDB_MEMORY`, and what the stages before it left
    in the process released first (:func:`release_memory`), and what it leaves itself after it."""

    @functools.wraps(stage)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        from yuqing.store.warehouse import memory_bounded

        return memory_bounded(STAGE_DUCKDB_MEMORY, lambda: stage(*args, **kwargs), what=f"the {stage.__name__} stage")

    return _released(run)


def _released(stage: Callable[_P, _R]) -> Callable[_P, _R]:
    """``stage`` with what the stages before it left in the process released first, and what it leaves itself after
    it; a stage that bounds DuckDB's memory itself, phase by phase (alerts: only its reads may run again)."""

    @functools.wraps(stage)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        release_memory()
        try:
            return stage(*args, **kwargs)
        finally:
            release_memory()

    return run


def release_memory() -> None:
    """Give back what finished work left in this process: its cyclic garbage collected (the flow runs the stages
    one after another in one process, and a full collection is rare: after the analyse stage at 250k posts ~200 MB
    of unreachable objects were still held), then the C heap's free pages returned to the system (glibc's
    ``malloc_trim``; a no-op where there is none).  Flow process after the analyse stage at 250k: 590 -> 374 MB."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


# --------------------------------------------------------------------------- collect


def collect(
    settings: Settings,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    platforms: list[str] | None = None,
    progress: Callable[[str, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every platform of the registry (:mod:`collectors.platforms`) whose scopes the settings fill (or those
    ``platforms`` names), each by the engine the settings choose, each writing through the warehouse.

    Returns the stats per platform (``engine`` names the engine).  What the operator must do (a dead login
    cookie, a captcha) is sent to the alert channels and returned under ``notices``.
    """
    from yuqing.collectors.platforms import PLATFORMS, platform_named

    wanted = {platform_named(p) for p in platforms} if platforms else None
    stats: dict[str, Any] = {}
    notices: list[str] = []
    for entry in PLATFORMS:
        if not entry.collectable or (wanted is not None and entry.platform not in wanted):
            continue
        if not entry.scopes(settings):
            continue
        engine = entry.engine(settings)
        result = _as_dict(entry.runner(settings)(settings, since=since, until=until, progress=progress, warn=warn))
        notices += result.get("notices") or []
        stats[entry.platform.value] = {"engine": engine, **result}
    if notices:
        stats["notices"] = notices
        if failed := notify_operator(settings, notices):
            stats["notice_failures"] = failed
    return stats


def notify_operator(settings: Settings, notices: list[str], *, now: dt.datetime | None = None) -> list[str]:
    """Collection problems only a person can fix: logged at ERROR and sent to the alert channels through the
    outbox (:func:`reports.delivery.notify_operator`), each notice at most once a day.  Returns the deliveries
    that failed (they stay pending in the outbox and are retried by the next pass)."""
    import logging

    from yuqing.reports.delivery import notify_operator as send_notice

    day = (now or dt.datetime.now(dt.UTC)).astimezone(CHINA_TZ).date().isoformat()
    failed: list[str] = []
    for notice in notices:
        logging.getLogger("yuqing.collect").error("action needed: %s", notice)
        report = send_notice(settings, "采集需要人工处理", notice, key=f"collect:{day}:{notice}", now=now)
        failed += report.failed
    return failed


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if hasattr(value, "model_dump"):
        return dict(value.model_dump())
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    return {"value": str(value)}


# --------------------------------------------------------------------------- analyse


def load_unanalysed(
    settings: Settings,
    *,
    reanalyse: bool = False,
    window: tuple[str, str, str] | None = None,
) -> pa.Table:
    """Posts that have no analysis row yet (or all posts with ``reanalyse``) as an Arrow table of ``platform, id,
    text``: those of ``window`` (one of :func:`analyse_windows`, by key range: what the analyse stage reads), or
    all of them."""
    from yuqing.store.warehouse import Warehouse

    with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
        if window is not None:
            return wh.unanalysed_window(*window, reanalyse=reanalyse)
        return wh.unanalysed_posts(reanalyse=reanalyse)


def analyse_windows(settings: Settings, *, reanalyse: bool = False) -> list[tuple[str, str, str]]:
    """The key ranges the analyse stage reads one at a time, each of :func:`analyse_window` posts to analyse
    (:meth:`store.warehouse.Warehouse.unanalysed_windows`), read once as the stage starts."""
    from yuqing.store.warehouse import Warehouse

    with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
        return wh.unanalysed_windows(analyse_window(settings), reanalyse=reanalyse)


def analyse_window(settings: Settings) -> int:
    """Posts the analyse stage reads, scores and writes at a time: one chunk per worker, whatever the corpus's
    size.  The flow process holds two windows' texts and one's results (the next window is queued on the workers
    while one is stored): 200k rows at two workers, where it held 400k (20k-row chunks, 10 a window)."""
    return CHUNK_ROWS * nlp_workers(settings)


@lru_cache(maxsize=4)
def _text_stage(settings_json: str) -> tuple[Any, Any, Any]:
    from yuqing.nlp.pipeline import TextModels
    from yuqing.nlp.segment import Segmenter

    settings = Settings.model_validate_json(settings_json)
    return Segmenter.from_settings(settings), TextModels.from_settings(settings.nlp), settings.all_brands


def analyse_chunk(chunk: pa.Table | pd.DataFrame, settings: Settings) -> pa.Table:
    """Pure text stage over one chunk of ``platform, id, text`` (runs in a worker process; models load once per
    process).  Returns the rows :meth:`store.warehouse.Warehouse.save_analysis` writes, as the Arrow table it
    writes (:func:`store.warehouse.analysis_arrow`): Arrow goes back to the flow process as column buffers, where a
    frame's strings, lists and JSON texts were pickled and unpickled one Python object at a time.  The table is
    built from the text stage's columns and the chunk's keys: no frame of the chunk, none of its results."""
    from yuqing.nlp.pipeline import analyze_columns
    from yuqing.store.warehouse import analysis_arrow

    segmenter, models, brands = _text_stage(settings.model_dump_json())
    if isinstance(chunk, pd.DataFrame):
        chunk = pa.Table.from_pandas(chunk[["platform", "id", "text"]], preserve_index=False)
    columns = analyze_columns(chunk["text"].to_pylist(), segmenter, models, brands=brands, keep_tokens=True)
    columns["tokens"] = [" ".join(t) for t in columns["tokens"]]
    return analysis_arrow(chunk.select(["platform", "id"]), columns)  # brand_sentiment as JSON text, here


def store_analysis(
    settings: Settings, frames: Sequence[pa.Table | pd.DataFrame], *, count: bool = True, new: bool = False
) -> int:
    """The text stage's rows (:func:`analyse_chunk`'s) written and, with ``count``, ``post_counts`` brought up to
    date in the same transaction (the analyse flow writes window by window without it and calls
    :func:`count_posts` at its end); ``new``: rows of posts read as unanalysed (a plain INSERT:
    :meth:`store.warehouse.Warehouse.save_analysis`)."""
    from yuqing.store.warehouse import Warehouse, analysis_rows

    tables = [f if isinstance(f, pa.Table) else analysis_rows(f.reset_index(drop=True)) for f in frames if len(f)]
    if not tables:
        if count:
            count_posts(settings)
        return 0
    with Warehouse.open(settings.warehouse.location) as wh:
        return wh.save_analysis(pa.concat_tables(tables, promote_options="default"), count=count, new=new)


@_bounded
def count_posts(settings: Settings) -> int:
    """``post_counts`` brought up to date (the hours whose posts were analysed, re-analysed or re-fetched since
    they were counted: a re-fetch changes the engagement reports count); returns the hours recounted.  The end
    of the analyse stage, also when it analysed nothing.  DuckDB's memory bounded as in the stages after it
    (:data:`STAGE_DUCKDB_MEMORY`): after a first pass every hour is stale, and the join of every post with its
    analysis held +863 MB at 1M posts, the flow's peak (+265 MB bounded, 5.1 -> 8.7 CPU-s: measured on a copy
    of the analysed 1M warehouse)."""
    from yuqing.store.warehouse import Warehouse

    with Warehouse.open(settings.warehouse.location) as wh:
        return wh.refresh_post_counts()


# --------------------------------------------------------------------------- CRM


def import_crm(
    settings: Settings,
    customers: Path,
    orders: Path | None,
    *,
    mapping: dict[str, str] | None = None,
    tickets: Path | None = None,
) -> dict[str, Any]:
    """Load a CRM export (customers, orders and service tickets); bad rows are reported (file, line, field) and
    the rest loads."""
    from yuqing.flows.commands.io import open_table
    from yuqing.store.crm import read_customers, read_orders
    from yuqing.store.warehouse import Warehouse

    key = settings.crm.key_bytes()
    table = open_table(customers)  # encoding (UTF-8, BOM, GB18030), a header and rows, parseable
    order_table = open_table(orders) if orders is not None else None
    records, report = read_customers(customers, mapping, encoding=table.encoding)
    errors = [str(e) for e in report.errors]
    order_records: list[Any] = []
    if orders is not None and order_table is not None:
        order_records, order_report = read_orders(orders, mapping, encoding=order_table.encoding)
        errors += [str(e) for e in order_report.errors]
    with Warehouse.open(settings.warehouse.location) as wh:
        wh.upsert_customers(records, key, source=str(customers.resolve()))
        wh.add_orders(order_records)
        links = _link(wh, key, command=f"yuqing crm import {customers.name}")
    result: dict[str, Any] = {"customers": len(records), "orders": len(order_records), "links": links}
    if tickets is not None:
        loaded, _open, bad = import_tickets(settings, tickets, mapping or {})
        result["tickets"] = loaded
        errors += bad
    result["errors"] = errors
    return result


def import_tickets(settings: Settings, path: Path, mapping: dict[str, str]) -> tuple[int, int, list[str]]:
    """Service tickets into the warehouse; the file checked first (encoding, header, rows), bad rows reported.
    Returns (loaded, open, rejected rows)."""
    from yuqing.flows.commands.io import open_table
    from yuqing.store.crm import read_tickets
    from yuqing.store.warehouse import Warehouse

    table = open_table(path)
    records, report = read_tickets(path, mapping, encoding=table.encoding)
    with Warehouse.open(settings.warehouse.location) as wh:
        wh.add_tickets(records)
    return len(records), sum(t.is_open for t in records), [str(e) for e in report.errors]


def _link(wh: Any, key: bytes, *, command: str) -> int:
    """Link customers to accounts, then keep only keyed hashes of the accounts' contact details."""
    from yuqing.graph.customers import author_identifier_hashes, link_customers
    from yuqing.store.crm import pseudonymise_authors

    authors = wh.linking_authors()
    if authors.empty:
        return 0
    pseudonymise_authors(wh, key)  # only the payloads change: hashes are what linking compares
    identifiers = wh.customer_identifiers()
    links, _candidates = link_customers(identifiers, authors, author_identifier_hashes(authors, key))
    wh.add_links(links, command=command)
    return len(links)


def retention(settings: Settings, *, command: str = "yuqing run (retention stage)") -> dict[str, int]:
    """Empty old raw payloads and forget customers past ``retention.*`` (logged in ``privacy_log``)."""
    from yuqing.store.crm import enforce_retention, pseudonymise_authors
    from yuqing.store.errors import ConfigError
    from yuqing.store.warehouse import Warehouse

    r = settings.retention
    try:
        key: bytes | None = settings.crm.key_bytes()
    except ConfigError:
        key = None  # no CRM join configured: contact details are masked, not hashed
    with Warehouse.open(settings.warehouse.location) as wh:
        done = enforce_retention(wh, raw_days=r.raw_payload_days, customer_days=r.customer_days, command=command)
        done["authors_pseudonymised"] = pseudonymise_authors(wh, key)
    return done


# --------------------------------------------------------------------------- topics


@_bounded
def topics(settings: Settings) -> int | Skipped:
    """Fit (or refit) topics on the analysed posts; topic ids stay stable across runs.

    A corpus too small or too uniform to model is :class:`Skipped` with the reason
    (``nlp.topics.TopicsUnavailable``), not a failure.  Brand and product names never label a topic.
    """
    from yuqing.nlp.topics import (
        TopicModel,
        TopicsUnavailable,
        align_topics,
        daily_counts,
        fit_topics_streamed,
        topic_summary,
    )
    from yuqing.store.warehouse import Warehouse

    # the corpus is read a window at a time, twice (the vocabulary and the fit's sample in one pass, then the
    # assignment), and each window's assignments are written as they are made: memory follows the window and the
    # model, not the corpus.  Each phase has its own connection, closed before the next: DuckDB keeps what a read
    # allocated while its connection is open (+400 MB at 400k posts after the count and the first pass), and the
    # fit runs with none open.
    location = settings.warehouse.location
    with Warehouse.open(location) as wh:
        n = wh.topic_corpus_size()
        if not n and not wh.table_counts()["post_analysis"]:
            return Skipped("no analysed posts yet")
        # the windows' last keys, read once for both passes: on the assignment pass's connection (it writes, one
        # transaction) DuckDB held what the sort of the corpus's keys allocated until the commit (1M posts: +449 MB
        # unbounded, 256 MB bounded).  Posts analysed since fall in the last window, which runs to the corpus's end.
        bounds = [*(wh.topic_corpus_bounds(TOPIC_WINDOW) if n >= MIN_TOPIC_POSTS else []), None]
    if n < MIN_TOPIC_POSTS:
        return Skipped(f"{n} posts with words to model; topics need at least {MIN_TOPIC_POSTS}")

    def windows(wh: Warehouse) -> Iterator[pd.DataFrame]:
        after: tuple[str, str] | None = None
        for upto in bounds:
            frame = wh.topic_corpus(after=after, upto=upto)
            if not frame.empty:
                yield frame
            after = upto

    def first_pass() -> Iterator[pd.DataFrame]:
        with Warehouse.open(location, read_only=True) as wh:
            yield from windows(wh)

    model_dir = settings.warehouse.path.parent / "models" / "topics"
    brand_terms = [t for b in settings.all_brands for t in (*b.terms, *b.products)]
    try:
        model = fit_topics_streamed(
            lambda: (t.split() for w in first_pass() for t in w["tokens"]),
            n,
            k=settings.nlp.topics_k,
            seed=0,
            label_exclude=brand_terms,
        )
    except TopicsUnavailable as exc:  # e.g. every word in every post: nothing tells topics apart
        return Skipped(exc.reason)
    if (model_dir / "model.json").exists():
        model = align_topics(model, TopicModel.load(model_dir))
    model.save(model_dir)
    labels = model.labels
    daily: list[pd.DataFrame] = []

    def summary() -> pd.DataFrame:
        # each topic's posts, share and whether it is emerging (share of the last three days >= 2x before):
        # what the report reads (reports.data.ReportFrames.topics)
        counts = pd.concat(daily, ignore_index=True).groupby(["day", "topic"], dropna=False)["posts"].sum()
        return topic_summary(model, counts.reset_index())

    with Warehouse.open(location) as wh:

        def assignments() -> Iterator[pd.DataFrame]:
            for w in windows(wh):
                ids, _probs = model.assign(t.split() for t in w["tokens"])
                daily.append(daily_counts(w["created_at"], ids))
                yield w[["platform", "id"]].assign(topic=ids, topic_label=[labels.get(int(i), "") for i in ids])

        # every refit reassigns every post: the assignment table is replaced wholesale, in one transaction
        wh.save_topics(assignments(), summary)
    return model.k


# --------------------------------------------------------------------------- graph


@_bounded
def graph(settings: Settings) -> dict[str, int]:
    """Interaction graph → leaders and communities; CRM links refreshed; the customer view rebuilt.

    Reads only aggregates (edges per author pair and kind, cascades and profiles per author, keyword and
    polarity counts per community) and the linked customers' posts: memory grows with authors and edges,
    not with posts.  ``rows_read`` in the result counts every row fetched from the warehouse."""
    from yuqing.graph.build import edge_graph_codes
    from yuqing.graph.communities import community_ids, describe_communities
    from yuqing.graph.customers import audience_edges, customer_view, kol_customer_reach, rfm
    from yuqing.graph.leaders import rank_leaders
    from yuqing.store.warehouse import Warehouse

    location = settings.warehouse.location
    # The phases that hold DuckDB's memory (the linked accounts' posts, the communities' profiles) run while the
    # least is held beside them: linking before the graph is built, the profiles before the leaders are ranked
    # (a row per author with its reasons).  One connection per phase: DuckDB keeps what a read allocated while its
    # connection is open, so the stage peaks at its largest phase, not at their sum.  1M posts: 931 -> 783 MB.
    with Warehouse.open(location, read_only=True) as wh:
        customers = wh.customers_for_graph()
        rows_read = wh.rows_fetched
    posts = None
    if not customers.empty:
        with Warehouse.open(location) as wh:
            _link(wh, settings.crm.key_bytes(), command="yuqing run (graph stage)")
            rows_read += wh.rows_fetched
    with Warehouse.open(location) as wh:  # registers the links: a temp table on PostgreSQL
        links = wh.customer_links_current()
        if not customers.empty:
            posts = wh.author_posts(links)  # the linked accounts' posts, for the customer view
        rows_read += wh.rows_fetched
    release_memory()
    with Warehouse.open(location, read_only=True) as wh:
        edges = wh.interaction_edge_codes()  # authors as integers: one string key per author
        rows_read += wh.rows_fetched
    # the graph is built with no connection open: DuckDB holds what the edges' aggregation allocated until its
    # connection closes (1M posts: ~250 MB, under the stage's bound), and the graph's arrays would come on top
    g = edge_graph_codes(*edges)
    del edges
    if not g.number_of_edges():
        return {"leaders": 0, "communities": 0, "rows_read": rows_read}
    ids = community_ids(g, seed=0)
    # igraph's and Leiden's C allocations are freed, but the C heap keeps the pages (1M posts: +157 MB held
    # through every later phase): handed back before the next phase
    release_memory()
    members = g.nodes.assign(community=ids)
    with Warehouse.open(location) as wh:  # registers the members: a temp table on PostgreSQL
        words, polarity = wh.community_profiles(members)
        rows_read += wh.rows_fetched
    release_memory()
    with Warehouse.open(location, read_only=True) as wh:
        authors = wh.author_profiles()
        cascade = wh.repost_cascades()
        orders = wh.orders()
        rows_read += wh.rows_fetched
    leaders = rank_leaders(g, authors, cascade, top=None)
    del authors, cascade  # a row per author each: not held through the phases below
    leaders = leaders.merge(members, on=["platform", "author_id"], how="left")
    labelled = describe_communities(members["community"].value_counts(), words, polarity, leaders)
    values = rfm(orders)
    # the customers each account's audience holds (accounts that reposted, commented, replied, mentioned)
    reach = kol_customer_reach(audience_edges(g, links), links, values)
    del g
    leaders = leaders.merge(reach, on="author_id", how="left").fillna({"customers_reached": 0, "customers_value": 0.0})
    leaders["customers_reached"] = leaders["customers_reached"].astype("int64")
    view = None
    if posts is not None:
        linked = members[members["author_id"].isin(links["author_id"])]  # the view looks up linked accounts only
        partition = dict(zip(linked["author_id"].tolist(), linked["community"].tolist(), strict=True))
        # the customer view matches accounts by author id: the best-ranked account of an id
        view = customer_view(customers, values, links, leaders.drop_duplicates("author_id"), partition, posts)
        del posts
    release_memory()
    with Warehouse.open(location) as wh:
        wh.save_graph(leaders, labelled, members, view)
        rows_read += wh.rows_fetched
    return {"leaders": len(leaders), "communities": len(labelled), "rows_read": rows_read}


# --------------------------------------------------------------------------- reports / alerts


def data_span(settings: Settings) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Times of the first and last post in the warehouse (China time), or None when it holds none."""
    from yuqing.store.warehouse import Warehouse

    with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
        span = wh.post_span()
    return None if span is None else (span[0].tz_convert(CHINA_TZ), span[1].tz_convert(CHINA_TZ))


def data_window(settings: Settings) -> tuple[dt.date, dt.date]:
    """First and last day with posts (the default report period)."""
    span = data_span(settings)
    if span is None:
        today = dt.datetime.now(CHINA_TZ).date()
        return today, today
    return span[0].date(), span[1].date()


@_bounded
def reports(settings: Settings, *, start: dt.date | None, end: dt.date | None, out_dir: Path) -> list[str] | Skipped:
    """The brand report for the period and a report per configured campaign (skipped when it holds no post)."""
    from yuqing.reports.brand import brand_report, write_brand_report
    from yuqing.reports.campaign import campaign_crm, campaign_figures, write_campaign_report
    from yuqing.reports.charts import warm_up
    from yuqing.reports.data import campaign_frames

    warm_up()  # vl-convert's engine starts while the frames load (~1.4 s less before the first chart)
    lo, hi = data_window(settings)
    start, end = start or lo, end or hi
    competitors = [c.name for c in settings.competitors]
    figures = brand_report(settings.warehouse.location, settings.brand.name, competitors, start, end)
    if not figures["_ctx"].frames.post_count():
        return Skipped(f"no posts from {start} to {end}: nothing to report")
    paths = write_brand_report(figures, out_dir)
    del figures  # the brand report's frames go before a campaign's window is read (never both at once)
    for campaign in settings.campaigns:
        paths += write_campaign_report(
            campaign_figures(
                campaign_frames(settings.warehouse.location, campaign),
                campaign,
                settings.brand.name,
                competitors,
                crm=campaign_crm(settings.warehouse.location, campaign),
            ),
            out_dir,
        )
    return [str(p) for p in paths]


@_released
def alerts(settings: Settings, *, now: dt.datetime | None = None, dispatch: bool = True) -> list[str]:
    """Detect complaint spikes, update alert states, queue each state change per channel, send what is due.

    Deliveries go through the outbox (:mod:`reports.delivery`): queued before the alert table is
    written (a crash in between re-queues the same keys, never loses one), retried pass after pass
    until accepted or expired.  Raises :class:`reports.delivery.DeliveryFailed` (with the pass's lines)
    after everything ran when a delivery was not accepted.  While the data is still in warm-up the
    first line says when alerting starts.
    """
    from yuqing.reports.delivery import PassReport, deliver_pending, enqueue_events
    from yuqing.reports.warning import (
        AlertRules,
        complaint_counts,
        detect_spikes,
        score_spikes,
        update_alerts,
        warmup_message,
    )
    from yuqing.store.warehouse import Warehouse, duckdb_memory_limit, memory_bounded

    a = settings.alerts
    rules = AlertRules.from_settings(a)
    with duckdb_memory_limit(STAGE_DUCKDB_MEMORY):
        span = data_span(settings)  # warm-up counts from the first post, not the first complaint
    if span is None:
        return []
    start, end = span
    brands = [b.name for b in settings.all_brands]
    note = warmup_message(start, end, rules)
    now_ts = pd.Timestamp(now) if now is not None else end

    # complaint counts per bucket from post_counts, each spike's posts aggregated in SQL: rows read grow with
    # buckets, spikes and terms, not with posts
    def detect() -> tuple[pd.DataFrame, pd.DataFrame]:
        with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
            counts = complaint_counts(wh, brands, rules)
            customers = wh.linked_customer_values()
            spikes = score_spikes(detect_spikes(counts, rules, start=start, end=end), wh, customers, rules)
            return spikes, wh.alerts()

    # DuckDB bounded as in every stage after analyse; only the reads run again unbounded when a plan cannot spill.
    # A run of the whole stage again came after sending: nothing went out twice (the outbox), but the pass then
    # found the alerts already stored and reported neither them nor what it sent.
    spikes, stored = memory_bounded(STAGE_DUCKDB_MEMORY, detect, what="the alerts stage's detection")
    table, events = update_alerts(stored, spikes, now_ts, rules)
    report = PassReport()
    with duckdb_memory_limit(STAGE_DUCKDB_MEMORY), Warehouse.open(settings.warehouse.location) as wh:
        _queued, report.suppressed = enqueue_events(wh, a, events)
        wh.save_alerts(table)
        if dispatch:
            report = dataclasses.replace(deliver_pending(wh, a), suppressed=report.suppressed)
    lines = (
        ([note] if note else [])
        + [
            f"{e['event']}: {e['brand']} {e['category']}{_also(e['categories'], e['category'])} "
            f"since {e['started_at']} ({e['complaints']} complaints, z={float(e['peak_z']):.1f})"
            for e in events
        ]
        + (
            [f"not paged: {report.suppressed} message(s) about incidents already over or older than "
             f"{a.page_max_age_hours:g} h (alerts.page_history)"]
            if report.suppressed
            else []
        )
    )  # fmt: skip
    report.raise_for_failures(lines)
    return lines + report.lines


def _also(categories: dict[str, int], dominant: str) -> str:
    """The other categories an alert's burst was filed under: `` (+安全, 其他)``."""
    others = [c for c in categories if c != dominant]
    return f" (+{', '.join(others)})" if others else ""
