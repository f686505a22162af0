"""A bulk read from PostgreSQL: rows fetched one by one into a frame against the COPY → Arrow stream.

    python benchmarks/bench_pg_read.py --rows 400000          # a throw-away cluster (tests/pg_cluster.py)
    python benchmarks/bench_pg_read.py --rows 400000 --url postgresql://user@/db?host=/run/postgresql

Fills ``posts`` with generated rows (no data read from disk), then reads the same six columns (the report's
kind: keys, time, text, a count, a list) both ways, best of ``--repeat``: wall and this process's CPU seconds
(the server's are its own), and the frames compared equal.  On a loaded machine compare the CPU column and
the ratio, not the wall times.  With ``--search`` it also times ``yuqing search``'s page (count every match,
fetch the newest 20) for a few queries on PostgreSQL and on a DuckDB file of the same rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BRANDS = ["星阅X5", "XingYue", "云雀S3", "楚风K9"]
TALK = ["续航很好，推荐", "发热严重，客服不理", "官方活动来了", "卡顿了两次", "推荐给家人，续航一般"]
SQL = "SELECT platform, id, created_at, text, reposts_count, topics FROM posts ORDER BY created_at"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--search", action="store_true", help="also time search pages on both backends")
    parser.add_argument("--url", default="", help="an empty PostgreSQL database (default: a throw-away cluster)")
    args = parser.parse_args()
    from tests.pg_cluster import url_or_throwaway

    with url_or_throwaway(args.url) as args.url:
        return run(args)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from yuqing.store.warehouse import Warehouse

    t0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    n = args.rows
    frame = pd.DataFrame(
        {
            "platform": "weibo",
            "id": [str(i) for i in range(n)],
            "kind": "post",
            "text": [f"{BRANDS[i % 4]} {TALK[i // 4 % 5]} #{i % 50}# 第{i}条" for i in range(n)],
            "created_at": [t0 + dt.timedelta(seconds=7 * i) for i in range(n)],
            "author_id": [str(i % 5000) for i in range(n)],
            "reposts_count": [i % 97 for i in range(n)],
            "comments_count": 0,
            "attitudes_count": 0,
            "topics": [[f"话题{i % 50}"] if i % 3 else [] for i in range(n)],
            "fetched_at": t0 + dt.timedelta(days=60),
        }
    )
    with Warehouse.open(args.url) as wh:
        wh.load_posts(frame)
        wh.con.execute("ANALYZE posts")
        best: dict[str, tuple[float, float]] = {}
        frames = {}
        for _ in range(args.repeat):
            for name, read in (("rows", lambda: Warehouse.query(wh, SQL)), ("COPY -> Arrow", lambda: wh.query(SQL))):
                w, c = time.perf_counter(), time.process_time()
                frames[name] = read()
                took = (time.perf_counter() - w, time.process_time() - c)
                best[name] = min(best.get(name, took), took)
    pd.testing.assert_frame_equal(frames["rows"], frames["COPY -> Arrow"])
    print(f"{n:,} rows x 6 columns, best of {args.repeat}; the frames are equal")
    for name, (wall, cpu) in best.items():
        print(f"{name:14} wall {wall:6.2f} s   client CPU {cpu:6.2f} s")
    print(f"ratio rows / COPY: wall {best['rows'][0] / best['COPY -> Arrow'][0]:.2f}, "
          f"CPU {best['rows'][1] / best['COPY -> Arrow'][1]:.2f}")  # fmt: skip
    if args.search:
        search(args, frame)
    return 0


QUERIES = ["星阅", "(星阅 OR XingYue) AND (续航 OR 发热) -官方", "星阅 NEAR/10 推荐", "#7# OR 第42条"]


def search(args: argparse.Namespace, frame: object) -> None:
    import tempfile

    from yuqing.nlp.query import Query
    from yuqing.store.query_sql import search_page
    from yuqing.store.warehouse import Warehouse

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.duckdb"
        with Warehouse.open(path) as wh:
            wh.load_posts(frame)  # type: ignore[arg-type]
        print(f"\nsearch page (count + newest 20), best of {args.repeat}, wall s: PostgreSQL | DuckDB | matches")
        for text in QUERIES:
            q = Query.parse(text)
            got = {}
            for name, target in (("postgres", args.url), ("duckdb", path)):
                with Warehouse.open(target, read_only=True) as wh:
                    walls = []
                    for _ in range(args.repeat):
                        w = time.perf_counter()
                        total, rows = search_page(wh, q, limit=20)
                        walls.append(time.perf_counter() - w)
                got[name] = (min(walls), total, list(rows["id"]))
            assert got["postgres"][1:] == got["duckdb"][1:], text
            print(f"{text:45} {got['postgres'][0]:7.3f} | {got['duckdb'][0]:7.3f} | {got['postgres'][1]:,}")


if __name__ == "__main__":
    raise SystemExit(main())
