from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from yuqing.store.schema import Author, Platform, Post

if TYPE_CHECKING:
    from tests.pg_cluster import Cluster

T0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)


def make_post(i: int, **kw: object) -> Post:
    base: dict[str, object] = {
        "platform": Platform.WEIBO,
        "id": str(1000 + i),
        "text": f"帖子{i} 星阅X5不错",
        "created_at": T0 + dt.timedelta(minutes=i),
        "author_id": str(i % 7),
        "reposts_count": i,
        "fetched_at": T0 + dt.timedelta(days=1),
    }
    base.update(kw)
    return Post.model_validate(base)


def make_author(i: int, **kw: object) -> Author:
    base: dict[str, object] = {
        "platform": Platform.WEIBO,
        "id": str(i),
        "screen_name": f"用户{i}",
        "followers_count": 10 * i,
        "fetched_at": T0,
    }
    base.update(kw)
    return Author.model_validate(base)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from yuqing.collectors.fake.world import generate_world

    out = tmp_path_factory.mktemp("world")
    generate_world(out, posts=600, seed=11)
    yield out


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throw-away PostgreSQL cluster for the session (tests/pg_cluster.py); the tests that use it are skipped
    only where no PostgreSQL server binaries are installed (`make test` installs them)."""
    from tests.pg_cluster import find_bindir, start_cluster

    if find_bindir() is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; `make test` does it)")
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A new, empty database of the session's cluster, as a ``postgresql://`` URL (its superuser's)."""
    import secrets

    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    yield pg_cluster.url(name)
    with psycopg.connect(pg_cluster.url(), autocommit=True) as con:
        con.execute(f"DROP DATABASE {name} WITH (FORCE)")
