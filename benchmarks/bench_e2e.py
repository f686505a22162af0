"""End-to-end benchmark: a simulated world through the whole monitoring flow, with the stage breakdown.

    python benchmarks/bench_e2e.py --posts 1000000          # top-level posts (rows are ~2.5x that)
    python benchmarks/bench_e2e.py --posts 250000 --warehouse postgresql://user@/db?host=/run/postgresql
    python benchmarks/bench_e2e.py --posts 250000 --warehouse postgres   # a throw-away local cluster

Collection over HTTP is measured separately (benchmarks/bench_collect.py): here the
world's rows are bulk-loaded through the same warehouse upsert the collectors use,
then the Prefect monitoring flow runs analyse → topics → graph → alerts → reports.
Prints wall time per stage, posts/s, the peak RSS of the flow process and the summed peak of its
process tree (sampled every 0.5 s with psutil); simulation and loading run in a separate process.

Per stage (``StagePeaks``): the flow process's own RSS high-water mark while the stage ran (the kernel's VmHWM,
reset through ``/proc/self/clear_refs`` as each stage starts and ends, so it misses no short spike), its RSS when
the stage ended, and the sampled peak of the summed RSS of its child processes (text-stage workers, Prefect
server) — so the stage that sets the flow's peak is named. "between" is everything outside the stages (flow
start-up, Prefect's task and result handling between them).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_mb() -> float:
    """Peak RSS of this process (children are sampled as a tree: see ``Sampler``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mb(key: str) -> float:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


class StagePeaks:
    """Peak RSS of the flow process per stage (a :func:`flows.monitor.stage_progress` hook) and the sampled peak
    of its children's summed RSS. Linux only (``/proc``); elsewhere it records nothing."""

    def __init__(self, interval: float = 0.2) -> None:
        self.current = "between"
        self.own: dict[str, float] = {}  # stage -> VmHWM while it ran, MB
        self.end: dict[str, float] = {}  # stage -> VmRSS when it ended, MB
        self.children: dict[str, float] = {}  # stage -> peak summed RSS of the child processes, MB
        self.largest_child: dict[str, float] = {}
        self.ok = Path("/proc/self/clear_refs").exists()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.interval = interval
        if self.ok:
            self._reset()
            threading.Thread(target=self._sample, daemon=True).start()

    def _reset(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
                fh.write("5")  # resets the peak RSS (VmHWM and ru_maxrss) to the current RSS
        except OSError:
            self.ok = False

    def _close(self, name: str) -> None:
        with self._lock:
            self.own[name] = max(self.own.get(name, 0.0), _status_mb("VmHWM:"))
            self.end[name] = _status_mb("VmRSS:")
            self._reset()

    def __call__(self, name: str, outcome: Any, value: Any) -> None:
        if not self.ok:
            return
        if outcome is None:  # the stage starts: what came before it was "between"
            self._close("between")
            self.current = name
        else:
            self._close(name)
            self.current = "between"

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.interval):
            total = largest = 0
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                except psutil.Error:
                    continue
                total, largest = total + rss, max(largest, rss)
            with self._lock:
                stage = self.current
                self.children[stage] = max(self.children.get(stage, 0.0), total / 2**20)
                self.largest_child[stage] = max(self.largest_child.get(stage, 0.0), largest / 2**20)

    def finish(self) -> float:
        """Stop sampling; the flow process's peak over the whole flow (every stage and between), MB."""
        self._stop.set()
        if self.ok:
            self._close(self.current)
        return max(self.own.values(), default=0.0)

    def lines(self) -> list[str]:
        out = []
        for name in [*[n for n in self.own if n != "between"], "between"]:
            if name in self.own:
                out.append(
                    f"  {name:10} flow process peak {self.own[name]:7,.0f} MB (at its end {self.end[name]:7,.0f} MB); "
                    f"children summed {self.children.get(name, 0.0):7,.0f} MB (largest "
                    f"{self.largest_child.get(name, 0.0):,.0f})"
                )
        return out


def prepare(work: Path, posts: int, workers: int, out: Any, warehouse: str = "") -> None:
    """Simulate the world and load it (posts, authors, interactions, CRM) — in its own process, so
    that its memory does not count in the flow's peak."""
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", "bench-key-0123456789abcdef0123456789")
    from yuqing.collectors.fake.world import generate_world, load_world
    from yuqing.flows.stages import import_crm
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    timings: dict[str, float] = {}
    t = time.perf_counter()
    generate_world(work / "world", posts=posts, seed=7)
    timings["simulate"] = time.perf_counter() - t
    settings = load_settings(work / "world" / "yuqing.toml", **overrides(work, workers, warehouse))
    t = time.perf_counter()
    world = load_world(work / "world", records=False)
    timings["read world"] = time.perf_counter() - t
    with Warehouse.open(settings.warehouse.location) as wh:
        frame = world.posts
        t, cpu = time.perf_counter(), time.process_time()
        wh.load_posts(frame)  # the bulk path: Arrow batches of 50k rows, one transaction each
        timings["load posts"] = time.perf_counter() - t
        timings["  CPU of this process (DuckDB threads included)"] = cpu = time.process_time() - cpu
        timings[f"  = rows/s ({len(frame):,} rows)"] = len(frame) / timings["load posts"]
        timings["  = rows per CPU-s"] = len(frame) / cpu
        if not warehouse:
            timings.update(plain_load(work, frame))
            timings["  = load posts / plain, CPU"] = (
                timings["  CPU of this process (DuckDB threads included)"] / (timings["  CPU (plain)"])
            )
            timings["  = load posts / plain, wall"] = (
                timings["load posts"] / timings["plain DuckDB: one INSERT of the same posts"]
            )
        authors = load_world(work / "world").authors
        t, cpu = time.perf_counter(), time.process_time()
        wh.upsert_authors(authors)  # frames: checked column-wise, no record per row
        wh.add_interactions(world.interactions)
        timings[f"load {len(authors):,} authors, {len(world.interactions):,} edges"] = time.perf_counter() - t
        timings["  CPU"] = time.process_time() - cpu
    t = time.perf_counter()
    import_crm(settings, work / "world" / "customers.csv", work / "world" / "orders.csv")
    timings["crm"] = time.perf_counter() - t
    out.put((timings, len(frame), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def plain_load(work: Path, frame: Any) -> dict[str, float]:
    """The yardstick, in the same run: the same posts as one Arrow table put into an empty warehouse's ``posts``
    by ONE plain ``INSERT`` (no checks, no metrics snapshots, no batches, no conflict handling)."""
    import pyarrow as pa

    from yuqing.store.warehouse import POST_ARROW_SCHEMA, POST_COLUMNS, Warehouse, registered

    table = pa.Table.from_pandas(frame[POST_COLUMNS], preserve_index=False).cast(POST_ARROW_SCHEMA)
    cols = ", ".join(POST_COLUMNS)
    with Warehouse.open(work / "plain.duckdb") as wh, registered(wh.con, _posts=table):
        t, cpu = time.perf_counter(), time.process_time()
        wh.con.execute(f"INSERT INTO posts ({cols}, first_seen_at) SELECT {cols}, now() FROM _posts")
        wh.con.execute("CHECKPOINT")  # what closing writes, counted as the load's commits are
        took, cpu = time.perf_counter() - t, time.process_time() - cpu
    (work / "plain.duckdb").unlink()
    return {"plain DuckDB: one INSERT of the same posts": took, "  CPU (plain)": cpu}


def overrides(work: Path, workers: int, warehouse: str = "") -> dict[str, Any]:
    return {
        "warehouse": {"url": warehouse} if warehouse else {"path": str(work / "w.duckdb")},
        "nlp": {"workers": workers},
        "flows": {"out_dir": str(work / "reports")},
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--load-only", action="store_true", help="simulate and load, skip the flow")
    parser.add_argument(
        "--warehouse",
        default="",
        help="a PostgreSQL warehouse: a postgresql:// URL of an empty database, or 'postgres' for a throw-away "
        "cluster (tests/pg_cluster.py; its server's memory is not in the figures); default a DuckDB file",
    )
    args = parser.parse_args()
    if args.warehouse != "postgres":
        return run(args)
    from tests.pg_cluster import url_or_throwaway

    with url_or_throwaway(None) as args.warehouse:
        return run(args)


def run(args: argparse.Namespace) -> int:

    from yuqing.flows.cli import quiet_prefect_env

    quiet_prefect_env()
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", "bench-key-0123456789abcdef0123456789")
    work = args.dir or Path(tempfile.mkdtemp(prefix="yuqing-bench-"))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    loader = ctx.Process(target=prepare, args=(work, args.posts, args.workers, queue, args.warehouse))
    loader.start()
    timings, n_rows, loader_mb = queue.get()
    loader.join()
    if args.load_only:
        print(f"\nsimulated and loaded {args.posts:,} top-level posts ({n_rows:,} rows), dir {work}")
        for name, value in timings.items():
            print(f"{name:40} {value:12,.1f}" + ("" if name.strip().startswith("=") else " s"))
        print(f"peak RSS of the set-up process (simulate + load) {loader_mb:,.0f} MB")
        return 0

    from bench_score import Sampler  # the process-tree memory sampler of the score benchmark

    from yuqing.flows.monitor import monitor, stage_progress

    sampler = Sampler(os.getpid(), interval=0.5)
    threading.Thread(target=sampler.run, daemon=True).start()
    before = peak_mb()  # the interpreter with the libraries, before the flow (the peaks below reset this mark)
    peaks = StagePeaks()
    t = time.perf_counter()
    with stage_progress(peaks):
        result = monitor(
            str(work / "world" / "yuqing.toml"), overrides(work, args.workers, args.warehouse), collect=False
        )
    timings["flow total"] = time.perf_counter() - t
    timings.update({f"  {k}": v for k, v in result.timings.items()})
    own = max(before, peaks.finish()) if peaks.ok else peak_mb()
    where = "PostgreSQL" if args.warehouse else "DuckDB"
    print(
        f"\nend-to-end on {args.posts:,} top-level posts ({n_rows:,} rows), {args.workers} workers, {where}, dir {work}"
    )
    for name, value in timings.items():
        print(f"{name:40} {value:12,.1f}" + ("" if name.strip().startswith("=") else " s"))
    analyse = result.timings.get("analyse", 0.0) or 1.0
    print(f"text stage throughput      {result.analysed / analyse:9.0f} posts/s ({result.analysed:,} posts)")
    print(f"peak RSS: flow process {own:,.0f} MB; set-up process (simulate + load) {loader_mb:,.0f} MB")
    if peaks.ok:
        print(f"peak RSS per stage (flow process before the flow {before:,.0f} MB):")
        print("\n".join(peaks.lines()))
    sampler.stop()
    print(
        "peak summed RSS of the flow's process tree (flow + text-stage workers + Prefect server): "
        f"{sampler.peak_rss / 2**20:,.0f} MB"
    )
    print(f"alerts: {result.alerts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
