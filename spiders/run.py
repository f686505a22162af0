"""Run spiders from Python.  Twisted's reactor starts once per process, so each crawl runs in a child process."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import logging
import multiprocessing as mp
import queue as queue_mod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yuqing.store.errors import CollectorError, ConfigError
from yuqing.store.settings import Settings

__all__ = ["SPIDERS", "collect_forum", "collect_weibo", "crawl_forum", "crawl_weibo", "is_loopback"]

# spider name → "module:Class", imported in the child process only
SPIDERS = {
    "forum": "yuqing.spiders.spiders.forum:ForumSpider",
    "weibo": "yuqing.spiders.spiders.weibo:WeiboSpider",
}


def _spider_class(name: str) -> Any:
    module, cls = SPIDERS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def _crawl(spider_name: str, overrides: dict[str, Any], kwargs: dict[str, Any], queue: Any) -> None:
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings as ScrapySettings

    from yuqing.spiders import settings as defaults

    settings = ScrapySettings()
    settings.setmodule(defaults)
    settings.update(overrides)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(_spider_class(spider_name))
    process.crawl(crawler, **kwargs)
    process.start()
    queue.put({k: v for k, v in (crawler.stats.get_stats() or {}).items() if isinstance(v, int | float | str)})


def _overrides(settings: Settings, warehouse_path: str | Path, fast: bool) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "YUQING_WAREHOUSE": str(warehouse_path),
        "RETRY_AFTER_MAX": settings.platforms.max_retry_after,
    }
    if fast:
        overrides.update({"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8})
    return overrides


def _run(spider_name: str, overrides: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """One crawl in a spawned child; returns its stats.  Raises :class:`CollectorError` if the child failed."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_crawl, args=(spider_name, overrides, kwargs, queue))
    proc.start()
    stats: dict[str, Any] = {}
    # read before joining: a child blocks on exit until what it put on the queue is consumed
    while not stats:
        try:
            stats = queue.get(timeout=0.2)
        except queue_mod.Empty:
            if not proc.is_alive():
                break
    proc.join()
    if proc.exitcode != 0:
        raise CollectorError(f"{spider_name} crawl failed (exit code {proc.exitcode})")
    if not stats:
        try:
            stats = queue.get(timeout=1)
        except queue_mod.Empty:
            stats = {}
    return stats


def crawl_forum(
    settings: Settings, base_url: str, boards: list[str], warehouse_path: str | Path, *, fast: bool = False
) -> dict[str, Any]:
    """Crawl forum boards into the warehouse; returns the crawl stats.  ``fast`` lifts politeness (local tests)."""
    stats = _run(
        "forum", _overrides(settings, warehouse_path, fast), {"base_url": base_url, "boards": ",".join(boards)}
    )
    if stats.get("forum/layout_changed"):
        raise CollectorError(f"forum layout changed at {base_url}: {stats['forum/layout_changed']} pages unparsed")
    return stats


def crawl_weibo(
    settings: Settings,
    base_url: str,
    queries: list[str],
    warehouse_path: str | Path,
    *,
    timelines: list[str] | None = None,
    max_pages: int = 100,
    fast: bool = False,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    overrides: dict[str, Any] | None = None,
    complete: bool = True,
) -> dict[str, Any]:
    """Crawl Weibo mobile search results with their comments and reposts (as ``settings.collect`` says) into
    the warehouse, each query resuming from its checkpoint (the format the httpx engine keeps); returns the
    crawl stats, with ``weibo/blocked/<scope>`` for the scopes a recorded block kept from being asked.  Raises
    :class:`CollectorError` when pages were lost after retries (what was collected is kept, with a checkpoint
    before the first page lost) unless ``complete`` is false (the stats then say which scopes lost requests:
    ``weibo/lost/<scope>``).  ``overrides``: scrapy settings for this crawl (e.g. ``CLOSESPIDER_PAGECOUNT``)."""
    from pydantic import ValidationError

    from yuqing.collectors.run import read_cursor
    from yuqing.spiders.spiders.weibo import WeiboArgs
    from yuqing.store.schema import Platform
    from yuqing.store.warehouse import Warehouse

    cursors: dict[str, dict[str, Any]] = {}
    blocked: dict[str, str] = {}
    scopes = [f"search:{q}" for q in queries] + [f"timeline:{uid}" for uid in timelines or []]
    with Warehouse.open(warehouse_path) as wh:
        for scope in scopes:
            cursors[scope], until_then = read_cursor(wh.get_checkpoint(Platform.WEIBO, scope))
            if until_then:
                blocked[scope] = until_then
    try:
        args = WeiboArgs(
            base_url=base_url,
            queries=queries,
            accounts=timelines or [],
            comments=settings.collect.comments,
            reposts=settings.collect.reposts,
            max_pages=max_pages,
            cookies=settings.platforms.cookies.get(Platform.WEIBO) or {},
            cursors=cursors,
            blocked=blocked,
            since=since,
            until=until,
            block_hours=settings.platforms.block_hours,
        )
    except ValidationError as exc:
        raise ConfigError(f"weibo spider arguments: {exc}") from exc
    stats: dict[str, Any] = {}
    if len(blocked) < len(scopes):  # a crawl with nothing to ask is not started
        stats = _run("weibo", {**_overrides(settings, warehouse_path, fast), **(overrides or {})}, args.model_dump())
    stats.update({f"weibo/blocked/{scope}": until_then for scope, until_then in blocked.items()})
    gave_up, lost = int(stats.get("retry/max_reached", 0)), int(stats.get("weibo/pages_lost", 0))
    if complete and (gave_up or lost):
        raise CollectorError(
            f"weibo crawl of {base_url} incomplete: {gave_up} requests gave up after retries, "
            f"{lost} pages could not be parsed"
        )
    return stats


