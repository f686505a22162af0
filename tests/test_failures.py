"""The real platform's refusals (HTTP 418/432 blocks, a stale cookie's 403, the 302 to the login page, the
``ok: -100`` captcha), each injected by the fake platform on 127.0.0.1: a block stops the account's scopes and
resumes from the checkpoint once ``platforms.block_hours`` passed; an expired cookie or a captcha stops that
account's scopes (the other accounts go on) and tells the operator what to do; across the stop and the resume no
row is lost or duplicated, compared with an undisturbed run."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from tests.receivers import http_receiver
from yuqing.collectors.fake.server import FaultConfig, serve_world
from yuqing.collectors.http import Account, RateBudget, RetryPolicy, fetch_json
from yuqing.collectors.run import CollectStats, ScopeSummary
from yuqing.collectors.weibo.client import collect, guard_for
from yuqing.flows import stages
from yuqing.flows.cli import app
from yuqing.store.errors import Blocked, CaptchaRequired, ConfigError, CookieExpired
from yuqing.store.settings import AlertChannel, Settings, load_settings
from yuqing.store.warehouse import Warehouse

QUERIES = ["楚风", "云雀"]
COOKIE_A = "SUB=_2A25secret-of-a; SUBP=0033WrSXqPxfM"
COOKIE_B = "SUB=_2A25secret-of-b; SUBP=0033WrSXqPxfM"


def _settings(world: Path, db: Path, url: str, **platforms: Any) -> Settings:
    return load_settings(
        world / "yuqing.toml",
        warehouse={"path": str(db)},
        platforms={
            "weibo_mobile_base": url,
            "weibo_api_base": f"{url}/2",
            "requests_per_hour": 10**7,
            "backoff_base": 0.01,
            **platforms,
        },
        collect={"queries": QUERIES, "accounts": [], "forum_boards": []},
    )


def _rows(db: Path) -> list[str]:
    with Warehouse.open(db, read_only=True) as wh:
        return list(wh.query("SELECT platform || ':' || id AS k FROM posts")["k"])


def _cursors(db: Path) -> dict[str, dict[str, Any]]:
    with Warehouse.open(db, read_only=True) as wh:
        frame = wh.query("SELECT scope, cursor FROM checkpoints")
    return {str(s): json.loads(c) for s, c in zip(frame["scope"], frame["cursor"], strict=True)}


def _cookies(monkeypatch: pytest.MonkeyPatch, **accounts: str) -> None:
    monkeypatch.setenv("YUQING_PLATFORMS__COOKIES", json.dumps({"weibo": accounts}))


@pytest.fixture(scope="module")
def reference(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every row of the two queries, from an undisturbed anonymous run."""
    db = tmp_path_factory.mktemp("ref") / "ref.duckdb"
    with serve_world(small_world) as url:
        stats = asyncio.run(collect(_settings(small_world, db, url)))
    assert [s.status for s in stats.scopes] == ["done", "done"]
    rows = _rows(db)
    assert len(rows) == len(set(rows)) > 100
    REFERENCE_COUNTED.update({s.scope: s.rows for s in stats.scopes})
    REFERENCE_PAGES.update({s.scope: s.pages for s in stats.scopes})
    REFERENCE_DB[:] = [db]
    return set(rows)


REFERENCE_DB: list[Path] = []  # the undisturbed run's warehouse
REFERENCE_PAGES: dict[str, int] = {}  # search pages each scope of the undisturbed run walked
REFERENCE_COUNTED: dict[str, int] = {}  # rows each scope of the undisturbed run counted (a post both queries
# find is counted by both scopes and stored once)


# --------------------------------------------------------------------------- classification, one request each


def _answer(response: httpx.Response, *, cookie: str | None = COOKIE_A) -> Exception:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.host == "passport.weibo.cn":
            return httpx.Response(200, html="<title>登录</title>")
        return response

    account = Account("ops1", SecretStr(cookie) if cookie else None, RateBudget(100))

    async def go() -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True) as client:
            return await fetch_json(
                client,
                "https://m.weibo.cn/api/container/getIndex",
                params={"containerid": "100103type=1&q=x"},
                policy=RetryPolicy(max_retries=3, backoff_base=0),
                headers=account.headers,
                guard=guard_for(account),
            )

    with pytest.raises(Exception) as caught:
        asyncio.run(go())
    assert [c.url.host for c in calls if c.url.host == "m.weibo.cn"] == ["m.weibo.cn"]  # never retried
    if cookie:
        assert calls[0].headers["Cookie"] == cookie
        assert cookie not in str(caught.value) and cookie not in repr(account)
    return caught.value


