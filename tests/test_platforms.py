"""The platform registry (collectors/platforms.py) is the one seam: the collect stage and ``yuqing collect`` run
whatever it lists, so a platform added as one entry (and its folder) is collected with no other edit."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from yuqing.collectors import platforms
from yuqing.collectors.platforms import PLATFORMS, PlatformEntry, entry, names, platform_named
from yuqing.collectors.run import CollectStats, ScopeSummary
from yuqing.flows import stages
from yuqing.flows.cli import app
from yuqing.store.errors import ConfigError
from yuqing.store.schema import Platform, Post
from yuqing.store.settings import Settings
from yuqing.store.warehouse import Checkpoint, Warehouse

MEDIACRAWLER = {
    "wb": Platform.WEIBO,
    "xhs": Platform.XIAOHONGSHU,
    "dy": Platform.DOUYIN,
    "ks": Platform.KUAISHOU,
    "bili": Platform.BILIBILI,
    "tieba": Platform.TIEBA,
    "zhihu": Platform.ZHIHU,
}


def test_the_registry_covers_the_seven_platforms_mediacrawler_stores() -> None:
    assert {e.platform for e in PLATFORMS} == set(MEDIACRAWLER.values())
    assert {name: platform_named(name) for name in MEDIACRAWLER} == MEDIACRAWLER
    assert platform_named(" XHS ") == Platform.XIAOHONGSHU and names()["xiaohongshu"] == Platform.XIAOHONGSHU
    with pytest.raises(KeyError, match=r"one of .*xhs"):
        platform_named("myspace")
    assert len({e.platform for e in PLATFORMS}) == len(PLATFORMS)  # one entry per platform


def test_every_engine_named_in_the_registry_exists_and_the_settings_choose_it() -> None:
    for e in PLATFORMS:
        for target in e.engines.values():
            module, function = target.split(":")
            assert callable(getattr(importlib.import_module(module), function)), target
    weibo = entry(Platform.WEIBO)
    assert weibo.engine(Settings()) == "api"
    assert weibo.engine(Settings(platforms={"weibo_engine": "spider"})) == "spider"
    assert entry(Platform.TIEBA).engine(Settings()) == "spider"
    assert not entry(Platform.DOUYIN).collectable  # imported (MediaCrawler exports), not collected
    s = Settings(collect={"queries": ["星阅"], "accounts": ["42"], "forum_boards": ["星阅"]})
    assert weibo.scopes(s) == ["search:星阅", "timeline:42"] and entry(Platform.TIEBA).scopes(s) == ["board:星阅"]


# ----------------------------------------------------------------------------- the seam, end to end

CALLS: list[dict[str, Any]] = []


def collect_questions(
    settings: Settings,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    progress: Any = None,
    warn: Any = None,
) -> CollectStats:
    """A new platform's engine, as its collectors/<platform>/client.py would hold it: rows and checkpoint in one
    transaction through the warehouse, a summary per scope."""
    CALLS.append({"since": since, "until": until, "base": platforms.entry(Platform.ZHIHU).base_url(settings)})
    now = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    posts = [
        Post(platform=Platform.ZHIHU, id=f"a{i}", text=f"回答{i}", created_at=now, fetched_at=now) for i in range(3)
    ]
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.ingest(posts=posts, checkpoint=Checkpoint(Platform.ZHIHU, "question:1", json.dumps({"done": True})))
    if progress is not None:
        progress("question:1", len(posts))
    summary = ScopeSummary("question:1", "anonymous", rows=len(posts), pages=1)
    return CollectStats(pages=1, posts=len(posts), scopes=[summary])


@pytest.fixture
def with_zhihu(monkeypatch: pytest.MonkeyPatch) -> PlatformEntry:
    added = PlatformEntry(
        Platform.ZHIHU,
        "知乎",
        engines={"api": f"{__name__}:collect_questions"},
        scopes=lambda s: ["question:1"],
        base="https://www.zhihu.com/api/v4",
    )
    monkeypatch.setattr(platforms, "PLATFORMS", (*(e for e in PLATFORMS if e.platform != Platform.ZHIHU), added))
    CALLS.clear()
    return added


def test_a_platform_added_as_one_registry_entry_is_collected_by_the_stage(
    with_zhihu: PlatformEntry, tmp_path: Path
) -> None:
    settings = Settings(  # no weibo queries, no forum boards; the new platform's API on loopback
        warehouse={"path": tmp_path / "w.duckdb"}, platforms={"base_urls": {"zhihu": "http://127.0.0.1:9/api/"}}
    )
    since = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    result = stages.collect(settings, since=since)
    assert list(result) == ["zhihu"] and result["zhihu"]["engine"] == "api"
    assert [{"since": since, "until": None, "base": "http://127.0.0.1:9/api"}] == CALLS
    assert result["zhihu"]["scopes"][0]["rows"] == 3
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        assert list(wh.query("SELECT id FROM posts WHERE platform = 'zhihu' ORDER BY id")["id"]) == ["a0", "a1", "a2"]
        assert wh.get_checkpoint(Platform.ZHIHU, "question:1") is not None
    assert stages.collect(settings, platforms=["weibo"]) == {}  # a choice of platforms leaves the others alone


def test_yuqing_collect_runs_the_registry_and_prints_each_scope(
    with_zhihu: PlatformEntry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUQING_WAREHOUSE__PATH", str(tmp_path / "w.duckdb"))
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text("[collect]\nqueries = []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["collect", "-c", str(cfg), "--platform", "zhihu"])
    assert result.exit_code == 0, result.output
    assert "zhihu (api)" in result.output and "question:1" in result.output and "3 rows" in result.output
    bad = CliRunner().invoke(app, ["collect", "-c", str(cfg), "--platform", "myspace"])
    assert bad.exit_code != 0 and isinstance(bad.exception, ConfigError) and "unknown platform" in str(bad.exception)


def test_architecture_doc_names_the_files_that_add_a_platform() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = doc.split("## Adding a platform", 1)[1].split("\n## ", 1)[0]
    for needed in ("collectors/<platform>/parse.py", "collectors/<platform>/client.py", "collectors/platforms.py"):
        assert needed in section
