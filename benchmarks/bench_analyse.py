"""The analyse stage's single writer beside its text-stage workers: CPU per analysed row of each.

    python benchmarks/bench_e2e.py --posts 250000 --load-only --dir D      # a loaded, unanalysed warehouse
    python benchmarks/bench_analyse.py --dir D [--workers 2] [--save a.parquet | --compare a.parquet]

Copies ``D/w.duckdb`` (the copy is analysed; the original stays as loaded), starts Prefect (its ephemeral
server, which the monitoring flow has up by its analyse stage), then runs the analyse flow (``yuqing-analyse``
on the process pool, as ``yuqing run`` does) and prints its wall seconds, the CPU seconds of this process (the
flow: reading windows, handing chunks to the workers and taking their results back, writing the analysis,
``post_counts``; Prefect's own threads included, the sampler's not) and of its child processes (the workers,
and the Prefect server's past its start-up), sampled every 0.5 s with psutil (a process's last sample counts).
``--save`` writes the analysis table (without ``analysed_at``) to a Parquet file, ``--compare`` checks the
run's table against one saved before (exit 1 on any difference).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class ChildCPU:
    """CPU seconds of this process's children, by kind, sampled until :meth:`stop`."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.seen: dict[int, tuple[str, float]] = {}
        self.own = 0.0  # this sampler's CPU, taken off the flow process's
        self.before = {pid: cpu for pid, (_, cpu) in self._sample().items()}  # the Prefect server's start-up
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> dict[int, tuple[str, float]]:
        seen = {}
        for child in psutil.Process().children(recursive=True):
            try:
                times = child.cpu_times()
                cmd = " ".join(child.cmdline())
            except psutil.Error:
                continue
            kind = "prefect server" if ("uvicorn" in cmd or "prefect" in cmd) else "workers"
            seen[child.pid] = (kind, times.user + times.system)
        return seen

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen.update(self._sample())
            self.own = time.thread_time()
            self._stop.wait(self.interval)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        out: dict[str, float] = {}
        for pid, (kind, cpu) in self.seen.items():
            out[kind] = out.get(kind, 0.0) + cpu - self.before.get(pid, 0.0)
        return out


def analysis_table(path: Path):  # type: ignore[no-untyped-def]
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql("SELECT * EXCLUDE (analysed_at) FROM post_analysis ORDER BY platform, id").to_arrow_table()
    finally:
        con.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True, help="a bench_e2e --load-only directory")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--save", type=Path, help="write the analysis table to this Parquet file")
    parser.add_argument("--compare", type=Path, help="compare the analysis table with this Parquet file")
    args = parser.parse_args()
    source = args.dir / "w.duckdb"
    if not source.exists():
        print(f"no loaded warehouse at {source}: run bench_e2e.py --load-only --dir {args.dir} first")
        return 0
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", "bench-key-0123456789abcdef0123456789")
    from yuqing.flows.cli import quiet_prefect_env

    quiet_prefect_env()
    import prefect

    from yuqing.flows.monitor import analyse, make_task_runner
    from yuqing.store.settings import load_settings

    copy = args.dir / "analysed.duckdb"
    for old in args.dir.glob("analysed.duckdb*"):
        old.unlink()
    shutil.copyfile(source, copy)
    settings = load_settings(
        args.dir / "world" / "yuqing.toml",
        warehouse={"path": str(copy)},
        nlp={"workers": args.workers},
        flows={"out_dir": str(args.dir / "reports")},
    )
    flow = analyse.with_options(task_runner=make_task_runner(settings))

    @prefect.flow
    def start_prefect() -> None:
        """Prefect up before the clock starts (its ephemeral server, as the monitoring flow has it by its analyse
        stage)."""

    start_prefect()
    sampler = ChildCPU()
    t, cpu = time.perf_counter(), time.process_time()
    rows = flow(settings)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    children = sampler.stop()
    cpu -= sampler.own
    print(f"analyse stage: {rows:,} rows, {args.workers} workers, {wall:.1f} s wall ({rows / wall:,.0f} rows/s)")
    print(f"  flow process   {cpu:7.1f} CPU-s = {cpu / rows * 1e6:6.1f} µs per row")
    for kind, seconds in sorted(children.items()):
        print(f"  {kind:14} {seconds:7.1f} CPU-s = {seconds / rows * 1e6:6.1f} µs per row")
    table = analysis_table(copy)
    if args.save:
        import pyarrow.parquet as pq

        pq.write_table(table, args.save)
        print(f"analysis table ({table.num_rows:,} rows) saved to {args.save}")
    if args.compare:
        import pyarrow.parquet as pq

        reference = pq.read_table(args.compare)
        same = reference.schema.equals(table.schema) and reference.equals(table)
        print(f"analysis table {'identical to' if same else 'DIFFERS from'} {args.compare}")
        if not same:
            return 1
    shutil.rmtree(args.dir / "reports", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
