"""Run spiders from Python.  Twisted's reactor starts once per process, so each crawl runs in a child process."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

from store.errors import CollectorError
from store.settings import Settings

__all__ = ["crawl_forum"]


def _crawl(spider_name: str, overrides: dict[str, Any], kwargs: dict[str, Any], queue: Any) -> None:
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings as ScrapySettings

    from spiders import settings as defaults
    from spiders.spiders.forum import ForumSpider

    settings = ScrapySettings()
    settings.setmodule(defaults)
    settings.update(overrides)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler({"forum": ForumSpider}[spider_name])
    process.crawl(crawler, **kwargs)
    process.start()
    queue.put({k: v for k, v in (crawler.stats.get_stats() or {}).items() if isinstance(v, int | float | str)})


def crawl_forum(
    settings: Settings, base_url: str, boards: list[str], warehouse_path: Path, *, fast: bool = False
) -> dict[str, Any]:
    """Crawl forum boards into the warehouse; returns the crawl stats.  ``fast`` lifts politeness (local tests)."""
    overrides: dict[str, Any] = {
        "YUQING_WAREHOUSE": str(warehouse_path),
        "RETRY_AFTER_MAX": settings.platforms.max_retry_after,
    }
    if fast:
        overrides.update({"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8})
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_crawl, args=("forum", overrides, {"base_url": base_url, "boards": ",".join(boards)}, queue)
    )
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise CollectorError(f"forum crawl failed (exit code {proc.exitcode})")
    stats: dict[str, Any] = queue.get(timeout=10) if not queue.empty() else {}
    if stats.get("forum/layout_changed"):
        raise CollectorError(f"forum layout changed at {base_url}: {stats['forum/layout_changed']} pages unparsed")
    return stats
