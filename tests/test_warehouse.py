from __future__ import annotations

import datetime as dt
import multiprocessing as mp
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.errors import StoreError, WarehouseLocked
from store.schema import Customer, Platform
from store.warehouse import Checkpoint, Warehouse
from tests.conftest import make_author, make_post


def _snapshot(wh: Warehouse) -> dict[str, list[tuple[object, ...]]]:
    return {
        "posts": wh.con.execute(
            "SELECT platform, id, text, reposts_count, fetched_at FROM posts ORDER BY 1, 2").fetchall(),
        "metrics": wh.con.execute("SELECT * FROM post_metrics ORDER BY 1, 2, 3").fetchall(),
    }


batch_strategy = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 5), st.integers(0, 1000), st.text(max_size=20)),
    min_size=1, max_size=40,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=batch_strategy)
def test_ingesting_twice_equals_ingesting_once(tmp_path: Path, batch: list[tuple[int, int, int, str]]) -> None:
    posts = [make_post(i, text=text, reposts_count=count, fetched_at=dt.datetime(2026, 10, 2, hour, tzinfo=dt.UTC))
             for i, hour, count, text in batch]
    import tempfile

    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "w.duckdb"  # a fresh file per example (hypothesis replays)
    with Warehouse.open(path) as wh:
        wh.upsert_posts(posts)
        once = _snapshot(wh)
        result = wh.upsert_posts(posts)
        assert _snapshot(wh) == once
        assert result.inserted == 0 and result.updated == 0
    # inside one batch the newest fetch wins
    newest: dict[str, tuple[dt.datetime, int]] = {}
    for p in posts:
        if p.id not in newest or p.fetched_at >= newest[p.id][0]:
            newest[p.id] = (p.fetched_at, p.reposts_count)
    stored = {row[1]: row[3] for row in once["posts"]}
    assert stored == {k: v[1] for k, v in newest.items()}


def test_newer_fetch_updates_and_snapshots_older_never_overwrites(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_posts([make_post(1, reposts_count=5)])
        later = make_post(1, reposts_count=9, fetched_at=dt.datetime(2026, 10, 5, tzinfo=dt.UTC))
        assert wh.upsert_posts([later]).updated == 1
        older = make_post(1, reposts_count=1, fetched_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
        wh.upsert_posts([older])
        assert wh.con.execute("SELECT reposts_count FROM posts").fetchall() == [(9,)]
        assert [r[0] for r in wh.con.execute("SELECT reposts_count FROM post_metrics ORDER BY fetched_at").fetchall()] \
            == [5, 9]


def test_ingest_writes_rows_and_checkpoint_in_one_transaction(tmp_path: Path) -> None:
    cp = Checkpoint(Platform.WEIBO, "search:星阅", '{"page": 3}')
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.ingest(posts=[make_post(1)], authors=[make_author(1)], checkpoint=cp)
        bad = make_post(2).model_copy(update={"created_at": None})  # fails inside the transaction
        with pytest.raises(Exception):  # noqa: B017 - any failure must roll everything back
            wh.ingest(posts=[make_post(3), bad], checkpoint=Checkpoint(Platform.WEIBO, "search:星阅", '{"page": 4}'))
        assert wh.table_counts()["posts"] == 1
        stored = wh.get_checkpoint(Platform.WEIBO, "search:星阅")
        assert stored is not None and stored.cursor == '{"page": 3}'


def _hold_writer(path: str, ready: object, release: object) -> None:
    with Warehouse.open(path):
        ready.set()  # type: ignore[attr-defined]
        release.wait(30)  # type: ignore[attr-defined]


def test_second_writer_process_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Warehouse.open(path) as wh:
        wh.upsert_posts([make_post(1)])
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_writer, args=(str(path), ready, release))
    proc.start()
    try:
        assert ready.wait(60)
        with pytest.raises(WarehouseLocked, match="one writer"):
            Warehouse.open(path)
    finally:
        release.set()
        proc.join(30)
    with Warehouse.open(path, read_only=True) as wh:
        assert wh.table_counts()["posts"] == 1


def test_migrates_an_older_schema(tmp_path: Path) -> None:
    import duckdb

    from store import warehouse as mod

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ)")
    con.execute(mod._MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.close()
    with Warehouse.open(path) as wh:
        assert wh.schema_version == mod.SCHEMA_VERSION
        assert "customers" in wh.table_counts()


def test_pii_is_stored_in_the_customer_table_only(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_customers([Customer(customer_id="C1", name="张三丰", phone="+86 138-1234-5678",
                                      email="Zhang.San@Example.com", handles={"weibo": "5000"})], b"key")
        wh.upsert_authors([make_author(5000)])
        for table in wh.table_counts():
            if table == "customers":
                continue
            dump = str(wh.con.execute(f"SELECT * FROM {table}").fetchall())
            for secret in ("13812345678", "zhang.san@example.com", "Zhang.San", "张三丰"):
                assert secret not in dump, f"{secret} leaked into {table}"
        kinds = {r[0] for r in wh.con.execute("SELECT kind FROM customer_identifiers").fetchall()}
        assert kinds == {"phone_hash", "email_hash", "handle:weibo"}


def test_bad_frames_raise_store_errors(tmp_path: Path) -> None:
    import pandas as pd

    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        with pytest.raises(StoreError, match="created_at"):
            wh.upsert_posts_frame(pd.DataFrame({"platform": ["weibo"], "id": ["1"]}))
        with pytest.raises(StoreError, match="bad table"):
            wh.write_frame("x; drop table posts", pd.DataFrame({"a": [1]}), key=["a"])
