"""The scrapy Weibo spider keeps the httpx engine's checkpoints: real crawls (each in its own child process)
against the fake platform on 127.0.0.1, whose request log shows which search pages were asked for.

A crawl killed mid-way or stopped after N responses resumes after its last committed page; a block is recorded
as ``blocked_until`` and the scope is left alone until then; both engines store the same checkpoint for the
same world, so either resumes where the other stopped."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from yuqing.collectors.fake.server import FaultConfig, serve_world
from yuqing.collectors.weibo.client import collect
from yuqing.spiders.run import collect_weibo, crawl_weibo
from yuqing.store.errors import WarehouseLocked
from yuqing.store.schema import Platform
from yuqing.store.settings import Settings, load_settings
from yuqing.store.warehouse import Warehouse

pytestmark = pytest.mark.slow
SMALL_BATCHES = {"YUQING_BATCH": 5, "YUQING_BATCH_SECONDS": 0.0}  # commit often: a stop finds pages committed


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from yuqing.collectors.fake.world import generate_world

    out = tmp_path_factory.mktemp("checkpoint-world")
    generate_world(out, posts=300, seed=7)
    return out


@pytest.fixture(scope="module")
def query(world: Path) -> str:
    return str(json.loads((world / "truth.json").read_text(encoding="utf-8"))["brand"])


def _settings(world: Path, db: Path, url: str, query: str, **platforms: Any) -> Settings:
    return load_settings(
        world / "yuqing.toml",
        warehouse={"path": str(db)},
        platforms={"weibo_mobile_base": url, "weibo_api_base": f"{url}/2", "weibo_engine": "spider", **platforms},
        collect={"queries": [query], "accounts": [], "forum_boards": []},
    )


@pytest.fixture(scope="module")
def reference(world: Path, query: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An undisturbed run of the httpx engine: its rows, its checkpoint, and how many search pages it walked."""
    db = tmp_path_factory.mktemp("ref") / "api.duckdb"
    with serve_world(world) as url:
        stats = asyncio.run(collect(_settings(world, db, url, query)))
    assert [s.status for s in stats.scopes] == ["done"]
    return {"rows": _rows(db), "checkpoint": _checkpoint(db, query), "pages": stats.scopes[0].pages}


def _rows(db: Path) -> list[str]:
    with Warehouse.open(db, read_only=True) as wh:
        return sorted(wh.query("SELECT id FROM posts")["id"])


def _rows_once_free(db: Path, wait: float = 30.0) -> list[str]:
    deadline = time.monotonic() + wait
    while True:
        try:
            return _rows(db)
        except WarehouseLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _checkpoint(db: Path, query: str) -> tuple[dict[str, Any], Any, Any]:
    with Warehouse.open(db, read_only=True) as wh:
        cp = wh.get_checkpoint(Platform.WEIBO, f"search:{query}")
    assert cp is not None
    return json.loads(cp.cursor), cp.since, cp.until


def _search_pages(url: str, since: int = 0) -> tuple[list[int], int]:
    """The search pages asked for since the ``since``-th logged request, and the log's length now."""
    log = httpx.get(f"{url}/_fake/requests").json()
    return [int(p["page"]) for path, p in log[since:] if path == "/api/container/getIndex"], len(log)


CRAWL = """
import json, sys
from pathlib import Path
from yuqing.spiders.run import crawl_weibo
from yuqing.store.settings import Settings

if __name__ == "__main__":
    url, query, db, overrides = sys.argv[1], sys.argv[2], Path(sys.argv[3]), json.loads(sys.argv[4])
    crawl_weibo(Settings(), url, [query], db, fast=True, overrides=overrides)
"""


