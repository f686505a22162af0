"""Item pipelines: validate → write through the warehouse in batches (one writer).

Records are stored as the parsers made them: ``Post.text`` is the raw text the source sent (the same whichever
engine collected it); normalisation (traditional → simplified, length caps) belongs to the analysis.
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from yuqing.spiders.items import AuthorItem, PostItem
from yuqing.store.schema import Author, Post


class ValidatePipeline:
    def process_item(self, item: Any) -> Any:
        if isinstance(item, PostItem) and isinstance(item.get("record"), Post):
            return item
        if isinstance(item, AuthorItem) and isinstance(item.get("record"), Author):
            return item
        raise DropItem(f"not a record item: {type(item).__name__}")


class WarehousePipeline:
    """Buffers records and writes them in one transaction per batch."""

    def __init__(self, path: str, batch: int) -> None:
        self.path = path
        self.batch = batch
        self.posts: list[Post] = []
        self.authors: list[Author] = []
        self.wh: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarehousePipeline:
        return cls(crawler.settings.get("YUQING_WAREHOUSE"), crawler.settings.getint("YUQING_BATCH", 500))

    def open_spider(self) -> None:
        from yuqing.store.warehouse import Warehouse

        self.wh = Warehouse.open(self.path)

    def process_item(self, item: Any) -> Any:
        (self.posts if isinstance(item, PostItem) else self.authors).append(item["record"])
        if len(self.posts) + len(self.authors) >= self.batch:
            self.flush()
        return item

    def flush(self) -> None:
        from yuqing.collectors.weibo.parse import interactions_for

        if self.posts or self.authors:
            edges = [e for p in self.posts for e in interactions_for(p)]
            self.wh.ingest(posts=self.posts, authors=self.authors, interactions=edges)
            self.posts, self.authors = [], []

    def close_spider(self) -> None:
        self.flush()
        self.wh.close()
