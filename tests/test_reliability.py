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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yuqing.flows.cli import quiet_prefect_env

quiet_prefect_env()

from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from yuqing.store.errors import WarehouseLocked  # noqa: E402
from yuqing.store.schema import Platform, Post  # noqa: E402
from yuqing.store.warehouse import Warehouse  # noqa: E402

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
    from yuqing.flows.monitor import monitor

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
    from yuqing.store.schema import Customer

    cfg = _project(tmp_path)
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_customers([Customer(customer_id="C1", name="张三", phone="13800001111")], b"k" * 32)
    prefect_home = tmp_path / "prefect-home"
    proc = _run_pass(tmp_path, cfg, PREFECT_HOME=str(prefect_home))
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: YUQING_CRM__HMAC_KEY is not set") and "needs a key to hash phones" in line
    assert line.endswith("(the warehouse holds customers to link)")
    # refused before Prefect started: its embedded server would have created its database in PREFECT_HOME
    assert not [p.name for p in prefect_home.glob("*")], "the Prefect server started before the key was checked"
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
    # enough posts that the pass is still analysing when the test kills it
    _seed(tmp_path / "w.duckdb", [TEXTS[i % len(TEXTS)] + f" {i}" for i in range(12000)])
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
    # the warehouse is free again (a killed process's lock goes when the kernel has closed its files: allow
    # for that on a loaded machine) and intact
    deadline = time.monotonic() + 30
    while True:
        try:
            with Warehouse.open(tmp_path / "w.duckdb") as wh:
                assert wh.query("SELECT count(*) AS n FROM posts")["n"].iat[0] == 12000
            break
        except WarehouseLocked:
            assert time.monotonic() < deadline, "the warehouse stayed locked 30 s after the run was killed"
            time.sleep(0.5)


# ---------------------------------------------------------------------------- bad input in the analyst commands


def _yuqing(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([YUQING, *args], cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=600)


def _one_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return lines[0]


POSTS_CSV = "id,text\n" + "".join(f"{i},{TEXTS[i % len(TEXTS)]}\n" for i in range(60))


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_score_reads_gbk_and_bom_files_and_writes_the_same_result(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "utf8.csv").write_text(POSTS_CSV, encoding="utf-8")
    (tmp_path / "in.csv").write_bytes(POSTS_CSV.encode(encoding))
    reference = _yuqing("score", "utf8.csv", "-o", "ref.csv", "--workers", "1", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    proc = _yuqing("score", "in.csv", "-o", "out.csv", "--workers", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert "电池用了两个月就鼓包了" in (tmp_path / "out.csv").read_text(encoding="utf-8")


def test_topics_graph_and_crm_import_read_gbk(tmp_path: Path) -> None:
    many = "id,text\n" + "".join(f"{i},{TEXTS[i % len(TEXTS)]}{'，电池发热' * (i % 3)}\n" for i in range(120))
    (tmp_path / "posts.csv").write_bytes(many.encode("gbk"))
    topics = _yuqing("topics", "posts.csv", "-o", "topics.csv", "--k", "2", cwd=tmp_path)
    assert topics.returncode == 0, topics.stderr
    out = (tmp_path / "topics.csv").read_text(encoding="utf-8")
    assert "物流太慢了" in out and out.count("\n") == 121

    (tmp_path / "edges.csv").write_bytes("source,target,weight\n张三,李四,2\n李四,王五,1\n王五,张三,1\n".encode("gbk"))
    graph = _yuqing("graph", "edges.csv", "-o", "nodes.csv", cwd=tmp_path)
    assert graph.returncode == 0, graph.stderr
    assert set((tmp_path / "nodes.csv").read_text(encoding="utf-8").splitlines()[1:][0].split(",")[:1]) <= {
        "张三",
        "李四",
        "王五",
    }

    (tmp_path / "customers.csv").write_bytes("客户编号,姓名,手机\nC1,张伟,13800138000\n".encode("gbk"))
    crm = _yuqing(
        "crm", "import", "customers.csv", "--warehouse", "w.duckdb", cwd=tmp_path, YUQING_CRM__HMAC_KEY="k" * 32
    )
    assert crm.returncode == 0, crm.stderr
    with Warehouse.open(tmp_path / "w.duckdb", read_only=True) as wh:
        assert wh.query("SELECT name FROM customers")["name"].tolist() == ["张伟"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "edges.csv:1: empty file"),
        (b"source,target,weight\n", "edges.csv:2: no rows after the header"),
        (b"src,dst\na,b\n", "edges.csv:1 [source]: no column 'source'"),
        (b"source,target,weight\na,b,1\nb,c,heavy\n", "edges.csv:3 [weight]: weight 'heavy' is not a number"),
        (b"source,target,weight\na,b,1\nb,c,NaN\n", "edges.csv:3 [weight]: weight 'NaN' is not a number"),
        (b"source,target,weight\na,b,inf\n", "edges.csv:2 [weight]: weight 'inf' is not finite"),
        (b"source,target,weight\na,b,1\nc,d,-1000\n", "edges.csv:3 [weight]: weight '-1000' is negative"),
        (b"source,target\na,\n", "edges.csv:2 [target]: empty node id"),
        (b'source,target\na,b\n"c,d\n', "edges.csv"),
        (b"source,target\n\xff\xfe\x00\x00a,b\n", "edges.csv"),
    ],
)
def test_graph_refuses_bad_edges_in_one_line_and_writes_nothing(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "edges.csv").write_bytes(content)
    (tmp_path / "nodes.csv").write_text("previous output\n", encoding="utf-8")
    line = _one_error(_yuqing("graph", "edges.csv", "-o", "nodes.csv", cwd=tmp_path))
    assert line.startswith(f"error: {expected}"), line
    assert (tmp_path / "nodes.csv").read_text(encoding="utf-8") == "previous output\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edges.csv", "nodes.csv"]  # no temporary file left


