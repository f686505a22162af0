"""The analyse stage walks the corpus a window at a time: memory follows the window, each window is committed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from yuqing.flows import stages
from yuqing.store.errors import StoreError
from yuqing.store.schema import Platform, Post
from yuqing.store.settings import load_settings
from yuqing.store.warehouse import Warehouse


@pytest.mark.slow
def test_analyse_reads_scores_and_commits_window_by_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from yuqing.flows.cli import quiet_prefect_env

    quiet_prefect_env()
    from prefect.testing.utilities import prefect_test_harness

    from yuqing.flows.monitor import analyse

    path = tmp_path / "w.duckdb"
    now = dt.datetime.now(dt.UTC)
    texts = ["星阅X5电池鼓包，太失望了", "星阅X5拍照真不错", "楚风K9续航一般"]
    with Warehouse.open(path) as wh:
        wh.upsert_posts(
            Post(platform=platform, id=f"{i:04d}", text=texts[i % 3], created_at=now)
            for platform in (Platform.WEIBO, Platform.DOUYIN)
            for i in range(65)
        )
    windows: list[int] = []
    real = Warehouse.unanalysed_window

    def spy(self: Warehouse, *args: object, **kw: object) -> object:
        frame = real(self, *args, **kw)  # type: ignore[arg-type]
        windows.append(len(frame))
        return frame

    monkeypatch.setattr(Warehouse, "unanalysed_window", spy)
    monkeypatch.setattr(stages, "analyse_window", lambda settings: 50)
    monkeypatch.setattr(stages, "CHUNK_ROWS", 20)
    settings = load_settings(None, warehouse={"path": str(path)}, flows={"task_runner": "thread"}, nlp={"workers": 1})
    with prefect_test_harness(server_startup_timeout=180):
        assert analyse(settings) == 130
        assert windows == [50, 15, 50, 15]  # each platform's posts by id, a window of 50 at a time
        windows.clear()
        assert analyse(settings) == 0 and windows == []  # nothing left: no window to read
        windows.clear()
        assert analyse(settings, reanalyse=True) == 130 and windows == [50, 15, 50, 15]
    with Warehouse.open(path, read_only=True) as wh:
        stored = wh.read_table("post_analysis")
    assert len(stored) == 130 and stored[["platform", "id"]].drop_duplicates().shape[0] == 130
    by_text = {t: stored.loc[stored["id"].str[-4:].astype(int) % 3 == k, "polarity"].unique().tolist()
               for k, t in enumerate(texts)}  # fmt: skip
    assert all(len(v) == 1 for v in by_text.values())  # the same text scores the same in every window


@pytest.mark.slow
def test_the_analysis_table_is_the_text_stage_upserted_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    """The stage's windows (Arrow to and from the workers, a plain INSERT of rows known new) store exactly the
    text stage's rows upserted the generic way (``write_frame``: the old write path); re-running and
    re-analysing store the same table."""
    from yuqing.flows.cli import quiet_prefect_env

    quiet_prefect_env()
    from prefect.testing.utilities import prefect_test_harness

    from yuqing.flows.monitor import analyse, make_task_runner
    from yuqing.nlp.pipeline import OUTPUT_COLUMNS, analyze_frame

    texts = [
        "星阅X5电池鼓包，太失望了 #星阅X5#",
        "星阅X5拍照真不错，楚风K9续航一般",
        "今天天气很好",
        "楚风客服态度差，退款三天没到账",
    ]
    now = dt.datetime.now(dt.UTC)
    posts = [
        Post(platform=platform, id=f"{i:04d}", text=f"{texts[i % 4]} {i}", created_at=now - dt.timedelta(hours=i))
        for platform in (Platform.WEIBO, Platform.DOUYIN)
        for i in range(60)
    ]
    paths = {name: tmp_path / f"{name}.duckdb" for name in ("flow", "reference")}
    for path in paths.values():
        with Warehouse.open(path) as wh:
            wh.upsert_posts(posts)
    settings = load_settings(None, warehouse={"path": str(paths["flow"])}, nlp={"workers": 2})
    segmenter, models, brands = stages._text_stage(settings.model_dump_json())
    frame = pd.DataFrame({"platform": [p.platform.value for p in posts], "id": [p.id for p in posts],
                          "text": [p.text for p in posts]})  # fmt: skip
    scored = analyze_frame(frame, segmenter, models, brands=brands, workers=1, keep_tokens=True)
    scored["tokens"] = scored["tokens"].map(" ".join)
    with Warehouse.open(paths["reference"]) as wh:
        wh.write_frame("post_analysis", scored[["platform", "id", *OUTPUT_COLUMNS, "tokens"]])

    def table(path: Path) -> list[tuple[object, ...]]:
        with Warehouse.open(path, read_only=True) as wh:
            return wh.con.execute("SELECT * EXCLUDE (analysed_at) FROM post_analysis ORDER BY ALL").fetchall()

    flow = analyse.with_options(task_runner=make_task_runner(settings))  # the process pool, as `yuqing run`
    with prefect_test_harness(server_startup_timeout=180):
        assert flow(settings) == 120
        assert table(paths["flow"]) == table(paths["reference"])
        assert flow(settings) == 0
        assert flow(settings, reanalyse=True) == 120
    assert table(paths["flow"]) == table(paths["reference"])
    with Warehouse.open(paths["flow"], read_only=True) as wh:
        stamps = wh.con.execute("SELECT count(*), count(analysed_at) FROM post_analysis").fetchall()
    assert stamps == [(120, 120)]


def test_rows_said_new_that_are_stored_are_upserted(tmp_path: Path) -> None:
    """``save_analysis(new=True)`` stores by a plain INSERT; a row already analysed fails it, and the window is
    written again as the upsert (a stage re-run while another wrote): one row per post, the newest values."""
    row = {"platform": ["weibo", "weibo"], "id": ["1", "2"], "sentiment": [0.1, 0.9], "complaint": [True, False],
           "brands": [["星阅"], []], "brand_sentiment": [{"星阅": 0.1}, {}]}  # fmt: skip
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        assert wh.save_analysis(pd.DataFrame(row).iloc[:1], new=True) == 1
        assert wh.save_analysis(pd.DataFrame(row).assign(sentiment=[0.3, 0.8]), new=True) == 2
        rows = wh.con.execute("SELECT id, sentiment, brands, brand_sentiment FROM post_analysis ORDER BY id").fetchall()
        assert rows == [("1", 0.3, ["星阅"], '{"星阅": 0.1}'), ("2", 0.8, [], "{}")]
        with pytest.raises(StoreError, match="not declared"):
            wh.save_analysis(pd.DataFrame(row).assign(extra=1), new=True)


def test_a_chunk_sent_to_a_worker_carries_its_own_rows_only() -> None:
    """Chunks of an Arrow window pickle to their own size, not the window's (a zero-copy slice pickles its
    table's whole buffers)."""
    import pickle

    import pyarrow as pa

    window = pa.table({"platform": ["weibo"] * 10_000, "id": [f"{i:05d}" for i in range(10_000)],
                       "text": ["星阅X5电池鼓包，太失望了" * 4] * 10_000})  # fmt: skip
    chunks = stages.split(window, 1_000)
    assert [c.num_rows for c in chunks] == [1_000] * 10
    assert pa.concat_tables(chunks).equals(window)
    assert max(len(pickle.dumps(c)) for c in chunks) < len(pickle.dumps(window)) / 5


