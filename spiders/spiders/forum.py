"""A forum/BBS spider: board pages → threads → pages → floors and floor replies (楼中楼).

Pages may be GBK/GB18030 with the charset in the header or only in ``<meta>``;
scrapy's ``TextResponse`` decodes both, and where the two disagree
:class:`spiders.middlewares.CharsetMiddleware` decides from the bytes.  The spider
stays on the forum's host (``allowed_domains``): a link elsewhere — say to
``localhost/internal-admin`` — is dropped by scrapy's offsite middleware.  A page that has threads or floors but
none of the expected markup means the layout changed: the spider records
``forum/layout_changed`` and logs an error instead of silently yielding nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from yuqing.spiders.items import AuthorItem, PostItem
from yuqing.store.schema import CHINA_TZ, Author, Platform, Post, PostKind


class ForumSpider(scrapy.Spider):
    name = "forum"

    def __init__(self, base_url: str = "", boards: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not base_url or not boards:
            raise ValueError("ForumSpider needs base_url and boards (comma-separated)")
        self.base_url = base_url.rstrip("/")
        host = urlsplit(self.base_url).hostname
        if not host:
            raise ValueError(f"ForumSpider base_url must be an http(s) URL, got {base_url!r}")
        self.allowed_domains = [host]
        self.boards = [b for b in boards.split(",") if b]
        self.fetched_at = dt.datetime.now(dt.UTC)

    async def start(self) -> Any:
        for board in self.boards:
            yield scrapy.Request(
                f"{self.base_url}/f?kw={board}&pn=0", callback=self.parse_board, cb_kwargs={"board": board}
            )

    def _layout_changed(self, response: Response) -> None:
        self.crawler.stats.inc_value("forum/layout_changed")
        self.logger.error("forum layout changed at %s: expected markup not found", response.url)

    def parse_board(self, response: Response, board: str) -> Iterator[Any]:
        threads = response.css("li.j_thread_list")
        if not threads and response.css("li, .thread-card"):
            self._layout_changed(response)
            return
        for t in threads:
            href = t.css("a.j_th_tit::attr(href)").get()
            if href:
                yield response.follow(href, callback=self.parse_thread, cb_kwargs={"board": board})
        nxt = response.css("a.next::attr(href)").get()
        if nxt:
            # the page is GBK but the site's URLs are UTF-8: percent-encode the board name as UTF-8
            yield scrapy.Request(
                response.urljoin(nxt), callback=self.parse_board, cb_kwargs={"board": board}, encoding="utf-8"
            )

    def _author(self, node: Any) -> tuple[str, str, int]:
        a = node.css(".p_author_name")
        return (
            a.attrib.get("data-uid", ""),
            a.css("::text").get(default="").strip(),
            int(a.attrib.get("data-followers", "0") or 0),
        )

    @staticmethod
    def _time(text: str | None) -> dt.datetime:
        return dt.datetime.strptime((text or "").strip(), "%Y-%m-%d %H:%M").replace(tzinfo=CHINA_TZ)

    def parse_thread(self, response: Response, board: str) -> Iterator[Any]:
        floors = response.css("div.l_post")
        if not floors and response.css("div[data-pid]"):
            self._layout_changed(response)
            return
        tid = response.url.split("/p/")[1].split("?")[0]
        root_author = ""
        for f in floors:
            pid = f.attrib["data-pid"]
            uid, name, followers = self._author(f)
            is_root = pid == tid
            if is_root:
                root_author = uid
            yield AuthorItem(
                record=Author(
                    platform=Platform.TIEBA,
                    id=uid,
                    screen_name=name,
                    followers_count=followers,
                    fetched_at=self.fetched_at,
                )
            )
            yield PostItem(
                record=Post(
                    platform=Platform.TIEBA,
                    id=pid,
                    kind=PostKind.POST if is_root else PostKind.COMMENT,
                    text=" ".join(f.css(".d_post_content ::text").getall()).strip(),
                    created_at=self._time(f.css(".post-tail-time::text").get()),
                    author_id=uid,
                    author_name=name,
                    parent_id=None if is_root else tid,
                    root_id=None if is_root else tid,
                    parent_author_id=None if is_root else (root_author or None),
                    query=board,
                    fetched_at=self.fetched_at,
                )
            )
            for s in f.css("li.lzl_single_post"):
                suid, sname, sfollowers = self._author(s)
                yield AuthorItem(
                    record=Author(
                        platform=Platform.TIEBA,
                        id=suid,
                        screen_name=sname,
                        followers_count=sfollowers,
                        fetched_at=self.fetched_at,
                    )
                )
                yield PostItem(
                    record=Post(
                        platform=Platform.TIEBA,
                        id=s.attrib["data-pid"],
                        kind=PostKind.COMMENT,
                        text=" ".join(s.css(".lzl_content_main ::text").getall()).strip(),
                        created_at=self._time(s.css(".lzl_time::text").get()),
                        author_id=suid,
                        author_name=sname,
                        parent_id=pid,
                        root_id=tid,
                        parent_author_id=uid,
                        query=board,
                        fetched_at=self.fetched_at,
                    )
                )
        nxt = response.css("a.next::attr(href)").get()
        if nxt:
            yield response.follow(nxt, callback=self.parse_thread, cb_kwargs={"board": board})