def is_loopback(url: str) -> bool:
    """Politeness delays protect other people's sites; a loopback host is our own fake platform."""
    from urllib.parse import urlsplit

    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def collect_weibo(
    settings: Settings,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    progress: Callable[[str, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The registry's ``spider`` engine for Weibo (``platforms.weibo_engine = "spider"``): the configured search
    queries and account timelines through the scrapy spider, resuming from the checkpoints either engine left.
    ``warn`` receives the scopes a block keeps it from; by default they are logged."""
    from yuqing.collectors.run import MAX_PAGES
    from yuqing.store.schema import Platform

    say = warn or logging.getLogger(__name__).warning
    if not settings.collect.queries and not settings.collect.accounts:
        return {}
    base = settings.platforms.weibo_mobile_base
    stats = crawl_weibo(
        settings,
        base,
        settings.collect.queries,
        settings.warehouse.location,
        timelines=settings.collect.accounts,
        max_pages=MAX_PAGES,
        fast=is_loopback(base),
        since=since,
        until=until,
        complete=False,  # a scope that lost pages is reported as stopped, the others as they ended
    )
    logins = sorted(settings.platforms.cookies.get(Platform.WEIBO) or {})
    scopes = [f"search:{q}" for q in settings.collect.queries] + [f"timeline:{u}" for u in settings.collect.accounts]
    result = {**stats, **_refusals(scopes, logins, stats)}
    for scope in result["scopes"]:
        if scope["status"] == "blocked" and not scope["rows"] and not scope["pages"]:
            say(f"weibo spider: {scope['scope']} {scope['detail']}: nothing was requested for it")
    return result


def _refusals(scope_names: list[str], accounts: list[str], stats: dict[str, Any]) -> dict[str, Any]:
    """The spider's stats as a summary per scope (shared out among the login ``accounts`` in turn) and the
    notices for the operator, like the httpx engine's: rows and pages are counted once committed; a scope that
    did not reach its end resumes from its checkpoint."""
    from yuqing.collectors.http import ANONYMOUS
    from yuqing.collectors.run import ScopeSummary
    from yuqing.collectors.weibo.client import operator_notice
    from yuqing.store.errors import CaptchaRequired, CookieExpired

    names = accounts or [ANONYMOUS]
    scopes: list[ScopeSummary] = []
    for i, name in enumerate(scope_names):
        account = names[i % len(names)]
        scope = ScopeSummary(
            name,
            account,
            rows=int(stats.get(f"weibo/committed_rows/{name}", 0)),
            pages=int(stats.get(f"weibo/committed_pages/{name}", 0)),
        )
        if until := stats.get(f"weibo/blocked/{name}"):  # a block recorded by an earlier run: not asked
            scope.status, scope.until, scope.resumable = "blocked", str(until), True
            scope.detail = f"blocked until {until}; resumes from its checkpoint after that"
        elif not stats.get(f"weibo/finished/{name}"):
            scope.status = str(stats.get(f"weibo/stopped/{account}", "stopped"))
            scope.detail = str(stats.get(f"weibo/stopped_detail/{account}", ""))
            if not scope.detail and (lost := int(stats.get(f"weibo/lost/{name}", 0))):
                scope.detail = f"{lost} requests failed after retries; the next run resumes from its checkpoint"
            elif not scope.detail:
                reason = stats.get("finish_reason", "")
                scope.detail = (
                    f"the crawl ended ({reason}) before the scope did; the next run resumes from its checkpoint"
                )
            scope.until = str(stats.get(f"weibo/blocked_until/{name}", ""))
            scope.resumable = True
        scopes.append(scope)
    notices = []
    for account in names:
        kind = stats.get(f"weibo/stopped/{account}")
        if kind in ("cookie_expired", "captcha"):
            detail = str(stats.get(f"weibo/stopped_detail/{account}", ""))
            page = str(stats.get(f"weibo/captcha_url/{account}", ""))
            exc = CaptchaRequired(detail, account=account, url=page) if kind == "captcha" else CookieExpired(detail)
            exc.account = account
            notices.append(operator_notice(exc, [s.scope for s in scopes if s.account == account]))
    return {"scopes": [dataclasses.asdict(s) for s in scopes], "notices": notices}


def collect_forum(
    settings: Settings,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    progress: Callable[[str, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The registry's engine for Tieba: the configured boards (``collect.forum_boards``) through the forum
    spider.  The forum has no time window: ``since``/``until`` do not narrow it (``warn`` says so)."""
    if since is not None or until is not None:
        (warn or logging.getLogger(__name__).warning)(
            "forum spider: boards are crawled whole; --since/--until do not narrow them"
        )
    base = settings.platforms.forum_base
    boards = settings.collect.forum_boards
    return crawl_forum(settings, base, boards, settings.warehouse.location, fast=is_loopback(base))
