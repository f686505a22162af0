"""The fake platform: serves a simulated world through Weibo-shaped endpoints on 127.0.0.1.

Endpoints (payload shapes as the real ones; see :mod:`collectors.fake.payloads`):

* ``GET /api/container/getIndex?containerid=100103type%3D1%26q%3DQ&page_type=searchall&page=P`` — keyword
  search, 10 cards a page; the query is read from inside ``containerid``, as the real API does
* ``GET /api/container/getIndex?containerid=107603UID&page=P`` — a user's timeline
* ``GET /statuses/extend?id=MID`` — the full text of a long post (``isLongText``)
* ``GET /comments/hotflow?id=MID&max_id=M`` — comment floors with their replies nested in ``comments``, a
  ``max_id`` cursor (0 = last page); ``{"ok": 0, "msg": "快来发表你的评论吧"}`` when there are none
* ``GET /api/statuses/repostTimeline?id=MID&page=P`` — reposts of a post (reposts of reposts included, as
  Weibo lists them); ``{"ok": 0, "msg": "还没有人转发过"}`` past the last one
* ``GET /2/users/show.json?uid=UID`` — Open API user (needs ``access_token``)
* ``POST /oauth2/access_token`` — token refresh (``grant_type=refresh_token``)
* ``GET /f?kw=BOARD&pn=N`` and ``GET /p/TID?pn=N`` — the forum (GB18030 HTML), ``/robots.txt``
* ``GET /_fake/stats`` — request and fault counters, for tests
* ``GET /_fake/requests`` — every m.weibo.cn request in arrival order as ``[path, {param: value}]``, for tests

Faults (:class:`FaultConfig`, seeded): 429 with ``Retry-After``, 500s, slow
responses, truncated JSON, expired tokens, and a changed forum layout.  And the
refusals of the real m.weibo.cn (see :mod:`collectors.weibo.client`), on its endpoints
only (not the Open API): a **block** (HTTP 418, or 432, from the n-th request on, for
``block_seconds``; with ``block_on`` only on one path, e.g. ``/statuses/extend``: long texts
refused under throttling while pages are still served), **a held page** (``hold_page``: one getIndex page answered
only after ``hold_seconds``, so a test can stop a crawl at a known point), **no cookie** (432 to every
request without a ``Cookie`` header),
an **expired cookie** (one cookie value refused after n requests made with it: 302 to
``/signin/login`` — the path of passport.weibo.cn, served here — or 403) and **risk
control** (``{"ok": -100, "url": ".../captcha?scene=limit…"}`` to one cookie after n
requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from yuqing.collectors.fake import payloads
from yuqing.collectors.fake.world import load_world

__all__ = ["FakePlatform", "FaultConfig", "build_app", "serve_world"]

PAGE_SIZE = 10
COMMENTS_PAGE = 20


@dataclass
class FaultConfig:
    rate_limit: float = 0.0  # share of requests answered 429 + Retry-After
    retry_after: int = 1
    server_error: float = 0.0  # share answered 500
    slow: float = 0.0  # share delayed by slow_seconds
    slow_seconds: float = 0.5
    truncated: float = 0.0  # share whose JSON body is cut in half
    expire_token_every: int = 0  # tokens expire after this many API calls (0 = never)
    forum_layout: str = "v1"
    seed: int = 0
    # the refusals of m.weibo.cn, on its endpoints only
    block_after: int = 0  # the n-th mobile request starts a block (0 = never) ...
    block_on: str = ""  # ... only on this path if set (e.g. "/statuses/extend": long texts refused, pages served) ...
    block_status: int = 418  # ... answered with this status (418, or 432) ...
    block_seconds: float = 3600.0  # ... for this long; a block happens once
    require_cookie: bool = False  # 432 to every mobile request without a Cookie header
    expire_cookie: str = ""  # this Cookie header stops working ...
    expire_after: int = 0  # ... after this many requests made with it ...
    expire_as: str = "302"  # ... answered "302" (to the login page) or "403"
    captcha_cookie: str = ""  # this Cookie header hits risk control ...
    captcha_after: int = 0  # ... after this many requests made with it
    hold_page: int = 0  # getIndex page N (search or timeline) is answered only after hold_seconds (0 = never):
    hold_seconds: float = 15.0  # a crawl that stalls there can be stopped at a known point (tests)

    @classmethod
    def demo(cls, seed: int = 0) -> FaultConfig:
        return cls(
            rate_limit=0.005,
            retry_after=1,
            server_error=0.02,
            slow=0.01,
            slow_seconds=0.2,
            truncated=0.01,
            expire_token_every=8,
            seed=seed,
        )


@dataclass
class FakePlatform:
    world_dir: Path
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        world = load_world(self.world_dir)
        posts = world.posts
        self.authors: dict[tuple[str, str], dict[str, Any]] = {
            (a["platform"], a["id"]): a for a in world.authors.pipe(_records)
        }
        self.labels = world.labels
        self.truth = world.truth
        weibo = posts[posts["platform"] == "weibo"]
        self.top = weibo[weibo["kind"] == "post"].sort_values("created_at", ascending=False)
        self.top_records = self.top.pipe(_records)
        self.by_id: dict[str, dict[str, Any]] = {p["id"]: p for p in posts.pipe(_records)}
        self.reposts_of: dict[str, list[dict[str, Any]]] = {}
        for rec in weibo[weibo["kind"] == "repost"].sort_values("created_at", ascending=False).pipe(_records):
            self.reposts_of.setdefault(rec["root_id"], []).append(rec)
        # hotflow lists a post's floors (comments on the post); the replies under a floor, at any depth, are
        # nested in it, as Weibo shows them
        self.comments_of: dict[str, list[dict[str, Any]]] = {}
        self.replies_of: dict[str, list[dict[str, Any]]] = {}
        comments = weibo[weibo["kind"] == "comment"].sort_values("created_at").pipe(_records)
        parent_of = {rec["id"]: rec["parent_id"] for rec in comments}
        for rec in comments:
            if rec["parent_id"] == rec["root_id"]:
                self.comments_of.setdefault(rec["root_id"], []).append(rec)
                continue
            floor = rec["parent_id"]
            while parent_of.get(floor, rec["root_id"]) != rec["root_id"]:
                floor = parent_of[floor]
            self.replies_of.setdefault(floor, []).append(rec)
        self.forum_posts = posts[posts["platform"] == "tieba"]
        brand_of = dict(zip(world.labels["id"], world.labels["brand"], strict=True))
        self.top_brand = self.top["id"].map(brand_of).fillna("")
        self.brand_terms = {
            b["name"]: b
            for b in [_brand_dict(world.truth, n) for n in [world.truth["brand"], *world.truth["competitors"]]]
        }
        self._search_cache: dict[str, list[dict[str, Any]]] = {}
        self.counters: Counter[str] = Counter()
        self.rng = random.Random(self.faults.seed)
        self.lock = threading.Lock()
        self.token_calls = 0
        self.valid_tokens = {"demo-token"}
        self.refresh_tokens = {"demo-refresh"}
        self.blocked_until = 0.0
        self.block_started = False
        self.cookie_calls: Counter[str] = Counter()
        self.request_log: list[tuple[str, dict[str, str]]] = []

    # ------------------------------------------------------------------ faults
    def refusal(self, request: Request) -> Response | None:
        """m.weibo.cn's answers to a client it will not serve (block, no/expired cookie, captcha)."""
        f = self.faults
        cookie = request.headers.get("cookie", "")
        with self.lock:
            self.counters["mobile:requests"] += 1
            on_path = not f.block_on or request.url.path == f.block_on
            if on_path:
                self.counters["mobile:block_counted"] += 1
            if f.block_after and not self.block_started and self.counters["mobile:block_counted"] >= f.block_after:
                self.block_started = True
                self.blocked_until = time.monotonic() + f.block_seconds
            if on_path and time.monotonic() < self.blocked_until:
                self.counters[f"fault:{f.block_status}"] += 1
                return PlainTextResponse("", status_code=f.block_status)
            if f.require_cookie and not cookie:
                self.counters["fault:432"] += 1
                return PlainTextResponse("", status_code=432)
            if not cookie:
                return None
            self.cookie_calls[cookie] += 1
            calls = self.cookie_calls[cookie]
            if cookie == f.expire_cookie and f.expire_after and calls > f.expire_after:
                self.counters["fault:cookie_expired"] += 1
                if f.expire_as == "403":
                    return PlainTextResponse("Forbidden", status_code=403)
                back = urllib.parse.quote(str(request.url), safe="")
                return Response(status_code=302, headers={"Location": f"/signin/login?entry=mweibo&r={back}"})
            if cookie == f.captcha_cookie and f.captcha_after and calls > f.captcha_after:
                self.counters["fault:captcha"] += 1
                page = f"{request.base_url}captcha?scene=limit&from=mweibo"
                return JSONResponse({"ok": -100, "url": page, "msg": "", "extra": ""})
        return None

    async def fault(self, request: Request, *, json_endpoint: bool = True) -> Response | None:
        f = self.faults
        with self.lock:
            self.counters[f"req:{request.url.path}"] += 1
            if json_endpoint and not request.url.path.startswith("/2/"):
                self.request_log.append((request.url.path, dict(request.query_params)))
            r = self.rng.random()
        if json_endpoint and not request.url.path.startswith("/2/"):
            refused = self.refusal(request)
            if refused is not None:
                return refused
        if r < f.rate_limit:
            self.counters["fault:429"] += 1
            return PlainTextResponse("rate limited", status_code=429, headers={"Retry-After": str(f.retry_after)})
        r -= f.rate_limit
        if r < f.server_error:
            self.counters["fault:500"] += 1
            return PlainTextResponse("internal error", status_code=500)
        r -= f.server_error
        if r < f.slow:
            self.counters["fault:slow"] += 1
            await asyncio.sleep(f.slow_seconds)
            return None
        r -= f.slow
        if json_endpoint and r < f.truncated:
            self.counters["fault:truncated"] += 1
            self._truncate_next = True
        return None

    def json(self, body: dict[str, Any]) -> Response:
        response = JSONResponse(body)
        if getattr(self, "_truncate_next", False):
            self._truncate_next = False
            cut = response.body[: max(1, len(response.body) // 2)]
            return Response(cut, media_type="application/json")
        return response

    # ------------------------------------------------------------------ handlers
    async def get_index(self, request: Request) -> Response:
        if (bad := await self.fault(request)) is not None:
            return bad
        container = request.query_params.get("containerid", "")
        page = max(1, int(request.query_params.get("page", "1") or 1))
        if page == self.faults.hold_page:
            await asyncio.sleep(self.faults.hold_seconds)
        if container.startswith("100103"):
            # "100103type=1&q=星阅": the search is inside the container id, not a parameter of its own
            rows = self.search((parse_qs(container[6:]).get("q") or [""])[0])
        elif container.startswith("107603"):
            uid = container[6:]
            rows = [r for r in self.top_records if r["author_id"] == uid]
        else:
            return JSONResponse({"ok": 0, "msg": "unknown containerid"}, status_code=400)
        chunk = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        cards = [
            {
                "card_type": 9,
                "itemid": f"{container}_-_{rec['id']}",
                "scheme": f"https://m.weibo.cn/status/{rec['id']}?mblogid={rec['id']}&luicode=10000011",
                "mblog": payloads.mblog(rec, self.author(rec)),
                "show_type": 0,
            }
            for rec in chunk
        ]
        more = page * PAGE_SIZE < len(rows)
        info = {
            "containerid": container,
            "v_p": 42,
            "show_style": 1,
            "total": len(rows),
            "page": page + 1 if more else None,
        }
        scheme = f"sinaweibo://cardlist?containerid={container}"
        return self.json({"ok": 1, "data": {"cardlistInfo": info, "cards": cards, "scheme": scheme}})

    async def extend(self, request: Request) -> Response:
        if (bad := await self.fault(request)) is not None:
            return bad
        post = self.by_id.get(request.query_params.get("id", ""))
        if post is None:
            return JSONResponse({"ok": 0, "msg": "微博不存在或暂无查看权限!"})
        return self.json(payloads.extend(post))

    def search(self, q: str) -> list[dict[str, Any]]:
        """Newest first.  Like Weibo's search, a brand query also finds posts about the brand by nickname."""
        if not q:
            return []
        if q not in self._search_cache:
            in_text = self.top["text"].str.contains(q, regex=False)
            brand_hit = pd.Series(False, index=self.top.index)
            for name, b in self.brand_terms.items():
                if q == name or q in b["aliases"]:
                    brand_hit |= self.top_brand == name
            self._search_cache[q] = self.top[in_text | brand_hit].pipe(_records)
        return self._search_cache[q]

    def author(self, rec: dict[str, Any]) -> dict[str, Any]:
        return self.authors.get((rec["platform"], rec["author_id"]), {"id": rec["author_id"]})

    async def hotflow(self, request: Request) -> Response:
        if (bad := await self.fault(request)) is not None:
            return bad
        mid = request.query_params.get("id") or request.query_params.get("mid") or ""
        max_id = int(request.query_params.get("max_id", "0") or 0)
        rows = self.comments_of.get(mid, [])
        if not rows:
            return self.json({"ok": 0, "msg": "快来发表你的评论吧"})
        start = max_id
        chunk = rows[start : start + COMMENTS_PAGE]
        items = [
            payloads.comment(
                rec,
                self.author(rec),
                self.by_id,
                floor_number=start + i + 1,
                replies=[(r, self.author(r)) for r in self.replies_of.get(rec["id"], [])],
            )
            for i, rec in enumerate(chunk)
        ]
        next_id = start + COMMENTS_PAGE if start + COMMENTS_PAGE < len(rows) else 0
        total = len(rows) + sum(len(self.replies_of.get(r["id"], [])) for r in rows)
        return self.json({"ok": 1, "data": {"data": items, "total_number": total, "max_id": next_id, "max_id_type": 0}})

    async def repost_timeline(self, request: Request) -> Response:
        if (bad := await self.fault(request)) is not None:
            return bad
        mid = request.query_params.get("id", "")
        page = max(1, int(request.query_params.get("page", "1") or 1))
        rows = self.reposts_of.get(mid, [])
        chunk = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        if not chunk:
            return self.json({"ok": 0, "msg": "还没有人转发过"})
        root = self.by_id.get(mid)
        items = [payloads.repost(rec, self.author(rec), root, self.author(root) if root else {}) for rec in chunk]
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        data = {"data": items, "total_number": len(rows), "hot_total_number": 0, "max": pages}
        return self.json({"ok": 1, "msg": "数据获取成功", "data": data})

    async def users_show(self, request: Request) -> Response:
        if (bad := await self.fault(request)) is not None:
            return bad
        token = request.query_params.get("access_token", "")
        if token not in self.valid_tokens:
            return JSONResponse({"error": "expired_token", "error_code": 21327}, status_code=401)
        with self.lock:
            self.token_calls += 1
            every = self.faults.expire_token_every
            if every and self.token_calls % every == 0:
                self.valid_tokens.discard(token)
                self.counters["fault:expired_token"] += 1
        uid = request.query_params.get("uid", "")
        found = self.authors.get(("weibo", uid))
        if found is None:
            return JSONResponse({"error": "User does not exists!", "error_code": 20003}, status_code=400)
        return self.json(payloads.open_api_user(found))

    async def access_token(self, request: Request) -> Response:
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        with self.lock:
            self.counters["oauth:refresh"] += 1
            token = f"token-{self.counters['oauth:refresh']}"
            self.valid_tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3600, "refresh_token": "demo-refresh"})

    async def stats(self, request: Request) -> Response:
        return JSONResponse(dict(self.counters))

    async def requests(self, request: Request) -> Response:
        with self.lock:
            return JSONResponse(list(self.request_log))

    async def login_page(self, request: Request) -> Response:
        """Where an expired cookie is sent (passport.weibo.cn/signin/login on the real platform)."""
        self.counters["login:page"] += 1
        return HTMLResponse("<html><head><title>登录 - 新浪微博</title></head><body>请登录</body></html>")

    async def robots(self, request: Request) -> Response:
        return PlainTextResponse("User-agent: *\nDisallow: /admin/\nCrawl-delay: 0\n")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _brand_dict(truth: dict[str, Any], name: str) -> dict[str, Any]:
    from yuqing.collectors.fake.world import BRAND, COMPETITORS

    for b in [BRAND, *COMPETITORS]:
        if b["name"] == name:
            return b
    return {"name": name, "aliases": [], "products": []}


def build_app(platform: FakePlatform) -> Starlette:
    routes = [
        Route("/api/container/getIndex", platform.get_index),
        Route("/statuses/extend", platform.extend),
        Route("/comments/hotflow", platform.hotflow),
        Route("/api/statuses/repostTimeline", platform.repost_timeline),
        Route("/2/users/show.json", platform.users_show),
        Route("/oauth2/access_token", platform.access_token, methods=["POST"]),
        Route("/_fake/stats", platform.stats),
        Route("/_fake/requests", platform.requests),
        Route("/robots.txt", platform.robots),
        Route("/signin/login", platform.login_page),
    ]
    with contextlib.suppress(ImportError):
        from yuqing.collectors.fake.forum import forum_routes

        routes += forum_routes(platform)
    return Starlette(routes=routes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_world(world_dir: Path, *, port: int = 0, faults: FaultConfig | None = None) -> Iterator[str]:
    """Run the fake platform with uvicorn in a background thread on 127.0.0.1; yields its base URL."""
    import uvicorn

    platform = FakePlatform(Path(world_dir), faults or FaultConfig())
    port = port or _free_port()
    config = uvicorn.Config(
        build_app(platform), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-platform", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake platform did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
