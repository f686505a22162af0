"""Speed of the warehouse upsert, text normalisation and near-duplicate grouping on real Weibo texts.

Usage::

    python benchmarks/bench_store.py [--posts 200000] [--norm 50000]

Reads ``../shared/data/sentiment/weibo_senti_train.csv`` (texts only) relative to the
repository; exits 0 with a message when it is absent.  Prints posts/s and the peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from yuqing.nlp.dedup import near_duplicate_groups
from yuqing.nlp.normalize import normalize
from yuqing.store.schema import Platform, Post
from yuqing.store.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy_sets import DATA as DATA_ROOT  # ../shared/data beside the checkout or beside a worktree's main

DATA = DATA_ROOT / "sentiment" / "weibo_senti_train.csv"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def posts_frame(texts: list[str], n: int, fetched: dt.datetime, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2026-11-01", tz="Asia/Shanghai")
    return pd.DataFrame(
        {
            "platform": "weibo",
            "id": [str(4_900_000_000_000_000 + i) for i in range(n)],
            "kind": "post",
            "text": [texts[i % len(texts)] for i in range(n)],
            "created_at": t0 + pd.to_timedelta(rng.integers(0, 30 * 86400, n), unit="s"),
            "author_id": [f"u{x}" for x in rng.integers(0, n // 10 + 1, n)],
            "reposts_count": rng.integers(0, 1000, n),
            "comments_count": rng.integers(0, 500, n),
            "attitudes_count": rng.integers(0, 5000, n),
            "topics": [["新品"] if i % 7 == 0 else [] for i in range(n)],
            "fetched_at": pd.Timestamp(fetched),
            "raw": ['{"source": "bench"}'] * n,
        }
    )


def timed(label: str, n: int, fn: object) -> None:
    start = time.perf_counter()
    result = fn()  # type: ignore[operator]
    secs = time.perf_counter() - start
    print(f"{label:<42} {n:>8} in {secs:6.2f} s = {n / secs:>9,.0f}/s  {result}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=200_000, help="posts per upsert batch")
    parser.add_argument("--objects", type=int, default=50_000, help="Post objects for upsert_posts")
    parser.add_argument("--norm", type=int, default=50_000, help="texts to normalise")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"benchmark data not found at {DATA}; skipping")
        return 0
    with DATA.open(encoding="utf-8", newline="") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    print(f"{len(texts)} Weibo texts, mean {np.mean([len(t) for t in texts]):.0f} chars")

    n = args.norm
    sample = [texts[i % len(texts)] for i in range(n)]
    timed("normalize (one core)", n, lambda: sum(len(normalize(t).text) for t in sample) and "ok")
    timed("near_duplicate_groups", n, lambda: f"{sum(g >= 0 for g in near_duplicate_groups(sample))} grouped")

    t1 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    first = posts_frame(texts, args.posts, t1, 1)
    newer = posts_frame(texts, args.posts, t1 + dt.timedelta(hours=1), 2)
    with tempfile.TemporaryDirectory() as tmp, Warehouse.open(Path(tmp) / "bench.duckdb") as wh:
        timed("upsert_posts_frame: insert", args.posts, lambda: wh.upsert_posts_frame(first))
        timed("upsert_posts_frame: same again (no-op)", args.posts, lambda: wh.upsert_posts_frame(first))
        timed("upsert_posts_frame: newer fetch (update)", args.posts, lambda: wh.upsert_posts_frame(newer))
        objs = [
            Post(
                platform=Platform.WEIBO,
                id=f"o{i}",
                text=texts[i % len(texts)],
                created_at=t1,
                reposts_count=i % 100,
                fetched_at=t1,
                raw={"i": i},
            )
            for i in range(args.objects)
        ]
        timed("upsert_posts (Post objects)", args.objects, lambda: wh.upsert_posts(objs))
        # what a collector does: many small pages onto a warehouse that already holds the rest
        pages = [
            posts_frame(texts, 500, t1 + dt.timedelta(hours=2), 10 + k).assign(id=lambda f, k=k: f["id"] + f"p{k}")
            for k in range(20)
        ]
        timed(
            "upsert_posts_frame: 20 pages of 500 (new)",
            20 * 500,
            lambda: f"inserted {sum(wh.upsert_posts_frame(f).inserted for f in pages)}",
        )
        print("tables:", {k: v for k, v in wh.table_counts().items() if v})
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
