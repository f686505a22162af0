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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_e2e import _status_mb  # the script beside this one


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


class Phases:
    """Wall and CPU seconds (this process's, its threads' included) and the RSS high-water mark of the flow
    process's own steps (:func:`flows.stages` functions the analyse flow calls here), summed per step; the
    kernel's VmHWM is reset through ``/proc/self/clear_refs`` as each step starts (Linux; elsewhere no peaks)."""

    STEPS = ("load_unanalysed", "store_analysis", "count_posts")

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = {}  # step -> [calls, wall, cpu, peak MB, rows]
        self.ok = Path("/proc/self/clear_refs").exists()
        self.between = 0.0  # the high-water mark outside the steps (results taken back from the workers, ...)

    def install(self) -> None:
        from yuqing.flows import stages

        for name in self.STEPS:
            setattr(stages, name, self._wrap(name, getattr(stages, name)))

    def _wrap(self, name: str, fn):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            if self.ok:
                self.between = max(self.between, _status_mb("VmHWM"))
                Path("/proc/self/clear_refs").write_text("5")
            wall, cpu = time.perf_counter(), time.process_time()
            out = fn(*args, **kwargs)
            row = self.calls.setdefault(name, [0, 0.0, 0.0, 0.0, 0])
            row[0] += 1
            row[1] += time.perf_counter() - wall
            row[2] += time.process_time() - cpu
            row[3] = max(row[3], _status_mb("VmHWM") if self.ok else 0.0)
            row[4] += out.num_rows if hasattr(out, "num_rows") else 0
            return out

        return timed

    def report(self) -> None:
        for name, (calls, wall, cpu, peak, rows) in self.calls.items():
            extra = f", {rows:,} rows" if rows else ""
            print(f"  {name:16} {calls:4d} calls {wall:7.1f} s wall {cpu:7.1f} CPU-s  peak {peak:6.0f} MB{extra}")
        if self.calls:
            print(f"  between steps                                     peak {self.between:6.0f} MB")

    def peak(self) -> float:
        """The flow process's high-water mark over the whole stage."""
        return max([_status_mb("VmHWM"), self.between, *(row[3] for row in self.calls.values())])


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
    parser.add_argument("--phases", action="store_true", help="time the flow process's steps (read, store, count)")
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
    phases = Phases()
    if args.phases:
        phases.install()
    if phases.ok:
        Path("/proc/self/clear_refs").write_text("5")
    sampler = ChildCPU()
    t, cpu = time.perf_counter(), time.process_time()
    rows = flow(settings)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak = phases.peak()
    children = sampler.stop()
    cpu -= sampler.own
    print(f"analyse stage: {rows:,} rows, {args.workers} workers, {wall:.1f} s wall ({rows / wall:,.0f} rows/s)")
    print(f"  flow process   {cpu:7.1f} CPU-s = {cpu / rows * 1e6:6.1f} µs per row")
    for kind, seconds in sorted(children.items()):
        print(f"  {kind:14} {seconds:7.1f} CPU-s = {seconds / rows * 1e6:6.1f} µs per row")
    total = cpu + sum(children.values())
    per_cpu = f"{rows / total:,.0f} rows per CPU-s"
    print(f"  all            {total:7.1f} CPU-s = {total / rows * 1e6:6.1f} µs per row ({per_cpu})")
    print(f"  flow-process peak RSS {peak:,.0f} MB, RSS at the end {_status_mb('VmRSS'):,.0f} MB")
    phases.report()
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
