"""Scrapy items wrapping the shared record types: spiders yield these, never dicts."""

from __future__ import annotations

import scrapy


class PostItem(scrapy.Item):
    record = scrapy.Field()  # store.schema.Post
    origin = scrapy.Field()  # (scope, page) of the listing page it came from, when the spider keeps checkpoints


class AuthorItem(scrapy.Item):
    record = scrapy.Field()  # store.schema.Author
    origin = scrapy.Field()


class PageDone(scrapy.Item):
    """Every request a listing page led to has been answered and parsed: once the pipeline has received the
    page's ``records`` items (and those of the pages before it), ``cursor`` may be committed with them.  Pages of
    a scope complete in any order; the checkpoint moves only over pages complete from ``start`` on."""

    scope = scrapy.Field()  # "search:<query>"
    page = scrapy.Field()  # page number
    start = scrapy.Field()  # the scope's first page in this crawl
    records = scrapy.Field()  # how many record items the page yielded
    cursor = scrapy.Field()  # the checkpoint cursor after this page (collectors.run.page_cursor)
