"""Throughput of ``yuqing import`` on a large generated generic CSV (no data set needed).

Usage::

    python benchmarks/bench_import.py [--rows 200000] [--chunk 10000]

Writes a CSV of ``--rows`` posts (id, text with an emoticon, a topic and a mention, created_at, author, counts such
as ``1.2万``) to a temporary directory, imports it with ``--format csv`` into a fresh warehouse, and prints rows/s
for the first import and for a re-import of the same file (which must change nothing), the peak RSS, and — in the
same run, as the yardstick — a plain DuckDB ``read_csv`` + ``INSERT`` of the same file into an empty warehouse's
``posts`` table (no validation, no text cleaning, no entities: the floor of what a load can cost here).
"rows per CPU-s" (this process's CPU time, DuckDB's threads included) is the figure to compare on a shared machine.
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

from yuqing.collectors.importers import import_file
from yuqing.store.warehouse import Warehouse


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "text", "created_at", "author_id", "author_name", "attitudes_count", "comments_count"])
        for i in range(rows):
            out.writerow(
                [
                    str(4_900_000_000_000_000 + i),
                    f"第{i}条 #星阅X5# 电池续航不错 @用户{i % 977} [哈哈] &amp; 好评",
                    f"2026-10-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00",
                    f"u{i % 20_011}",
                    f"用户{i % 20_011}",
                    "1.2万" if i % 50 == 0 else str(i % 997),
                    str(i % 31),
                ]
            )


def plain_duckdb(src: Path, db: Path) -> int:
    """The yardstick: DuckDB reads the CSV and inserts it as it is (counts cast, display counts as 0)."""
    with Warehouse.open(db) as wh:
        wh.con.execute(
            "INSERT INTO posts (platform, id, kind, text, created_at, author_id, author_name, reposts_count, "
            "comments_count, attitudes_count, fetched_at, first_seen_at) "
            "SELECT 'weibo', id, 'post', text, created_at::TIMESTAMP AT TIME ZONE 'Asia/Shanghai', author_id, "
            "author_name, 0, coalesce(try_cast(comments_count AS BIGINT), 0), "
            "coalesce(try_cast(attitudes_count AS BIGINT), 0), now(), now() "
            "FROM read_csv(?, all_varchar = true, header = true)",
            [str(src)],
        )
        return wh.table_counts()["posts"]


def report(label: str, rows: int, took: float, cpu: float, extra: str = "") -> None:
    print(
        f"{label:10s} {rows:,} rows in {took:.1f} s = {rows / took:,.0f} rows/s; "
        f"CPU {cpu:.1f} s = {rows / cpu:,.0f} rows per CPU-s{extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=50_000, help="rows per batch (one transaction each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, db = Path(tmp) / "posts.csv", Path(tmp) / "w.duckdb"
        write_csv(src, args.rows)
        times: dict[str, float] = {}
        for label in ("import", "re-import"):
            start, cpu = time.perf_counter(), time.process_time()
            result = import_file(src, "csv", db, chunk=args.chunk)
            took, cpu = time.perf_counter() - start, time.process_time() - cpu
            report(label, result.rows, took, cpu, f" ({result.loaded:,} loaded, {len(result.errors)} rejected)")
            times.setdefault(label, took)
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        start, cpu = time.perf_counter(), time.process_time()
        rows = plain_duckdb(src, Path(tmp) / "plain.duckdb")
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        report("duckdb", rows, took, cpu, " (plain read_csv + INSERT, same file)")
        print(f"yuqing import / plain DuckDB wall time: {times['import'] / took:.1f}x")


if __name__ == "__main__":
    main()
