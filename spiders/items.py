"""Scrapy items wrapping the shared record types: spiders yield these, never dicts."""

from __future__ import annotations

import scrapy


class PostItem(scrapy.Item):
    record = scrapy.Field()  # store.schema.Post


class AuthorItem(scrapy.Item):
    record = scrapy.Field()  # store.schema.Author
