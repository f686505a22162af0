"""Collection speed over loopback: rows/s from the fake platform into a DuckDB warehouse.

Usage::

    python benchmarks/bench_collect.py [--posts 1000] [--seed 7] [--faults both|off|on]

Simulates a world of ``--posts`` top-level posts, serves it with the fake platform on 127.0.0.1 and
collects it three ways, each into a fresh warehouse and each in its own child process (so the peak
RSS, sampled from ``/proc``, is the collector's, not the fake server's):

* ``httpx``: ``collectors.weibo.client.collect``, the path of ``yuqing collect`` (search → comments →
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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from yuqing.collectors.fake.server import FaultConfig, serve_world
from yuqing.collectors.fake.world import generate_world, load_world
from yuqing.store.settings import Settings, load_settings
from yuqing.store.warehouse import Warehouse


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ChildPeak:
    """The largest peak RSS (``VmHWM``) among this process's children while the block runs (Linux ``/proc``).

    ``ru_maxrss`` cannot be used for a spawned child: Linux carries the RSS the parent had at fork time
    over ``execve``, so the child would report at least the benchmark's own (world + fake platform) size.
    """

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="child-rss", daemon=True)

    def __enter__(self) -> ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = str(os.getpid())
        while not self._stop.is_set():
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    if stat.read_text().rsplit(")", 1)[1].split()[1] != me:
                        continue
                    status = (stat.parent / "status").read_text()
                except (OSError, IndexError):
                    continue  # the process ended meanwhile
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.mb = max(self.mb, int(line.split()[1]) / 1024)
            self._stop.wait(self.every)


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
    from yuqing.collectors.weibo.client import collect

    stats = asyncio.run(collect(load_settings(config, **overrides)))
    queue.put(stats.seconds)


def run_httpx(config: str, overrides: dict[str, Any]) -> float:
    """``yuqing collect``'s collection in a spawned child, like the spiders; returns its own seconds."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_httpx_child, args=(config, overrides, queue))
    proc.start()
    seconds = queue.get(timeout=1800)
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"httpx collection failed (exit code {proc.exitcode})")
    return float(seconds)


def run_scrapy(kind: str, settings: Settings, url: str, db: Path) -> float:
    from yuqing.spiders.run import crawl_forum, crawl_weibo

    if kind == "weibo":
        stats = crawl_weibo(settings, url, settings.collect.queries, db, max_pages=10_000, fast=True)
    else:
        stats = crawl_forum(settings, url, settings.collect.forum_boards, db, fast=True)
    return float(stats["elapsed_time_seconds"])


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
                    with ChildPeak() as peak:
                        if collector == "httpx":
                            own = run_httpx(config, overrides)
                        else:
                            own = run_scrapy(collector, settings, url, db)
                    wall = time.perf_counter() - t0
                    requests, faulted = served(url)
                with Warehouse.open(db, read_only=True) as wh:
                    rows = int(wh.table_counts()["posts"])
                run = Run(collector, mode, rows, expected[collector], wall, own, requests, faulted, peak.mb)
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
