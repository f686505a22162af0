"""Throughput of ``yuqing import`` on a large generated file (no data set needed).

Usage::

    python benchmarks/bench_import.py [--rows 200000] [--chunk 122880] [--format csv|mediacrawler|weibo-search]
                                      [--row-wise]

Writes ``--rows`` posts (id, text with an emoticon, a topic, a mention and an entity, time, author, counts such as
``1.2万``) as a generic CSV, a MediaCrawler Weibo contents CSV (``data/weibo/csv/search_contents_<date>.csv``,
``creator_hash`` authors) or a weibo-search CSV (``结果文件/<keyword>/<keyword>.csv``) to a temporary directory,
imports it into a fresh warehouse (column-wise; ``--row-wise``: by the row parsers the column-wise rules are tested
against), and prints rows/s for the first import and for a re-import of the same file (which must change nothing),
the peak RSS, and — in the same run, as the yardstick — a plain DuckDB ``read_csv`` + ``INSERT`` of the same file
into an empty warehouse's ``posts`` table (no validation, no text cleaning, no entities: the floor of what a load
can cost here), with the ratios of the two.  "rows per CPU-s" (this process's CPU time, DuckDB's threads included)
is the figure to compare on a shared machine.
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

from yuqing.collectors.importers import load_file
from yuqing.collectors.importers.columnar import BATCH_ROWS
from yuqing.store.warehouse import Warehouse

HEADERS = {
    "csv": ["id", "text", "created_at", "author_id", "author_name", "attitudes_count", "comments_count"],
    "mediacrawler": ["note_id", "content", "create_time", "creator_hash", "nickname", "liked_count", "comments_count",
                     "shared_count", "ip_location", "source_keyword", "last_modify_ts"],
    "weibo-search": ["id", "user_id", "用户昵称", "微博正文", "点赞数", "评论数", "转发数", "发布时间", "发布工具",
                     "话题", "ip", "user_authentication"],
}  # fmt: skip
PATHS = {
    "csv": "posts.csv",
    "mediacrawler": "data/weibo/csv/search_contents_2026-10-13.csv",
    "weibo-search": "结果文件/星阅X5/星阅X5.csv",
}


def write_csv(path: Path, rows: int, fmt: str = "csv") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig" if fmt != "csv" else "utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADERS[fmt])
        for i in range(rows):
            post_id = str(4_900_000_000_000_000 + i)
            text = f"第{i}条 #星阅X5# 电池续航不错 @用户{i % 977} [哈哈] &amp; 好评"
            when = f"2026-10-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}"
            likes, comments = "1.2万" if i % 50 == 0 else str(i % 997), str(i % 31)
            if fmt == "csv":
                out.writerow([post_id, text, when + ":00", f"u{i % 20_011}", f"用户{i % 20_011}", likes, comments])
            elif fmt == "mediacrawler":
                out.writerow([post_id, text, str(1_790_000_000 + i * 7), f"{i % 20_011:016x}", "小***子", likes,
                              comments, str(i % 7), "发布于 广东", "星阅X5", str(1_791_900_000_000 + i)])  # fmt: skip
            else:
                verified = "蓝V" if i % 9 == 0 else ""
                out.writerow([post_id, str(5_000_000_000 + i % 20_011), f"用户{i % 20_011}", text, likes, comments,
                              str(i % 7), when, "iPhone客户端", "星阅X5", "发布于 广东", verified])  # fmt: skip


YARDSTICK = {  # id, text, created_at (China time), author_id, author_name, likes, comments: as each file holds them
    "csv": ("id", "text", "created_at", "author_id", "author_name", "attitudes_count", "comments_count"),
    "mediacrawler": ("note_id", "content", "make_timestamp(create_time::BIGINT * 1000000) + INTERVAL 8 HOUR",
                     "creator_hash", "nickname", "liked_count", "comments_count"),
    "weibo-search": ("id", '"微博正文"', '"发布时间"', "user_id", '"用户昵称"', '"点赞数"', '"评论数"'),
}  # fmt: skip


def plain_duckdb(src: Path, db: Path, fmt: str = "csv") -> int:
    """The yardstick: DuckDB reads the CSV and inserts it as it is (counts cast, display counts as 0)."""
    post_id, text, created, author_id, author_name, likes, comments = YARDSTICK[fmt]
    with Warehouse.open(db) as wh:
        wh.con.execute(
            "INSERT INTO posts (platform, id, kind, text, created_at, author_id, author_name, reposts_count, "
            "comments_count, attitudes_count, fetched_at, first_seen_at) "
            f"SELECT 'weibo', {post_id}, 'post', {text}, ({created})::TIMESTAMP AT TIME ZONE 'Asia/Shanghai', "
            f"{author_id}, {author_name}, 0, coalesce(try_cast({comments} AS BIGINT), 0), "
            f"coalesce(try_cast({likes} AS BIGINT), 0), now(), now() "
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
    parser.add_argument("--chunk", type=int, default=BATCH_ROWS, help="rows per batch (one transaction each)")
    parser.add_argument("--format", choices=sorted(HEADERS), default="csv", dest="fmt")
    parser.add_argument("--row-wise", action="store_true", help="the row parsers (the reference), not column-wise")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, db = Path(tmp) / PATHS[args.fmt], Path(tmp) / "w.duckdb"
        write_csv(src, args.rows, args.fmt)
        took_of: dict[str, tuple[float, float]] = {}
        for label in ("import", "re-import"):
            start, cpu = time.perf_counter(), time.process_time()
            with Warehouse.open(db) as wh:
                result = load_file(wh, src, args.fmt, chunk=args.chunk, row_wise=args.row_wise)
            took, cpu = time.perf_counter() - start, time.process_time() - cpu
            if result.failed:
                raise SystemExit(f"error: {result.failed}")
            report(label, result.rows, took, cpu, f" ({result.loaded:,} loaded, {len(result.errors)} rejected)")
            took_of.setdefault(label, (took, cpu))
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        start, cpu = time.perf_counter(), time.process_time()
        rows = plain_duckdb(src, Path(tmp) / "plain.duckdb", args.fmt)
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        report("duckdb", rows, took, cpu, " (plain read_csv + INSERT, same file)")
        wall, cpu_s = took_of["import"]
        print(f"yuqing import / plain DuckDB: {wall / took:.1f}x the wall time, {cpu_s / cpu:.1f}x the CPU time")


if __name__ == "__main__":
    main()
