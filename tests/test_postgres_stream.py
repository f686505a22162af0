"""Bulk reads from PostgreSQL stream through ``COPY … TO STDOUT`` into Arrow batches: the same frames as rows
fetched one by one, in bounded batches, and a reader left half-read does not break the connection."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.conftest import T0, make_post
from yuqing.store.warehouse import Warehouse

# every type the contract declares, with the values that trip a CSV round trip: NULLs, empty strings, empty
# lists, lists holding '' or NULL, quotes, commas, newlines, carriage returns, CJK, microseconds, before 1970
MIXED = """
CREATE TABLE mixed AS SELECT g AS i, CASE WHEN g % 3 = 0 THEN NULL ELSE g END AS ni, g::float8 / 7 AS f,
  CASE WHEN g % 5 = 0 THEN NULL ELSE g * 1e-300 END AS nf, g % 2 = 0 AS b,
  CASE WHEN g % 3 = 0 THEN NULL ELSE g % 2 = 0 END AS nb,
  CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN E'a\\nb,"c"\\r' WHEN 3 THEN '=1+1' ELSE '星阅 ' || g END AS s,
  CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN '{}'::text[] WHEN 2 THEN ARRAY['']::text[]
       WHEN 3 THEN ARRAY['a,b', '"q"', NULL, E'星\\n阅']::text[] ELSE ARRAY['x', ''] END AS arr,
  timestamptz '1969-12-31 23:59:59.123456+00' + g * interval '1 hour 0.000001 s' AS ts,
  CASE WHEN g % 4 = 0 THEN NULL ELSE timestamp '2026-10-01 00:00' + g * interval '1 min' END AS wall,
  (g * 1.25)::numeric(18, 2) AS n, '{"k": "值", "a": [1, 2.5]}'::json AS j, g::int4 AS i4, g::int2 AS i2
FROM generate_series(1, 3000) g
"""


def test_streamed_frames_equal_the_rows_fetched_one_by_one(pg_url: str) -> None:
    with Warehouse.open(pg_url) as wh:
        wh.con.execute(MIXED)
        for sql, params in [
            ("SELECT * FROM mixed ORDER BY i", None),
            ("SELECT * FROM mixed WHERE s LIKE ? AND ts >= ? ORDER BY i DESC", ["%阅%", T0 - dt.timedelta(days=20700)]),
            ("SELECT count(*) AS n, sum(n) AS total, max(ts) AS newest, min(s) AS s FROM mixed", []),
        ]:
            rows = Warehouse.query(wh, sql, params)  # the base method: rows fetched one by one
            streamed = wh.query(sql, params)
            assert len(streamed) > 0
            pd.testing.assert_frame_equal(streamed, rows)
        assert wh.con.execute("SELECT count(*) FROM mixed").fetchall() == [(3000,)]


def test_the_report_read_streams_in_bounded_batches(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``report_posts`` reads ~64 KB of rows at a time here (4 MB in use): never the whole result at once, and
    the frame equals the one built from rows."""
    import yuqing.store.postgres as pg

    posts = [make_post(i, text=f"星阅 {i}", topics=["a", "b"] if i % 2 else []) for i in range(4000)]
    with Warehouse.open(pg_url) as wh:
        wh.upsert_posts(posts)
        monkeypatch.setattr(pg, "COPY_BLOCK", 64 * 1024)
        sizes: list[int] = []
        real = pg.frame_of

        def counted(batch: object) -> pd.DataFrame:
            frame = real(batch)  # type: ignore[arg-type]
            sizes.append(len(frame))
            return frame

        monkeypatch.setattr(pg, "frame_of", counted)
        streamed = wh.report_posts(text=True)
        assert len(streamed) == 4000 and sum(sizes) == 4000
        assert max(sizes) < 1500, sizes  # rows fetched as rows came in chunks of 20,480
        rows = Warehouse.report_posts(wh, text=True)
        # no post is analysed: a number column of NULLs only arrives typed (float64 NaN, as from DuckDB), not as
        # objects
        empty = [c for c in rows.columns if rows[c].isna().all() and rows[c].dtype == object]
        assert "sentiment" in empty and streamed["sentiment"].dtype == "float64"
        pd.testing.assert_frame_equal(streamed, rows.astype({c: streamed[c].dtype for c in empty}))


def test_a_reader_left_half_read_does_not_break_the_connection(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import yuqing.store.postgres as pg

    monkeypatch.setattr(pg, "COPY_BLOCK", 16 * 1024)
    with Warehouse.open(pg_url) as wh:
        wh.upsert_posts([make_post(i) for i in range(3000)])
        sql = "SELECT platform, id, text, created_at, topics FROM posts ORDER BY id"
        reader = wh.con.arrow_reader(sql, None, 100)
        first = next(iter(reader))
        assert first.num_rows == 100 and first.schema.names == ["platform", "id", "text", "created_at", "topics"]
        assert wh.query("SELECT count(*) AS n FROM posts")["n"].tolist() == [3000]  # the COPY was read out
        with wh.transaction():  # inside a transaction too: abandoning must not abort it
            next(iter(wh.con.arrow_reader(sql, None, 100)))
            wh.upsert_posts([make_post(5000)])
        assert wh.table_counts()["posts"] == 3001
        whole = wh.con.arrow_reader(sql, [], 1000).read_all()
        assert whole.num_rows == 3001 and max(b.num_rows for b in whole.to_batches()) <= 1000
