"""The warehouse's bulk paths: Warehouse.load_posts (batches of Arrow, one transaction each) and ingest_batch
store exactly what the row-at-a-time upsert stores, with the same counts, in any order of batches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yuqing.store.errors import StoreError
from yuqing.store.schema import Platform, Post
from yuqing.store.warehouse import POST_ARROW_SCHEMA, POST_COLUMNS, Warehouse, encode_json

T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def _post(pid: int, fetched: int, reposts: int, topics: list[str], created: int) -> Post:
    return Post(
        platform=Platform.WEIBO,
        id=f"p{pid}",
        text=f"帖子{pid}",
        created_at=T0 + dt.timedelta(days=created),
        author_id=f"u{pid % 3}",
        reposts_count=reposts,
        topics=topics,
        fetched_at=T0 + dt.timedelta(hours=fetched),
        raw={"n": reposts},
    )


POSTS = st.lists(
    st.builds(
        _post,
        st.integers(0, 12),
        st.integers(0, 4),
        st.integers(0, 3),
        st.sampled_from([[], ["新品"], ["新品", "续航"]]),
        st.integers(0, 2),
    ),
    max_size=30,
)


def _snapshot(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: sorted(map(tuple, wh.con.execute(f"SELECT {c} FROM {t}").fetchall()), key=repr)
        for t, c in (("posts", "* EXCLUDE (first_seen_at)"), ("post_metrics", "*"))
    }


def _table(posts: list[Post]) -> pa.Table:
    rows = [{**p.model_dump(), "raw": encode_json(p.raw)} for p in posts]
    return pa.Table.from_pylist(rows, schema=POST_ARROW_SCHEMA)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=POSTS, second=POSTS, batch=st.integers(1, 7))
def test_load_posts_in_batches_equals_the_upsert(
    tmp_path: Path, first: list[Post], second: list[Post], batch: int
) -> None:
    with Warehouse.open(tmp_path / "a.duckdb") as ref, Warehouse.open(tmp_path / "b.duckdb") as bulk:
        for wh in (ref, bulk):
            wh.con.execute("DELETE FROM posts; DELETE FROM post_metrics")
        expected = ref.upsert_posts(first) + ref.upsert_posts(second)
        # the bulk path keys each batch: batches of the upsert's own newest-per-key rows
        frame_first = Warehouse.posts_to_frame(first)
        got = bulk.load_posts(frame_first, batch_rows=10_000)
        got += bulk.load_posts(_table(_newest(second)), batch_rows=batch)
        assert _snapshot(bulk) == _snapshot(ref)
        assert (got.inserted, got.updated) == (expected.inserted, expected.updated)
        again = bulk.load_posts(_table(_newest(first + second)), batch_rows=batch)
        assert (again.inserted, again.updated) == (0, 0)
        assert _snapshot(bulk) == _snapshot(ref)


def _newest(posts: list[Post]) -> list[Post]:
    best: dict[str, Post] = {}
    for p in posts:
        if p.id not in best or p.fetched_at > best[p.id].fetched_at:
            best[p.id] = p
    return list(best.values())


def test_created_at_never_moves_and_an_older_fetch_changes_nothing(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.load_posts(_table([_post(1, fetched=5, reposts=3, topics=["a"], created=0)]))
        newer = _post(1, fetched=9, reposts=4, topics=["b"], created=2)
        older = _post(1, fetched=1, reposts=0, topics=[], created=1)
        assert wh.load_posts(_table([older])).unchanged == 1
        assert wh.load_posts(_table([newer])).updated == 1
        row = wh.con.execute("SELECT created_at, reposts_count, topics, fetched_at FROM posts").fetchall()
        assert row == [(T0, 4, ["b"], newer.fetched_at)]
        assert wh.con.execute("SELECT count(*) FROM post_metrics").fetchall() == [(2,)]


@pytest.mark.parametrize("middle", ["new", "stored"])
def test_a_mixed_batch_stores_the_same_whether_its_middle_row_is_new_or_stored(tmp_path: Path, middle: str) -> None:
    """A batch whose middle row is new inserts first; one whose middle row is stored joins first (a re-import):
    both give the upsert's rows, snapshots and counts."""
    stored = [_post(i, fetched=1, reposts=1, topics=["a"], created=0) for i in range(0, 6)]
    # rows 0-1 stored and newer (counts changed), 2-3 stored and the same, 4-8 new; the middle row (4) is new
    batch = [_post(i, fetched=3, reposts=2, topics=["b"], created=1) for i in (0, 1)] + stored[2:4]
    batch += [_post(i, fetched=2, reposts=0, topics=[], created=0) for i in range(6, 11)]
    if middle == "stored":
        batch = stored[2:4] + batch[:2] + stored[4:6] + batch[4:6]  # the middle row (4) is stored, 6 and 7 new
    with Warehouse.open(tmp_path / "a.duckdb") as ref, Warehouse.open(tmp_path / "b.duckdb") as bulk:
        ref.upsert_posts(stored)
        bulk.load_posts(_table(stored))
        expected = ref.upsert_posts(batch)
        got = bulk.load_posts(_table(batch))
        assert (got.inserted, got.updated, got.unchanged) == (expected.inserted, expected.updated, expected.unchanged)
        assert got.updated == 2 and got.inserted == (5 if middle == "new" else 2)
        assert _snapshot(bulk) == _snapshot(ref)


