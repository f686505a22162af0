"""The analyse stage walks the corpus a window at a time: memory follows the window, each window is committed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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
    real = Warehouse.unanalysed_posts

    def spy(self: Warehouse, **kw: object) -> object:
        frame = real(self, **kw)  # type: ignore[arg-type]
        windows.append(len(frame))
        return frame

    monkeypatch.setattr(Warehouse, "unanalysed_posts", spy)
    monkeypatch.setattr(stages, "analyse_window", lambda settings: 50)
    monkeypatch.setattr(stages, "CHUNK_ROWS", 20)
    settings = load_settings(None, warehouse={"path": str(path)}, flows={"task_runner": "thread"}, nlp={"workers": 1})
    with prefect_test_harness(server_startup_timeout=180):
        assert analyse(settings) == 130
        assert windows == [50, 50, 30]  # across both platforms by (platform, id); the short window ends it
        windows.clear()
        assert analyse(settings) == 0 and windows == [0]  # nothing left: one empty read
        windows.clear()
        assert analyse(settings, reanalyse=True) == 130 and windows == [50, 50, 30]
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
