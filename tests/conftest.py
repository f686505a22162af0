from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from yuqing.store.schema import Author, Platform, Post

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
