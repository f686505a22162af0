"""A throw-away PostgreSQL cluster for tests and benchmarks: ``initdb`` in a temporary directory, the server
listening on a unix socket there only (no TCP port), trust authentication for the local socket, stopped and
deleted at the end.

    python tests/pg_cluster.py            # start one, print its URL, stop it at Ctrl-C

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
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "yuqing_admin"


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
        )
        self._run("pg_ctl", "start", "-D", str(data), "-w", "-t", "60", "-l", str(self.root / "server.log"),
                  "-o", options)  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.root / "data"), "-m", "fast", "-w", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(bindir: Path | None = None) -> Cluster:
    """A running throw-away cluster; :meth:`Cluster.stop` stops and deletes it."""
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
    cluster = Cluster(bindir, root, os_user)
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


@contextmanager
def url_or_throwaway(url: str | None) -> Iterator[str]:
    """``url`` itself, or (None) the URL of a throw-away cluster started here and stopped on leaving."""
    if url:
        yield url
        return
    cluster = start_cluster()
    try:
        yield cluster.url()
    finally:
        cluster.stop()


if __name__ == "__main__":
    import time

    running = start_cluster()
    print(running.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