def test_each_refusal_is_classified_and_not_retried() -> None:
    blocked = _answer(httpx.Response(418))
    assert isinstance(blocked, Blocked) and blocked.account == "ops1" and "418" in str(blocked)
    no_cookie = _answer(httpx.Response(432), cookie=None)
    assert isinstance(no_cookie, Blocked) and "YUQING_PLATFORMS__COOKIES" in str(no_cookie)
    stale = _answer(httpx.Response(403, text="Forbidden"))
    assert isinstance(stale, CookieExpired) and stale.account == "ops1"
    login = "https://passport.weibo.cn/signin/login?entry=mweibo&r=https%3A%2F%2Fm.weibo.cn%2F"
    redirected = _answer(httpx.Response(302, headers={"Location": login}))
    assert isinstance(redirected, CookieExpired) and "login page" in str(redirected)
    assert str(redirected).startswith("https://m.weibo.cn/api/container/getIndex:")  # what was asked, not the login
    captcha_url = "https://m.weibo.cn/captcha?scene=limit&from=mweibo"
    captcha = _answer(httpx.Response(200, json={"ok": -100, "url": captcha_url}))
    assert isinstance(captcha, CaptchaRequired) and captcha.url == captcha_url


def test_cookies_come_only_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(f'[platforms]\ncookies = {{weibo = {{ops1 = "{COOKIE_A}"}}}}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="environment"):
        load_settings(cfg)
    _cookies(monkeypatch, ops2=COOKIE_B, ops1=COOKIE_A)
    settings = load_settings(None)
    from yuqing.collectors.http import accounts_for
    from yuqing.store.schema import Platform

    pool = accounts_for(settings, Platform.WEIBO)
    assert [a.name for a in pool] == ["ops1", "ops2"] and pool[0].budget is not pool[1].budget
    assert COOKIE_A not in settings.model_dump_json() and COOKIE_A not in repr(settings)
    assert [a.name for a in accounts_for(settings, Platform.TIEBA)] == ["anonymous"]


# --------------------------------------------------------------------------- end to end on the fake platform


@pytest.mark.slow
def test_a_block_stops_leaves_the_scopes_alone_and_resumes_without_loss(
    small_world: Path, tmp_path: Path, reference: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _cookies(monkeypatch, ops1=COOKIE_A)
    db = tmp_path / "w.duckdb"
    block = 2.0  # seconds, on both sides
    faults = FaultConfig(block_after=20, block_status=418, block_seconds=block)  # a page or two get through
    with serve_world(small_world, faults=faults) as url:
        settings = _settings(small_world, db, url, block_hours=block / 3600)
        first = asyncio.run(collect(settings))
        blocked_at = time.monotonic()
        served = httpx.get(f"{url}/_fake/stats").json()
        partial = _rows(db)
        cursors = _cursors(db)

        second = asyncio.run(collect(settings))  # still inside the block: nothing is asked
        quiet = httpx.get(f"{url}/_fake/stats").json()
        skipped_in_time = time.monotonic() - blocked_at < block

        time.sleep(max(0.0, block - (time.monotonic() - blocked_at)) + 0.2)
        third = asyncio.run(collect(settings))
        unblocked = httpx.get(f"{url}/_fake/stats").json()

    assert served["fault:418"] >= 1 and all(s.status == "blocked" and s.resumable for s in first.scopes)
    assert all("blocked_until" in c for c in cursors.values())
    assert 0 < len(partial) < len(reference)
    # nothing counted that was not committed: the summary's rows are the rows in the warehouse (a post both
    # queries found is counted by each scope and stored once)
    assert sum(s.rows for s in first.scopes) == first.posts + first.comments + first.reposts
    assert len(partial) <= sum(s.rows for s in first.scopes) and set(partial) <= reference
    if skipped_in_time:
        assert [s.status for s in second.scopes] == ["blocked", "blocked"]
        assert quiet["mobile:requests"] == served["mobile:requests"] and second.requests == 0
    assert [s.status for s in third.scopes] == ["done", "done"] and unblocked["fault:418"] == served["fault:418"]
    rows = _rows(db)
    assert len(rows) == len(set(rows)) and set(rows) == reference
    # every page was committed, and counted, exactly once over the three runs
    counted = {q: sum(s.rows for r in (first, second, third) for s in r.scopes if s.scope == q) for q in cursors}
    assert counted == REFERENCE_COUNTED
    assert not any("blocked_until" in c for c in _cursors(db).values())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["302", "403", "captcha"])
def test_a_dead_cookie_or_captcha_stops_that_account_tells_the_operator_and_resumes(
    small_world: Path,
    tmp_path: Path,
    reference: set[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """Two accounts share the two scopes; ``ops1``'s cookie dies (or hits a captcha) mid-way: its scope stops
    with its checkpoint, ``ops2``'s scope finishes, the operator is told through the alert channel (the collect
    stage, a robot webhook on 127.0.0.1) which account and what to do; with a fresh cookie for ``ops1`` the next
    run resumes the stopped scope and nothing is lost or doubled."""
    _cookies(monkeypatch, ops1=COOKIE_A, ops2=COOKIE_B)
    db = tmp_path / "w.duckdb"
    if kind == "captcha":
        faults = FaultConfig(captcha_cookie=COOKIE_A, captcha_after=6)
    else:
        faults = FaultConfig(expire_cookie=COOKIE_A, expire_after=6, expire_as=kind)
    caplog.set_level(logging.DEBUG)
    with serve_world(small_world, faults=faults) as url, http_receiver() as robot:
        settings = _settings(small_world, db, url)
        settings.alerts.channels = [AlertChannel(kind="wecom", url=SecretStr(f"{robot.base}/hook"))]
        result = stages.collect(settings)
        weibo = {k: v for k, v in result["weibo"].items() if k != "engine"}
        first = CollectStats(**{**weibo, "scopes": [ScopeSummary(**d) for d in weibo["scopes"]]})
        served = httpx.get(f"{url}/_fake/stats").json()
        partial = _rows(db)
        _cookies(monkeypatch, ops1="SUB=_2A25fresh-login; SUBP=0033", ops2=COOKIE_B)
        second = asyncio.run(collect(_settings(small_world, db, url)))

    by_scope = {s.scope: s for s in first.scopes}
    stopped, other = by_scope["search:楚风"], by_scope["search:云雀"]
    expected = "captcha" if kind == "captcha" else "cookie_expired"
    assert (stopped.account, stopped.status, stopped.resumable) == ("ops1", expected, True)
    assert (other.account, other.status) == ("ops2", "done")
    refused = served["fault:captcha" if kind == "captcha" else "fault:cookie_expired"]
    assert 1 <= refused <= 8  # the requests in flight when it happened (8 connections); none asked after
    # a redirect in flight may be cancelled before it is followed
    assert (1 <= served.get("login:page", 0) <= refused) if kind == "302" else "login:page" not in served
    [notice] = first.notices
    assert result["notices"] == [notice] and "notice_failures" not in result
    assert "'ops1'" in notice and "YUQING_PLATFORMS__COOKIES" in notice and "search:楚风" in notice
    assert ("captcha?scene=limit" in notice) == (kind == "captcha")
    [sent] = robot.requests  # one robot message, accepted
    message = sent.body["markdown"]["content"]
    assert "ops1" in message and "COOKIES" in message  # (robot markdown escapes the underscores)
    assert 0 < len(partial) < len(reference) and sum(s.rows for s in first.scopes) == len(partial)

    assert [s.status for s in second.scopes] == ["done", "done"] and not second.notices
    rows = _rows(db)
    assert len(rows) == len(set(rows)) and set(rows) == reference
    # the cookies never reach a log line, a message, the summary or the warehouse
    text = caplog.text + repr(first) + repr(second) + json.dumps(result, default=str) + repr(robot.requests)
    assert COOKIE_A not in text and COOKIE_B not in text and "secret-of" not in text
    with Warehouse.open(db, read_only=True) as wh:
        tables = list(wh.table_counts())
        dump = "".join(wh.query(f"SELECT * FROM {table}").to_csv() for table in tables)
    assert "secret-of" not in dump and "alert_deliveries" in tables and "ops1" in dump


@pytest.mark.slow
def test_collect_command_prints_a_summary_per_scope_and_the_notice_without_the_cookie(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    _cookies(monkeypatch, ops1=COOKIE_A)
    faults = FaultConfig(expire_cookie=COOKIE_A, expire_after=4, expire_as="403")
    with serve_world(small_world, faults=faults) as url:
        monkeypatch.setenv("YUQING_WAREHOUSE__PATH", str(db))
        monkeypatch.setenv("YUQING_PLATFORMS__WEIBO_MOBILE_BASE", url)
        monkeypatch.setenv("YUQING_PLATFORMS__WEIBO_API_BASE", f"{url}/2")
        monkeypatch.setenv("YUQING_COLLECT__QUERIES", json.dumps(QUERIES))
        monkeypatch.setenv("YUQING_COLLECT__FORUM_BOARDS", "[]")
        result = CliRunner().invoke(app, ["collect", "-c", str(small_world / "yuqing.toml")])
    out = result.output
    assert result.exit_code != 0  # a run that left work for a person is not a success
    assert "search:楚风" in out and "search:云雀" in out and "cookie expired" in out and "resumable" in out
    assert "ops1" in out and "YUQING_PLATFORMS__COOKIES" in out
    assert "secret-of" not in out and "Traceback" not in out


def test_block_checkpoint_is_honoured_before_any_request(tmp_path: Path) -> None:
    """A scope whose checkpoint says it is blocked for another hour sends nothing."""
    from yuqing.store.schema import Platform
    from yuqing.store.warehouse import Checkpoint

    db = tmp_path / "w.duckdb"
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(timespec="seconds")
    with Warehouse.open(db) as wh:
        wh.ingest(checkpoint=Checkpoint(Platform.WEIBO, "search:楚风", json.dumps({"page": 3, "blocked_until": until})))
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"ok": 1, "data": {"cards": [], "cardlistInfo": {}}})

    settings = Settings(
        warehouse={"path": db},
        collect={"queries": ["楚风"]},
        platforms={"weibo_mobile_base": "http://weibo.test", "weibo_api_base": "http://weibo.test/2"},
    )
    stats = asyncio.run(collect(settings, transport=httpx.MockTransport(handler)))
    [summary] = stats.scopes
    assert (summary.status, summary.until, summary.resumable) == ("blocked", until, True) and asked == []
    assert _cursors(db)["search:楚风"] == {"page": 3, "blocked_until": until}


# --------------------------------------------------------------------------- the scrapy engine


def _spider_start(spider: Any) -> list[Any]:
    async def collect_start() -> list[Any]:
        return [r async for r in spider.start()]

    return asyncio.run(collect_start())


def test_the_spider_sends_each_accounts_cookie_and_stops_an_account_weibo_refuses() -> None:
    """Callbacks driven with recorded answers: queries share out the accounts; a 302 to the login page stops
    ``ops1`` (nothing of it is parsed or requested afterwards), ``ops2`` goes on; a 418 and a captcha are
    classified the same way; the stats name the account, never its cookie."""
    import scrapy
    from scrapy.http import TextResponse
    from scrapy.utils.test import get_crawler

    from yuqing.spiders.spiders.weibo import WeiboSpider

    base = "https://m.weibo.cn"
    cookies = {"ops1": COOKIE_A, "ops2": COOKIE_B}
    spider = WeiboSpider.from_crawler(get_crawler(WeiboSpider), base_url=base, queries="楚风,云雀", cookies=cookies)
    first, second = _spider_start(spider)
    assert (first.meta["account"], second.meta["account"]) == ("ops1", "ops2")
    assert first.headers["Cookie"].decode() == COOKIE_A and second.headers["Cookie"].decode() == COOKIE_B
    assert first.meta["dont_merge_cookies"] and 302 in spider.handle_httpstatus_list

    def answer(request: scrapy.Request, status: int, body: bytes = b"", **headers: str) -> list[Any]:
        response = TextResponse(request.url, status=status, body=body, headers=headers, request=request)
        return list(request.callback(response, **request.cb_kwargs))

    login = "https://passport.weibo.cn/signin/login?entry=mweibo&r=x"
    assert answer(first, 302, Location=login) == []
    page = {"ok": 1, "data": {"cards": [], "cardlistInfo": {}}}
    assert answer(first, 200, json.dumps(page).encode()) == []  # a late answer for ops1: dropped, not parsed
    # ops2 is served: an empty last page, nothing to store, the scope's checkpoint may move (PageDone)
    assert [type(out).__name__ for out in answer(second, 200, json.dumps(page).encode())] == ["PageDone"]
    moved = answer(second, 302, Location=f"{base}/api/container/getIndex?page=1&moved=1")
    assert [r.url for r in moved] == [f"{base}/api/container/getIndex?page=1&moved=1"]  # not a login: followed
    assert moved[0].headers["Cookie"].decode() == COOKIE_B
    stats = spider.crawler.stats.get_stats()
    assert stats["weibo/stopped/ops1"] == "cookie_expired" and "weibo/stopped/ops2" not in stats
    assert stats["weibo/dropped_after_stop"] == 1 and "secret-of" not in json.dumps(stats, default=str)

    for status, body, kind in (
        (418, b"", "blocked"),
        (200, json.dumps({"ok": -100, "url": f"{base}/captcha?scene=limit"}).encode(), "captcha"),
    ):
        spider = WeiboSpider.from_crawler(get_crawler(WeiboSpider), base_url=base, queries="楚风", cookies=cookies)
        [request] = _spider_start(spider)
        assert answer(request, status, body) == []
        assert spider.crawler.stats.get_value("weibo/stopped/ops1") == kind


@pytest.mark.slow
def test_the_spider_engine_reports_a_captcha_per_scope_and_tells_the_operator(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: set[str]
) -> None:
    """The collect stage with ``weibo_engine = "spider"`` (the crawl in its child process): ``ops1``'s query
    stops at the captcha, ``ops2``'s is crawled whole, the notice names ``ops1``; no cookie in the output."""
    _cookies(monkeypatch, ops1=COOKIE_A, ops2=COOKIE_B)
    db = tmp_path / "w.duckdb"
    with serve_world(small_world, faults=FaultConfig(captcha_cookie=COOKIE_A, captcha_after=3)) as url:
        settings = _settings(small_world, db, url, weibo_engine="spider")
        result = stages.collect(settings)
    weibo = result["weibo"]
    by_scope = {s["scope"]: s for s in weibo["scopes"]}
    assert weibo["engine"] == "spider"
    assert (by_scope["search:楚风"]["account"], by_scope["search:楚风"]["status"]) == ("ops1", "captcha")
    assert (by_scope["search:云雀"]["account"], by_scope["search:云雀"]["status"]) == ("ops2", "done")
    assert by_scope["search:云雀"]["rows"] > 0 and by_scope["search:云雀"]["pages"] == REFERENCE_PAGES["search:云雀"]
    [notice] = result["notices"]
    assert "'ops1'" in notice and "captcha?scene=limit" in notice and "search:楚风" in notice
    assert "secret-of" not in json.dumps(result, default=str)


def test_without_a_cookie_the_432_block_says_to_set_one(small_world: Path, tmp_path: Path) -> None:
    """The fake platform refuses anonymous clients (432) like m.weibo.cn now does: both scopes stop as blocked,
    nothing is written but their checkpoints, and the summary says which setting is missing."""
    db = tmp_path / "w.duckdb"
    with serve_world(small_world, faults=FaultConfig(require_cookie=True)) as url:
        stats = asyncio.run(collect(_settings(small_world, db, url)))
        served = httpx.get(f"{url}/_fake/stats").json()
    assert [(s.account, s.status, s.rows) for s in stats.scopes] == [("anonymous", "blocked", 0)] * 2
    assert all("YUQING_PLATFORMS__COOKIES" in s.detail for s in stats.scopes) and not stats.notices
    assert served["fault:432"] in (1, 2) and _rows(db) == []  # at most one request each: a block is not retried
    assert all(set(c) == {"blocked_until"} for c in _cursors(db).values())


@pytest.mark.slow
def test_login_cookies_never_reach_prefects_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real Prefect run of a subflow that receives the settings (cookies loaded from the environment) as a
    parameter: the database the run is recorded in has the parameters, without the cookies."""
    from yuqing.flows.cli import quiet_prefect_env

    quiet_prefect_env()
    import prefect.settings
    from prefect.testing.utilities import prefect_test_harness

    from yuqing.flows.monitor import analyse
    from yuqing.store.schema import Platform, Post

    path = tmp_path / "w.duckdb"
    with Warehouse.open(path) as wh:
        now = dt.datetime.now(dt.UTC)
        wh.upsert_posts([Post(platform=Platform.WEIBO, id="1", text="星阅X5电池鼓包", created_at=now)])
    _cookies(monkeypatch, ops1=COOKIE_A, ops2=COOKIE_B)
    settings = load_settings(None, warehouse={"path": str(path)}, flows={"task_runner": "thread"}, nlp={"workers": 1})
    assert settings.platforms.cookies[Platform.WEIBO]["ops1"].get_secret_value() == COOKIE_A
    with prefect_test_harness(server_startup_timeout=180):
        database = prefect.settings.PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
        assert analyse(settings) == 1
        stored = Path(str(database).split(":///", 1)[1])
        files = [p for p in stored.parent.glob(stored.name + "*") if p.is_file()]
        assert any(str(path).encode() in p.read_bytes() for p in files)  # the parameters are recorded there...
        assert not any(b"secret-of" in p.read_bytes() for p in files)  # ...without the cookies


def test_each_account_spends_its_own_rate_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two scopes of three search pages under a budget of 3 requests an hour: with one account the second scope
    waits for the bucket; with two accounts each scope spends its own account's budget and nothing waits."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("Cookie", ""))
        page = int(request.url.params["page"])
        q = request.url.params["containerid"].rsplit("=", 1)[1]
        mblog = {"id": f"{q}{page}", "created_at": "2026-10-01", "text": q, "user": {"id": 1, "screen_name": "u"}}
        info = {"page": page + 1} if page < 3 else {}
        return httpx.Response(
            200, json={"ok": 1, "data": {"cards": [{"card_type": 9, "mblog": mblog}], "cardlistInfo": info}}
        )

    def run(db: Path) -> list[float]:
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        settings = load_settings(
            None,
            warehouse={"path": str(db)},
            collect={"queries": ["a", "b"]},
            platforms={"weibo_mobile_base": "http://weibo.test", "requests_per_hour": 3},
        )
        asyncio.run(collect(settings, transport=httpx.MockTransport(handler), sleep=sleep))
        return waits

    _cookies(monkeypatch, ops1=COOKIE_A)
    assert len(run(tmp_path / "one.duckdb")) == 3 and set(sent) == {COOKIE_A}
    sent.clear()
    _cookies(monkeypatch, ops1=COOKIE_A, ops2=COOKIE_B)
    assert run(tmp_path / "two.duckdb") == [] and sorted(sent) == [COOKIE_A] * 3 + [COOKIE_B] * 3


@pytest.mark.slow
def test_long_texts_refused_under_a_block_leave_no_cut_post_and_resume_whole(
    small_world: Path, tmp_path: Path, reference: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block that starts on ``statuses/extend`` (the long-text expansion the peers see fail under throttling):
    the page whose long posts could not be expanded is not committed, so no post is stored cut at "全文"; after
    the block the scope resumes and every row, long texts whole, equals the undisturbed run's."""
    _cookies(monkeypatch, ops1=COOKIE_A)
    db = tmp_path / "w.duckdb"
    block = 2.0
    faults = FaultConfig(block_on="/statuses/extend", block_after=2, block_seconds=block)
    with serve_world(small_world, faults=faults) as url:
        settings = _settings(small_world, db, url, block_hours=block / 3600)
        first = asyncio.run(collect(settings))
        served = httpx.get(f"{url}/_fake/stats").json()
        with Warehouse.open(db, read_only=True) as wh:
            cut = wh.query("SELECT count(*) AS n FROM posts WHERE text LIKE '%全文'")["n"].iat[0]
        time.sleep(block + 0.2)
        second = asyncio.run(collect(settings))
    assert served["req:/statuses/extend"] >= 2 and served["fault:418"] >= 1 and served["req:/comments/hotflow"] > 0
    assert cut == 0 and {s.status for s in first.scopes} == {"blocked"}
    assert [s.status for s in second.scopes] == ["done", "done"]
    with Warehouse.open(db, read_only=True) as wh:
        texts = dict(wh.query("SELECT platform || ':' || id AS k, text FROM posts").itertuples(index=False))
    with Warehouse.open(REFERENCE_DB[0], read_only=True) as wh:
        expected = dict(wh.query("SELECT platform || ':' || id AS k, text FROM posts").itertuples(index=False))
    assert set(texts) == reference and texts == expected
