"""A retry middleware that honours ``Retry-After`` (scrapy's own does not: scrapy#3849)."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.http import Response

from collectors.http import retry_after_seconds


class RetryAfterMiddleware(RetryMiddleware):
    """On a retryable status, wait ``Retry-After`` (capped by ``RETRY_AFTER_MAX``) before the retry."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("RETRY_AFTER_MAX", 120.0)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Any:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        header = response.headers.get("Retry-After")
        wait = retry_after_seconds(header.decode("latin-1") if header else None)
        active = spider or self.crawler.spider
        assert active is not None, "the middleware runs inside a crawl"
        retry = get_retry_request(
            request,
            spider=active,
            reason=f"HTTP {response.status}",
            max_retry_times=self.max_retry_times,
        )
        if retry is None:
            return response
        if wait:
            # wait without blocking the reactor (asyncio reactor), then hand back the retry
            retry.meta["retry_after"] = min(wait, self.max_wait)
            stats = active.crawler.stats
            if stats is not None:
                stats.inc_value("retry_after/count")
                stats.inc_value("retry_after/seconds", retry.meta["retry_after"])
            await asyncio.sleep(retry.meta["retry_after"])
        return retry
