"""How m.weibo.cn says no: the Weibo refusals the collectors and the spider recognise.

What the peers' users report (issue trackers of dataabc/weibo-crawler, nghuyong/WeiboSpider,
Praeviso/crawl4weibo, DIYgod/RSSHub), and how each is classified:

* **HTTP 418** when a client asks too fast; the IP stays blocked for 2-3 hours and "418 会导致数据缺失"
  (nghuyong/WeiboSpider#92, #99; dataabc/weibo-crawler#557) → :class:`Blocked`.
* **HTTP 432** for clients Weibo no longer serves without (or with an unsuitable) login cookie
  (Praeviso/crawl4weibo#5, dataabc/weibo-crawler#584 and PR #582, DIYgod/RSSHub#20512) → :class:`Blocked`,
  with a hint to set a cookie when none was sent.
* **HTTP 403** with a stale cookie (dataabc/weiboSpider#330) → :class:`CookieExpired`.
* **302 to the login page** (``passport.weibo.cn/signin/login``) once a cookie expired
  (nghuyong/WeiboSpider#92, dataabc/weiboSpider#253) → :class:`CookieExpired`.
* **``{"ok": -100, "url": "https://m.weibo.cn/captcha?scene=limit…"}``** (or the ``api/geetest`` page) when the
  account hits risk control (dataabc/weibo-crawler#572) → :class:`CaptchaRequired`; a new cookie alone does not
  help, a person has to pass the verification in a browser logged in as that account.

These are facts carried over from those threads; no code is.

The Weibo engine (the registry's ``api`` engine, :func:`collect_weibo`): search results and account timelines
(``api/container/getIndex``) are fetched page by page through :class:`collectors.run.ScopeCollector` (the
checkpoints, batches, accounts and blocks are its business); each page comes with the comment threads
(``comments/hotflow``) and repost timelines (``api/statuses/repostTimeline``) of its posts (walked
concurrently, at most ``THREADS`` walks in flight), the full text of its long posts (``statuses/extend``) and
the Open API profiles of its large accounts (at most ``PROFILES`` lookups in flight).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from yuqing.collectors.http import Account, Guard, RateBudget, Sleep, fetch_json, make_client, retry_after_seconds
from yuqing.collectors.run import (
    BATCH_ROWS,
    BATCH_SECONDS,
    MAX_PAGES,
    CollectStats,
    ScopeCollector,
    Target,
    concurrently,
    run_scopes,
)
from yuqing.collectors.weibo.parse import (
    comments_to_posts,
    interactions_for,
    is_empty_page,
    needs_long_text,
    to_author,
    to_posts,
    with_long_text,
)
from yuqing.store.errors import AuthExpired, Blocked, CaptchaRequired, CollectorError, CookieExpired, ParseError
from yuqing.store.schema import Author, Interaction, Platform, Post
from yuqing.store.settings import Settings
from yuqing.store.warehouse import Warehouse

__all__ = [
    "BLOCK_STATUSES",
    "LOGIN_HOSTS",
    "PROFILES",
    "THREADS",
    "WeiboCollector",
    "collect",
    "collect_weibo",
    "guard_for",
    "is_login_url",
    "operator_notice",
    "refusal",
    "targets",
]

log = logging.getLogger(__name__)
ENRICH_FOLLOWERS = 10_000
THREADS = 6  # comment/repost walks in flight at once (the pooled client holds 8 connections)
PROFILES = 4  # Open API profile lookups in flight at once

BLOCK_STATUSES = (418, 432)
LOGIN_HOSTS = ("passport.weibo.cn", "passport.weibo.com", "login.sina.com.cn")
CAPTCHA_OK = -100


def is_login_url(url: str) -> bool:
    """A Weibo login page (where an expired cookie is redirected)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return host in LOGIN_HOSTS or "/signin/login" in parts.path or parts.path.startswith("/login")


def refusal(
    status: int, headers: dict[str, str], location: str, payload: Any, *, url: str, account: str, cookie: bool
) -> CollectorError | None:
    """Classify one Weibo answer; ``location`` is where a redirect led (or pointed), ``payload`` its JSON if any.

    Shared by the httpx collectors (:func:`guard_for`) and the scrapy spider.  Messages name the account, never
    its cookie.
    """
    who = f"account {account!r}"
    if status in BLOCK_STATUSES:
        hint = "" if cookie else "; no login cookie is set (YUQING_PLATFORMS__COOKIES)"
        wait = retry_after_seconds(headers.get("retry-after") or headers.get("Retry-After"))
        return Blocked(f"{url}: HTTP {status}: Weibo blocks {who}{hint}", account=account, retry_after=wait)
    if location and is_login_url(location):
        return CookieExpired(f"{url}: redirected to the login page: the login cookie of {who} expired", account=account)
    if status == 403 and cookie:
        return CookieExpired(f"{url}: HTTP 403: Weibo refuses the login cookie of {who} (stale)", account=account)
    if isinstance(payload, dict) and str(payload.get("ok")) == str(CAPTCHA_OK):
        page = str(payload.get("url") or "")
        return CaptchaRequired(f"{url}: Weibo asks {who} to pass a captcha ({page})", account=account, url=page)
    return None


