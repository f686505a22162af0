"""The analyse stage walks the corpus a window at a time: memory follows the window, each window is committed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from yuqing.flows import stages
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
