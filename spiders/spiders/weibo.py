"""A Weibo mobile spider: keyword search (``api/container/getIndex``) → each post's comment thread
(``comments/hotflow``, ``max_id`` cursor) and repost timeline (``api/statuses/repostTimeline``).

Payloads are turned into records by the pure parsers of :mod:`collectors.weibo.parse` (the same ones
the httpx collectors use); the spider only walks the cursors.  Replies to comments are served inline
in ``hotflow`` (nested in a floor's ``comments[]``, with ``reply_comment``) and parsed as comments whose parent
is the comment replied to.  ``{"ok": 0, "msg": "还没有人转发过"}`` and the like are empty pages.  A post the
page shows cut (``isLongText``) is stored once its full text has come from ``statuses/extend``.

Paging stops at the end of every cursor: search when ``cardlistInfo.page`` is empty or does not
advance, comments when ``max_id`` is 0 or was seen before, reposts at ``data.max`` — and never after
``max_pages`` pages of one cursor.  A body that is not JSON (a truncated response) or not ``ok`` is
retried like an HTTP error (bounded by ``RETRY_TIMES``); a page that still fails is counted in
``weibo/pages_lost`` (and in scrapy's ``retry/max_reached``), so the caller can tell an incomplete
crawl from a complete one.

Account timelines (``accounts``: user ids; ``api/container/getIndex?containerid=107603<uid>``) are walked like
search results, as scopes ``timeline:<uid>``.

Login cookies (``cookies``: account name → cookie) are shared out among the scopes in turn; every request
of a query's walk carries its account's cookie in the ``Cookie`` header (never the cookie jar, never a log
line).  Weibo's refusals (:func:`collectors.weibo.client.refusal`: 418/432 blocks, a stale cookie's 403, the
302 to the login page, the ``ok: -100`` captcha) stop that account: nothing more is parsed or requested for
it, and the stats say which account stopped and why (``weibo/stopped/<account>``), for the caller to report.
Rows and search pages are counted per query (``weibo/rows/search:<query>``, ``weibo/pages/search:<query>``).

Checkpoints, as the httpx engine keeps them (the same records, :func:`collectors.run.page_cursor`; either
engine resumes where the other stopped): every request carries the listing page it descends from
(``meta["origin"] = (scope, page)``); when the last request of a page has been answered and parsed — its
threads, long texts, retries and redirects included — the spider yields :class:`~spiders.items.PageDone`
with the page's checkpoint cursor and the number of records it yielded, and the warehouse pipeline commits
that cursor with the rows once every page before it is complete too.  A page one of whose requests was lost
(retries exhausted, unparseable, refused) never completes: the checkpoint stays before it and the next crawl
fetches it again.  ``cursors`` (scope → the stored cursor) makes a crawl resume after the last committed page;
a finished scope's cursor makes the next crawl stop at posts older than the newest it saw (minus an hour), as
``since``/``until`` bound a window.  Scopes in ``blocked`` (scope → until) are not asked at all; a scope
whose account is blocked now gets ``blocked_until`` in its checkpoint (see
:class:`~spiders.pipelines.WarehousePipeline`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import scrapy
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Response

from yuqing.collectors.http import ANONYMOUS
from yuqing.collectors.run import first_page, page_cursor
from yuqing.collectors.weibo.client import refusal
from yuqing.collectors.weibo.parse import (
    comments_to_posts,
    is_empty_page,
    is_gone,
    needs_long_text,
    to_author,
    to_posts,
    with_long_text,
)
from yuqing.spiders.items import AuthorItem, PageDone, PostItem
from yuqing.store.errors import Blocked, CaptchaRequired, CollectorError, ParseError
from yuqing.store.schema import Post

__all__ = ["WeiboArgs", "WeiboSpider"]


class WeiboArgs(BaseModel):
    """The spider's arguments (``scrapy crawl weibo -a queries=星阅,云雀 -a base_url=...`` passes strings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(description="m.weibo.cn base URL (http or https).")
    queries: list[str] = Field(default_factory=list, description="Search keywords; a string is split on commas.")
    accounts: list[str] = Field(
        default_factory=list, description="User ids whose timelines are crawled; a string is split on commas."
    )
    comments: bool = Field(True, description="Also crawl each post's comment thread.")
    reposts: bool = Field(True, description="Also crawl each post's repost timeline.")
    max_pages: int = Field(100, ge=1, le=10_000, description="Most pages followed along one cursor.")
    cookies: dict[str, SecretStr] = Field(
        default_factory=dict, description="Login cookies by account name (empty: one anonymous client)."
    )
    cursors: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Checkpoint cursor per scope (search:<query>) to resume from (JSON)."
    )
    blocked: dict[str, str] = Field(
        default_factory=dict, description="Scopes blocked until the given time (ISO): not requested at all."
    )
    since: dt.datetime | None = Field(None, description="Only posts created at or after this time.")
    until: dt.datetime | None = Field(None, description="Only posts created before this time.")
    block_hours: float = Field(3.0, ge=0, description="How long a blocked account's scopes are left alone.")

    @field_validator("cursors", "blocked", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("since/until need a time zone")
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {value!r}")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _something(self) -> WeiboArgs:
        if not self.queries and not self.accounts:
            raise ValueError("give queries (search keywords) or accounts (user ids whose timelines to crawl)")
        return self

    @property
    def scopes(self) -> list[str]:
        """Searches, then timelines: the httpx engine's order (accounts are shared out in it)."""
        return [f"search:{q}" for q in self.queries] + [f"timeline:{uid}" for uid in self.accounts]

    @field_validator("queries", "accounts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return [q.strip() if isinstance(q, str) else q for q in value if not isinstance(q, str) or q.strip()]
        return value


def _guarded(callback: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """A callback that first looks for Weibo's refusals (and parses nothing of a refused or stopped account);
    the requests it yields go out as the same account, for the same query, and its posts count for that query."""

    search = callback.__name__ == "parse_search"  # pages are counted as the httpx engine counts them

    @functools.wraps(callback)
    def guarded(self: WeiboSpider, response: Response, **kwargs: Any) -> Iterator[Any]:
        account, scope = response.meta.get("account", ANONYMOUS), response.meta.get("scope", "")
        origin: tuple[str, int] | None = response.meta.get("origin")
        try:
            if account in self.stopped:
                self._inc("weibo/dropped_after_stop")
                self._fail(origin)
            elif (redirect := self._refused(response, account)) is not None:
                for out in redirect:  # nothing, or the request to where a redirect points (it answers for us)
                    yield self._counted(out, origin)
                if account in self.stopped:
                    self._fail(origin)
            else:
                for out in callback(self, response, **kwargs):
                    if isinstance(out, scrapy.Request) and "account" not in out.meta:
                        out = self._as(out, account, scope)
                    elif isinstance(out, PostItem):
                        self._inc(f"weibo/rows/{scope}")
                    yield self._counted(out, origin)
                if search:
                    self._inc(f"weibo/pages/{scope}")
        except Exception:
            self._fail(origin)
            raise
        yield from self._answered(origin)

    return guarded


class WeiboSpider(scrapy.Spider):
    name = "weibo"
    handle_httpstatus_list = (301, 302, 403, 418, 432)  # Weibo's refusals reach the callbacks (see _refused)
    # bodies that are not JSON are retried from the callbacks with ``get_retry_request``, which carries
    # ``retry_times`` over on purpose (that is what bounds the retries)
    custom_settings = {"META_COPY_WARN_SKIP_KEYS": ["retry_times"]}  # noqa: RUF012 (scrapy declares it per instance)

    def __init__(self, **kwargs: Any) -> None:
        # validated before anything is requested: a bad argument fails the crawl at once
        self.args = WeiboArgs.model_validate(kwargs)
        super().__init__()
        self.allowed_domains = [urlsplit(self.args.base_url).hostname or ""]  # offsite: stay on the platform
        self.seen_cursors: set[tuple[str, int]] = set()
        self.accounts = sorted(self.args.cookies) or [ANONYMOUS]
        self.stopped: dict[str, CollectorError] = {}
        # scope → its account (queries share out the accounts in turn, blocked ones included, as the httpx
        # engine does), the first page this crawl asks, the newest post time seen so far
        self.account_of = {scope: self.accounts[i % len(self.accounts)] for i, scope in enumerate(self.args.scopes)}
        self.start_page: dict[str, int] = {}
        self.newest: dict[str, str | None] = {}
        # page accounting (see the module docstring): requests not yet answered, records yielded, cursors
        self.outstanding: Counter[tuple[str, int]] = Counter()
        self.records_of: Counter[tuple[str, int]] = Counter()
        self.cursor_of: dict[tuple[str, int], dict[str, Any]] = {}
        self.failed: set[tuple[str, int]] = set()

    async def start(self) -> Any:
        for scope in self.args.scopes:
            if scope in self.args.blocked:
                self._inc("weibo/skipped_blocked")
                self.logger.warning("%s: blocked until %s; not requested", scope, self.args.blocked[scope])
                continue
            state = self.args.cursors.get(scope, {})
            page, _ = first_page(state, self.args.since)
            self.start_page[scope] = page
            self.newest[scope] = state.get("newest")
            request = self._as(self.listing_request(scope, page), self.account_of[scope], scope)
            yield self._counted(request, (scope, page))

    # ------------------------------------------------------------------ page accounting
    def _counted(self, out: Any, origin: tuple[str, int] | None) -> Any:
        """``out`` tagged with the listing page it descends from, and counted against it."""
        if isinstance(out, scrapy.Request):
            out.meta.setdefault("origin", origin)
            out.dont_filter = True  # a duplicate dropped by the scheduler would never answer for its page
            if out.errback is None:
                out.errback = self.on_error
            if out.meta["origin"] is not None:
                self.outstanding[out.meta["origin"]] += 1
                # older pages first (scrapy's queue is last-in first-out): a page's threads are fetched before
                # the pages after it, so pages complete, and the checkpoint moves, in order
                out.priority = -out.meta["origin"][1]
        elif isinstance(out, PostItem | AuthorItem) and origin is not None:
            out["origin"] = origin
            self.records_of[origin] += 1
        return out

    def _fail(self, origin: tuple[str, int] | None, *, lost: bool = False) -> None:
        """A request of ``origin`` is lost (``lost``: to an error, not to a stopped account): the page never
        completes, its checkpoint is not passed; ``weibo/lost/<scope>`` counts the losses of a scope."""
        if origin is not None:
            self.failed.add(origin)
            if lost:
                self._inc(f"weibo/lost/{origin[0]}")

    def _answered(self, origin: tuple[str, int] | None) -> Iterator[PageDone]:
        """One request of ``origin`` answered; when it was the page's last, the page is done."""
        if origin is None:
            return
        self.outstanding[origin] -= 1
        if self.outstanding[origin] > 0 or origin in self.failed or origin not in self.cursor_of:
            return
        del self.outstanding[origin]
        scope, page = origin
        yield PageDone(
            scope=scope,
            page=page,
            start=self.start_page.get(scope, page),
            records=self.records_of.pop(origin, 0),
            cursor=self.cursor_of.pop(origin),
        )

    def on_error(self, failure: Any) -> Iterator[Any]:
        """A request that failed for good (download error after retries, an HTTP error status): its page is
        lost for this crawl."""
        origin = failure.request.meta.get("origin")
        self._fail(origin, lost=True)
        self.logger.error("weibo request failed at %s: %s", failure.request.url, failure.value)
        yield from self._answered(origin)

    def blocked_scopes(self) -> dict[str, Blocked]:
        """Scopes whose account was blocked in this crawl (each with its account's :class:`Blocked`)."""
        return {
            scope: exc
            for scope, account in self.account_of.items()
            if isinstance(exc := self.stopped.get(account), Blocked)
        }

    def _as(self, request: scrapy.Request, account: str, scope: str) -> scrapy.Request:
        """``request`` sent as ``account`` (its cookie in the header, not the jar) for ``scope``."""
        request.meta.update(account=account, scope=scope, dont_merge_cookies=True)
        cookie = self.args.cookies.get(account)
        if cookie is not None:
            request.headers["Cookie"] = cookie.get_secret_value()
        return request

    def _refused(self, response: Response, account: str) -> Iterator[scrapy.Request] | None:
        """``None`` if Weibo served the page; else what to do instead: nothing (the account is stopped) or,
        for a redirect that is not to the login page, the request to where it points."""
        location = ""
        if response.status in (301, 302):
            location = (response.headers.get("Location") or b"").decode("latin-1")
        payload = None
        if response.status == 200 and b"-100" in response.body[:64]:
            try:
                payload = json.loads(response.body)
            except ValueError:
                payload = None
        headers = {k.decode("latin-1"): v[0].decode("latin-1") for k, v in response.headers.items() if v}
        refused = refusal(
            response.status,
            headers,
            location,
            payload,
            url=response.url.split("?", 1)[0],
            account=account,
            cookie=account in self.args.cookies,
        )
        if refused is None:
            if location:  # not the login page: follow it ourselves (redirects reach the callbacks)
                return iter([response.request.replace(url=response.urljoin(location))] if response.request else [])
            return None
        if account not in self.stopped:
            self.stopped[account] = refused
            kind = (
                "blocked"
                if isinstance(refused, Blocked)
                else "captcha"
                if isinstance(refused, CaptchaRequired)
                else "cookie_expired"
            )
            self._inc(f"weibo/refused/{kind}")
            if self.crawler.stats is not None:
                self.crawler.stats.set_value(f"weibo/stopped/{account}", kind)
                self.crawler.stats.set_value(f"weibo/stopped_detail/{account}", str(refused))
                if isinstance(refused, CaptchaRequired):
                    self.crawler.stats.set_value(f"weibo/captcha_url/{account}", refused.url)
            self.logger.error("weibo account %r stopped: %s", account, refused)
        return iter(())

    # ------------------------------------------------------------------ requests
    def search_request(self, query: str, page: int) -> scrapy.Request:
        # the query goes inside the container id, as m.weibo.cn's own search page sends it
        params = {"containerid": f"100103type=1&q={query}", "page_type": "searchall", "page": page}
        return scrapy.Request(
            f"{self.args.base_url}/api/container/getIndex?{urlencode(params)}",
            callback=self.parse_search,
            cb_kwargs={"query": query, "page": page},
        )

    def timeline_request(self, uid: str, page: int) -> scrapy.Request:
        params = {"containerid": f"107603{uid}", "page": page}
        return scrapy.Request(
            f"{self.args.base_url}/api/container/getIndex?{urlencode(params)}",
            callback=self.parse_search,
            cb_kwargs={"query": "", "page": page, "scope": f"timeline:{uid}"},
        )

    def listing_request(self, scope: str, page: int) -> scrapy.Request:
        """Page ``page`` of a scope: ``search:<query>`` or ``timeline:<uid>``."""
        kind, _, name = scope.partition(":")
        return self.timeline_request(name, page) if kind == "timeline" else self.search_request(name, page)

    def comments_request(self, root_id: str, root_author_id: str, max_id: int, pages: int) -> scrapy.Request:
        params = {"id": root_id, "mid": root_id, "max_id": max_id, "max_id_type": 0}
        return scrapy.Request(
            f"{self.args.base_url}/comments/hotflow?{urlencode(params)}",
            callback=self.parse_comments,
            cb_kwargs={"root_id": root_id, "root_author_id": root_author_id, "max_id": max_id, "pages": pages},
        )

    def extend_request(self, post: Post) -> scrapy.Request:
        return scrapy.Request(
            f"{self.args.base_url}/statuses/extend?{urlencode({'id': post.id})}",
            callback=self.parse_extend,
            cb_kwargs={"post": post},
        )

    def reposts_request(self, root_id: str, page: int) -> scrapy.Request:
        return scrapy.Request(
            f"{self.args.base_url}/api/statuses/repostTimeline?{urlencode({'id': root_id, 'page': page})}",
            callback=self.parse_reposts,
            cb_kwargs={"root_id": root_id, "page": page},
        )

    # ------------------------------------------------------------------ helpers
    def _inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    def _payload(self, response: Response) -> dict[str, Any] | None:
        """The JSON body if it is an ``ok`` object, else ``None`` (the caller retries)."""
        try:
            payload = json.loads(response.body)
        except ValueError:
            self._inc("weibo/invalid_json")
            return None
        if is_empty_page(payload):  # {"ok": 0, "msg": "还没有人转发过"}: an empty list
            self._inc("weibo/empty_pages")
            return {"ok": 1, "data": {}}
        if not isinstance(payload, dict) or payload.get("ok") not in (1, "1", True):
            self._inc("weibo/not_ok")
            return None
        return payload

    def _retry(self, response: Response, reason: str) -> Iterator[scrapy.Request]:
        retry = get_retry_request(response.request, spider=self, reason=reason) if response.request else None
        if retry is not None:
            retry.meta.pop("download_latency", None)
            yield retry
        else:
            self._lost(response, reason)

    def _lost(self, response: Response, reason: str) -> None:
        self._fail(response.meta.get("origin"), lost=True)
        self._inc("weibo/pages_lost")
        self.logger.error("weibo page lost at %s: %s", response.url, reason)

    def _records(self, posts: list[Post]) -> Iterator[PostItem | AuthorItem | scrapy.Request]:
        """Items for the posts; a long post (``isLongText``) is yielded once its full text is fetched."""
        for post in posts:
            if needs_long_text(post):
                yield self.extend_request(post)
                continue
            user = (post.raw or {}).get("user")
            if isinstance(user, dict) and "id" in user:
                try:
                    yield AuthorItem(record=to_author(user, fetched_at=post.fetched_at))
                except ParseError as exc:  # a malformed profile does not cost the post
                    self._inc("weibo/bad_author")
                    self.logger.warning("author of %s skipped: %s", post.id, exc)
            yield PostItem(record=post)
            self._inc("weibo/records")

    # ------------------------------------------------------------------ callbacks
    @_guarded
    def parse_search(self, response: Response, query: str, page: int, scope: str = "") -> Iterator[Any]:
        """A search page (``query``) or a timeline page (``scope`` ``timeline:<uid>``, no query)."""
        payload = self._payload(response)
        if payload is None:
            yield from self._retry(response, "search page is not an ok JSON object")
            return
        try:
            found = to_posts(payload, query=query)
        except ParseError as exc:
            self._lost(response, str(exc))
            return
        scope = scope or f"search:{query}"
        state = self.args.cursors.get(scope, {})
        _, stop_before = first_page(state, self.args.since)
        until = self.args.until
        # the window, and on a new pass over a finished scope the posts before its newest: as the httpx engine
        posts = [
            p
            for p in found
            if (until is None or p.created_at < until) and (stop_before is None or p.created_at >= stop_before)
        ]
        page_newest = max((p.created_at for p in found), default=None)
        newest = self.newest.get(scope)
        if page_newest and (newest is None or page_newest.isoformat() > newest):
            self.newest[scope] = newest = page_newest.isoformat()
        info = (payload.get("data") or {}).get("cardlistInfo") or {}
        try:
            nxt = int(info.get("page") or 0)
        except (TypeError, ValueError):
            nxt = 0
        older = bool(found) and stop_before is not None and all(p.created_at < stop_before for p in found)
        finished = not found or nxt <= page or older
        self.cursor_of[(scope, page)] = page_cursor(page, newest, state.get("done_newest"), finished=finished)
        yield from self._records(posts)
        for post in posts:
            if self.args.comments and post.comments_count > 0:
                yield self.comments_request(post.id, post.author_id, 0, 1)
            if self.args.reposts and post.reposts_count > 0:
                yield self.reposts_request(post.id, 1)
        if not finished and page < self.args.max_pages:
            request = self.listing_request(scope, nxt)
            request.meta["origin"] = (scope, nxt)  # the next page answers for itself
            yield request

    @_guarded
    def parse_comments(
        self, response: Response, root_id: str, root_author_id: str, max_id: int, pages: int
    ) -> Iterator[Any]:
        payload = self._payload(response)
        if payload is None:
            yield from self._retry(response, "comments page is not an ok JSON object")
            return
        data = payload.get("data") or {}
        try:
            comments = comments_to_posts(payload, root_id=root_id, root_author_id=root_author_id)
            nxt = int(data.get("max_id") or 0)
        except (ParseError, TypeError, ValueError) as exc:
            self._lost(response, str(exc))
            return
        yield from self._records(comments)
        self.seen_cursors.add((root_id, max_id))
        if not nxt or not comments or pages >= self.args.max_pages:
            return
        if (root_id, nxt) in self.seen_cursors:
            self._inc("weibo/cursor_repeated")
            self.logger.warning("comments of %s: cursor %s repeated, stopping", root_id, nxt)
            return
        yield self.comments_request(root_id, root_author_id, nxt, pages + 1)

    @_guarded
    def parse_reposts(self, response: Response, root_id: str, page: int) -> Iterator[Any]:
        payload = self._payload(response)
        if payload is None:
            yield from self._retry(response, "repost page is not an ok JSON object")
            return
        data = payload.get("data") or {}
        try:
            reposts = to_posts(payload)
            last = int(data.get("max") or 0)
        except (ParseError, TypeError, ValueError) as exc:
            self._lost(response, str(exc))
            return
        yield from self._records(reposts)
        if reposts and page < last and page < self.args.max_pages:
            yield self.reposts_request(root_id, page + 1)

    @_guarded
    def parse_extend(self, response: Response, post: Post) -> Iterator[Any]:
        with contextlib.suppress(ValueError):
            answer = json.loads(response.body)
            if is_gone(answer):  # deleted since the page listed it: kept as the page showed it
                yield from self._records([with_long_text(post, answer)])
                return
        payload = self._payload(response)
        if payload is None:
            yield from self._retry(response, "long text is not an ok JSON object")
            return
        try:
            full = with_long_text(post, payload)
        except ParseError as exc:
            self._lost(response, str(exc))
            return
        yield from self._records([full])
