"""Throughput of ``yuqing import`` on a large generated generic CSV (no data set needed).

Usage::

    python benchmarks/bench_import.py [--rows 200000] [--chunk 10000]

Writes a CSV of ``--rows`` posts (id, text with an emoticon, a topic and a mention, created_at, author, counts such
as ``1.2万``) to a temporary directory, imports it with ``--format csv`` into a fresh warehouse, and prints rows/s
for the first import and for a re-import of the same file (which must change nothing), and the peak RSS.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, db = Path(tmp) / "posts.csv", Path(tmp) / "w.duckdb"
        write_csv(src, args.rows)
        for label in ("import", "re-import"):
            start, cpu = time.perf_counter(), time.process_time()
            result = import_file(src, "csv", db, chunk=args.chunk)
            took, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(
                f"{label:10s} {result.loaded:,} of {result.rows:,} rows in {took:.1f} s = "
                f"{result.rows / took:,.0f} rows/s; CPU {cpu:.1f} s = {result.rows / cpu:,.0f} rows per CPU-s "
                f"({len(result.errors)} rejected)"
            )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
