"""``yuqing search`` and ``yuqing export`` on PostgreSQL: the same matches as the pure evaluator and as DuckDB, on
generated corpora and on the simulated world, read by the analyst role (digests and masked values only)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from tests.pg_cluster import Cluster
from tests.test_query import run_cli
from tests.test_search import T0, corpus, nodes, reference
from yuqing.nlp.query import Query
from yuqing.store.query_sql import search_page, search_reader, search_sql
from yuqing.store.schema import Platform, Post
from yuqing.store.warehouse import Warehouse


@pytest.fixture(scope="module")
def searched(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[Post]]]:
    """The generated corpus of tests/test_search.py in a PostgreSQL database and a DuckDB file."""
    name = f"s_{secrets.token_hex(6)}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    url = pg_cluster.url(name)
    path = tmp_path_factory.mktemp("pgsearch") / "w.duckdb"
    posts = corpus(400, seed=7)
    for target in (url, path):
        with Warehouse.open(target) as wh:
            wh.upsert_posts(posts)
    yield url, path, posts
    with psycopg.connect(pg_cluster.url(), autocommit=True) as con:
        con.execute(f"DROP DATABASE {name} WITH (FORCE)")


def utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Times in UTC: DuckDB names the zone of its session (here Etc/UTC), PostgreSQL's stream says UTC."""
    for c in frame.columns:
        if isinstance(frame[c].dtype, pd.DatetimeTZDtype):
            frame[c] = frame[c].dt.tz_convert("UTC")
    return frame


