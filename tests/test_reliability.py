"""What `yuqing run` promises when things go wrong (docs/reliability.md): stages fail alone, one writer
for the whole pass, no process outlives a killed run.  Real Prefect runs over real DuckDB files; the
command-line tests run the installed `yuqing` in subprocesses."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from flows.cli import quiet_prefect_env

quiet_prefect_env()

from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from store.schema import Platform, Post  # noqa: E402
from store.warehouse import Warehouse  # noqa: E402

YUQING = str(Path(sys.executable).with_name("yuqing"))
COMPLAINT = "小米14的电池用了两个月就鼓包了，客服一直不回复，退款也办不了"
TEXTS = [
    COMPLAINT,
    "今天去店里体验了新款，拍照真的绝绝子",
    "物流太慢了，下单一周还没发货，无语",
    "天气不错，出去走走",
    "这个手机屏幕太容易碎了，售后还要收费",
    "新品发布会几点开始？",
]


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=180):
        yield


def _project(tmp_path: Path, *, runner: str = "thread", workers: int = 1) -> Path:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(
        '[brand]\nname = "小米"\nproducts = ["小米14"]\n[warehouse]\npath = "w.duckdb"\n'
        f'[nlp]\nworkers = {workers}\n[flows]\ntask_runner = "{runner}"\nout_dir = "out"\n',
        encoding="utf-8",
    )
    return cfg


def _seed(path: Path, texts: list[str]) -> None:
    start = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)
    posts = [
        Post(platform=Platform.WEIBO, id=str(1000 + i), text=text, created_at=start + dt.timedelta(minutes=i))
        for i, text in enumerate(texts)
    ]
    with Warehouse.open(path) as wh:
        wh.upsert_posts(posts)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUQING_")}
    env.update(extra)
    return env


def _run_pass(tmp_path: Path, cfg: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [YUQING, "run", "--no-collect", "-c", str(cfg)],
        cwd=tmp_path,
        env=_env(COLUMNS="200", **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_uniform_corpus_skips_topics_and_the_pass_still_reports_and_alerts(harness: None, tmp_path: Path) -> None:
    from flows.monitor import monitor

    cfg = _project(tmp_path)
    _seed(tmp_path / "w.duckdb", [COMPLAINT] * 60)
    result = monitor(str(cfg), collect=False)
    states = {name: outcome.state for name, outcome in result.stages.items()}
    assert states == {
        "analyse": "ok",
        "topics": "skipped",
        "graph": "ok",
        "reports": "ok",
        "alerts": "ok",
        "retention": "ok",
    }
    assert "too uniform" in result.stages["topics"].reason
    assert result.analysed == 60 and result.failed == []
    assert any(p.endswith("brand_report.html") for p in result.reports)
    assert all(Path(p).exists() for p in result.reports)
    assert result.alerts and "warm-up" in result.alerts[0]  # the alert stage ran over the 60 complaints


@pytest.mark.slow
def test_a_failing_stage_is_reported_the_others_run_and_the_exit_code_says_so(tmp_path: Path) -> None:
    cfg = _project(tmp_path)
    _seed(tmp_path / "w.duckdb", [TEXTS[i % len(TEXTS)] for i in range(30)])
    (tmp_path / "out" / "brand_report.html").mkdir(parents=True)  # the report cannot be written
    proc = _run_pass(tmp_path, cfg)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out
    assert "error: stage reports failed: IsADirectoryError" in proc.stderr
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in proc.stdout.splitlines() if "│" in line}
    assert rows == {
        "analyse": "ok",
        "topics": "skipped",
        "graph": "ok",
        "reports": "failed",
        "alerts": "ok",
        "retention": "ok",
    }
    with Warehouse.open(tmp_path / "w.duckdb", read_only=True) as wh:
        assert wh.query("SELECT count(*) AS n FROM post_analysis")["n"].iat[0] == 30


@pytest.mark.slow
def test_run_on_an_empty_warehouse_completes_without_tracebacks(tmp_path: Path) -> None:
    cfg = _project(tmp_path)
    proc = _run_pass(tmp_path, cfg)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "Exception" not in out
    assert "no analysed posts yet" in out and "nothing to report" in out


def test_missing_crm_key_fails_before_any_stage(tmp_path: Path) -> None:
    from store.schema import Customer

    cfg = _project(tmp_path)
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_customers([Customer(customer_id="C1", name="张三", phone="13800001111")], b"k" * 32)
    started = time.monotonic()
    proc = _run_pass(tmp_path, cfg)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: YUQING_CRM__HMAC_KEY is not set: the CRM join needs a key to hash phones and e-mails "
        "(the warehouse holds customers to link)"
    ]
    assert elapsed < 15, f"refused after {elapsed:.1f} s: the Prefect server should not have started"
    short = _run_pass(tmp_path, cfg, YUQING_CRM__HMAC_KEY="short")
    assert short.returncode == 1 and "at least 32 bytes" in short.stderr and "Traceback" not in short.stderr


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def _marked(mark: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("YUQING_TEST_MARK") == mark and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.slow
def test_import_mid_run_is_refused_in_one_line_and_kill_9_leaves_no_process(tmp_path: Path) -> None:
    cfg = _project(tmp_path, runner="process", workers=2)
    _seed(tmp_path / "w.duckdb", [TEXTS[i % len(TEXTS)] + f" {i}" for i in range(3000)])
    export = tmp_path / "export.csv"
    export.write_text("id,text,created_at\n9,新帖子,2026-10-02 10:00:00\n", encoding="utf-8")
    mark = uuid.uuid4().hex
    run = subprocess.Popen(
        [YUQING, "run", "--no-collect", "-c", str(cfg)],
        cwd=tmp_path,
        env=_env(YUQING_TEST_MARK=mark),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while len(_alive(_descendants(run.pid))) < 3:  # the pass, the Prefect server, a pool worker
            assert run.poll() is None, "the run ended before the test could kill it"
            assert time.monotonic() < deadline, "the run never started its Prefect server and workers"
            time.sleep(0.5)
        imp = subprocess.run(
            [YUQING, "import", str(export), "--format", "csv", "--warehouse", str(tmp_path / "w.duckdb")],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert imp.returncode == 1
        lines = imp.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: warehouse "), imp.stderr
        assert "in use by another process" in lines[0] and "yuqing run" in lines[0]
        tree = _descendants(run.pid)
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        deadline = time.monotonic() + 20
        while (_alive(tree) or _marked(mark)) and time.monotonic() < deadline:
            time.sleep(0.25)
        left = [(p.pid, p.name()) for p in _alive(tree) + _marked(mark)]
        assert left == [], f"processes left after kill -9 of the run: {left}"
    finally:
        for p in _marked(mark):
            p.kill()
        if run.poll() is None:
            run.kill()
    # the warehouse is free again and intact
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        assert wh.query("SELECT count(*) AS n FROM posts")["n"].iat[0] == 3000