def guard_for(account: Account) -> Guard:
    """The :data:`~collectors.http.Guard` of one account for :func:`~collectors.http.fetch_json`."""

    def guard(response: httpx.Response, payload: Any) -> CollectorError | None:
        location = ""
        asked = response.request
        if response.history:  # followed: where did it end, and what was asked?
            location, asked = str(response.url), response.history[0].request
        elif response.is_redirect:
            location = response.headers.get("Location", "")
        return refusal(
            response.status_code,
            dict(response.headers),
            location,
            payload,
            url=str(asked.url.copy_with(query=None)),
            account=account.name,
            cookie=account.cookie is not None,
        )

    return guard


def operator_notice(exc: CookieExpired | CaptchaRequired, scopes: list[str]) -> str:
    """One line telling the operator what happened to which account and what to do (never the cookie)."""
    account = exc.account or "anonymous"
    stopped = ", ".join(scopes)
    if isinstance(exc, CaptchaRequired):
        return (
            f"weibo account {account!r} hit risk control (captcha{': ' + exc.url if exc.url else ''}); stopped "
            f"{stopped}. Log in as {account!r} in a browser, pass the verification, copy the fresh cookie into "
            "YUQING_PLATFORMS__COOKIES and run `yuqing collect` again; it resumes from the checkpoints."
        )
    return (
        f"weibo login cookie of account {account!r} expired; stopped {stopped}. Log in as {account!r} on "
        "m.weibo.cn, copy the new cookie into YUQING_PLATFORMS__COOKIES and run `yuqing collect` again; "
        "it resumes from the checkpoints."
    )


def _author_of(post: Post) -> Author | None:
    user = (post.raw or {}).get("user")
    if not isinstance(user, dict):
        return None
    try:
        return to_author(user, fetched_at=post.fetched_at)
    except ParseError as exc:  # a malformed profile does not cost the post
        log.warning("author of %s skipped: %s", post.id, exc)
        return None


