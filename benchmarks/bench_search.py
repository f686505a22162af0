"""Speed of ``yuqing search`` (boolean queries compiled to DuckDB SQL) against a plain DuckDB scan.

Usage::

    python benchmarks/bench_search.py [--posts 1000000] [--repeat 3] [--export]

Generates a warehouse of ``--posts`` Weibo-length posts (60-120 characters of Chinese phone talk,
brand names, hashtags; seven platforms; 30 days) in a temporary DuckDB file with the real schema,
then times, for each query, what ``yuqing search`` does without ``--output`` (count the matches and
fetch the newest 20) and with ``--output x.parquet`` (stream every match into a file).  The
baseline, in the same run, is a plain ``SELECT count(*) FROM posts WHERE text LIKE '%word%'`` and
``contains(text, 'word')`` on the query's first word.  Prints posts/s, the ratio to the baseline,
the command line's wall time and peak RSS (a fresh ``yuqing search`` process), and with
``--export`` the peak RSS of ``yuqing export`` at a quarter and at all of the posts (streaming:
it should not grow with the corpus).  Needs no data set.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from yuqing.nlp.query import Query
from yuqing.store.query_sql import search_page, search_reader
from yuqing.store.warehouse import Warehouse

QUERIES = [
    "星阅",
    "(星阅 OR XingYue) AND (发热 OR 烫 OR 卡顿) -官方",
    "星阅 NEAR/10 (发热 OR 续航)",
    '"X5 Pro" OR #星阅双十一# platform:weibo',
    "author:用户42 OR (云雀 -楚风)",
]
FRAGMENTS = [
    "今天入手了星阅X5 Pro",
    "XingYue的新机",
    "云雀S3",
    "楚风K9 Ultra",
    "手机发热有点严重",
    "打游戏会烫",
    "偶尔卡顿",
    "续航真的顶",
    "拍照很清晰",
    "客服态度很好",
    "星阅官方回复了",
    "#星阅双十一#",
    "#数码#",
    "性价比不错",
    "屏幕素质一流",
    "系统更新后更流畅了",
    "物流很快",
    "包装有破损",
    "和iPhone比差一点",
    "推荐给朋友了",
    "[哈哈]",
    "[怒]",
    "我觉得",
    "说实话",
]
PLATFORMS = ["weibo", "weibo", "weibo", "douyin", "xiaohongshu", "bilibili", "zhihu", "tieba", "kuaishou"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, n: int) -> float:
    """``n`` posts written straight by DuckDB (the schema from ``Warehouse.open``); returns seconds."""
    start = time.perf_counter()
    frags = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in FRAGMENTS) + "]"
    plats = "[" + ", ".join(f"'{p}'" for p in PLATFORMS) + "]"
    k, m = len(FRAGMENTS), len(PLATFORMS)
    pieces = " || '，' || ".join(f"list_element({frags}, (hash(i * 7919 + {j}) % {k})::BIGINT + 1)" for j in range(6))
    with Warehouse.open(path) as wh:
        wh.con.execute(
            f"""
            INSERT INTO posts (platform, id, kind, text, created_at, author_id, author_name,
                reposts_count, comments_count, attitudes_count, topics, at_users, urls, pics,
                fetched_at, first_seen_at)
            SELECT list_element({plats}, (hash(i) % {m})::BIGINT + 1), i::VARCHAR, 'post', {pieces},
                TIMESTAMPTZ '2026-10-01 00:00:00+08' + to_seconds((hash(i * 31) % (30 * 86400))::BIGINT),
                (hash(i * 17) % 50000)::VARCHAR, '用户' || (hash(i * 17) % 50000)::VARCHAR,
                (hash(i * 3) % 100)::BIGINT, (hash(i * 5) % 50)::BIGINT, (hash(i * 11) % 500)::BIGINT,
                CASE WHEN i % 9 = 0 THEN ['星阅双十一'] ELSE [] END, [], [], [],
                TIMESTAMPTZ '2026-11-01 00:00:00+08', TIMESTAMPTZ '2026-11-01 00:00:00+08'
            FROM range({n}) t(i)
            """
        )
        # an analysis row per post, shaped as the text stage writes it, so the export joins as in real use
        wh.con.execute(
            """
            INSERT INTO post_analysis BY NAME SELECT platform, id,
                (hash(id) % 1000) / 1000.0 AS sentiment,
                CASE WHEN hash(id) % 3 = 0 THEN 'negative' ELSE 'positive' END AS polarity,
                contains(text, '发热') OR contains(text, '破损') AS complaint,
                CASE WHEN contains(text, '发热') THEN '质量' ELSE '' END AS complaint_category,
                'neutral' AS emotion, '星阅 发热 续航' AS keywords,
                CASE WHEN contains(text, '星阅') THEN ['星阅'] ELSE [] END AS brands,
                CASE WHEN contains(text, '星阅') THEN '{"星阅": 0.4}' ELSE '{}' END AS brand_sentiment
            FROM posts
            """
        )
        wh.con.execute("CHECKPOINT")
    return time.perf_counter() - start


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def first_word(query: Query) -> str:
    return next(t for t in query.positive_terms if not t.startswith("#"))


def scan(wh: Warehouse, condition: str, value: str) -> int:
    """The baseline: a plain DuckDB count over the text column."""
    return int(wh.con.execute(f"SELECT count(*) FROM posts WHERE {condition}", [value]).fetchall()[0][0])


def cli(args: list[str]) -> tuple[float, float, str]:
    """A fresh ``yuqing`` process: wall seconds, its peak RSS in MB, its stdout."""
    # VmHWM, not ru_maxrss: Linux carries the parent's ru_maxrss across fork+exec into the child
    probe = (
        "import atexit, sys\n"
        "def hwm():\n"
        "    kb = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
        "    print(f'RSS {int(kb) / 1024:.0f}', file=sys.stderr)\n"
        "atexit.register(hwm)\n"
        "from yuqing.flows.cli import main\n"
        f"sys.argv = ['yuqing', *{args!r}]\n"
        "main()\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)  # noqa: S603
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"yuqing {' '.join(args)} failed: {proc.stderr.strip()}")
    rss = next(float(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("RSS "))
    return wall, rss, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="Runs per measurement; the best is reported.")
    ap.add_argument("--export", action="store_true", help="Also measure yuqing export's peak RSS at n/4 and n.")
    args = ap.parse_args()
    n = args.posts
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        gen = generate(path, n)
        size_mb = path.stat().st_size / 2**20
        print(f"generated {n:,} posts in {gen:.1f} s ({size_mb:.0f} MB warehouse)")
        print(
            f"{'query':<48} {'matches':>9} {'search s':>9} {'posts/s':>12} {'--output s':>10} "
            f"{'LIKE s':>7} {'contains s':>10} {'×LIKE':>6}"
        )
        ratios = []
        with Warehouse.open(path, read_only=True) as wh:
            for text in QUERIES:
                q = Query.parse(text)

                def run(q: Query = q) -> int:
                    return search_page(wh, q, limit=20)[0]

                def to_file(q: Query = q) -> int:
                    from yuqing.store.export import write_batches

                    return write_batches(search_reader(wh, q), Path(tmp) / "hits.parquet", "parquet")

                t_search, hits = best(run, args.repeat)
                t_file, _ = best(to_file, args.repeat)
                word = first_word(q)
                t_like, _ = best(partial(scan, wh, "text LIKE ?", f"%{word}%"), args.repeat)
                t_contains, _ = best(partial(scan, wh, "contains(text, ?)", word), args.repeat)
                ratios.append(t_search / t_like)
                print(
                    f"{text:<48} {hits:>9,} {t_search:>9.3f} {n / t_search:>12,.0f} {t_file:>10.3f} "
                    f"{t_like:>7.3f} {t_contains:>10.3f} {t_search / t_like:>6.1f}"
                )
        print(f"median ratio to a plain LIKE count: {statistics.median(ratios):.1f}×; peak RSS {peak_rss_mb():.0f} MB")
        wall, rss, out = cli(["search", QUERIES[1], "--warehouse", str(path)])
        print(f"`yuqing search '{QUERIES[1]}'` (fresh process): {wall:.2f} s wall, peak RSS {rss:.0f} MB")
        print("  " + out.splitlines()[0])
        if args.export:
            # a quarter of the posts, then all: a streaming export's memory stays flat
            for label, to in (("n/4", "2026-10-08"), ("n", "2026-10-31")):
                wall, rss, _ = cli(
                    ["export", "--warehouse", str(path), "--out", str(Path(tmp) / "bi"), "--table", "posts",
                     "--table", "mentions", "--format", "parquet", "--to", to]
                )  # fmt: skip
                print(f"`yuqing export --table posts --table mentions` ({label}): {wall:.1f} s, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
