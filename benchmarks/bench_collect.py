"""Collection speed over loopback: rows/s from the fake platform into a DuckDB warehouse.

Usage::

    python benchmarks/bench_collect.py [--posts 1000] [--seed 7] [--faults both|off|on]

Simulates a world of ``--posts`` top-level posts, serves it with the fake platform on 127.0.0.1 and
collects it three ways, each into a fresh warehouse and each in its own child process (so the peak
RSS is the collector's, not the fake server's):

* ``httpx``: ``collectors.run.collect``, the path of ``yuqing collect`` (search → comments →
  reposts, Open API profiles of large accounts, page checkpoints);
* ``scrapy weibo``: ``spiders.run.crawl_weibo`` over the world's queries;
* ``scrapy forum``: ``spiders.run.crawl_forum`` over the world's boards.

With faults off, then on (``FaultConfig.demo``: 429 + Retry-After, 500s, slow and truncated
responses, token expiry).  Scrapy runs with politeness lifted (``fast=True``) as the demo does on a
loopback host.  Prints rows stored, rows/s on the wall clock (including the child's start-up) and
on the collector's own clock, requests served, and peak RSS.  Needs no data files.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from collectors.fake.server import FaultConfig, serve_world
from collectors.fake.world import generate_world, load_world
from store.settings import Settings, load_settings
from store.warehouse import Warehouse


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Run:
    collector: str
    faults: str
    rows: int
    expected: int
    wall: float
    own: float
    requests: int
    faulted: int
    rss_mb: float

    def line(self) -> str:
        return (
            f"| {self.collector} | {self.faults} | {self.rows:,} / {self.expected:,} | {self.wall:.1f} "
            f"| **{self.rows / self.wall:,.0f}** | {self.rows / self.own:,.0f} | {self.requests:,} "
            f"| {self.faulted:,} | {self.rss_mb:,.0f} |"
        )


def _settings(world: Path, db: Path, url: str) -> tuple[str, dict[str, Any]]:
    overrides: dict[str, Any] = {
        "warehouse": {"path": str(db)},
        "platforms": {
            "weibo_api_base": f"{url}/2",
            "weibo_mobile_base": url,
            "forum_base": url,
            "backoff_base": 0.05,
            "max_retry_after": 2.0,
            "requests_per_hour": 10**7,
        },
    }
    return str(world / "yuqing.toml"), overrides


def _httpx_child(config: str, overrides: dict[str, Any], queue: Any) -> None:
    from collectors.run import collect

    stats = asyncio.run(collect(load_settings(config, **overrides)))
    queue.put((stats.seconds, peak_rss_mb()))


def run_httpx(settings: Settings, config: str, overrides: dict[str, Any]) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_httpx_child, args=(config, overrides, queue))
    proc.start()
    seconds, rss = queue.get(timeout=1800)
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"httpx collection failed (exit code {proc.exitcode})")
    return float(seconds), float(rss)


def run_scrapy(kind: str, settings: Settings, url: str, db: Path) -> tuple[float, float]:
    from spiders.run import crawl_forum, crawl_weibo

    if kind == "weibo":
        stats = crawl_weibo(settings, url, settings.collect.queries, db, max_pages=10_000, fast=True)
    else:
        stats = crawl_forum(settings, url, settings.collect.forum_boards, db, fast=True)
    return float(stats["elapsed_time_seconds"]), float(stats["memusage/max"]) / 2**20


def served(url: str) -> tuple[int, int]:
    counters = httpx.get(f"{url}/_fake/stats").json()
    requests = sum(v for k, v in counters.items() if k.startswith("req:"))
    return requests, sum(v for k, v in counters.items() if k.startswith("fault:") and k != "fault:slow")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1000, help="top-level posts in the simulated world")
    parser.add_argument("--seed", type=int, default=7, help="world and fault seed")
    parser.add_argument("--faults", choices=["both", "off", "on"], default="both", help="fault modes to run")
    parser.add_argument(
        "--collectors",
        default="httpx,weibo,forum",
        help="comma-separated subset of httpx (yuqing collect), weibo and forum (scrapy spiders)",
    )
    args = parser.parse_args()
    chosen = [c.strip() for c in args.collectors.split(",") if c.strip()]
    if unknown := set(chosen) - {"httpx", "weibo", "forum"}:
        parser.error(f"unknown collectors: {', '.join(sorted(unknown))}")
    # the fake platform's OAuth tokens travel through the environment, as secrets do (inherited by children)
    os.environ.setdefault("YUQING_PLATFORMS__WEIBO_TOKEN", "demo-token")
    os.environ.setdefault("YUQING_PLATFORMS__WEIBO_REFRESH_TOKEN", "demo-refresh")

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-collect-") as tmp:
        root = Path(tmp)
        world = root / "world"
        started = time.perf_counter()
        generate_world(world, posts=args.posts, seed=args.seed)
        posts = load_world(world, records=False).posts
        expected = {
            "httpx": int((posts["platform"] == "weibo").sum()),
            "weibo": int((posts["platform"] == "weibo").sum()),
            "forum": int((posts["platform"] == "tieba").sum()),
        }
        print(
            f"world: {args.posts:,} top-level posts, {len(posts):,} rows "
            f"({expected['weibo']:,} weibo, {expected['forum']:,} forum) in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        modes = ["off", "on"] if args.faults == "both" else [args.faults]
        for mode in modes:
            faults = FaultConfig.demo(seed=args.seed) if mode == "on" else FaultConfig(seed=args.seed)
            for collector in chosen:
                # a fresh platform per run: its request and fault counters are that run's alone
                with serve_world(world, faults=faults) as url:
                    db = root / f"{collector}-{mode}.duckdb"
                    config, overrides = _settings(world, db, url)
                    settings = load_settings(config, **overrides)
                    t0 = time.perf_counter()
                    if collector == "httpx":
                        own, rss = run_httpx(settings, config, overrides)
                    else:
                        own, rss = run_scrapy(collector, settings, url, db)
                    wall = time.perf_counter() - t0
                    requests, faulted = served(url)
                with Warehouse.open(db, read_only=True) as wh:
                    rows = int(wh.table_counts()["posts"])
                run = Run(collector, mode, rows, expected[collector], wall, own, requests, faulted, rss)
                runs.append(run)
                print(f"  {collector:<6} faults {mode:<3}: {rows:,} rows in {wall:.1f} s", flush=True)

    print()
    print(
        "| collector | faults | rows stored / in world | wall s | rows/s (wall) | rows/s (crawl) | requests "
        "| faulted | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    names = {"httpx": "httpx (`yuqing collect`)", "weibo": "scrapy weibo", "forum": "scrapy forum"}
    for run in runs:
        run.collector = names[run.collector]
        print(run.line())
    print(f"\nbenchmark process (world + fake platform thread) peak RSS {peak_rss_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
