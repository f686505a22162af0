"""`yuqing serve` as a user runs it: a real process with its own Prefect server, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.test_reliability import _marked  # processes carrying the test's mark

YUQING = str(Path(sys.executable).with_name("yuqing"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path, mark: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQING_", "PREFECT_"))}
    env.update(YUQING_TEST_MARK=mark, PREFECT_HOME=str(tmp_path / "prefect"), COLUMNS="200")
    return env


@pytest.mark.slow
def test_serve_prints_its_api_lists_deployments_and_stops_on_sigint_within_10_s(tmp_path: Path) -> None:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text('[brand]\nname = "星阅"\n[warehouse]\npath = "w.duckdb"\n', encoding="utf-8")
    port, mark = _free_port(), uuid.uuid4().hex
    serve = subprocess.Popen(
        [YUQING, "serve", "-c", str(cfg), "--port", str(port)],
        cwd=tmp_path,
        env=_env(tmp_path, mark),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 240
        names: set[str] = set()
        while names != {"yuqing-hourly", "yuqing-daily-report"}:
            assert serve.poll() is None, serve.communicate()
            assert time.monotonic() < deadline, "serve never registered its deployments"
            time.sleep(1)
            try:  # what `prefect deployment ls` asks, on the API serve printed
                found = httpx.post(f"{api}/deployments/filter", json={}, timeout=5).json()
                names = {d["name"] for d in found}
            except httpx.HTTPError:
                continue
        # the server's scheduler turns the schedules into runs (it did not on SQLAlchemy 2.1: no run, ever)
        scheduled = 0
        while scheduled == 0:
            assert serve.poll() is None, serve.communicate()
            assert time.monotonic() < deadline, "no scheduled run was created for the deployments"
            time.sleep(1)
            runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=5).json()
            scheduled = sum(r["state_name"] == "Scheduled" for r in runs)
        serve.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, err = serve.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate()
    assert took < 10, f"serve took {took:.1f} s to stop"
    assert serve.returncode == 0, err
    assert f"Prefect API: {api}" in out and f"PREFECT_API_URL={api} prefect deployment ls" in out
    assert "Traceback" not in out + err and "Error" not in err, err
    deadline = time.monotonic() + 10
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.25)
    left = [(p.pid, p.name()) for p in _marked(mark)]
    for p in _marked(mark):
        p.kill()
    assert left == [], f"processes left after Ctrl-C: {left}"


def test_serve_with_an_api_url_nobody_answers_says_so_in_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text('[brand]\nname = "星阅"\n', encoding="utf-8")
    port = _free_port()
    proc = subprocess.run(
        [YUQING, "serve", "-c", str(cfg), "--api-url", f"http://127.0.0.1:{port}/api"],
        cwd=tmp_path,
        env=_env(tmp_path, uuid.uuid4().hex),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: --api-url") and "no Prefect API answers" in lines[0]
