"""Collectors: parsers on saved payloads, the retry rules over httpx.MockTransport, and crash/restart
against the real fake platform on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from yuqing.collectors.http import RateBudget, RetryPolicy, fetch_json, retry_after_seconds
from yuqing.collectors.weibo.parse import comment_to_post, interactions_for, parse_count, parse_time, to_posts
from yuqing.store.errors import AuthExpired, ParseError, RateLimited
from yuqing.store.schema import CHINA_TZ, InteractionKind, PostKind

FIXTURES = Path(__file__).parent / "fixtures" / "weibo"
NOW = dt.datetime(2026, 10, 13, 18, 0, tzinfo=CHINA_TZ)


def test_search_page_parses_to_posts_and_edges() -> None:
    payload = json.loads((FIXTURES / "getIndex_search.json").read_text(encoding="utf-8"))
    original, repost = to_posts(payload, query="星阅", now=NOW)
    assert original.id == "4987654321012345" and original.kind == PostKind.POST
    assert original.text.startswith("#星阅X5电池鼓包# 才用两个月就鼓包了[怒]")
    assert original.topics == ["星阅X5电池鼓包"] and original.at_users == ["数码老王"]
    assert (original.reposts_count, original.attitudes_count) == (12_000, 1_000_000)
    assert original.location == "广东" and original.created_at == dt.datetime(2026, 10, 13, 11, 5, tzinfo=CHINA_TZ)
    assert repost.kind == PostKind.REPOST and repost.root_id == original.id
    [edge] = interactions_for(repost)
    assert edge.kind == InteractionKind.REPOST and edge.target_author_id == "5000012345"


def test_comments_and_replies() -> None:
    payload = json.loads((FIXTURES / "hotflow.json").read_text(encoding="utf-8"))
    first, reply = (
        comment_to_post(c, root_id="4987654321012345", root_author_id="5000012345", now=NOW)
        for c in payload["data"]["data"]
    )
    assert interactions_for(first)[0].kind == InteractionKind.COMMENT
    assert reply.parent_id == "5011" and interactions_for(reply)[0].kind == InteractionKind.REPLY
    assert reply.text == "回复@阿土豆:建议直接投诉"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("刚刚", NOW),
        ("5分钟前", NOW - dt.timedelta(minutes=5)),
        ("昨天 12:30", dt.datetime(2026, 10, 12, 12, 30, tzinfo=CHINA_TZ)),
        ("09-01", dt.datetime(2026, 9, 1, tzinfo=CHINA_TZ)),
        ("2025-09-01", dt.datetime(2025, 9, 1, tzinfo=CHINA_TZ)),
    ],
)
def test_weibo_time_formats(raw: str, expected: dt.datetime) -> None:
    assert parse_time(raw, NOW) == expected


def test_counts_and_bad_counts() -> None:
    assert [parse_count(v) for v in ("1万+", "1.2万", "3亿", "", 7)] == [10_000, 12_000, 300_000_000, 0, 7]
    with pytest.raises(ParseError):
        parse_count("很多")


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_retry_after_backoff_and_bounded_retries() -> None:
    calls: list[str] = []
    answers = [
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(500),
        httpx.Response(200, content=b'{"ok": 1, "da'),
        httpx.Response(200, json={"ok": 1}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return answers[len(calls) - 1]

    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    async def go() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fetch_json(
                client, "https://m.weibo.cn/x", policy=RetryPolicy(max_retries=4, backoff_base=0.1), sleep=sleep
            )

    assert _run(go()) == {"ok": 1}
    assert len(calls) == 4 and waits[0] == 2.0 and all(w <= 0.4 for w in waits[1:])

    async def always_500() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503))) as client:
            return await fetch_json(client, "https://m.weibo.cn/x", policy=RetryPolicy(max_retries=2), sleep=sleep)

    with pytest.raises(RateLimited):
        _run(always_500())
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:00 GMT", now=1792567670.0) == pytest.approx(10.0)


def test_401_refreshes_once_then_auth_expired() -> None:
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.url.params.get("access_token", ""))
        return (
            httpx.Response(200, json={"id": 1})
            if request.url.params.get("access_token") == "new"
            else httpx.Response(401)
        )

    async def refresh_ok() -> dict[str, str]:
        return {"access_token": "new"}

    async def refresh_bad() -> dict[str, str]:
        return {"access_token": "still-bad"}

    async def go(refresh: Callable[[], Awaitable[dict[str, str]]]) -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await fetch_json(
                client,
                "https://api.weibo.com/2/users/show.json",
                params={"access_token": "old"},
                policy=RetryPolicy(),
                refresh_token=refresh,
            )

    assert _run(go(refresh_ok)) == {"id": 1} and tokens == ["old", "new"]
    with pytest.raises(AuthExpired):
        _run(go(refresh_bad))


def test_retry_after_is_really_waited_for(small_world: Path, tmp_path: Path) -> None:
    from yuqing.collectors.fake.server import FaultConfig, serve_world

    async def go(url: str) -> float:
        async with httpx.AsyncClient() as client:
            started = time.perf_counter()
            await fetch_json(
                client,
                f"{url}/api/container/getIndex",
                params={"containerid": "100103type=1&q=星阅", "q": "星阅"},
                policy=RetryPolicy(),
            )
            return time.perf_counter() - started

    with serve_world(small_world, faults=FaultConfig(rate_limit=1.0, retry_after=1)) as url:
        with pytest.raises(RateLimited):
            asyncio.run(go(url))  # every answer is 429: bounded retries, each after a real ~1 s wait
        stats = httpx.get(f"{url}/_fake/stats").json()
    assert stats["fault:429"] == RetryPolicy().max_retries + 1


COLLECT = """
import asyncio, sys
from pathlib import Path
from yuqing.collectors.weibo.client import collect
from yuqing.store.settings import load_settings
s = load_settings(Path(sys.argv[1]) / "yuqing.toml", warehouse={"path": sys.argv[2]},
                  platforms={"weibo_mobile_base": sys.argv[3], "weibo_api_base": sys.argv[3] + "/2",
                             "requests_per_hour": 10**7, "backoff_base": 0.01},
                  collect={"forum_boards": []})
