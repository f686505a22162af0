"""Scrapy settings for yuqing's spiders: polite by default."""

from __future__ import annotations

BOT_NAME = "yuqing"
SPIDER_MODULES = ["yuqing.spiders.spiders"]
USER_AGENT = "yuqing/0.1 (+https://github.com/yuqing; social listening)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 0.5
DOWNLOAD_TIMEOUT = 20
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_ENABLED = True
RETRY_TIMES = 4
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "yuqing.spiders.middlewares.RetryAfterMiddleware": 550,
    # after HttpCompressionMiddleware (590) has unpacked the body, before the spider reads it
    "yuqing.spiders.middlewares.CharsetMiddleware": 580,
}
# a page bigger than this is dropped, not read into memory (scrapy cancels the download); spiders also stay on
# their ``allowed_domains`` (scrapy's offsite middleware, on by default)
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
ITEM_PIPELINES = {
    "yuqing.spiders.pipelines.ValidatePipeline": 100,
    "yuqing.spiders.pipelines.WarehousePipeline": 900,
}
CLOSESPIDER_TIMEOUT = 3600
CLOSESPIDER_PAGECOUNT = 100_000
CLOSESPIDER_ERRORCOUNT = 50
LOG_LEVEL = "WARNING"
TELNETCONSOLE_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