def pg_ids(url: str, query: Query, **kw: object) -> set[str]:
    sql, params = search_sql(query, columns=["id"], dialect="postgres", **kw)  # type: ignore[arg-type]
    with Warehouse.open(url, read_only=True) as wh:
        return set(wh.query(sql, params)["id"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=nodes)
def test_postgres_sql_equals_the_reference_evaluator(searched: tuple[str, Path, list[Post]], node: object) -> None:
    url, _, posts = searched
    query = Query.parse(str(node))
    assert pg_ids(url, query) == reference(posts, query)


@pytest.mark.parametrize(
    "text",
    [
        "星阅 AND (发热 OR 烫) NOT 官方",
        '"X5 Pro" NEAR/3 (续航 OR 发热)',
        "a.b OR (c) OR 1+1",
        "#双十一# -platform:douyin",
        "author:xiaoxing OR author:3",
        "XINGYUE NEAR/0 星阅",
    ],
)
def test_hand_written_queries_on_postgres(searched: tuple[str, Path, list[Post]], text: str) -> None:
    url, _, posts = searched
    q = Query.parse(text)
    since = T0 + dt.timedelta(days=10)
    assert pg_ids(url, q) == reference(posts, q)
    assert pg_ids(url, q, since=since) == reference(posts, q, since=since)


def test_near_beyond_postgres_largest_regex_count(pg_url: str) -> None:
    """PostgreSQL's regular expressions count to 255: NEAR/1000 is written as repeated gaps, same answer."""
    gaps = [0, 254, 255, 256, 600, 999, 1000, 1001]
    posts = [Post(platform=Platform.WEIBO, id=str(g), text="星阅" + "很" * g + "发热", created_at=T0) for g in gaps]
    with Warehouse.open(pg_url) as wh:
        wh.upsert_posts(posts)
    for distance in (255, 600, 1000):
        q = Query.parse(f"发热 NEAR/{distance} 星阅")
        assert pg_ids(pg_url, q) == {str(g) for g in gaps if g <= distance} == reference(posts, q)


@pytest.mark.parametrize("limit", [0, 5, 1000])
def test_search_page_and_reader_equal_duckdb(searched: tuple[str, Path, list[Post]], limit: int) -> None:
    url, path, posts = searched
    q = Query.parse("星阅 OR #双十一# OR author:xiaoxing")
    out = {}
    for name, target in (("postgres", url), ("duckdb", path)):
        with Warehouse.open(target, read_only=True) as wh:
            total, rows = search_page(wh, q, limit=limit)
            every = search_reader(wh, q, batch_rows=50).read_all()
            out[name] = (total, rows, every)
    (pg_total, pg_rows, pg_all), (duck_total, duck_rows, duck_all) = out["postgres"], out["duckdb"]
    assert pg_total == duck_total == len(reference(posts, q))
    assert list(pg_rows.columns) == list(duck_rows.columns)
    assert list(pg_rows["id"]) == list(duck_rows["id"]) and len(pg_rows) == min(limit, pg_total)
    assert pg_all.num_rows == pg_total and pg_all.column_names == duck_all.column_names
    assert pg_all.to_pylist() == duck_all.to_pylist()  # every value, lists and times included


def test_the_cli_searches_and_exports_a_postgres_warehouse(
    searched: tuple[str, Path, list[Post]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, path, _ = searched
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text('[brand]\nname = "星阅"\nquery = "(星阅 OR xingyue) -星阅湖"\n', encoding="utf-8")
    text = "(发热 OR 烫 OR #双十一#) -平台:抖音"
    base = ["search", text, "-c", str(cfg), "--from", "2026-10-10", "--to", "2026-10-30", "--brand", "星阅"]
    files = {}
    for name, env in (("postgres", {"YUQING_WAREHOUSE__URL": url}), ("duckdb", {"YUQING_WAREHOUSE__PATH": str(path)})):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        files[name] = tmp_path / f"{name}.parquet"
        code, out, err = run_cli([*base, "--output", str(files[name])], capsys, monkeypatch)
        assert code == 0, err
        code, shown, err = run_cli([*base, "--limit", "3"], capsys, monkeypatch)
        assert code == 0, err
        files[name + " shown"] = shown.splitlines()[1:]  # the table (the first line has the time taken)
        code, out, err = run_cli(["export", "-c", str(cfg), "--out", str(tmp_path / name)], capsys, monkeypatch)
        assert code == 0 and "posts.parquet (400 rows)" in out and "mentions: nothing" not in out, out + err
        for k in env:
            monkeypatch.delenv(k)
    assert pq.read_table(files["postgres"]).to_pylist() == pq.read_table(files["duckdb"]).to_pylist()
    assert len(pq.read_table(files["postgres"])) > 5
    assert files["postgres shown"] == files["duckdb shown"]
    for f in ("posts.parquet", "alerts.parquet", "posts.csv"):
        pg_file, duck_file = tmp_path / "postgres" / f, tmp_path / "duckdb" / f
        if f.endswith(".csv"):
            assert pg_file.read_bytes() == duck_file.read_bytes()
        else:
            pd.testing.assert_frame_equal(
                utc(pq.read_table(pg_file).to_pandas()), utc(pq.read_table(duck_file).to_pandas())
            )


def test_the_warehouse_option_takes_a_url_or_a_file(
    searched: tuple[str, Path, list[Post]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--warehouse`` replaces the configured warehouse, whichever backend each names; a password is refused."""
    url, path, posts = searched
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(f'[brand]\nname = "星阅"\n[warehouse]\npath = "{tmp_path / "none.duckdb"}"\n', encoding="utf-8")
    expected = len(reference(posts, Query.parse("星阅")))
    code, out, err = run_cli(["search", "星阅", "-c", str(cfg), "--warehouse", url], capsys, monkeypatch)
    assert code == 0 and out.startswith(f"{expected} posts match"), err
    monkeypatch.setenv("YUQING_WAREHOUSE__URL", url.replace("/s_", "/nosuchdb_"))
    code, out, err = run_cli(["export", "-c", str(cfg), "--warehouse", str(path), "--table", "posts", "--out",
                              str(tmp_path / "x"), "--format", "parquet"], capsys, monkeypatch)  # fmt: skip
    assert code == 0 and "posts.parquet (400 rows)" in out, err
    secret = url.replace("yuqing_admin@", "yuqing_admin:s3cret@")
    code, out, err = run_cli(["search", "星阅", "-c", str(cfg), "--warehouse", secret], capsys, monkeypatch)
    assert code != 0 and "password" in err and "s3cret" not in err + out and "Traceback" not in err