def test_a_killed_crawl_resumes_after_its_last_committed_page_and_stores_every_post_once(
    world: Path, query: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    """``kill -9`` of a real crawl (the caller and the scrapy child, one process group) while it waits for search
    page 8 (the fake platform holds it back) and quiet otherwise: pages before it were committed with their rows.
    The next crawl asks for no page up to the checkpoint's, and the warehouse ends with every row exactly once."""
    hold = 8
    db = tmp_path / "w.duckdb"
    script = tmp_path / "crawl.py"
    script.write_text(CRAWL, encoding="utf-8")
    with serve_world(world, faults=FaultConfig(hold_page=hold, hold_seconds=15)) as url:
        proc = subprocess.Popen(
            [sys.executable, str(script), url, query, str(db), json.dumps(SMALL_BATCHES)], start_new_session=True
        )
        deadline = time.monotonic() + 180
        quiet_since, seen = time.monotonic(), -1
        while True:  # page 8 asked, and nothing else for 2 s: the requests before it have been answered
            pages, logged = _search_pages(url)
            if logged != seen:
                quiet_since, seen = time.monotonic(), logged
            if hold in pages and time.monotonic() - quiet_since > 2.0:
                break
            assert proc.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline, f"the crawl did not reach page {hold}"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        first, _ = _search_pages(url)
    partial = _rows_once_free(db)  # the killed scrapy child is not ours to wait for: its lock goes soon after
    cursor, _, _ = _checkpoint(db, query)
    with serve_world(world) as url:
        stats = crawl_weibo(Settings(), url, [query], db, fast=True)
        second, _ = _search_pages(url)

    assert max(first) == hold and 1 <= cursor["page"] < hold  # pages answered in full were committed
    assert 0 < len(partial) < len(reference["rows"])
    assert min(second) == hold and all(p > cursor["page"] for p in second)
    rows = _rows(db)
    assert rows == reference["rows"]  # every row once (ids are the key), none missing
    assert _checkpoint(db, query) == reference["checkpoint"] and stats[f"weibo/finished/search:{query}"] == 1


def test_the_engines_share_one_checkpoint_format_and_resume_each_other(
    world: Path, query: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    """For the same world both engines store the same checkpoint (also over a since/until window, with the same
    rows); a spider stopped after N responses is finished by the httpx engine from the spider's checkpoint."""
    since = dt.datetime(2026, 10, 10, tzinfo=dt.UTC)
    until = dt.datetime(2026, 10, 25, tzinfo=dt.UTC)
    with serve_world(world) as url:
        full = tmp_path / "spider.duckdb"
        collect_weibo(_settings(world, full, url, query))
        api_window, spider_window = tmp_path / "api-window.duckdb", tmp_path / "spider-window.duckdb"
        asyncio.run(collect(_settings(world, api_window, url, query), since=since, until=until))
        window = collect_weibo(_settings(world, spider_window, url, query), since=since, until=until)

        switched = tmp_path / "switched.duckdb"
        crawl_weibo(Settings(), url, [query], switched, fast=True, overrides={"CLOSESPIDER_PAGECOUNT": 60})
        stopped, _, _ = _checkpoint(switched, query)
        _, logged = _search_pages(url)
        stats = asyncio.run(collect(_settings(world, switched, url, query)))
        resumed, _ = _search_pages(url, logged)

    assert _checkpoint(full, query) == reference["checkpoint"] and _rows(full) == reference["rows"]
    assert _checkpoint(spider_window, query) == _checkpoint(api_window, query)
    assert _checkpoint(api_window, query)[1:] == (since, until)
    assert 0 < len(_rows(spider_window)) < len(reference["rows"]) and _rows(spider_window) == _rows(api_window)
    assert window["scopes"][0]["status"] == "done"

    assert 1 <= stopped["page"] < reference["pages"]
    assert min(resumed) == stopped["page"] + 1 and stats.scopes[0].pages == reference["pages"] - stopped["page"]
    assert _rows(switched) == reference["rows"] and _checkpoint(switched, query) == reference["checkpoint"]


def test_a_block_is_recorded_the_scope_left_alone_until_it_ends_then_resumed(
    world: Path, query: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    """A 418 mid-crawl: the scope's checkpoint keeps the cursor of its committed pages with ``blocked_until``;
    a run inside the block sends nothing for it and says so; the first run after resumes from the checkpoint."""
    db = tmp_path / "w.duckdb"
    block = 8.0  # seconds, on both sides
    warnings: list[str] = []
    faults = FaultConfig(block_after=60, block_status=418, block_seconds=block)
    with serve_world(world, faults=faults) as url:
        settings = _settings(world, db, url, query, block_hours=block / 3600)
        first = collect_weibo(settings)
        blocked_at = time.monotonic()
        asked, logged = _search_pages(url)
        cursor, _, _ = _checkpoint(db, query)
        partial = _rows(db)

        second = collect_weibo(settings, warn=warnings.append)
        in_time = time.monotonic() - blocked_at < block
        quiet = httpx.get(f"{url}/_fake/requests").json()[logged:]

        time.sleep(max(0.0, block - (time.monotonic() - blocked_at)) + 0.2)
        third = collect_weibo(settings)
        resumed, _ = _search_pages(url, logged)

    [scope] = first["scopes"]
    assert (scope["status"], scope["resumable"]) == ("blocked", True) and scope["until"] == cursor["blocked_until"]
    assert "HTTP 418" in scope["detail"] and first["weibo/stopped/anonymous"] == "blocked"
    assert dt.datetime.fromisoformat(cursor["blocked_until"]) > dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    assert 0 < len(partial) < len(reference["rows"]) and max(asked) > cursor.get("page", 0)
    if in_time:
        [scope] = second["scopes"]
        assert (scope["status"], scope["until"], scope["rows"]) == ("blocked", cursor["blocked_until"], 0)
        assert quiet == []  # not one request, not even the spider's process
        assert any(f"search:{query}" in w and "nothing was requested" in w for w in warnings)
    [scope] = third["scopes"]
    assert scope["status"] == "done" and min(resumed) == cursor.get("page", 0) + 1
    assert _rows(db) == reference["rows"]
    final, _, _ = _checkpoint(db, query)
    assert "blocked_until" not in final and final == reference["checkpoint"][0]


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    import multiprocessing

    for child in multiprocessing.active_children():
        child.join(timeout=5)


def test_the_spider_walks_account_timelines_as_the_httpx_engine_does(world: Path, tmp_path: Path) -> None:
    """``collect.accounts`` with ``weibo_engine = "spider"``: the timeline is crawled (it used to be skipped
    with a warning), with the same rows and the same checkpoint as the httpx engine stores."""
    from yuqing.collectors.fake.world import load_world

    posts = load_world(world, records=False).posts
    top = posts[(posts["platform"] == "weibo") & (posts["kind"] == "post")]
    uid = str(top["author_id"].value_counts().index[0])
    dbs = {"api": tmp_path / "api.duckdb", "spider": tmp_path / "spider.duckdb"}
    with serve_world(world) as url:
        settings = {e: _settings(world, db, url, "x") for e, db in dbs.items()}
        settings = {
            e: s.model_copy(update={"collect": s.collect.model_copy(update={"queries": [], "accounts": [uid]})})
            for e, s in settings.items()
        }
        asyncio.run(collect(settings["api"]))
        warnings: list[str] = []
        result = collect_weibo(settings["spider"], warn=warnings.append)
        asked = [p for path, p in httpx.get(f"{url}/_fake/requests").json() if path == "/api/container/getIndex"]

    [scope] = result["scopes"]
    assert (scope["scope"], scope["status"]) == (f"timeline:{uid}", "done") and not warnings
    assert {p["containerid"] for p in asked} == {f"107603{uid}"}
    with Warehouse.open(dbs["api"], read_only=True) as wh:
        cp = wh.get_checkpoint(Platform.WEIBO, f"timeline:{uid}")
    with Warehouse.open(dbs["spider"], read_only=True) as wh:
        spider_cp = wh.get_checkpoint(Platform.WEIBO, f"timeline:{uid}")
    assert cp is not None and spider_cp is not None and "done_newest" in json.loads(cp.cursor)
    assert (spider_cp.cursor, spider_cp.since, spider_cp.until) == (cp.cursor, cp.since, cp.until)
    assert _rows(dbs["spider"]) == _rows(dbs["api"]) and len(_rows(dbs["api"])) >= int((top["author_id"] == uid).sum())
