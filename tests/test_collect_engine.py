"""``platforms.weibo_engine``: the collect stage and ``yuqing collect`` crawl Weibo with the scrapy spider when it
says ``spider``, against the fake platform on 127.0.0.1 (the spider runs in its own child process)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from yuqing.flows.cli import app
from yuqing.flows.stages import collect
from yuqing.store.errors import ConfigError
from yuqing.store.settings import Settings, load_settings
from yuqing.store.warehouse import Warehouse

COUNTED = ("posts", "authors", "interactions", "post_metrics", "author_metrics")


def _settings(world: Path, db: Path, url: str, engine: str) -> Settings:
    return load_settings(
        world / "yuqing.toml",
        warehouse={"path": str(db)},
        platforms={"weibo_mobile_base": url, "weibo_api_base": f"{url}/2", "weibo_engine": engine},
        collect={"forum_boards": []},
    )


def _counts(db: Path) -> dict[str, int]:
    with Warehouse.open(db, read_only=True) as wh:
        counts = wh.table_counts()
    return {t: int(counts[t]) for t in COUNTED}


def test_engine_defaults_to_api_and_is_validated(tmp_path: Path) -> None:
    assert Settings().platforms.weibo_engine == "api"
    with pytest.raises(ConfigError, match="weibo_engine"):
        load_settings(None, platforms={"weibo_engine": "selenium"})


@pytest.mark.slow
def test_spider_engine_stores_every_weibo_row_once_and_a_rerun_adds_nothing(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yuqing.collectors.fake.server import serve_world
    from yuqing.collectors.fake.world import load_world

    world = load_world(small_world, records=False)
    expected = set(world.posts.loc[world.posts["platform"] == "weibo", "id"])
    db = tmp_path / "w.duckdb"
    with serve_world(small_world) as url:
        stats = collect(_settings(small_world, db, url, "spider"))
        served = httpx.get(f"{url}/_fake/stats").json()
        with Warehouse.open(db, read_only=True) as wh:
            ids = wh.query("SELECT id FROM posts WHERE platform = 'weibo'")["id"]
        first = _counts(db)

        # the same engine chosen on the command line, over the same warehouse: nothing new
        monkeypatch.setenv("YUQING_WAREHOUSE__PATH", str(db))
        monkeypatch.setenv("YUQING_PLATFORMS__WEIBO_MOBILE_BASE", url)
        monkeypatch.setenv("YUQING_COLLECT__FORUM_BOARDS", "[]")
        result = CliRunner().invoke(app, ["collect", "-c", str(small_world / "yuqing.toml"), "--engine", "spider"])
        assert result.exit_code == 0, result.output
        assert "rows crawled" in result.output
        again = httpx.get(f"{url}/_fake/stats").json()

    assert stats["weibo"]["engine"] == "spider" and list(stats) == ["weibo"]
    assert served.get("req:/2/users/show.json", 0) == 0  # the spider, not the httpx collectors, did the work
    # the re-run is incremental from the checkpoints: it stops at posts older than the newest it stored
    assert again["req:/api/container/getIndex"] - served["req:/api/container/getIndex"] > 0
    assert again["req:/api/container/getIndex"] < 2 * served["req:/api/container/getIndex"]
    assert ids.is_unique and set(ids) == expected
    assert _counts(db) == first
