"""Real Prefect flow runs over a real DuckDB warehouse (no server to set up: Prefect's test harness)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from yuqing.flows.cli import quiet_prefect_env

quiet_prefect_env()

from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from yuqing.store.schema import Platform, Post  # noqa: E402
from yuqing.store.settings import load_settings  # noqa: E402

TEXTS = [
    "小米14的电池用了两个月就鼓包了，客服一直不回复，退款也办不了[怒]",
    "今天去店里体验了新款，拍照真的绝绝子[赞]",
    "物流太慢了，下单一周还没发货，无语",
    "天气不错，出去走走",
    "這個手機螢幕太容易碎了，售後還要收費",
    "新品发布会几点开始？",
]


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=180):
        yield


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(
        '[brand]\nname = "小米"\naliases = ["xiaomi"]\nproducts = ["小米14"]\n'
        '[warehouse]\npath = "w.duckdb"\n[nlp]\nworkers = 2\n',
        encoding="utf-8",
    )
    return cfg


def _seed_posts(path: Path, n: int) -> None:
    from yuqing.store.warehouse import Warehouse

    start = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)
    posts = [
        Post(
            platform=Platform.WEIBO,
            id=str(1000 + i),
            text=TEXTS[i % len(TEXTS)],
            created_at=start + dt.timedelta(minutes=i),
        )
        for i in range(n)
    ]
    with Warehouse.open(path) as wh:
        wh.upsert_posts(posts)


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["process", "dask"])
def test_analyse_flow_fans_out_and_writes_once(harness: None, tmp_path: Path, runner: str) -> None:
    from yuqing.flows import stages
    from yuqing.flows.monitor import analyse, make_task_runner
    from yuqing.store.warehouse import Warehouse

    settings = load_settings(_config(tmp_path), flows={"task_runner": runner})
    _seed_posts(settings.warehouse.path, 60)
    old_rows = stages.CHUNK_ROWS
    stages.CHUNK_ROWS = 25  # three chunks → three mapped task runs
    # Dask's default HTTP port taken, as by a second run or a cluster already on the machine: distributed warned
    # "Port 8787 is already in use" (an error here) when the runner left the scheduler's HTTP server on it.
    with contextlib.ExitStack() as held:
        with contextlib.suppress(OSError):  # already taken by something else: the condition holds anyway
            held.enter_context(socket.create_server(("", 8787)))
        try:
            n = analyse.with_options(task_runner=make_task_runner(settings))(settings)
        finally:
            stages.CHUNK_ROWS = old_rows
    assert n == 60
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        frame = wh.query("SELECT * FROM post_analysis ORDER BY id")
    assert len(frame) == 60
    assert frame["sentiment"].between(0, 1).all()
    first = frame.set_index("id").loc["1000"]  # TEXTS[0]: battery swelling + no reply + no refund
    assert bool(first["complaint"]) is True
    weather = frame.set_index("id").loc["1003"]  # TEXTS[3]: neither negative about a product nor a complaint
    assert bool(weather["complaint"]) is False
    # second run: nothing new to analyse
    again = analyse.with_options(task_runner=make_task_runner(settings))(settings)
    assert again == 0
    assert isinstance(frame, pd.DataFrame)


def test_stage_line_counts_rows_and_leaves_out_scrapy_internals() -> None:
    """The collect stage's progress line: the forum spider returns scrapy's crawl stats, of which only the
    items and pages are rows (the demo printed ``memusage/startup 585,072,640`` as if it were a count)."""
    from yuqing.flows.commands.flow import describe_stage

    value = {
        "weibo": {"engine": "api", "posts": 5, "pages": 3},
        "tieba": {
            "engine": "spider",
            "memusage/max": 585_072_640,
            "scheduler/enqueued": 180,
            "item_scraped_count": 333,
            "response_received_count": 40,
            "elapsed_time_seconds": 1.5,
        },
    }
    assert describe_stage("collect", value) == "weibo posts 5, pages 3 · tieba rows 333, pages 40"


@pytest.mark.slow
def test_analyze_without_an_api_runs_one_prefect_server_not_one_per_worker(tmp_path: Path) -> None:
    """`yuqing analyze` with no Prefect API configured: Prefect starts one ephemeral server for the flow, and the
    process-pool workers report to it. Each worker started a server of its own before (uvicorn, its database and
    migrations, for as long as the pool lived)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    cfg = _config(tmp_path)
    _seed_posts(tmp_path / "w.duckdb", 3000)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "YUQING_"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    yuqing = str(Path(sys.executable).with_name("yuqing"))
    proc = subprocess.Popen(
        [yuqing, "analyze", "-c", str(cfg)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    servers: set[int] = set()
    deadline = time.monotonic() + 600
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        if "prefect.server.api.server:create_app" in " ".join(child.cmdline()):
                            servers.add(child.pid)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # stuck: nothing of it may outlive the test (yuqing kills its own group)
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert "analysed 3,000 posts" in out.decode()
    assert len(servers) == 1, f"{len(servers)} Prefect servers ran (one for the flow, and one per worker?)"