def test_a_chunk_scored_in_a_worker_is_the_frame_it_replaced() -> None:
    """``analyse_chunk`` builds its Arrow table from the text stage's columns and the chunk's keys; it equals the
    table the frame path made (``analyze_frame`` → ``analysis_rows``): types, values, nulls, JSON texts."""
    import pyarrow as pa

    from yuqing.nlp.pipeline import OUTPUT_COLUMNS, analyze_frame
    from yuqing.store.warehouse import analysis_rows

    texts = ["星阅X5电池鼓包，太失望了 #星阅X5#", "星阅X5拍照真不错，楚风K9续航一般", "", "今天天气很好",
             "楚风客服态度差，退款三天没到账", "转发微博//@甲:星阅X5真香"]  # fmt: skip
    chunk = pa.table({"platform": ["weibo", "douyin"] * 6, "id": [f"{i:03d}" for i in range(12)],
                      "text": texts * 2})  # fmt: skip
    settings = load_settings(None, brand={"name": "星阅", "products": ["星阅X5"]}, competitors=[{"name": "楚风"}])
    segmenter, models, brands = stages._text_stage(settings.model_dump_json())
    scored = analyze_frame(chunk.to_pandas(), segmenter, models, brands=brands, workers=1, keep_tokens=True)
    scored["tokens"] = scored["tokens"].map(" ".join)
    before = analysis_rows(scored[["platform", "id", *OUTPUT_COLUMNS, "tokens"]])
    after = stages.analyse_chunk(chunk, settings)
    assert after.schema.equals(before.schema) and after.equals(before)
    assert set(after["brand_sentiment"].to_pylist()) > {"{}"}  # brand maps were encoded, not only empty ones
    assert stages.analyse_chunk(chunk.slice(0, 0), settings).num_rows == 0


