"""The DuckDB warehouse: idempotent upserts, snapshots, checkpoints, locking, migrations, PII placement."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yuqing.store.errors import StoreError, WarehouseLocked
from yuqing.store.schema import (
    Author,
    Customer,
    CustomerAccountLink,
    Interaction,
    InteractionKind,
    LinkMethod,
    Order,
    Platform,
    Post,
    PostKind,
)
from yuqing.store.warehouse import SCHEMA_VERSION, Checkpoint, Warehouse

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def post(pid: str, *, fetched: int = 0, reposts: int = 0, text: str = "好用", **kw: object) -> Post:
    return Post.model_validate(
        {
            "platform": Platform.WEIBO,
            "id": pid,
            "text": text,
            "created_at": T0,
            "author_id": "u1",
            "reposts_count": reposts,
            "fetched_at": T0 + dt.timedelta(hours=fetched),
            "topics": ["新品"],
            "raw": {"id": pid, "reposts_count": reposts},
            **kw,
        }
    )


def snapshot(wh: Warehouse) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for table in ("posts", "post_metrics", "authors", "author_metrics", "interactions", "checkpoints"):
        cols = {"posts": "* EXCLUDE (first_seen_at)", "checkpoints": "* EXCLUDE (updated_at)"}.get(table, "*")
        out[table] = sorted(map(tuple, wh.con.execute(f"SELECT {cols} FROM {table}").fetchall()), key=repr)
    return out


post_strategy = st.builds(
    lambda pid, fetched, reposts, text: post(f"p{pid}", fetched=fetched, reposts=reposts, text=text),
    st.integers(0, 8),
    st.integers(0, 5),
    st.integers(0, 3),
    st.sampled_from(["好用", "差评", "", "這個"]),
)


@pytest.fixture
def shared_wh(tmp_path: Path) -> Iterator[Warehouse]:  # one file for all examples: a file per example is slow
    with Warehouse.open(tmp_path / "prop.duckdb") as wh:
        yield wh


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(post_strategy, max_size=20), second=st.lists(post_strategy, max_size=20))
def test_ingest_twice_equals_once(shared_wh: Warehouse, first: list[Post], second: list[Post]) -> None:
    wh = shared_wh
    for table in ("posts", "post_metrics"):
        wh.con.execute(f"DELETE FROM {table}")
    wh.upsert_posts(first)
    wh.upsert_posts(second)
    once = snapshot(wh)
    again = wh.upsert_posts(first) + wh.upsert_posts(second)
    assert (again.inserted, again.updated) == (0, 0)
    assert snapshot(wh) == once
    assert len(once["posts"]) == len({p.id for p in first + second})
    # the stored row of every post is its newest fetch
    newest: dict[str, dt.datetime] = {}
    for p in first + second:
        newest[p.id] = max(newest.get(p.id, p.fetched_at), p.fetched_at)
    stored = dict(wh.con.execute("SELECT id, fetched_at FROM posts").fetchall())
    assert stored == newest


def test_batch_duplicates_newest_wins(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        res = wh.upsert_posts(
            [post("1", fetched=2, reposts=20), post("1", fetched=5, reposts=50), post("1", fetched=1)]
        )
        assert (res.inserted, res.updated, res.unchanged) == (1, 0, 0)
        assert wh.posts_frame()["reposts_count"].tolist() == [50]
        assert wh.table_counts()["post_metrics"] == 1


def test_older_fetch_never_overwrites_and_snapshots_over_time(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_posts([post("1", fetched=1, reposts=10)])
        res = wh.upsert_posts([post("1", fetched=3, reposts=30, text="改过", topics=["新品", "翻车"])])
        assert res.updated == 1
        old = wh.upsert_posts([post("1", fetched=2, reposts=20, text="旧的")])
        assert old.updated == 0
        row = wh.query("SELECT text, reposts_count, raw, topics FROM posts").iloc[0]
        assert (row["text"], row["reposts_count"], list(row["topics"])) == ("改过", 30, ["新品", "翻车"])
        assert '"reposts_count": 30' in row["raw"]
        # same counts at a later fetch: no new snapshot; changed counts: one more
        wh.upsert_posts([post("1", fetched=4, reposts=30, text="改过")])
        wh.upsert_posts([post("1", fetched=6, reposts=60, text="改过")])
        m = wh.query("SELECT fetched_at, reposts_count FROM post_metrics ORDER BY fetched_at")
        assert m["reposts_count"].tolist() == [10, 30, 60]


def test_frame_path_and_bad_frame_rolls_back(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_posts([post("keep", reposts=1)])
        frame = pd.DataFrame(
            {"platform": ["weibo", "weibo"], "id": ["a", "b"], "created_at": [T0, T0], "reposts_count": [1, 2]}
        )
        assert wh.upsert_posts_frame(frame).inserted == 2
        with pytest.raises(StoreError, match="created_at"):
            wh.upsert_posts_frame(pd.DataFrame({"platform": ["weibo"], "id": ["c"]}))
        bad = pd.DataFrame(
            {"platform": ["weibo", "weibo"], "id": ["d", "e"], "created_at": [T0, T0], "reposts_count": [1, "many"]}
        )
        with pytest.raises(StoreError, match=r"row 1, field reposts_count"):
            wh.upsert_posts_frame(bad)
        with pytest.raises(StoreError, match="field platform"):
            wh.upsert_posts_frame(frame.assign(platform="wb"))
        assert sorted(wh.posts_frame()["id"]) == ["a", "b", "keep"]


def test_ingest_is_one_transaction_with_checkpoint(tmp_path: Path) -> None:
    cp = Checkpoint(Platform.WEIBO, "search:手机", cursor="page-2", since=T0, until=T0 + dt.timedelta(days=1))
    edge = Interaction(
        platform=Platform.WEIBO,
        kind=InteractionKind.REPOST,
        source_author_id="u2",
        target_author_id="u1",
        post_id="1",
        created_at=T0,
    )
    author = Author(platform=Platform.WEIBO, id="u1", followers_count=10, fetched_at=T0)

    class Boom(Exception):
        pass

    def failing_authors() -> Iterator[Author]:  # dies mid-ingest, after the posts were written
        yield author
        raise Boom

    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        with pytest.raises(Boom):
            wh.ingest(posts=[post("1")], authors=failing_authors(), interactions=[edge], checkpoint=cp)
        assert wh.get_checkpoint(Platform.WEIBO, "search:手机") is None
        assert wh.table_counts()["posts"] == 0 and wh.table_counts()["interactions"] == 0

        wh.ingest(posts=[post("1")], authors=[author], interactions=[edge, edge], checkpoint=cp)
        got = wh.get_checkpoint(Platform.WEIBO, "search:手机")
        assert got is not None and got.cursor == "page-2" and got.since == T0
        counts = wh.table_counts()
        assert (counts["posts"], counts["authors"], counts["interactions"]) == (1, 1, 1)
        assert wh.add_interactions([edge]) == 0
        later = Author(platform=Platform.WEIBO, id="u1", followers_count=99, fetched_at=T0 + dt.timedelta(1))
        wh.upsert_authors([later])
        followers = wh.query("SELECT followers_count FROM author_metrics ORDER BY fetched_at")["followers_count"]
        assert followers.tolist() == [10, 99]


_HOLD = """
import sys
from yuqing.store.warehouse import Warehouse
wh = Warehouse.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
wh.close()
"""


def test_second_writer_process_gets_locked(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Warehouse.open(path) as wh:
        wh.upsert_posts([post("1")])
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            assert proc.stdout.readline().strip() == "ready"
            with pytest.raises(WarehouseLocked, match="another process"):
                Warehouse.open(path)
            with pytest.raises(WarehouseLocked):
                Warehouse.open(path, read_only=True)
        finally:
            proc.stdin.write("\n")
            proc.stdin.flush()
            assert proc.wait(timeout=30) == 0
    with Warehouse.open(path) as wh:  # released, file intact
        assert wh.table_counts()["posts"] == 1


def test_read_only_readers(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with pytest.raises(StoreError, match="does not exist"):
        Warehouse.open(path, read_only=True)
    with Warehouse.open(path) as wh:
        wh.upsert_posts([post("1")])
    with Warehouse.open(path, read_only=True) as r1, Warehouse.open(path, read_only=True) as r2:
        assert len(r1.posts_frame()) == len(r2.posts_frame()) == 1


def test_migration_from_older_version(tmp_path: Path) -> None:
    from yuqing.store import warehouse as w

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ)")
    con.execute(w._MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.close()
    with Warehouse.open(path) as wh:
        assert wh.schema_version == SCHEMA_VERSION
        assert "customers" in wh.table_counts()
    con = duckdb.connect(str(path))
    con.execute(f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION + 1}, now())")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        Warehouse.open(path)


def test_pii_only_in_customers(tmp_path: Path) -> None:
    key = b"secret-key-for-tests-0123456789ab"
    customers = [
        Customer(
            customer_id="c1",
            name="张三丰",
            phone="138 1234 5678",
            email="Zhang.San@Example.com",
            handles={"weibo": "@三丰爱数码"},
        ),
        Customer(customer_id="c2", name="李四", phone="010-87654321", email="lisi@example.org"),
    ]
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        assert wh.upsert_customers(customers, key) == 2
        wh.upsert_customers(customers, key)
        wh.add_orders([Order(order_id="o1", customer_id="c1", amount=Decimal("99.90"), ordered_at=T0)] * 2)
        link = CustomerAccountLink(
            customer_id="c1",
            platform=Platform.WEIBO,
            author_id="u1",
            method=LinkMethod.PHONE_HASH,
            confidence=0.9,
            linked_at=T0,
        )
        assert wh.add_links([link]) == 1
        assert wh.add_links([link]) == 0
        better = link.model_copy(update={"method": LinkMethod.HANDLE, "confidence": 1.0})
        assert wh.add_links([better]) == 1
        wh.write_frame("leaders", pd.DataFrame({"platform": ["weibo"], "author_id": ["u1"], "score": [0.5]}))
        counts = wh.table_counts()
        assert counts["orders"] == 1 and counts["customer_links"] == 2 and counts["customers"] == 2
        current = wh.customer_links_current()
        assert current[["method", "confidence"]].values.tolist() == [["handle", 1.0]]
        idents = wh.query("SELECT kind, value FROM customer_identifiers")
        assert set(idents["kind"]) == {"phone_hash", "email_hash", "handle:weibo"}
        secrets = ["13812345678", "1234 5678", "zhang.san", "Zhang.San", "87654321", "lisi@", "张三丰", "李四"]
        for table in counts:
            if table == "customers":
                continue
            dump = wh.query(f"SELECT * FROM {table}").to_csv()
            for secret in secrets:
                assert secret not in dump, f"{secret!r} leaked into {table}"
        assert "张三丰" in wh.query("SELECT * FROM customers").to_csv()


def test_write_frame_upserts_and_posts_frame_filters(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_posts([post("1"), post("2", kind=PostKind.COMMENT, parent_id="1", root_id="1")])
        assert wh.posts_frame(kinds=["comment"])["id"].tolist() == ["2"]
        assert list(wh.posts_frame(columns=["id", "text"]).columns) == ["id", "text"]
        assert wh.posts_frame(since=T0 + dt.timedelta(days=1)).empty
        with pytest.raises(StoreError, match="unknown post column"):
            wh.posts_frame(columns=["nope"])
        wh.write_frame("topics", pd.DataFrame({"topic": [1, 2], "share": [0.1, 0.2], "topic_label": ["a", "b"]}))
        wh.write_frame("topics", pd.DataFrame({"topic": [2, 3], "share": [0.9, 0.3]}))
        stored = wh.read_table("topics").sort_values("topic")
        assert stored["share"].tolist() == [0.1, 0.9, 0.3]
        assert stored["topic_label"].tolist()[:2] == ["a", "b"]  # a column the frame lacks keeps its value
        with pytest.raises(StoreError, match="key column"):
            wh.write_frame("topics", pd.DataFrame({"share": [1.0]}))
        with pytest.raises(StoreError, match=r"\['score'\] are not declared"):
            wh.write_frame("topics", pd.DataFrame({"topic": [1], "score": [1.0]}))
        with pytest.raises(StoreError, match="not a derived table"):
            wh.write_frame("scores", pd.DataFrame({"id": ["1"]}))
        with pytest.raises(StoreError, match="not a table read whole"):
            wh.read_table("x; DROP TABLE posts")


def test_author_posts_reads_unanalysed_posts_as_no_complaint(tmp_path: Path) -> None:
    """The customer view sums complaints per account: a post the text stage has not reached yet is not one
    (it arrived as a NULL the customer view could not count)."""
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_posts([post("1", author_id="u1"), post("2", author_id="u1")])
        wh.save_analysis(pd.DataFrame({"platform": ["weibo"], "id": ["1"], "sentiment": [0.1], "complaint": [True]}))
        got = wh.author_posts(pd.DataFrame({"platform": ["weibo"], "author_id": ["u1"]}))
    assert got.set_index("id")["complaint"].astype(bool).to_dict() == {"1": True, "2": False}
    assert got.set_index("id")["sentiment"].isna().to_dict() == {"1": False, "2": True}