@pytest.mark.parametrize(
    ("command", "content", "expected"),
    [
        ("score", b"", "in.csv:1: empty file"),
        ("topics", b"", "in.csv:1: empty file"),
        ("topics", b"id,text\n", "in.csv:2: no rows after the header"),
        ("score", b"id,body\n1,x\n", "in.csv:1 [text]: no column 'text'"),
        ("score", "id,text\n1,好\n".encode("gbk") + b"2,\xff\xff\xff\n", "in.csv"),
    ],
)
def test_score_and_topics_refuse_bad_files_in_one_line(
    tmp_path: Path, command: str, content: bytes, expected: str
) -> None:
    (tmp_path / "in.csv").write_bytes(content)
    line = _one_error(_yuqing(command, "in.csv", "-o", "out.csv", cwd=tmp_path))
    assert line.startswith(f"error: {expected}"), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_score_output_is_safe_to_open_in_excel(tmp_path: Path) -> None:
    import csv

    rows = [("1", '=HYPERLINK("http://evil.example","点我")'), ("2", "+86 138 0013 8000 客服电话"), ("3", "-5"),
            ("4", "@所有人 电池鼓包")]  # fmt: skip
    with (tmp_path / "in.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("id", "text"), *rows])
    assert _yuqing("score", "in.csv", "-o", "out.csv", "--workers", "1", cwd=tmp_path).returncode == 0
    with (tmp_path / "out.csv").open(encoding="utf-8") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    assert texts == ["'" + rows[0][1], "'" + rows[1][1], "-5", "'" + rows[3][1]]
    raw = _yuqing("score", "in.csv", "-o", "raw.csv", "--workers", "1", "--no-excel-safe", cwd=tmp_path)
    assert raw.returncode == 0
    with (tmp_path / "raw.csv").open(encoding="utf-8") as fh:
        assert [r["text"] for r in csv.DictReader(fh)] == [r[1] for r in rows]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.lists(st.lists(st.text(max_size=8), min_size=1, max_size=4), max_size=6).map(
            lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8")
        ),
        st.text(max_size=120).map(lambda t: ("source,target,weight\n" + t).encode("gb18030")),
    )
)
def test_the_table_reader_turns_any_bytes_into_rows_or_one_input_error(tmp_path: Path, data: bytes) -> None:
    from yuqing.flows.commands.io import chunks, excel_safe, open_table
    from yuqing.store.errors import InputError

    path = tmp_path / "any.csv"
    path.write_bytes(data)
    try:
        table = open_table(path, allow_empty=True)
        for chunk in chunks(path, table.encoding, dtype=str, keep_default_na=False, chunksize=2):
            guarded = excel_safe(chunk)
            assert guarded.shape == chunk.shape
    except InputError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