# small batches: many commits, so the kill lands between (or inside) them; each commit is announced after it
asyncio.run(collect(s, batch_rows=40, progress=lambda scope, rows: print("committed", scope, rows, flush=True)))
"""


@pytest.mark.slow
def test_killed_collector_restarts_without_loss_or_duplicates(small_world: Path, tmp_path: Path) -> None:
    from yuqing.collectors.fake.server import FaultConfig, serve_world
    from yuqing.collectors.fake.world import load_world
    from yuqing.store.warehouse import Warehouse

    db = tmp_path / "w.duckdb"
    env = {**os.environ, "YUQING_PLATFORMS__WEIBO_TOKEN": "demo-token"}
    with serve_world(small_world, faults=FaultConfig(slow=0.3, slow_seconds=0.05, server_error=0.05, seed=5)) as url:
        proc = subprocess.Popen(
            [sys.executable, "-c", COLLECT, str(small_world), str(db), url], env=env, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        commits = 0
        while commits < 3 and proc.stdout.readline().startswith("committed"):
            commits += 1  # a few batches committed, many to go
        assert commits == 3 and proc.poll() is None, "collector finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        with Warehouse.open(db, read_only=True) as wh:
            partial = wh.table_counts()["posts"]
            cursors = wh.query("SELECT cursor FROM checkpoints")["cursor"]
        subprocess.run(
            [sys.executable, "-c", COLLECT, str(small_world), str(db), url],
            env=env,
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )
    world = load_world(small_world, records=False)
    expected = set(world.posts.loc[world.posts["platform"] == "weibo", "id"])
    with Warehouse.open(db, read_only=True) as wh:
        ids = wh.query("SELECT id FROM posts")["id"]
    assert 0 < partial < len(expected)
    assert any('"page"' in c for c in cursors), "no scope was killed mid-way: nothing was resumed"
    assert ids.is_unique and set(ids) == expected


def test_concurrent_callers_share_one_rate_budget() -> None:
    """Waiters queue for the bucket: two requests an hour means the 3rd, 4th and 5th wait 0.5, 1 and 1.5 h."""
    waits: list[float] = []

    async def sleep(s: float) -> None:  # the clock does not move: only the scheduled waits are seen
        waits.append(s)

    async def go() -> RateBudget:
        budget = RateBudget(per_hour=2)
        await asyncio.gather(*(budget.acquire(sleep) for _ in range(5)))
        return budget

    budget = _run(go())
    assert isinstance(budget, RateBudget) and budget.used == 5
    assert waits == pytest.approx([1800.0, 3600.0, 5400.0], rel=1e-3)


def _mblog(i: int, comments: int = 0) -> dict[str, object]:
    return {
        "id": str(4_900_000_000_000_000 + i),
        "created_at": "2026-10-01",
        "text": f"星阅 第{i}条",
        "user": {"id": 5000 + i, "screen_name": f"用户{i}"},
        "comments_count": comments,
        "reposts_count": 0,
    }


def test_a_failed_thread_keeps_the_pages_before_it_and_a_rerun_resumes(tmp_path: Path) -> None:
    """Page 3's comment thread fails for good: pages 1-2 (buffered, not yet due) are committed with their
    checkpoint, page 3 is not; the next run starts at page 3 and finishes the scope."""
    from yuqing.collectors.weibo.client import collect
    from yuqing.store.settings import Settings
    from yuqing.store.warehouse import Warehouse

    broken = {"on": True}
    seen_pages: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/container/getIndex":
            page = int(request.url.params["page"])
            seen_pages.append(page)
            mblogs = [_mblog(10 * page + k, comments=int(page == 3 and k == 0)) for k in (0, 1)]
            cards = [{"card_type": 9, "mblog": m} for m in mblogs]
            info = {"page": page + 1} if page < 4 else {}
            return httpx.Response(200, json={"ok": 1, "data": {"cards": cards, "cardlistInfo": info}})
        if request.url.path == "/comments/hotflow":
            if broken["on"]:
                return httpx.Response(404, text="gone")
            mid = request.url.params["id"]
            user = {"id": 7, "screen_name": "q"}
            comment = {"id": f"c{mid}", "created_at": "2026-10-02", "text": "同感", "user": user}
            return httpx.Response(200, json={"ok": 1, "data": {"data": [comment], "max_id": 0}})
        return httpx.Response(404)

    settings = Settings(
        warehouse={"path": tmp_path / "w.duckdb"},
        collect={"queries": ["星阅"]},
        platforms={"weibo_mobile_base": "http://weibo.test", "weibo_api_base": "http://weibo.test/2"},
    )

    def run() -> object:
        return asyncio.run(collect(settings, transport=httpx.MockTransport(handler)))

    first = run()
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        ids = set(wh.query("SELECT id FROM posts")["id"])
        cursor = json.loads(wh.query("SELECT cursor FROM checkpoints")["cursor"].iat[0])
    assert getattr(first, "skipped_scopes", None) and ids == {_mblog(i)["id"] for i in (10, 11, 20, 21)}
    assert cursor["page"] == 2

    broken["on"] = False
    seen_pages.clear()
    second = run()
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        ids = wh.query("SELECT id FROM posts")["id"]
        cursor = json.loads(wh.query("SELECT cursor FROM checkpoints")["cursor"].iat[0])
    assert not getattr(second, "skipped_scopes", True) and seen_pages == [3, 4]
    assert ids.is_unique and len(ids) == 9 and "page" not in cursor  # 8 posts + 1 comment; the scope is done
