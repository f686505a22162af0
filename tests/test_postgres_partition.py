"""The day-partition experiment of benchmarks/bench_pg_partition.py against a real server: its partitioned copies of
``posts`` hold what today's table holds after the same ingest, and its merge stays exactly-once on a partitioned
table whose key must hold ``created_at``."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from tests.conftest import T0, make_post
from yuqing.store.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_pg_partition", ROOT / "benchmarks" / "bench_pg_partition.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_partitioned_copies_end_as_the_flat_table_after_the_same_ingest(bench: ModuleType, pg_url: str) -> None:
    posts = [make_post(i, created_at=T0 + dt.timedelta(minutes=37 * i), topics=["话题"]) for i in range(700)]
    with Warehouse.open(pg_url) as wh:  # 18 China days of posts
        wh.upsert_posts(posts)
    out = bench.run(pg_url, page=25, refetch=60, repeat=1, drop_days=3, keep=True)
    held = out["held-out posts"]
    assert held > 0 and out["re-fetched posts"] == 60
    for layout in bench.LAYOUTS:
        assert out[f"{layout} ingest: new pages: inserted"] == held
        assert out[f"{layout} ingest: the same pages again: inserted"] == 0
        assert out[f"{layout} re-fetch: inserted"] == 0  # one in ten re-sent a second later: still one row each
        assert out[f"{layout}_rows_after"] == out[f"{layout}_rows"] + held == 700
        assert out[f"{layout}_rows_retained"] == out["flat_rows_retained"] < 700
    with psycopg.connect(pg_url) as con:
        cols = [c for c in bench.post_columns(con) if c != "first_seen_at"]
        tables = [
            con.execute(f"SELECT {', '.join(cols)} FROM {bench.SCRATCH}_{i}.posts ORDER BY platform, id").fetchall()
            for i in range(len(bench.LAYOUTS))
        ]
        for i in range(len(bench.LAYOUTS)):  # the re-fetch reached every copy: the newer counts are stored
            refetched = con.execute(
                f"SELECT count(*) FROM {bench.SCRATCH}_{i}.posts c JOIN yuqing.posts p USING (platform, id) "
                "WHERE c.reposts_count = p.reposts_count + 1 AND c.created_at = p.created_at"
            ).fetchone()
            assert refetched is not None and refetched[0] == 60
    assert all(rows == tables[0] for rows in tables[1:])
    assert {r[cols.index("created_at")] for r in tables[0]} <= {p.created_at for p in posts}


@pytest.mark.parametrize(("shift", "probe", "rows"), [
    (dt.timedelta(seconds=1), "all", 1), (dt.timedelta(seconds=1), "window", 1),
    (dt.timedelta(days=2), "all", 1), (dt.timedelta(days=2), "window", 2),  # the window's documented bound
    (dt.timedelta(seconds=1), None, 1),
])  # fmt: skip
def test_a_post_re_sent_at_another_time_stays_one_row(
    bench: ModuleType, pg_url: str, shift: dt.timedelta, probe: str | None, rows: int
) -> None:
    with Warehouse.open(pg_url) as wh:
        wh.upsert_posts([make_post(1)])
    days = [(T0 + dt.timedelta(days=d)).astimezone(dt.timezone(dt.timedelta(hours=8))).date() for d in range(-3, 4)]
    with psycopg.connect(pg_url, autocommit=True) as con:
        cols = bench.post_columns(con)
        con.execute("CREATE SCHEMA exp")
        if probe is None:
            bench.create_flat(con, "exp")
        else:
            bench.create_daily(con, "exp", days)
        con.execute("INSERT INTO exp.posts SELECT * FROM yuqing.posts")
        resent = f"SELECT {', '.join(c if c != 'created_at' else 'created_at + %s' for c in cols)} FROM yuqing.posts"
        again = resent.replace("fetched_at", "fetched_at + interval '1 hour'", 1)
        assert bench.merge(con, "exp", cols, again, [shift], probe=probe) == rows - 1
        stored = con.execute("SELECT count(*), min(created_at) FROM exp.posts").fetchone()
    assert stored is not None and stored[0] == rows
    assert stored[1] == make_post(1).created_at  # the stored time never moves
