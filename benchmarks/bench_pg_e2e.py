"""bench_e2e.py on a PostgreSQL warehouse, with what the server spends: CPU seconds of the client and of the server
per stage, the server's peak memory, and the statements that took the server longest (``pg_stat_statements``).

    python tests/pg_cluster.py --tuned -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all
    python benchmarks/bench_pg_e2e.py --posts 250000 --warehouse 'postgresql://yuqing_admin@/y250?host=/tmp/…'
    python benchmarks/bench_pg_e2e.py --flow-only --dir /tmp/w250 --warehouse 'postgresql://…/copy_of_a_loaded_db'

Everything of bench_e2e.py (simulate, load, the flow's per-stage seconds and peak RSS), plus per stage:

* **client CPU**: this process and its children (text-stage workers, Prefect server): its own and its reaped
  children's CPU (``os.times``) plus the live children's, read as each stage starts and ends;
* **server CPU**: every process of the cluster: the postmaster's own and reaped children's CPU (each backend and
  worker that ended) plus the live ones', read at the same moments — exact at the boundaries, whatever the load;
* **server PSS**: the summed proportional set size of the cluster's processes, sampled every 2 s (its peak).

``--flow-only`` runs only the flow on a database already loaded (``bench_e2e.py --load-only --dir D`` and a copy
made with ``CREATE DATABASE x TEMPLATE loaded``): the same flow, before and after a change, on the same rows.
The statements' times (``pg_stat_statements`` reset as the flow starts, when the extension is in the database)
are wall seconds of the server, so on a loaded machine compare the CPU columns.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_e2e  # noqa: E402


def _cpu(proc: Any) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0))


class Server:
    """The cluster behind ``url``: its postmaster (from ``postmaster.pid`` in its data directory)."""

    def __init__(self, url: str) -> None:
        import psutil
        import psycopg

        with psycopg.connect(url, autocommit=True) as pg:
            data = pg.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
            self.statements = bool(
                pg.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
            )
        pid = int((Path(data) / "postmaster.pid").read_text().split()[0])
        self.url = url
        self.postmaster = psutil.Process(pid)
        self.peak_pss = 0.0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def cpu(self) -> float:
        """CPU seconds of the cluster so far: the postmaster with its reaped children, and the live children."""
        import psutil

        total = _cpu(self.postmaster)
        for child in self.postmaster.children(recursive=True):
            with contextlib.suppress(psutil.Error):  # ended meanwhile: the postmaster has its CPU now
                total += _cpu(child)
        return total

    def pss_mb(self) -> float:
        import psutil

        total = 0
        for proc in [self.postmaster, *self.postmaster.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_full_info().pss
        return total / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(2.0):
            self.peak_pss = max(self.peak_pss, self.pss_mb())

    def stop(self) -> None:
        self._stop.set()

    def reset_statements(self) -> None:
        import psycopg

        if self.statements:
            with psycopg.connect(self.url, autocommit=True) as pg:
                pg.execute("SELECT pg_stat_statements_reset()")

    def top_statements(self, n: int) -> list[tuple[float, int, int, str]]:
        """``(seconds, calls, rows, query)`` of the ``n`` top-level statements the server spent longest on (a
        streamed read's ``COPY``, not the query inside it a second time)."""
        import psycopg

        if not self.statements:
            return []
        with psycopg.connect(self.url, autocommit=True) as pg:
            rows = pg.execute(
                "SELECT total_exec_time / 1000, calls, rows, query FROM pg_stat_statements "
                "WHERE toplevel AND query NOT LIKE '%%pg_stat_statements%%' ORDER BY total_exec_time DESC LIMIT %s",
                [n],
            ).fetchall()
        return [(float(s), int(c), int(r), str(q)) for s, c, r, q in rows]

    def size_mb(self) -> float:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            return float(pg.execute("SELECT pg_database_size(current_database())").fetchone()[0]) / 2**20  # type: ignore[index]


def client_cpu() -> float:
    """CPU seconds of this process, its reaped children and its live ones."""
    import psutil

    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += _cpu(child)
    return total


class CpuPeaks(bench_e2e.StagePeaks):
    """bench_e2e's per-stage memory hook, which also reads client and server CPU as each stage starts and ends;
    the first stage's start resets ``pg_stat_statements`` (the flow's statements, not the load's)."""

    server: Server
    last: CpuPeaks | None = None

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(interval)
        self.flow_start: tuple[float, float, float] | None = None
        self._at: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.spent: dict[str, tuple[float, float, float]] = {}  # stage -> (wall, client CPU, server CPU)
        CpuPeaks.last = self

    def __call__(self, name: str, outcome: Any, value: Any) -> None:
        if self.flow_start is None:
            self.server.reset_statements()
            self.flow_start = (time.perf_counter(), client_cpu(), self.server.cpu())
        now = (time.perf_counter(), client_cpu(), self.server.cpu())
        if outcome is None:
            self._at = now
        else:
            self.spent[name] = (now[0] - self._at[0], now[1] - self._at[1], now[2] - self._at[2])
        super().__call__(name, outcome, value)

    def flow(self) -> tuple[float, float, float]:
        """Wall, client CPU and server CPU from the first stage's start until now."""
        start = self.flow_start or (time.perf_counter(), client_cpu(), self.server.cpu())
        now = (time.perf_counter(), client_cpu(), self.server.cpu())
        return now[0] - start[0], now[1] - start[1], now[2] - start[2]


def report(server: Server, peaks: CpuPeaks, flow: tuple[float, float, float], top: int) -> None:
    print("\nper stage: wall, client CPU, server CPU (s)")
    for name, (wall, client, srv) in peaks.spent.items():
        print(f"  {name:10} {wall:9.1f} {client:9.1f} {srv:9.1f}")
    print(f"  {'flow':10} {flow[0]:9.1f} {flow[1]:9.1f} {flow[2]:9.1f}")
    print(f"server: peak PSS of the cluster {server.peak_pss:,.0f} MB; database {server.size_mb():,.0f} MB")
    statements = server.top_statements(top)
    if statements:
        print(f"\nthe {len(statements)} statements the server spent longest on (s, calls, rows):")
        for seconds, calls, rows, query in statements:
            print(f"  {seconds:8.1f} {calls:6d} {rows:10d}  {' '.join(query.split())[:200]}")


def flow_only(args: argparse.Namespace, server: Server) -> int:
    """The flow alone on an already loaded warehouse (``--dir`` holds its world)."""
    from bench_score import Sampler

    from yuqing.flows.cli import quiet_prefect_env
    from yuqing.flows.monitor import monitor, stage_progress

    quiet_prefect_env()
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", "bench-key-0123456789abcdef0123456789")
    sampler = Sampler(os.getpid(), interval=0.5)
    threading.Thread(target=sampler.run, daemon=True).start()
    peaks = CpuPeaks()
    with stage_progress(peaks):
        result = monitor(
            str(args.dir / "world" / "yuqing.toml"),
            bench_e2e.overrides(args.dir, args.workers, args.warehouse),
            collect=False,
        )
    flow = peaks.flow()
    own = peaks.finish()
    sampler.stop()
    print(f"\nflow on the warehouse of {args.dir}, {args.workers} workers, PostgreSQL")
    for name, value in result.timings.items():
        print(f"  {name:38} {value:12,.1f} s")
    print(f"peak RSS: flow process {own:,.0f} MB; process tree {sampler.peak_rss / 2**20:,.0f} MB")
    print("\n".join(peaks.lines()))
    print(f"alerts: {result.alerts}")
    report(server, peaks, flow, args.top)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--warehouse", required=True, help="a postgresql:// URL (an empty database, or loaded)")
    parser.add_argument("--flow-only", action="store_true", help="the flow alone, on a loaded database (--dir)")
    parser.add_argument("--top", type=int, default=30, help="statements listed")
    args = parser.parse_args()
    args.load_only = False
    server = Server(args.warehouse)
    CpuPeaks.server = server
    try:
        if args.flow_only:
            if args.dir is None:
                parser.error("--flow-only needs --dir (the world the database was loaded from)")
            return flow_only(args, server)
        bench_e2e.StagePeaks = CpuPeaks  # type: ignore[misc]  # run() makes its per-stage hook from this name
        rc = bench_e2e.run(args)
        if CpuPeaks.last is not None:
            report(server, CpuPeaks.last, CpuPeaks.last.flow(), args.top)
        return rc
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
