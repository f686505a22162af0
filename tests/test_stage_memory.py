"""DuckDB's own memory in the stages after analyse: bounded, and a plan that cannot spill still runs."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from tests.test_post_counts import _complaint_world, _settings
from yuqing.store.warehouse import Warehouse, memory_bounded


def _limit_of(limit: str) -> str:
    """``memory_limit`` as DuckDB shows it once set to ``limit``."""
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{limit}'")
        return str(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def test_the_stages_after_analyse_bound_duckdbs_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every warehouse the topics, graph, alerts and reports stages open runs with DuckDB's ``memory_limit`` at
    ``STAGE_DUCKDB_MEMORY``.  Unbounded, DuckDB allowed itself 80 % of the machine and each stage's joins,
    aggregations and sorts grew with the corpus (1M posts: +350-560 MB per read; 256 MB bounded, spilling)."""
    from yuqing.flows import stages

    settings = _settings(tmp_path)
    _complaint_world(settings, 2)
    seen: list[tuple[str, str]] = []
    current = [""]
    close = Warehouse.close

    def recording_close(self: Warehouse) -> None:
        if not self._closed:
            row = self.con.execute("SELECT current_setting('memory_limit')").fetchone()
            seen.append((current[0], str(row[0])))  # type: ignore[index]
        close(self)

    monkeypatch.setattr(Warehouse, "close", recording_close)
    out = tmp_path / "out"
    for name, run in (
        ("topics", lambda: stages.topics(settings)),
        ("graph", lambda: stages.graph(settings)),
        ("alerts", lambda: stages.alerts(settings, dispatch=False)),
        ("reports", lambda: stages.reports(settings, start=None, end=None, out_dir=out)),
    ):
        current[0] = name
        run()
    assert {name for name, _ in seen} == {"topics", "graph", "alerts", "reports"}
    bound = _limit_of(stages.STAGE_DUCKDB_MEMORY)
    assert [s for s in seen if s[1] != bound] == []
    current[0] = "outside"
    with Warehouse.open(settings.warehouse.path, read_only=True):
        pass
    assert seen[-1][1] != bound  # outside a stage DuckDB keeps its own default


def test_a_stage_whose_plan_cannot_spill_runs_again_unbounded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """DuckDB cannot spill some operators (an aggregate into one string here): past the bound it raises
    ``OutOfMemoryException``; the stage runs once more without the bound and says so, it does not fail."""
    path = tmp_path / "w.duckdb"
    with Warehouse.open(path):
        pass
    calls: list[str] = []

    def run() -> int:
        with Warehouse.open(path, read_only=True) as wh:
            calls.append(str(wh.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))  # type: ignore[index]
            row = wh.con.execute("SELECT length(string_agg(range::VARCHAR, ',')) FROM range(2000000)").fetchone()
            return int(row[0])  # type: ignore[index]

    with caplog.at_level(logging.WARNING, logger="yuqing.store"):
        assert memory_bounded("4MB", run, what="the test stage") == 14_888_889
    assert len(calls) == 2 and calls[0] == _limit_of("4MB") and calls[1] != calls[0]
    assert "the test stage needed more than its DuckDB memory bound 4MB" in caplog.text


def test_a_stage_starts_without_the_garbage_earlier_work_left(tmp_path: Path) -> None:
    """The flow runs its stages in one process: unreachable objects an earlier stage left in reference cycles were
    held until a full collection, which is rare (after the analyse stage at 250k posts, ~200 MB of them).  A
    stage after analyse collects them before it starts."""
    import gc
    import weakref

    from yuqing.flows import stages

    settings = _settings(tmp_path)
    _complaint_world(settings, 1)

    class Left:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the cyclic collector frees it
            self.payload = bytearray(1 << 20)

    left = Left()
    gone = weakref.ref(left)
    del left
    gc.disable()  # no collection by the allocation thresholds: whether one came during the stage is chance
    try:
        assert gone() is not None
        stages.alerts(settings, dispatch=False)
        assert gone() is None
    finally:
        gc.enable()


def test_the_alerts_stage_reads_the_linked_customers_it_scores_with(tmp_path: Path) -> None:
    """Alert scoring looks up a burst's authors among the customers linked to accounts (``customer_id, clv`` by
    ``author_id``): the stage reads those three columns of the customer view, not the whole view."""
    import pandas as pd

    from yuqing.flows import stages

    settings = _settings(tmp_path)
    _complaint_world(settings, 1)
    view = pd.DataFrame(
        {
            "customer_id": [f"c{a:02d}" for a in range(41)],
            "name": "张*",
            "clv": [100.0 * a for a in range(41)],
            "author_id": [str(a) for a in range(40)] + [None],  # one customer not linked to any account
        }
    )
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.replace_frame("customer_view", view)
        burst = wh.query(
            "SELECT DISTINCT p.author_id FROM posts p JOIN post_analysis a USING (platform, id) WHERE a.complaint "
            "AND p.created_at >= TIMESTAMPTZ '2026-10-10 14:00:00+08' AND p.created_at < TIMESTAMPTZ '2026-10-10 "
            "15:00:00+08'"
        )
        assert len(wh.linked_customer_values()) == 40
    stages.alerts(settings, dispatch=False)
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        alert = wh.alerts().iloc[0]
    assert alert["affected_customers"] == sorted(f"c{int(a):02d}" for a in burst["author_id"])
    assert alert["affected_clv"] == sum(100.0 * int(a) for a in burst["author_id"])