def test_brand_maps_are_encoded_as_the_json_encoder_writes_them() -> None:
    """The spelled-out encoding of the text stage's brand maps equals ``encode_json`` on every value: empty and
    single maps, several brands, quotes and escapes in keys, tiny, huge, negative and non-finite floats, ints,
    non-text keys, nested values and None."""
    import math

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from yuqing.store.warehouse import _json_map, encode_json

    scalars = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(), st.none())
    keys = st.one_of(st.text(), st.integers())
    maps = st.dictionaries(keys, st.one_of(scalars, st.lists(st.floats(), max_size=2)), max_size=4)

    @settings(deadline=None)  # no deadline: a loaded machine is no failure
    @given(maps)
    def same(value: dict[object, object]) -> None:
        assert _json_map(value) == encode_json(value)

    same()
    for value in [{}, {"星阅": 0.1234}, {'a"\\\n': -1e-300, "楚风": 1e300}, {"x": math.inf}, None, '{"kept": 1}']:
        assert _json_map(value) == (value if isinstance(value, str) else encode_json(value))


def test_the_text_stage_of_a_worker_does_not_import_sklearn() -> None:
    """A worker process imports what scoring a chunk needs: sklearn (the reference word hasher's, 41 % of the
    pipeline's import) only when the pure features run, not with the compiled module."""
    import subprocess
    import sys

    from yuqing.nlp.features import compiled

    code = (
        "import sys, pyarrow as pa\n"
        "from yuqing.flows import stages\n"
        "from yuqing.store.settings import load_settings\n"
        "chunk = pa.table({'platform': ['weibo'], 'id': ['1'], 'text': ['星阅X5电池鼓包，太失望了']})\n"
        "assert stages.analyse_chunk(chunk, load_settings(None)).num_rows == 1\n"
        "print(sorted(m for m in ('sklearn', 'gensim') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == ("[]" if compiled() else "['sklearn']")


def _most_rows_held(plan: dict[str, object]) -> int:
    """The most rows any operator of a DuckDB ``EXPLAIN (ANALYZE, FORMAT JSON)`` plan passed on, table scans
    aside (a scan applies its filters and passes on what they keep; a sort or join keeps what it passes)."""
    here = 0 if str(plan.get("type", "")).endswith("SCAN") else int(plan.get("intermediate_rows", 0))  # type: ignore[call-overload]
    below = [*plan.get("children", []), *plan.get("operator", [])]  # type: ignore[misc]
    return max([here, *(_most_rows_held(c) for c in below)])


def test_a_window_read_holds_the_window_whatever_the_corpus(tmp_path: Path) -> None:
    """The analyse stage's reads hold a window's rows, not the corpus's: every window read is run again under
    EXPLAIN ANALYZE, half the posts analysed, at 1x and 10x the posts; the most rows any operator handles is the
    window's.  Reads by ``after`` and ``limit`` ordered every remaining post with its text, for each window (at
    1M posts 1.6 CPU-s and a 1,260 MB peak a read): that old read fails the same bound."""
    import json

    held: dict[str, list[int]] = {"windows": [], "after+limit": []}
    for copies in (1, 10):
        with Warehouse.open(tmp_path / f"w{copies}.duckdb") as wh:
            now = dt.datetime.now(dt.UTC)
            wh.upsert_posts(
                Post(platform=platform, id=f"{i:06d}", text=f"星阅X5 第{i}条", created_at=now)
                for platform in (Platform.WEIBO, Platform.DOUYIN)
                for i in range(200 * copies)
            )
            analysed = wh.con.execute("SELECT platform, id FROM posts WHERE id < ?", [f"{100 * copies:06d}"]).df()
            wh.save_analysis(analysed.assign(sentiment=0.5))
            windows = wh.unanalysed_windows(40)
            assert sum(wh.unanalysed_window(*w).num_rows for w in windows) == 200 * copies
            reads: list[tuple[str, list[object]]] = []

            def recording(sql: str, params: list[object], real: Any = wh._arrow, reads: list[Any] = reads) -> Any:
                reads.append((sql, params))
                return real(sql, params)

            wh._arrow = recording  # type: ignore[method-assign]
            for w in windows:
                wh.unanalysed_window(*w)
            plans = [wh.con.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {q}", p).fetchall()[0][1] for q, p in reads]
            held["windows"].append(max(_most_rows_held(json.loads(p)) for p in plans))
            reads.clear()
            after = ("douyin", f"{100 * copies - 1:06d}")
            wh.unanalysed_posts(after=after, limit=40)
            plans = [wh.con.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {q}", p).fetchall()[0][1] for q, p in reads]
            held["after+limit"].append(max(_most_rows_held(json.loads(p)) for p in plans))
    assert held["windows"] == [40, 40], held
    assert held["after+limit"][1] > 10 * 40, held  # the old read: the remaining posts, ten times the window


def test_the_stage_end_recount_runs_under_a_memory_limit_and_counts_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``post_counts``' recount at the analyse stage's end (every hour stale after a first pass: at 1M posts the
    join held +863 MB, the flow's peak) runs under DuckDB's memory bound and counts what an unbounded recount
    counts."""
    from yuqing.store import warehouse

    now = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
    path = tmp_path / "w.duckdb"
    with Warehouse.open(path) as wh:
        wh.upsert_posts(
            Post(platform=Platform.WEIBO, id=f"{i:04d}", text="星阅X5", created_at=now - dt.timedelta(hours=i % 30))
            for i in range(300)
        )
        keys = wh.con.execute("SELECT platform, id FROM posts").df()
        scored = keys.assign(sentiment=[i / 300 for i in range(300)], polarity="neutral", brands=[["星阅"]] * 300)
        wh.save_analysis(scored.assign(brand_sentiment=[{"星阅": 0.25}] * 300), count=False)
    limits = []
    real = warehouse.refresh_post_counts

    def spy(con: Any, **kw: bool) -> int:
        limits.append(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
        return int(real(con, **kw))

    monkeypatch.setattr(warehouse, "refresh_post_counts", spy)
    assert stages.count_posts(load_settings(None, warehouse={"path": str(path)})) == 30
    assert limits == ["244.1 MiB"]  # 256 MB
    with Warehouse.open(path) as wh:
        bounded = wh.con.execute("SELECT * FROM post_counts ORDER BY ALL").fetchall()
        with wh.transaction():
            real(wh.con, everything=True)
        assert wh.con.execute("SELECT * FROM post_counts ORDER BY ALL").fetchall() == bounded
    assert sum(r[7] for r in bounded) == 600  # each post counted under brand '' and under 星阅