def test_an_arrow_batch_is_checked_as_a_frame_is(tmp_path: Path) -> None:
    """Arrow input gets the frame path's checks and rules: an unknown platform or a negative count is refused
    naming the field, a repeated key keeps the newest fetch, missing optional columns take their defaults."""
    posts = [_post(i, fetched=i % 2, reposts=1, topics=["a"], created=0) for i in range(4)]
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        bad = _table(posts).set_column(0, "platform", pa.array(["weibo", "weibo", "myspace", "weibo"]))
        with pytest.raises(StoreError, match="field platform: 'myspace'"):
            wh.load_posts(bad)
        negative = _table(posts).set_column(10, "reposts_count", pa.array([1, -2, 1, 1], pa.int64()))
        with pytest.raises(StoreError, match="field reposts_count"):
            wh.load_posts(negative)
        assert wh.con.execute("SELECT count(*) FROM posts").fetchall() == [(0,)]
        again = _post(1, fetched=7, reposts=9, topics=[], created=0)
        assert wh.load_posts(_table([*posts, again])).inserted == 4
        assert wh.con.execute("SELECT reposts_count FROM posts WHERE id = 'p1'").fetchall() == [(9,)]
        few = pa.table({"platform": ["weibo"], "id": ["q1"], "created_at": pa.array([T0], pa.timestamp("us", "UTC"))})
        assert wh.load_posts(few).inserted == 1
        row = wh.con.execute("SELECT kind, text, topics, reposts_count FROM posts WHERE id = 'q1'").fetchall()
        assert row == [("post", "", [], 0)]


def test_each_batch_is_its_own_transaction(tmp_path: Path) -> None:
    """A bad batch rolls back alone: the batches before it stay."""
    frame = Warehouse.posts_to_frame([_post(i, 0, 0, [], 0) for i in range(10)])
    frame.loc[7, "platform"] = "myspace"
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        with pytest.raises(StoreError, match="myspace"):
            wh.load_posts(frame, batch_rows=3)
        assert wh.con.execute("SELECT count(*) FROM posts").fetchall() == [(6,)]


def test_new_authors_never_overwrite_a_stored_profile(tmp_path: Path) -> None:
    from yuqing.store.schema import Author

    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.upsert_authors([Author(platform=Platform.WEIBO, id="u1", screen_name="老用户", followers_count=99)])
        authors = pa.table(
            {
                "platform": ["weibo", "weibo"],
                "id": ["u1", "u2"],
                "screen_name": ["新名字", "新用户"],
                "fetched_at": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
            }
        )
        wh.ingest_batch(_table([_post(1, 0, 0, [], 0)]), authors=authors)
        rows = wh.con.execute("SELECT id, screen_name, followers_count FROM authors ORDER BY id").fetchall()
        assert rows == [("u1", "老用户", 99), ("u2", "新用户", 0)]
        assert wh.con.execute("SELECT author_id, followers_count FROM author_metrics ORDER BY 1").fetchall() == [
            ("u1", 99),
            ("u2", 0),
        ]


def test_post_arrow_schema_follows_post_columns() -> None:
    assert POST_ARROW_SCHEMA.names == POST_COLUMNS


