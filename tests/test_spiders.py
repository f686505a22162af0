"""Spiders: real crawls in their child process against the fake platform on 127.0.0.1 (faults on) into a real
DuckDB warehouse, the forum layout-change error, and callbacks driven directly with recorded responses."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import scrapy
from pydantic import ValidationError
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from yuqing.spiders.items import AuthorItem, PostItem
from yuqing.spiders.spiders.forum import ForumSpider
from yuqing.spiders.spiders.weibo import WeiboSpider
from yuqing.store.errors import CollectorError
from yuqing.store.schema import Author, PostKind
from yuqing.store.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "weibo"
TESTSERVER = "http://testserver"  # answered in-process through httpx.ASGITransport: no socket


class Recorder:
    """Records the fake platform's answers without a server: the ASGI app behind ``httpx.ASGITransport``."""

    def __init__(self, world: Path, faults: Any = None) -> None:
        from yuqing.collectors.fake.server import FakePlatform, FaultConfig, build_app

        self.app = build_app(FakePlatform(world, faults or FaultConfig()))

    def get(self, url: str) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app)) as client:
                return await client.get(url)

        return asyncio.run(go())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from yuqing.collectors.fake.world import generate_world

    out = tmp_path_factory.mktemp("spider-world")
    generate_world(out, posts=200, seed=5)
    return out