# ---------------------------------------------------------------------------- personal data in reports, secrets on disk


def test_reports_show_no_phone_or_email_from_post_texts(tmp_path: Path) -> None:
    from yuqing.flows import stages
    from yuqing.store.settings import load_settings

    cfg = _project(tmp_path)
    texts = [TEXTS[i % len(TEXTS)] for i in range(20)]
    texts[3] = "小米14售后太差，联系我 138-1234-5678 或 zhang.san@example.com 退款"
    _seed(tmp_path / "w.duckdb", texts)
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.con.execute("UPDATE posts SET reposts_count = 999 WHERE id = '1003'")  # a top post
    settings = load_settings(cfg)
    stages.store_analysis(settings, [stages.analyse_chunk(stages.load_unanalysed(settings), settings)])
    paths = stages.reports(settings, start=None, end=None, out_dir=tmp_path / "out")
    assert isinstance(paths, list) and paths
    shown = "".join(Path(p).read_text(encoding="utf-8") for p in paths if p.endswith((".html", ".json")))
    assert "售后太差" in shown  # the post is shown ...
    assert "1234-5678" not in shown and "zhang.san@" not in shown  # ... without the contact details
    assert "+86 138****5678" in shown and "z***@example.com" in shown


def test_files_holding_secrets_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stat

    from yuqing.store.warehouse import lock_path

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    quiet_prefect_env()
    assert stat.S_IMODE((tmp_path / "prefect").stat().st_mode) == 0o700  # Prefect's database lives there
    with Warehouse.open(tmp_path / "w.duckdb"):
        pass
    assert stat.S_IMODE(lock_path(tmp_path / "w.duckdb").stat().st_mode) == 0o600


# --------------------------------------------------------------------------- warehouse file modes


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_warehouse_file_and_wal_are_private_whatever_the_umask(tmp_path: Path) -> None:
    """The warehouse holds the CRM's customer table in clear: the file and its write-ahead log are 0600 from
    their first byte under a permissive umask, also the WAL DuckDB re-creates after a checkpoint."""
    db = tmp_path / "w.duckdb"
    wal = tmp_path / "w.duckdb.wal"
    previous = os.umask(0o002)
    try:
        with Warehouse.open(db) as wh:
            assert _mode(db) == 0o600
            _seed_posts(wh, 0)
            assert wal.exists() and _mode(wal) == 0o600
            wh.con.execute("CHECKPOINT")
            assert not wal.exists()  # DuckDB deleted it ...
            _seed_posts(wh, 1)
            assert wal.exists() and _mode(wal) == 0o600  # ... and created it again, private
            spill = tmp_path / "report.csv"  # the umask is private only while a writer is open
        spill.write_text("x", encoding="utf-8")
        assert os.umask(0o002) == 0o002  # restored on close
        assert _mode(spill) == 0o664
        assert _mode(db) == 0o600
    finally:
        os.umask(previous)


def test_an_existing_warehouse_readable_by_others_is_tightened_on_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db) as wh:
        _seed_posts(wh, 0)
    db.chmod(0o644)  # as yuqing before this change left it
    with caplog.at_level("WARNING", logger="yuqing.store.warehouse"), Warehouse.open(db, read_only=True):
        pass
    assert _mode(db) == 0o600
    notices = [r.getMessage() for r in caplog.records if r.name == "yuqing.store.warehouse"]
    assert len(notices) == 1 and "\n" not in notices[0]
    assert str(db) in notices[0] and "0644" in notices[0] and "0600" in notices[0]
    caplog.clear()
    with Warehouse.open(db):
        pass
    assert not caplog.records  # said once: the file is private now


def _seed_posts(wh: Warehouse, n: int) -> None:
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    wh.ingest(
        posts=[Post(platform=Platform.WEIBO, id=f"mode{n}", author_id="a", text="x", created_at=now, fetched_at=now)]
    )
