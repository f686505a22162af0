"""The warehouse reads the flow spends longest on at scale, one at a time, on a warehouse the flow already ran on:
wall seconds, this process's CPU, and on PostgreSQL the server's execution time (``pg_stat_statements``, wall) and
the CPU seconds of the connection's server process (``/proc``, a server on this machine; parallel workers off for
the session, so that one process does each read): on a loaded machine the last column is the one to compare.

    python benchmarks/bench_pg_statements.py --warehouse 'postgresql://…/y250' --config /tmp/w250/world/yuqing.toml
    python benchmarks/bench_pg_statements.py --warehouse /tmp/w250/w.duckdb --config …   # the same on DuckDB
    python benchmarks/bench_pg_statements.py … --only repost_cascades,community_profiles --repeat 3

The reads are those of the graph stage (``interaction_edge_codes``, ``repost_cascades``, ``community_profiles``
on the stored communities), the end of the analyse stage (``post_counts`` with every hour stale, as after a first
analysis, and the stale-hours scan of an up-to-date warehouse) and the brand report over the whole data window
(its top-N and distinct reads, as ``yuqing report brand`` makes them).  Best of ``--repeat``; ``rows`` is what
each returned.  Run it before and after a change on the same database (a copy: ``CREATE DATABASE x TEMPLATE y``)
to compare one statement with itself; on a loaded machine compare the server and CPU columns.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rows(value: Any) -> int:
    if isinstance(value, tuple):
        return sum(_rows(v) for v in value)
    if isinstance(value, dict):
        frames = any(hasattr(v, "__len__") for v in value.values())
        return sum(_rows(v) for v in value.values()) if frames else len(value)
    if isinstance(value, int):
        return value
    return len(value)


def reads(wh: Any, brand: str, competitors: list[str], since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """name -> a call of one read (each returns what the flow gets)."""
    split = until - (until - since) / 2

    def members() -> Any:
        return wh.read_table("community_members").dropna(subset=["community"])

    def counts_whole() -> int:  # every hour stale, as at the end of a first analysis: the scan, then the count
        with wh.transaction():
            wh.con.execute("DELETE FROM post_counts")
        return int(wh.refresh_post_counts())

    brands = [brand, *competitors]
    return {
        "interaction_edge_codes": lambda: wh.interaction_edge_codes(),
        "repost_cascades": wh.repost_cascades,
        "community_profiles": lambda: wh.community_profiles(members()),
        "post_counts_all_stale": counts_whole,
        "post_counts_stale_scan": wh.refresh_post_counts,
        "brand_counts": lambda: wh.brand_counts(brands, since, until),
        "brand_authors": lambda: wh.brand_authors(brands, since, until),
        "top_mentions": lambda: wh.top_mentions(brand, since, until, n=10),
        "top_mentions_per_category": lambda: wh.top_mentions(brand, since, until, n=3, per_category=True),
        "brand_topics": lambda: wh.brand_topics(brand, since, until),
        "brand_keyword_counts": lambda: wh.brand_keyword_counts(brand, since, split, until),
        "brand_leaders": lambda: wh.brand_leaders(brand, since, until),
        "brand_communities": lambda: wh.brand_communities(brand, competitors, since, until),
        "brand_reach": lambda: wh.brand_reach(brand, since, until),
        "brand_reach_daily": lambda: wh.brand_reach(brand, since, until, daily=True),
        "linked_posts": lambda: wh.report_posts(since=since, until=until, linked_only=True),
    }


def server_seconds(wh: Any) -> float | None:
    """The server's summed execution time of every top-level statement so far (a streamed read's ``COPY`` once,
    not again for the query inside it; None: not PostgreSQL, or no extension)."""
    if not hasattr(wh, "url"):
        return None
    try:
        row = wh.con.execute(
            "SELECT sum(total_exec_time) / 1000 FROM public.pg_stat_statements WHERE toplevel"
        ).fetchall()
    except Exception:  # the extension is not in this database
        return None
    return float(row[0][0] or 0.0)


def backend_cpu(wh: Any) -> float | None:
    """CPU seconds the connection's server process has used (PostgreSQL on this machine; else None): what a read
    costs the server whatever else runs, where its wall time is not."""
    if not hasattr(wh, "url"):
        return None
    pid = wh.con.execute("SELECT pg_backend_pid()").fetchall()[0][0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # a server on another machine
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def timed(wh: Any, call: Callable[[], Any]) -> tuple[float, float, float | None, float | None, int]:
    before, cpu_before = server_seconds(wh), backend_cpu(wh)
    t, cpu = time.perf_counter(), time.process_time()
    value = call()
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    after, cpu_after = server_seconds(wh), backend_cpu(wh)
    srv = None if before is None or after is None else after - before
    srv_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return wall, cpu, srv, srv_cpu, _rows(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True, help="a postgresql:// URL or a DuckDB file, after a flow")
    parser.add_argument("--config", type=Path, required=True, help="the world's yuqing.toml (brand, competitors)")
    parser.add_argument("--only", default="", help="comma-separated names of the reads to run")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from yuqing.store.schema import CHINA_TZ
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    settings = load_settings(args.config)
    brand, competitors = settings.brand.name, [c.name for c in settings.competitors]
    with Warehouse.open(args.warehouse) as wh:
        span = wh.post_span()
        if span is None:
            print("the warehouse holds no post")
            return 1
        lo, hi = (t.tz_convert(CHINA_TZ).date() for t in span)
        since = dt.datetime.combine(lo, dt.time(), tzinfo=CHINA_TZ)
        until = dt.datetime.combine(hi + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ)
        table = reads(wh, brand, competitors, since, until)
        wanted = [n for n in args.only.split(",") if n] or list(table)
        unknown = [n for n in wanted if n not in table]
        if unknown:
            print(f"unknown read(s) {unknown}; known: {', '.join(table)}")
            return 2
        print(f"{brand} vs {competitors}, {lo} to {hi}, best of {args.repeat}")
        if hasattr(wh, "url"):  # one server process per read, so that its CPU is the read's
            wh.con.execute("SET max_parallel_workers_per_gather = 0")
        print(f"{'read':28} {'wall s':>8} {'CPU s':>8} {'server s':>9} {'srv CPU s':>9} {'rows':>9}")
        for name in wanted:
            best = min((timed(wh, table[name]) for _ in range(args.repeat)), key=lambda r: r[3] or r[0])
            wall, cpu, srv, srv_cpu, rows = best
            shown = ["" if v is None else f"{v:9.2f}" for v in (srv, srv_cpu)]
            print(f"{name:28} {wall:8.2f} {cpu:8.2f} {shown[0]:>9} {shown[1]:>9} {rows:9,d}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
