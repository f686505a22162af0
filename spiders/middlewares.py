"""Downloader middlewares: a retry that honours ``Retry-After`` (scrapy's own does not: scrapy#3849), and a
page encoding decided from the bytes when the header and ``<meta charset>`` disagree."""

from __future__ import annotations

import asyncio
import codecs
import re
from typing import Any

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.http import Response, TextResponse

from yuqing.collectors.http import retry_after_seconds


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


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
# one family: a page declared GBK or GB2312 is read as GB18030, their superset
_GB = {"gbk", "gb2312", "gb18030", "cp936"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    return "gb18030" if canonical in _GB or name.lower() in _GB else canonical


def _declared(response: Response) -> tuple[str | None, str | None]:
    """The charset of the ``Content-Type`` header and of the page's ``<meta charset>``."""
    header = (response.headers.get("Content-Type") or b"").decode("latin-1")
    found = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", header, re.I)
    meta = _META_CHARSET.search(response.body[:4096])
    return _codec(found.group(1) if found else None), _codec(meta.group(1).decode("ascii") if meta else None)


def charset_from_bytes(body: bytes, candidates: list[str]) -> str:
    """The candidate that decodes ``body`` cleanly, else the one with the fewest U+FFFD.  UTF-8 is tried first:
    GB bytes almost never decode as UTF-8, while many UTF-8 byte strings happen to be valid GB18030."""
    candidates = sorted(candidates, key=lambda name: name != "utf-8")
    for name in candidates:
        try:
            body.decode(name)
        except UnicodeDecodeError:
            continue
        return name
    return min(candidates, key=lambda name: body.decode(name, errors="replace").count("\ufffd"))


class CharsetMiddleware:
    """Decide a page's encoding from its bytes when the header and ``<meta charset>`` disagree.

    Scrapy trusts the header; a server that sends GB18030 bytes under ``charset=utf-8`` (or the reverse) would
    otherwise be stored as mojibake.  When both declare the same charset, or only one is declared, nothing
    changes."""

    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        if not isinstance(response, TextResponse):
            return response
        header, meta = _declared(response)
        if header is None or meta is None or header == meta:
            return response
        chosen = charset_from_bytes(response.body, [header, meta])
        if spider is not None and spider.crawler.stats is not None:
            spider.crawler.stats.inc_value("charset/header_meta_disagree")
        return response.replace(encoding=chosen)