class WeiboCollector(ScopeCollector):
    """m.weibo.cn's scopes as :class:`ScopeCollector` pages them, with their threads, full texts and profiles."""

    platform = Platform.WEIBO

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = self.settings
        self.budget = RateBudget(settings.platforms.requests_per_hour)  # the Open API token's own budget
        self.mobile = settings.platforms.weibo_mobile_base.rstrip("/")
        self.api = settings.platforms.weibo_api_base.rstrip("/")
        token = settings.platforms.weibo_token
        self.token = token.get_secret_value() if token else ""
        self.enriched: set[str] = set()
        self.threads = asyncio.Semaphore(THREADS)
        self.profiles = asyncio.Semaphore(PROFILES)
        self.refreshing = asyncio.Lock()

    def guard(self, account: Account) -> Guard:
        return guard_for(account)

    def notice(self, exc: CookieExpired | CaptchaRequired, scopes: list[str]) -> str:
        return operator_notice(exc, scopes)

    def interactions(self, posts: list[Post]) -> list[Interaction]:
        return [e for p in posts for e in interactions_for(p)]

    async def page(self, target: Target, page: int) -> tuple[list[Post], bool]:
        payload = await self.get(f"{self.mobile}/api/container/getIndex", {**target.params, "page": page})
        found = to_posts(payload, query=target.query)
        next_page = ((payload.get("data") or {}).get("cardlistInfo") or {}).get("page")
        return found, bool(next_page)

    async def open_api(self, url: str, params: dict[str, Any]) -> Any:
        """GET through the Open API token (refreshed once when it expired)."""
        sent = self.token

        async def refresh() -> dict[str, str]:
            return await self.refresh(sent)

        return await fetch_json(
            self.client,
            url,
            params={**params, "access_token": sent},
            policy=self.policy,
            budget=self.budget,
            stats=self.fetch_stats,
            refresh_token=refresh,
            sleep=self.sleep,
        )

    async def refresh(self, expired: str) -> dict[str, str]:
        """A new access token for one that expired: one refresh however many concurrent lookups hit the expiry."""
        async with self.refreshing:
            if self.token != expired:  # another lookup refreshed it meanwhile
                return {"access_token": self.token}
            return await self._refresh()

    async def _refresh(self) -> dict[str, str]:
        p = self.settings.platforms
        refresh = p.weibo_refresh_token.get_secret_value() if p.weibo_refresh_token else ""
        if not refresh:
            raise AuthExpired(
                "access token expired and no refresh token is set (YUQING_PLATFORMS__WEIBO_REFRESH_TOKEN)"
            )
        root = self.api.rsplit("/2", 1)[0]
        response = await self.client.post(
            f"{root}/oauth2/access_token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": p.weibo_app_key,
                "client_secret": p.weibo_app_secret.get_secret_value() if p.weibo_app_secret else "",
            },
        )
        if response.status_code != 200:
            raise AuthExpired(f"token refresh failed: HTTP {response.status_code}")
        self.token = str(response.json()["access_token"])
        return {"access_token": self.token}

    # ------------------------------------------------------------------ one post's thread
    async def comments(self, post: Post, fetched_at: dt.datetime) -> list[Post]:
        found: list[Post] = []
        async with self.threads:
            max_id = 0
            for _ in range(MAX_PAGES):
                payload = await self.get(
                    f"{self.mobile}/comments/hotflow",
                    {"id": post.id, "mid": post.id, "max_id": max_id, "max_id_type": 0},
                )
                found += comments_to_posts(
                    payload, root_id=post.id, root_author_id=post.author_id, fetched_at=fetched_at
                )
                max_id = int((payload.get("data") or {}).get("max_id") or 0) if not is_empty_page(payload) else 0
                if not max_id:
                    break
        return found

    async def reposts(self, post: Post, fetched_at: dt.datetime) -> list[Post]:
        found: list[Post] = []
        async with self.threads:
            for page in range(1, MAX_PAGES):
                payload = await self.get(f"{self.mobile}/api/statuses/repostTimeline", {"id": post.id, "page": page})
                found += (r.model_copy(update={"fetched_at": fetched_at}) for r in to_posts(payload))
                if is_empty_page(payload) or page >= int((payload.get("data") or {}).get("max") or 0):
                    break
        return await self.complete(found)

    async def complete(self, posts: list[Post]) -> list[Post]:
        """``posts`` with the full text of the long ones (``isLongText``) from ``statuses/extend``.  A failed
        lookup fails the page like any request: a post is never stored cut at "全文"."""

        async def full(post: Post) -> Post:
            async with self.threads:  # a lookup takes a walk's place: the 8 pooled connections stay enough
                return with_long_text(post, await self.get(f"{self.mobile}/statuses/extend", {"id": post.id}))

        long = [i for i, p in enumerate(posts) if needs_long_text(p)]
        if not long:
            return posts
        done = list(posts)
        for i, post in zip(long, await concurrently(full(posts[i]) for i in long), strict=True):
            done[i] = post
        return done

    async def enrich(self, authors: list[Author], fetched_at: dt.datetime) -> list[Author]:
        """Fresh profiles from the Open API for influential accounts (needs a token), looked up concurrently."""
        if not self.token:
            return []
        todo: list[str] = []
        for a in authors:
            if a.followers_count >= ENRICH_FOLLOWERS and a.id not in self.enriched:
                self.enriched.add(a.id)
                todo.append(a.id)

        async def one(uid: str) -> Author | None:
            async with self.profiles:
                try:
                    payload = await self.open_api(f"{self.api}/users/show.json", {"uid": uid})
                    return to_author(payload, fetched_at=fetched_at)
                except CollectorError as exc:
                    log.warning("users/show %s failed: %s", uid, exc)
                    return None

        return [a for a in await concurrently(one(uid) for uid in todo) if a is not None]

    async def rows_of(self, posts: list[Post], fetched_at: dt.datetime) -> tuple[list[Post], list[Author]]:
        """A page's posts with their comment threads and repost timelines, and the authors of all of them."""
        posts = await self.complete(posts)
        walks: list[Awaitable[list[Post]]] = []
        for p in posts:
            if self.settings.collect.comments and p.comments_count > 0:
                walks.append(self.comments(p, fetched_at))
            if self.settings.collect.reposts and p.reposts_count > 0:
                walks.append(self.reposts(p, fetched_at))
        rows = list(posts)
        for more in await concurrently(walks):
            rows += more
        authors = [a for a in map(_author_of, rows) if a is not None]
        authors += await self.enrich(authors, fetched_at)
        return rows, authors


def targets(settings: Settings) -> list[Target]:
    """The scopes the settings ask for: a search per ``collect.queries``, a timeline per ``collect.accounts``."""
    # m.weibo.cn reads the search query from inside the container id, as its own search page sends it
    found = [
        Target(f"search:{q}", {"containerid": f"100103type=1&q={q}", "page_type": "searchall"}, q)
        for q in settings.collect.queries
    ]
    return found + [Target(f"timeline:{uid}", {"containerid": f"107603{uid}"}) for uid in settings.collect.accounts]


async def collect(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    progress: Callable[[str, int], None] | None = None,
    sleep: Sleep = asyncio.sleep,
    batch_rows: int = BATCH_ROWS,
    batch_seconds: float = BATCH_SECONDS,
) -> CollectStats:
    """Collect every configured query and account once, resuming from checkpoints.

    ``batch_rows``/``batch_seconds`` bound how much complete work a scope buffers before it commits
    (and so how much a crash makes the next run fetch again).
    """
    started = time.perf_counter()
    async with make_client(settings, transport) as client:
        with Warehouse.open(settings.warehouse.location) as wh:
            c = WeiboCollector(settings, client, wh, sleep, batch_rows=batch_rows, batch_seconds=batch_seconds)
            stats = await run_scopes(c, targets(settings), since, until, progress)
    stats.seconds = round(time.perf_counter() - started, 2)
    return stats


def collect_weibo(
    settings: Settings,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    progress: Callable[[str, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> CollectStats:
    """The registry's ``api`` engine for Weibo (:mod:`collectors.platforms`): :func:`collect`, run to the end."""
    return asyncio.run(collect(settings, since=since, until=until, progress=progress))