def _expected(world_dir: Path, query: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a search for ``query`` must reach, from the world itself: the top-level Weibo posts whose text
    contains it or that are about the brand of that name, and every comment and repost under them."""
    from yuqing.collectors.fake.world import load_world

    w = load_world(world_dir, records=False)
    weibo = w.posts[w.posts["platform"] == "weibo"]
    top = weibo[weibo["kind"] == "post"]
    brand_of = dict(zip(w.labels["id"], w.labels["brand"], strict=True))
    hits = top[top["text"].str.contains(query, regex=False) | top["id"].map(brand_of).eq(query)]
    return hits, weibo[weibo["root_id"].isin(set(hits["id"]))]


def _pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


# --------------------------------------------------------------------------- real crawls, child process


def test_weibo_spider_stores_every_matching_post_and_comment_once(world: Path, tmp_path: Path) -> None:
    from yuqing.collectors.fake.server import FaultConfig, serve_world
    from yuqing.spiders.run import crawl_weibo
    from yuqing.store.warehouse import Warehouse

    query = json.loads((world / "truth.json").read_text(encoding="utf-8"))["brand"]
    hits, thread = _expected(world, query)
    faults = FaultConfig(
        rate_limit=0.03, retry_after=1, server_error=0.04, slow=0.02, slow_seconds=0.05, truncated=0.03, seed=3
    )
    db = tmp_path / "w.duckdb"
    with serve_world(world, faults=faults) as url:
        stats = crawl_weibo(Settings(), url, [query], db, fast=True)
        served = httpx.get(f"{url}/_fake/stats").json()

    with Warehouse.open(db, read_only=True) as wh:
        stored = wh.query("SELECT id, kind, author_id FROM posts")
        authors = set(wh.query("SELECT id FROM authors")["id"])
        edges = wh.table_counts()["interactions"]
    assert stored["id"].is_unique
    assert set(stored["id"]) == set(hits["id"]) | set(thread["id"])
    comments = thread[thread["kind"] == "comment"]
    assert len(comments) > 20 and set(comments["id"]) <= set(stored.loc[stored["kind"] == "comment", "id"])
    assert set(stored["author_id"]) <= authors and edges > 0

    # the faults happened and were ridden out ...
    assert all(served.get(f"fault:{f}", 0) > 0 for f in ("429", "500", "truncated"))
    assert stats["retry_after/count"] == served["fault:429"]  # each 429 waited its Retry-After, then retried
    assert stats["weibo/invalid_json"] == served["fault:truncated"]
    # ... and every cursor stopped at its end: one request per page, plus one retry per fault
    # (hotflow pages count floors, the replies nested in them ride along; a long post costs a statuses/extend)
    n_comments = comments[comments["parent_id"] == comments["root_id"]].groupby("root_id").size()
    n_reposts = thread[thread["kind"] == "repost"].groupby("root_id").size()
    ideal = _pages(len(hits), 10) + int((hits["text"].str.len() > 140).sum())
    ideal += int((thread.loc[thread["kind"] == "repost", "text"].str.len() > 140).sum())
    ideal += sum(_pages(int(n_comments.get(p, 0)), 20) for p in hits.loc[hits["comments_count"] > 0, "id"])
    ideal += sum(_pages(int(n_reposts.get(p, 0)), 10) for p in hits.loc[hits["reposts_count"] > 0, "id"])
    requests = sum(v for k, v in served.items() if k.startswith("req:"))
    faulted = sum(served.get(f"fault:{f}", 0) for f in ("429", "500", "truncated"))
    assert requests == ideal + faulted


def test_forum_layout_change_is_an_error_not_an_empty_crawl(world: Path, tmp_path: Path) -> None:
    from yuqing.collectors.fake.server import FaultConfig, serve_world
    from yuqing.spiders.run import crawl_forum
    from yuqing.store.warehouse import Warehouse

    board = json.loads((world / "truth.json").read_text(encoding="utf-8"))["brand"]
    with serve_world(world, faults=FaultConfig(forum_layout="v1")) as url:
        stats = crawl_forum(Settings(), url, [board], tmp_path / "v1.duckdb", fast=True)
    assert stats["item_scraped_count"] > 0  # the same board crawls fine before the redesign
    with Warehouse.open(tmp_path / "v1.duckdb", read_only=True) as wh:
        assert wh.table_counts()["posts"] > 0

    with (
        serve_world(world, faults=FaultConfig(forum_layout="v2")) as url,
        pytest.raises(CollectorError, match=r"forum layout changed at http://127\.0\.0\.1:\d+: 1 pages unparsed"),
    ):
        crawl_forum(Settings(), url, [board], tmp_path / "v2.duckdb", fast=True)


# --------------------------------------------------------------------------- callbacks, recorded responses


def _spider(cls: type[scrapy.Spider], **kwargs: Any) -> Any:
    return cls.from_crawler(get_crawler(cls), **kwargs)


@pytest.fixture(scope="module")
def fake(world: Path) -> Recorder:
    return Recorder(world)


def recorded(client: Recorder, request: scrapy.Request, body: bytes | None = None) -> TextResponse:
    """The fake platform's answer to ``request`` (or ``body``) as the response scrapy would hand the callback."""
    answer = client.get(request.url)
    cls = HtmlResponse if answer.headers.get("content-type", "").startswith("text/html") else TextResponse
    return cls(
        url=request.url,
        status=answer.status_code,
        headers={"Content-Type": answer.headers.get("content-type", "")},
        body=answer.content if body is None else body,
        request=request,
    )


def run(request: scrapy.Request, response: TextResponse) -> list[Any]:
    assert request.callback is not None
    return list(request.callback(response, **request.cb_kwargs))


def test_search_callback_yields_records_thread_requests_and_the_next_page(fake: Recorder, world: Path) -> None:
    query = json.loads((world / "truth.json").read_text(encoding="utf-8"))["brand"]
    spider = _spider(WeiboSpider, base_url=TESTSERVER, queries=query)
    first = spider.search_request(query, 1)
    out = run(first, recorded(fake, first))

    assert not [x for x in out if isinstance(x, dict)]
    requests = [x for x in out if isinstance(x, scrapy.Request)]
    # a long post is yielded by the callback of its statuses/extend request, with its full text
    extend = [r for r in requests if r.callback == spider.parse_extend]
    for r in extend:
        [item] = [x for x in run(r, recorded(fake, r)) if isinstance(x, PostItem)]
        assert len(item["record"].text) > 140 and "全文" not in item["record"].text
        out.append(item)
    posts = [x["record"] for x in out if isinstance(x, PostItem)]
    assert len(posts) == 10 and all(p.kind == PostKind.POST and p.query == query for p in posts)
    assert {a["record"].id for a in out if isinstance(a, AuthorItem)} <= {p.author_id for p in posts}
    hotflow = {r.cb_kwargs["root_id"] for r in requests if r.callback == spider.parse_comments}
    reposts = {r.cb_kwargs["root_id"] for r in requests if r.callback == spider.parse_reposts}
    assert hotflow == {p.id for p in posts if p.comments_count > 0} and hotflow
    assert reposts == {p.id for p in posts if p.reposts_count > 0}
    [nxt] = [r for r in requests if r.callback == spider.parse_search]
    assert nxt.cb_kwargs == {"query": query, "page": 2}

    hits, _ = _expected(world, query)
    last = spider.search_request(query, _pages(len(hits), 10))
    out = run(last, recorded(fake, last))
    assert not [r for r in out if isinstance(r, scrapy.Request) and r.callback == spider.parse_search]
    assert 0 < sum(isinstance(x, PostItem) for x in out) <= 10


def test_comment_cursor_is_followed_to_its_end(fake: Recorder, world: Path) -> None:
    query = json.loads((world / "truth.json").read_text(encoding="utf-8"))["brand"]
    hits, thread = _expected(world, query)
    comments = thread[thread["kind"] == "comment"]
    root = comments.groupby("root_id").size().idxmax()
    total = int((comments["root_id"] == root).sum())
    assert total > 20, "the world needs a thread longer than one hotflow page"
    author = str(hits.set_index("id").loc[root, "author_id"])
    spider = _spider(WeiboSpider, base_url=TESTSERVER, queries=query)

    request: scrapy.Request | None = spider.comments_request(root, author, 0, 1)
    seen: list[Any] = []
    while request is not None:
        out = run(request, recorded(fake, request))
        seen += [x["record"] for x in out if isinstance(x, PostItem)]
        [request] = [r for r in out if isinstance(r, scrapy.Request)] or [None]
    assert len(seen) == total == len({p.id for p in seen})
    assert all(p.kind == PostKind.COMMENT and p.root_id == root for p in seen)
    replies = [p for p in seen if p.parent_id != root]
    assert all(p.parent_id in {q.id for q in seen} for p in replies)


def test_saved_hotflow_reply_and_repeated_cursor() -> None:
    spider = _spider(WeiboSpider, base_url="https://m.weibo.cn", queries="星阅")
    payload = json.loads((FIXTURES / "hotflow.json").read_text(encoding="utf-8"))
    request = spider.comments_request("4987654321012345", "5000012345", 0, 1)

    def response(body: dict[str, Any]) -> TextResponse:
        return TextResponse(url=request.url, body=json.dumps(body).encode(), encoding="utf-8", request=request)

    out = run(request, response(payload))
    first, reply = (x["record"] for x in out if isinstance(x, PostItem))
    assert (first.parent_id, reply.parent_id, reply.parent_author_id) == ("4987654321012345", "5011", "5000077777")
    assert {x["record"].id for x in out if isinstance(x, AuthorItem)} == {"5000077777", "5000088888"}
    assert all(isinstance(x["record"], Author) for x in out if isinstance(x, AuthorItem))
    assert not [x for x in out if isinstance(x, scrapy.Request)]  # max_id 0: the end

    payload["data"]["max_id"] = 7
    spider.seen_cursors.add(("4987654321012345", 7))  # a server that hands back a cursor already walked
    out = run(request, response(payload))
    assert not [x for x in out if isinstance(x, scrapy.Request)]
    assert spider.crawler.stats.get_value("weibo/cursor_repeated") == 1


def test_a_malformed_profile_costs_the_author_not_the_post() -> None:
    spider = _spider(WeiboSpider, base_url="https://m.weibo.cn", queries="星阅")
    payload = json.loads((FIXTURES / "getIndex_search.json").read_text(encoding="utf-8"))
    request = spider.search_request("星阅", 1)
    clean = run(request, TextResponse(url=request.url, body=json.dumps(payload).encode(), request=request))
    cards = [c for c in payload["data"]["cards"] if c.get("card_type") == 9]
    cards[0]["mblog"]["user"]["followers_count"] = "很多"
    out = run(request, TextResponse(url=request.url, body=json.dumps(payload).encode(), request=request))
    assert [x["record"].id for x in out if isinstance(x, PostItem)] == [
        x["record"].id for x in clean if isinstance(x, PostItem)
    ]
    assert sum(isinstance(x, AuthorItem) for x in out) == sum(isinstance(x, AuthorItem) for x in clean) - 1
    assert spider.crawler.stats.get_value("weibo/bad_author") == 1


def test_truncated_body_is_retried_a_bounded_number_of_times(fake: Recorder, world: Path) -> None:
    spider = _spider(WeiboSpider, base_url=TESTSERVER, queries="星阅")
    request = spider.search_request("星阅", 1)
    body = recorded(fake, request).body
    retries = spider.crawler.settings.getint("RETRY_TIMES")
    for attempt in range(1, retries + 1):
        [request] = run(request, recorded(fake, request, body=body[: len(body) // 2]))
        assert isinstance(request, scrapy.Request) and request.dont_filter
        assert request.meta["retry_times"] == attempt and request.callback == spider.parse_search
    assert run(request, recorded(fake, request, body=body[: len(body) // 2])) == []
    stats = spider.crawler.stats
    assert stats.get_value("weibo/pages_lost") == 1 and stats.get_value("retry/max_reached") == 1
    assert stats.get_value("weibo/invalid_json") == retries + 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "ftp://m.weibo.cn", "queries": "星阅"},
        {"base_url": "https://m.weibo.cn", "queries": " , "},
        {"base_url": "https://m.weibo.cn", "queries": "星阅", "max_pages": "0"},
        {"base_url": "https://m.weibo.cn", "queries": "星阅", "comment": "false"},  # misspelt argument
    ],
)
def test_bad_spider_arguments_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WeiboSpider(**kwargs)


def test_spider_arguments_from_the_command_line_are_parsed() -> None:
    spider = WeiboSpider(base_url="http://127.0.0.1:8000/", queries="星阅, 云雀", reposts="false", max_pages="3")
    assert spider.args.base_url == "http://127.0.0.1:8000"
    assert spider.args.queries == ["星阅", "云雀"] and spider.args.reposts is False and spider.args.max_pages == 3


def test_forum_callback_notices_the_redesign(world: Path) -> None:
    from yuqing.collectors.fake.server import FaultConfig

    board = json.loads((world / "truth.json").read_text(encoding="utf-8"))["brand"]
    spider = _spider(ForumSpider, base_url=TESTSERVER, boards=board)
    request = scrapy.Request(f"{TESTSERVER}/f?kw={board}&pn=0", callback=spider.parse_board, cb_kwargs={"board": board})
    response = recorded(Recorder(world, FaultConfig(forum_layout="v2")), request)
    assert isinstance(response, HtmlResponse) and board in response.text  # GBK decoded
    assert run(request, response) == []
    assert spider.crawler.stats.get_value("forum/layout_changed") == 1


# --------------------------------------------------------------------------- encodings, domains, sizes


def test_forum_crawl_stores_the_worlds_text_without_replacement_characters(world: Path, tmp_path: Path) -> None:
    """Every forum page is GB18030; odd threads declare it only in ``<meta>``.  Before, those came with a
    ``charset=utf-8`` header added by the web framework, and the spider stored mojibake (U+FFFD)."""
    from yuqing.collectors.fake.server import serve_world
    from yuqing.collectors.fake.world import load_world
    from yuqing.spiders.run import crawl_forum
    from yuqing.store.warehouse import Warehouse

    w = load_world(world, records=False)
    forum = w.posts[w.posts["platform"] == "tieba"]
    boards = sorted(set(json.loads((world / "truth.json").read_text(encoding="utf-8"))["competitors"]))
    boards.append(json.loads((world / "truth.json").read_text(encoding="utf-8"))["brand"])
    with serve_world(world) as url:
        crawl_forum(Settings(), url, boards, tmp_path / "f.duckdb", fast=True)
    with Warehouse.open(tmp_path / "f.duckdb", read_only=True) as wh:
        stored = wh.query("select id, text from posts where platform = 'tieba'")
    assert len(stored) == len(forum) > 0
    assert not stored["text"].str.contains("\ufffd").any()
    truth = dict(zip(forum["id"], forum["text"].str.strip(), strict=True))
    assert {i: t for i, t in zip(stored["id"], stored["text"], strict=True)} == truth


@pytest.mark.parametrize(
    ("header", "meta", "encoding"),
    [("utf-8", "gb18030", "gb18030"), ("GBK", "utf-8", "utf-8"), ("utf-8", "gbk", "gb18030")],
)
def test_page_encoding_is_decided_from_the_bytes_when_header_and_meta_disagree(
    header: str, meta: str, encoding: str
) -> None:
    from yuqing.spiders.middlewares import CharsetMiddleware

    text = "楼主说电池鼓包了，售后不给换 𠀾"  # the last character is outside GBK: only GB18030 or UTF-8 hold it
    body = f'<html><head><meta charset="{meta}"></head><body><p>{text}</p></body></html>'.encode(encoding)
    page = HtmlResponse(
        url="http://forum.test/p/1", body=body, headers={"Content-Type": f"text/html; charset={header}"}
    )
    assert page.css("p::text").get() != text  # scrapy trusts the header
    fixed = CharsetMiddleware().process_response(scrapy.Request(page.url), page)
    assert isinstance(fixed, HtmlResponse) and fixed.css("p::text").get() == text
    agreed = HtmlResponse(url=page.url, body=body, headers={"Content-Type": f"text/html; charset={meta}"})
    assert CharsetMiddleware().process_response(scrapy.Request(page.url), agreed) is agreed


def test_forum_spider_stays_on_its_host_and_drops_oversized_pages(tmp_path: Path) -> None:
    """A board page linking to ``localhost/internal-admin`` (another host than the forum's 127.0.0.1) and to a
    thread far bigger than ``DOWNLOAD_MAXSIZE``: neither is read; the ordinary thread is."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from yuqing.spiders.run import crawl_forum
    from yuqing.store.warehouse import Warehouse

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            port = self.server.server_address[1]
            if self.path.startswith("/f"):
                body = (
                    '<ul><li class="j_thread_list"><a class="j_th_tit" href="/p/11">电池</a></li>'
                    f'<li class="j_thread_list"><a class="j_th_tit" href="http://localhost:{port}/internal-admin">x</a></li>'
                    '<li class="j_thread_list"><a class="j_th_tit" href="/p/12">大</a></li></ul>'
                )
            elif self.path.startswith("/p/11"):
                body = (
                    '<div class="l_post" data-pid="11"><span class="p_author_name" data-uid="7">阿土豆</span>'
                    '<div class="d_post_content">续航不行</div>'
                    '<span class="post-tail-time">2026-10-01 10:00</span></div>'
                )
            elif self.path.startswith("/p/12"):
                body = "<p>" + "大" * (5 * 1024 * 1024) + "</p>"  # 15 MB in UTF-8
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = f'<html><head><meta charset="utf-8"></head><body>{body}</body></html>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        stats = crawl_forum(Settings(), base, ["b"], tmp_path / "d.duckdb", fast=True)
    finally:
        server.shutdown()
        server.server_close()
    assert not [h for h in hits if "internal-admin" in h]
    assert stats.get("offsite/filtered", 0) >= 1
    assert stats.get("downloader/exception_type_count/scrapy.exceptions.DownloadCancelledError") == 1  # /p/12
    with Warehouse.open(tmp_path / "d.duckdb", read_only=True) as wh:
        assert wh.query("select id from posts")["id"].tolist() == ["11"]


def test_api_engine_and_spider_store_the_same_rows_and_the_worlds_raw_text(world: Path, tmp_path: Path) -> None:
    """Raw text is immutable: whichever engine collects a post stores the same row, and its text is the text the
    world holds as the page shows it (traditional characters kept, long posts completed from statuses/extend, a
    link shown as "网页链接" with its address in ``urls``; no normalisation)."""
    import asyncio

    from yuqing.collectors.fake.server import serve_world
    from yuqing.collectors.fake.world import load_world
    from yuqing.collectors.weibo.client import collect
    from yuqing.spiders.run import crawl_weibo
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    query = json.loads((world / "truth.json").read_text(encoding="utf-8"))["brand"]
    columns = (
        "platform, id, kind, text, created_at, author_id, author_name, parent_id, root_id, parent_author_id, "
        "reposts_count, comments_count, attitudes_count, source, location, topics, at_users, urls, pics, query"
    )
    frames = {}
    with serve_world(world) as url:
        settings = load_settings(
            world / "yuqing.toml",
            warehouse={"path": str(tmp_path / "api.duckdb")},
            platforms={"weibo_mobile_base": url, "weibo_api_base": f"{url}/2"},
            collect={"queries": [query], "accounts": [], "forum_boards": []},
        )
        asyncio.run(collect(settings))
        crawl_weibo(settings, url, [query], tmp_path / "spider.duckdb", fast=True)
    for engine in ("api", "spider"):
        with Warehouse.open(tmp_path / f"{engine}.duckdb", read_only=True) as wh:
            frames[engine] = wh.query(f"SELECT {columns} FROM posts ORDER BY id").reset_index(drop=True)
    api, spider = frames["api"], frames["spider"]
    assert len(api) > 100
    pd.testing.assert_frame_equal(api, spider)

    w = load_world(world, records=False).posts.set_index("id")
    # m.weibo.cn shows a link as "网页链接" and keeps the address in the anchor: urls holds it
    shown = w.loc[api["id"], "text"].str.replace(r"https?://t\.cn/\w+", "网页链接", regex=True)
    assert (api["text"] == shown.to_numpy()).all()
    assert [list(u) for u in api["urls"]] == [list(u) for u in w.loc[api["id"], "urls"]]
    assert (api["text"].str.len() > 140).any() and not api["text"].str.contains("全文").any()
    assert api["pics"].map(len).gt(0).any()


def _drain(spider: WeiboSpider, fake: Recorder, queue: list[scrapy.Request], lose: str = "") -> list[Any]:
    """Answer page 1's requests (threads, long texts, retries) in turn; a request whose URL contains ``lose`` gets
    a truncated body every time (retried, then lost).  Returns everything the callbacks yielded, in order."""
    out: list[Any] = []
    while queue:
        request = queue.pop(0)
        body = recorded(fake, request).body
        got = run(request, recorded(fake, request, body=body[:10] if lose and lose in request.url else None))
        queue += [r for r in got if isinstance(r, scrapy.Request) and r.meta["origin"][1] == 1]
        out += got
    return out


def test_a_page_is_done_when_its_last_request_is_answered_and_never_after_a_loss(fake: Recorder, world: Path) -> None:
    """Checkpoint accounting, callbacks driven with recorded answers: a search page announces ``PageDone`` (its
    cursor and how many records it yielded) only with the answer to the last request it led to; a page one of
    whose threads is lost after its retries never does, so the checkpoint cannot pass it."""
    from yuqing.spiders.items import PageDone

    query = json.loads((world / "truth.json").read_text(encoding="utf-8"))["brand"]

    async def first_request(spider: WeiboSpider) -> scrapy.Request:
        [request] = [r async for r in spider.start()]
        return request

    spider = _spider(WeiboSpider, base_url=TESTSERVER, queries=query)
    out = _drain(spider, fake, [asyncio.run(first_request(spider))])
    done = [x for x in out if isinstance(x, PageDone)]
    assert len(done) == 1 and out[-1] is done[0]  # with the very last answer, not before
    records = [x for x in out if isinstance(x, PostItem | AuthorItem)]
    assert done[0]["records"] == len(records) > 10 and all(x["origin"] == (f"search:{query}", 1) for x in records)
    assert done[0]["cursor"]["page"] == 1 and done[0]["cursor"]["done_newest"] is None
    posts = [x["record"] for x in records if isinstance(x, PostItem) and x["record"].kind == PostKind.POST]
    assert len(posts) == 10 and done[0]["cursor"]["newest"] == max(p.created_at for p in posts).isoformat()
    [nxt] = [r for r in out if isinstance(r, scrapy.Request) and r.meta["origin"] == (f"search:{query}", 2)]
    assert nxt.priority < min(r.priority for r in out if isinstance(r, scrapy.Request) and r is not nxt)

    spider = _spider(WeiboSpider, base_url=TESTSERVER, queries=query)
    out = _drain(spider, fake, [asyncio.run(first_request(spider))], lose="/comments/hotflow")
    assert spider.crawler.stats.get_value("weibo/pages_lost") >= 1
    assert not [x for x in out if isinstance(x, PageDone)]


def test_the_spider_engines_summary_counts_what_was_committed_and_says_how_each_scope_ended() -> None:
    """``spiders.run._refusals``: rows and pages as the pipeline committed them; a scope that lost requests is
    stopped and resumable (the crawl does not fail for the others), a finished one done, a blocked one says
    until when; an account's refusal names it."""
    from yuqing.spiders.run import _refusals

    stats = {
        "weibo/committed_rows/search:a": 40,
        "weibo/committed_pages/search:a": 3,
        "weibo/lost/search:a": 2,
        "weibo/rows/search:a": 55,  # yielded, not all committed: not what the summary counts
        "weibo/committed_rows/search:b": 90,
        "weibo/committed_pages/search:b": 9,
        "weibo/finished/search:b": 1,
        "weibo/blocked/search:c": "2026-12-01T12:00:00+00:00",
        "finish_reason": "finished",
    }
    scopes = {s["scope"]: s for s in _refusals([f"search:{q}" for q in "abcd"], [], stats)["scopes"]}
    a, b, c, d = (scopes[f"search:{q}"] for q in "abcd")
    assert (a["rows"], a["pages"], a["status"], a["resumable"]) == (40, 3, "stopped", True)
    assert "2 requests failed after retries" in a["detail"]
    assert (b["rows"], b["pages"], b["status"], b["resumable"]) == (90, 9, "done", False)
    assert (c["status"], c["until"], c["resumable"], c["rows"]) == ("blocked", "2026-12-01T12:00:00+00:00", True, 0)
    assert (d["status"], d["resumable"]) == ("stopped", True) and "crawl ended (finished)" in d["detail"]
