"""A throw-away PostgreSQL cluster for tests and benchmarks: ``initdb`` in a temporary directory, the server
listening on a unix socket there only (no TCP port), trust authentication for the local socket, stopped and
deleted at the end.

    python tests/pg_cluster.py            # start one, print its URL, stop it at Ctrl-C
    python tests/pg_cluster.py --tuned    # the same with BENCH_SETTINGS (benchmarks at 250k-1M posts)
    python tests/pg_cluster.py -c work_mem=256MB   # any server setting, repeated as needed

The server binaries are found on PATH (``initdb``), else in Debian's ``/usr/lib/postgresql/<version>/bin``
(``apt-get install postgresql``), else in ``$YUQING_PG_BINDIR``.  PostgreSQL refuses to run as root: as root,
the cluster runs as the ``postgres`` user (made by Debian's package), else as ``nobody``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "yuqing_admin"

# The benchmarks' server settings for this 2-core, 24 GiB machine, shared with other jobs (docs/scaling.md,
# "PostgreSQL on the same machine"); the tests run on PostgreSQL's defaults.
BENCH_SETTINGS = {
    "shared_buffers": "2GB",  # the 1M-post warehouse is ~3 GB on disk: its hot tables and indexes stay cached
    "effective_cache_size": "8GB",  # what the planner may assume the OS caches besides
    "work_mem": "64MB",  # per sort or hash node: the reports' and graph's aggregations sort in memory
    "maintenance_work_mem": "512MB",  # index builds and ANALYZE after the bulk load
    "max_wal_size": "2GB",  # bulk loads: fewer checkpoints than every 1 GB (WAL on disk grows to this and more)
    "max_parallel_workers_per_gather": "1",  # 2 cores: one helper process per query at most
    "jit": "off",  # JIT compiles each large query for ~0.1-1 s; our queries are short, the compile costs more
}


def find_bindir() -> Path | None:
    """Where ``initdb``, ``pg_ctl`` and ``postgres`` are, or None when PostgreSQL is not installed."""
    env = os.environ.get("YUQING_PG_BINDIR")
    if env:
        return Path(env)
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


class ClusterError(RuntimeError):
    pass


@dataclass
class Cluster:
    bindir: Path
    root: Path
    os_user: str | None  # who runs the server (None: this process's user)
    port: int = 5432  # names the socket file (.s.PGSQL.<port>); nothing listens on TCP
    settings: dict[str, str] = field(default_factory=dict)  # server settings (-c name=value) beyond the defaults

    def url(self, database: str = "postgres", role: str = SUPERUSER) -> str:
        return f"postgresql://{role}@/{database}?host={self.root}&port={self.port}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        try:
            subprocess.run(
                [str(self.bindir / args[0]), *args[1:]],
                user=self.os_user,
                check=True,
                capture_output=True,
                text=True,
                cwd=self.root,
                timeout=timeout,
            )
        except subprocess.CalledProcessError as exc:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ClusterError(f"{args[0]} failed ({exc.returncode}): {exc.stderr.strip()}\n{tail}") from None

    def start(self) -> None:
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync", "--no-instructions")  # fmt: skip
        # durability off: a throw-away cluster (what is measured or tested is the SQL, not the disk)
        options = (
            f"-k {self.root} -p {self.port} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=60"
        ) + "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._run("pg_ctl", "start", "-D", str(data), "-w", "-t", "60", "-l", str(self.root / "server.log"),
                  "-o", options)  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.root / "data"), "-m", "fast", "-w", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(bindir: Path | None = None, settings: dict[str, str] | None = None) -> Cluster:
    """A running throw-away cluster (server ``settings`` beyond the defaults); :meth:`Cluster.stop` stops and
    deletes it."""
    bindir = bindir or find_bindir()
    if bindir is None:
        raise ClusterError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    # /tmp, not $TMPDIR: the server user must reach the directory, and a socket path has at most 107 bytes
    root = Path(tempfile.mkdtemp(prefix="yuqing-pg-", dir="/tmp" if os.path.isdir("/tmp") else None))
    os_user = None
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            account = pwd.getpwnam("nobody")
        os.chown(root, account.pw_uid, account.pw_gid)
        os_user = account.pw_name
    cluster = Cluster(bindir, root, os_user, settings=dict(settings or {}))
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


@contextmanager
def url_or_throwaway(url: str | None, settings: dict[str, str] | None = None) -> Iterator[str]:
    """``url`` itself, or (None) the URL of a throw-away cluster (with ``settings``) started here and stopped on
    leaving."""
    if url:
        yield url
        return
    cluster = start_cluster(settings=settings)
    try:
        yield cluster.url()
    finally:
        cluster.stop()


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"expected name=value, got {text!r}")
    return name.strip(), value.strip()


if __name__ == "__main__":
    import argparse
    import signal
    import time

    parser = argparse.ArgumentParser(description="a throw-away PostgreSQL cluster; prints its URL")
    parser.add_argument("--tuned", action="store_true", help=f"the benchmarks' settings: {BENCH_SETTINGS}")
    parser.add_argument("-c", dest="set", action="append", default=[], type=_setting, metavar="NAME=VALUE")
    args = parser.parse_args()
    # stopped by Ctrl-C or kill (TERM; a background job ignores INT): both end in the cleanup below
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    running = start_cluster(settings={**(BENCH_SETTINGS if args.tuned else {}), **dict(args.set)})
    print(running.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