def test_author_and_edge_frames_store_what_their_records_store(tmp_path: Path) -> None:
    from yuqing.store.schema import Author, Interaction, InteractionKind

    authors = [
        Author(platform=Platform.WEIBO, id="u1", screen_name="甲", followers_count=5, verified_type=0, fetched_at=T0),
        Author(platform=Platform.DOUYIN, id="u2", raw={"x": 1}, fetched_at=T0, created_at=T0),
        Author(platform=Platform.WEIBO, id="u1", screen_name="甲2", followers_count=7, fetched_at=T0 + dt.timedelta(1)),
    ]
    edges = [
        Interaction(platform=Platform.WEIBO, kind=InteractionKind.COMMENT, source_author_id="u1",
                    target_author_id="u2", post_id="p1", created_at=T0),
        Interaction(platform=Platform.WEIBO, kind=InteractionKind.REPOST, source_author_id="u2",
                    target_author_id="u1", created_at=T0, weight=2.0),
    ]  # fmt: skip

    def dump(wh: Warehouse) -> list[list[tuple[Any, ...]]]:
        return [
            sorted(map(tuple, wh.con.execute(f"SELECT * FROM {t}").fetchall()), key=repr)
            for t in ("authors", "author_metrics", "interactions")
        ]

    with Warehouse.open(tmp_path / "a.duckdb") as ref, Warehouse.open(tmp_path / "b.duckdb") as bulk:
        assert ref.upsert_authors(authors) == bulk.upsert_authors(pd.DataFrame([a.model_dump() for a in authors]))
        frame = pd.DataFrame([e.model_dump() for e in edges]).drop(columns=["post_id"])  # defaults fill in
        assert ref.add_interactions([e.model_copy(update={"post_id": ""}) for e in edges]) == 2
        assert bulk.add_interactions(frame) == 2
        assert dump(bulk) == dump(ref)
        with pytest.raises(StoreError, match="interactions frame row 1, field kind: 'like'"):
            bulk.add_interactions(frame.assign(kind=["comment", "like"]))
        with pytest.raises(StoreError, match="authors frame row 0, field id: empty id"):
            bulk.upsert_authors(pd.DataFrame({"platform": ["weibo"], "id": [""], "fetched_at": [T0]}))
        with pytest.raises(StoreError, match="field followers_count"):
            bulk.upsert_authors(pd.DataFrame({"platform": ["weibo"], "id": ["u9"], "followers_count": [-1]}))


def test_a_missing_raw_in_a_frame_is_stored_as_null(tmp_path: Path) -> None:
    """The simulated world's frame holds NaN where a post has no raw: NULL, not the text 'NaN'."""
    frame = Warehouse.posts_to_frame([_post(1, 0, 0, [], 0), _post(2, 0, 0, [], 0)])
    frame["raw"] = [float("nan"), {"a": "中"}]
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.load_posts(frame)
        assert wh.con.execute("SELECT id, raw FROM posts ORDER BY id").fetchall() == [
            ("p1", None),
            ("p2", '{"a": "中"}'),
        ]


def test_a_stored_key_in_a_batch_after_new_ones_is_written_the_usual_way(tmp_path: Path) -> None:
    """After a batch of new posts the next is tried as plain INSERTs; a stored post (or a stored snapshot of a
    post no longer stored) in it rolls that try back and the batch is written the usual way, its authors and
    edges once; the batches after it too, until one holds new posts only."""
    from yuqing.store.schema import Interaction, InteractionKind

    stored = [_post(i, fetched=1, reposts=1, topics=["a"], created=0) for i in range(3)]
    batches = [
        [_post(i, fetched=1, reposts=1, topics=[], created=0) for i in range(10, 14)],  # new
        [_post(i, fetched=2, reposts=5, topics=["b"], created=1) for i in (20, 0, 21)],  # 0 stored, newer
        [_post(i, fetched=1, reposts=1, topics=["a"], created=0) for i in (1, 2)],  # stored, the same
        [_post(i, fetched=1, reposts=1, topics=[], created=0) for i in range(30, 33)],  # new
        [_post(i, fetched=1, reposts=1, topics=[], created=0) for i in (40, 41)],  # new, a snapshot of 41 kept
    ]
    edge = Interaction(platform=Platform.WEIBO, kind=InteractionKind.COMMENT, source_author_id="u1",
                       target_author_id="u2", post_id="p20", created_at=T0)  # fmt: skip
    authors = pa.table({"platform": ["weibo"], "id": ["u7"], "screen_name": ["七"],
                        "fetched_at": pa.array([T0], pa.timestamp("us", tz="UTC"))})  # fmt: skip
    orphan = "INSERT INTO post_metrics VALUES ('weibo', 'p41', ?, 1, 0, 0)"
    with Warehouse.open(tmp_path / "a.duckdb") as ref, Warehouse.open(tmp_path / "b.duckdb") as bulk:
        ref.upsert_posts(stored)
        bulk.load_posts(_table(stored))
        for wh in (ref, bulk):
            wh.con.execute(orphan, [T0 + dt.timedelta(hours=1)])
        expected = [ref.upsert_posts(b) for b in batches]
        ref.add_interactions([edge])
        ref.ingest_batch(_table([]), authors=authors)
        got = [bulk.ingest_batch(_table(b), authors=authors, interactions=[edge]) for b in batches]
        assert got == expected
        assert [r.inserted for r in got] == [4, 2, 0, 3, 2] and got[1].updated == 1
        assert _snapshot(bulk) == _snapshot(ref)
        for table in ("interactions", "authors", "author_metrics"):
            sql = f"SELECT * FROM {table} ORDER BY ALL"
            assert bulk.con.execute(sql).fetchall() == ref.con.execute(sql).fetchall()
