"""A pass in its own process group, which dies whole: no process outlives a killed ``yuqing run``.

``yuqing run`` starts the Prefect server, process-pool workers and spider processes.  A process
killed with SIGKILL cannot clean up after itself, so the command is split in two:

* the process the user started (the *parent*) re-runs the same command in a child that leads a new
  process group (``start_new_session``), forwards Ctrl-C/SIGTERM/SIGHUP to that whole group, and
  kills whatever is left of the group once the child exits;
* the child watches a pipe whose write end only the parent holds.  When the parent dies — however
  it dies — the read returns end-of-file and the child kills its own group with SIGKILL: itself, the
  embedded Prefect server, the pool workers and the spiders.

POSIX only; elsewhere the command runs in place.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading

__all__ = ["GROUPED_COMMANDS", "PARENT_FD_ENV", "run_as_group", "watch_parent"]

PARENT_FD_ENV = "YUQING_PARENT_FD"
GROUPED_COMMANDS = frozenset({"run", "serve", "backfill", "analyze", "demo"})  # the ones that start processes
_CHILD = "import sys; sys.argv[0] = 'yuqing'; from yuqing.flows.cli import main; main()"


def run_as_group(argv: list[str]) -> int:
    """Run ``yuqing ARGV`` as the leader of a new process group; return its exit code."""
    read_end, write_end = os.pipe()
    env = dict(os.environ, **{PARENT_FD_ENV: str(read_end)})
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", _CHILD, *argv], env=env, pass_fds=(read_end,), start_new_session=True
    )
    os.close(read_end)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(write_end)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)  # anything the pass left behind
    return 128 - code if code < 0 else code


def watch_parent() -> None:
    """In the child: kill the whole process group as soon as the parent is gone."""
    fd_text = os.environ.pop(PARENT_FD_ENV, "")
    if not fd_text.isdigit():
        return
    fd = int(fd_text)

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 1):
                pass
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="yuqing-parent-watch", daemon=True).start()
