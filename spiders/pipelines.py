"""Item pipelines: validate → write through the warehouse in batches (one writer), with the checkpoints.

Records are stored as the parsers made them: ``Post.text`` is the raw text the source sent (the same whichever
engine collected it); normalisation (traditional → simplified, length caps) belongs to the analysis.

Checkpoints (the Weibo spider): a :class:`~spiders.items.PageDone` says a listing page is complete once the
pipeline holds the records it announces; a scope's checkpoint moves over the pages complete in order from
its first page of the crawl, and is written in the same transaction as the rows it covers (one transaction per
batch: ``YUQING_BATCH`` records, ``YUQING_BATCH_SECONDS`` after the last commit, a scope's last page, or the end
of the crawl).  So a crawl killed at any moment leaves a checkpoint that no row behind it is missing from.  At
the end, a scope whose account the platform blocked gets ``blocked_until`` in its checkpoint, after the cursor
of its last committed page, exactly as the httpx engine records it (:func:`collectors.run.blocked_cursor`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from scrapy.exceptions import DropItem

from yuqing.spiders.items import AuthorItem, PageDone, PostItem
from yuqing.store.schema import Author, Platform, Post


class ValidatePipeline:
    def process_item(self, item: Any) -> Any:
        if isinstance(item, PostItem) and isinstance(item.get("record"), Post):
            return item
        if isinstance(item, AuthorItem) and isinstance(item.get("record"), Author):
            return item
        if isinstance(item, PageDone):
            return item
        raise DropItem(f"not a record item: {type(item).__name__}")


class WarehousePipeline:
    """Buffers records and writes them, with the checkpoints they complete, in one transaction per batch."""

    def __init__(self, path: str, batch: int, batch_seconds: float = 10.0, crawler: Any = None) -> None:
        self.path = path
        self.batch = batch
        self.batch_seconds = batch_seconds
        self.crawler = crawler
        self.posts: list[Post] = []
        self.authors: list[Author] = []
        self.scopes_of_posts: list[str] = []  # the scope each buffered post counts for ("" if none)
        self.wh: Any = None
        # checkpoint bookkeeping, per scope: records received per page, pages announced done, the last page
        # complete in order, its cursor (pending until committed), and the cursor last committed
        self.received: Counter[tuple[str, int]] = Counter()
        self.done: dict[tuple[str, int], PageDone] = {}
        self.through: dict[str, int] = {}
        self.pending: dict[str, tuple[dict[str, Any], int]] = {}  # scope → (cursor, pages it adds)
        self.committed: dict[str, dict[str, Any]] = {}
        self.last_commit = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarehousePipeline:
        s = crawler.settings
        return cls(
            s.get("YUQING_WAREHOUSE"), s.getint("YUQING_BATCH", 500), s.getfloat("YUQING_BATCH_SECONDS", 10.0), crawler
        )

    def open_spider(self) -> None:
        from yuqing.store.warehouse import Warehouse

        self.wh = Warehouse.open(self.path)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, PageDone):
            self.done[(item["scope"], item["page"])] = item
            self.through.setdefault(item["scope"], item["start"] - 1)
            finished = self._advance(item["scope"])
        else:
            origin = item.get("origin")
            if isinstance(item, PostItem):
                self.posts.append(item["record"])
                self.scopes_of_posts.append(origin[0] if origin else "")
            else:
                self.authors.append(item["record"])
            finished = False
            if origin is not None:
                self.received[origin] += 1
                finished = origin[0] in self.through and self._advance(origin[0])
        due = time.monotonic() - self.last_commit >= self.batch_seconds and bool(self.pending)
        if finished or due or len(self.posts) + len(self.authors) >= self.batch:
            self.flush()
        return item

    def _advance(self, scope: str) -> bool:
        """Move the scope's pending cursor over the pages now complete in order; True when it reached the
        scope's last page."""
        finished = False
        while (done := self.done.get((scope, self.through[scope] + 1))) is not None:
            key = (scope, done["page"])
            if self.received[key] < done["records"]:
                break
            del self.done[key], self.received[key]
            self.through[scope] = done["page"]
            _, pages = self.pending.get(scope, ({}, 0))
            self.pending[scope] = (done["cursor"], pages + 1)
            finished = "page" not in done["cursor"]
        return finished

    def flush(self) -> None:
        from yuqing.collectors.weibo.parse import interactions_for
        from yuqing.store.warehouse import Checkpoint

        if not (self.posts or self.authors or self.pending):
            return
        spider = self.crawler.spider if self.crawler is not None else None
        args = getattr(spider, "args", None)
        since, until = getattr(args, "since", None), getattr(args, "until", None)
        edges = [e for p in self.posts for e in interactions_for(p)]
        pending, self.pending = self.pending, {}
        with self.wh.transaction():
            self.wh.ingest(posts=self.posts, authors=self.authors, interactions=edges)
            for scope, (cursor, _) in pending.items():
                checkpoint = Checkpoint(Platform.WEIBO, scope, json.dumps(cursor), since, until)
                self.wh.ingest(checkpoint=checkpoint)
        # counted once committed: rows per scope, and the pages its checkpoint moved over
        for scope, rows in Counter(self.scopes_of_posts).items():
            if scope:
                self._inc(f"weibo/committed_rows/{scope}", rows)
        for scope, (cursor, pages) in pending.items():
            self.committed[scope] = cursor
            self._inc(f"weibo/committed_pages/{scope}", pages)
            if "page" not in cursor:
                self._set(f"weibo/finished/{scope}", 1)
        self.posts, self.authors, self.scopes_of_posts = [], [], []
        self.last_commit = time.monotonic()

    def block(self) -> None:
        """``blocked_until`` in the checkpoint of every unfinished scope whose account was blocked, after the
        cursor of its last committed page (or the one the crawl started from)."""
        from yuqing.collectors.run import blocked_cursor
        from yuqing.store.warehouse import Checkpoint

        spider = self.crawler.spider if self.crawler is not None else None
        if spider is None or not hasattr(spider, "blocked_scopes"):
            return
        args = spider.args
        for scope, exc in spider.blocked_scopes().items():
            kept = self.committed.get(scope, args.cursors.get(scope, {}))
            if "page" not in kept and scope in self.committed:
                continue  # finished before the block
            cursor, resume = blocked_cursor(kept, exc, args.block_hours)
            self.wh.ingest(checkpoint=Checkpoint(Platform.WEIBO, scope, cursor, args.since, args.until))
            self._set(f"weibo/blocked_until/{scope}", resume)

    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    def _set(self, key: str, value: Any) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.set_value(key, value)

    def close_spider(self) -> None:
        try:
            self.flush()
            self.block()
        finally:
            self.wh.close()
