"""Incremental collection from the Weibo mobile API (search, timelines, comments, reposts) and Open API users.

Search results are fetched page by page; each page comes with the comment
threads and repost timelines of its posts (walked concurrently, at most
``THREADS`` walks in flight) and the Open API profiles of its large accounts
(at most ``PROFILES`` lookups in flight).  The next search page does not wait
for the threads of the last: up to ``PAGES_AHEAD`` pages of a scope are in
flight.  Complete pages are buffered per scope, strictly in page order, and
written together with their authors, interactions **and** the checkpoint of
the last buffered page in one warehouse transaction, once ``batch_rows`` rows are
buffered, ``batch_seconds`` have passed since the scope's last commit, the scope
ends, or a request fails for good.  A crash never skips or double-counts: the
checkpoint only moves with the rows it covers, a restart resumes after the last
committed page (re-fetching what was buffered but not committed), and upserts
are idempotent.  When a scope finishes, its checkpoint records the newest post
seen; the next run stops paging once it reaches posts older than that (minus an
overlap), so collection is incremental.

The warehouse has one writer: its calls run one at a time on a worker thread, so
downloads continue while a batch is written.

Scopes are shared out among the accounts of ``platforms.cookies`` (round robin over the sorted account
names; one anonymous client when none is set); every request of a scope — its pages and threads — goes
out with that account's cookie and spends that account's rate budget.  When Weibo refuses an account
(see :mod:`collectors.weibo.client`), every scope of that account stops at its next request, keeping the
pages committed so far and their checkpoint:

* :class:`Blocked` (418/432) — the scope's checkpoint also records ``blocked_until`` (now +
  ``platforms.block_hours``, or the platform's ``Retry-After``); runs before then leave the scope alone,
  the first run after resumes from the checkpoint.
* :class:`CookieExpired` / :class:`CaptchaRequired` — the operator gets a notice (``CollectStats.notices``)
  saying which account and what to do; the next run after the fix resumes from the checkpoint.

Nothing is counted that was not committed: ``CollectStats`` and the per-scope summary count rows and pages
when their transaction is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import httpx

from yuqing.collectors.http import (
    Account,
    FetchStats,
    RateBudget,
    RetryPolicy,
    Sleep,
    accounts_for,
    fetch_json,
    make_client,
)
from yuqing.collectors.weibo.client import guard_for
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
from yuqing.store.schema import Author, Platform, Post, PostKind
from yuqing.store.settings import Settings
from yuqing.store.warehouse import Checkpoint, Warehouse

__all__ = [
    "BATCH_ROWS",
    "BATCH_SECONDS",
    "PAGES_AHEAD",
    "PROFILES",
    "THREADS",
    "CollectStats",
    "ScopeSummary",
    "collect",
    "collect_weibo",
    "operator_notice",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_PAGES = 2000
OVERLAP = dt.timedelta(hours=1)
ENRICH_FOLLOWERS = 10_000
BATCH_ROWS = 500  # a scope commits once this many rows are buffered ...
BATCH_SECONDS = 10.0  # ... or this long after its last commit (bounds the work a crash costs)
THREADS = 6  # comment/repost walks in flight at once (the pooled client holds 8 connections)
PROFILES = 4  # Open API profile lookups in flight at once
PAGES_AHEAD = 16  # pages of one scope whose threads are walked at once (later pages need not wait for a slow one)


@dataclass
class ScopeSummary:
    """What one scope got in this run.  ``status``: ``done`` (to the end), ``stopped`` (a request failed for
    good), ``blocked`` (the platform blocks its account; ``until`` says till when), ``cookie_expired`` or
    ``captcha`` (its account needs a person).  ``resumable``: the next run continues from the checkpoint."""

    scope: str
    account: str
    rows: int = 0
    pages: int = 0
    status: str = "done"
    resumable: bool = False
    until: str = ""
    detail: str = ""


@dataclass
class CollectStats:
    pages: int = 0
    posts: int = 0
    comments: int = 0
    reposts: int = 0
    authors: int = 0
    requests: int = 0
    retries: int = 0
    refreshes: int = 0
    commits: int = 0
    retry_after_waits: list[float] = field(default_factory=list)
    skipped_scopes: list[str] = field(default_factory=list)
    scopes: list[ScopeSummary] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # what the operator must do (dead cookies, captchas)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Batch:
    """Complete pages of one scope not yet committed, and the cursor after the last of them."""

    posts: list[Post] = field(default_factory=list)
    authors: list[Author] = field(default_factory=list)
    pages: int = 0
    cursor: dict[str, Any] | None = None


async def _all(aws: Iterable[Awaitable[T]]) -> list[T]:
    """Await concurrently; the first failure cancels the rest and is raised as itself (not a group)."""
    tasks: list[asyncio.Task[T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(a)) for a in aws]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]


async def _awaited(aw: Awaitable[T]) -> T:
    return await aw


# the account a scope's requests go out with: set by ``scope``, inherited by the tasks it starts
_ACCOUNT: contextvars.ContextVar[Account | None] = contextvars.ContextVar("account", default=None)


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


class _Collector:
    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        wh: Warehouse,
        sleep: Sleep,
        *,
        batch_rows: int = BATCH_ROWS,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        self.settings = settings
        self.client = client
        self.wh = wh
        self.sleep = sleep
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.policy = RetryPolicy.from_settings(settings)
        self.budget = RateBudget(settings.platforms.requests_per_hour)  # the Open API token's own budget
        self.accounts = accounts_for(settings, Platform.WEIBO)
        self.summaries: dict[str, ScopeSummary] = {}
        self.fetch_stats = FetchStats()
        self.stats = CollectStats()
        self.mobile = settings.platforms.weibo_mobile_base.rstrip("/")
        self.api = settings.platforms.weibo_api_base.rstrip("/")
        token = settings.platforms.weibo_token
        self.token = token.get_secret_value() if token else ""
        self.enriched: set[str] = set()
        self.threads = asyncio.Semaphore(THREADS)
        self.profiles = asyncio.Semaphore(PROFILES)
        self.writer = asyncio.Lock()
        self.refreshing = asyncio.Lock()

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a warehouse call on a worker thread, one at a time: the event loop keeps downloading meanwhile."""
        async with self.writer:
            write = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
            try:
                return await asyncio.shield(write)
            finally:
                if not write.done():
                    # cancelled meanwhile: the thread still holds the connection, which must outlive it
                    await asyncio.wait({write})

    async def get(self, url: str, params: dict[str, Any], *, auth: bool = False) -> Any:
        """GET through the Open API token (``auth``) or as the account of the current scope."""
        if auth:
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
        account = _ACCOUNT.get() or self.accounts[0]
        if account.stopped is not None:  # another scope of this account was refused: do not ask again
            raise account.stopped
        try:
            return await fetch_json(
                self.client,
                url,
                params=params,
                policy=self.policy,
                budget=account.budget,
                stats=self.fetch_stats,
                headers=account.headers,
                guard=guard_for(account),
                sleep=self.sleep,
            )
        except (Blocked, CookieExpired, CaptchaRequired) as exc:
            if account.stopped is None:
                account.stopped = exc
                log.error("weibo account %r stopped: %s", account.name, exc)
            raise

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
        for i, post in zip(long, await _all(full(posts[i]) for i in long), strict=True):
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
                    payload = await self.get(f"{self.api}/users/show.json", {"uid": uid}, auth=True)
                    return to_author(payload, fetched_at=fetched_at)
                except CollectorError as exc:
                    log.warning("users/show %s failed: %s", uid, exc)
                    return None

        return [a for a in await _all(one(uid) for uid in todo) if a is not None]

    # ------------------------------------------------------------------ a scope (search query or timeline)
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
        for more in await _all(walks):
            rows += more
        authors = [a for a in map(_author_of, rows) if a is not None]
        authors += await self.enrich(authors, fetched_at)
        return rows, authors

    async def commit(
        self,
        scope: str,
        batch: _Batch,
        since: dt.datetime | None,
        until: dt.datetime | None,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        """The batch's rows and the checkpoint after its last page, in one transaction."""
        assert batch.cursor is not None
        await self.db(
            self.wh.ingest,
            posts=batch.posts,
            authors=batch.authors,
            interactions=[e for p in batch.posts for e in interactions_for(p)],
            checkpoint=Checkpoint(Platform.WEIBO, scope, json.dumps(batch.cursor), since, until),
        )
        self.stats.commits += 1
        self.stats.pages += batch.pages
        self.stats.posts += sum(p.kind == PostKind.POST for p in batch.posts)
        self.stats.comments += sum(p.kind == PostKind.COMMENT for p in batch.posts)
        self.stats.reposts += sum(p.kind == PostKind.REPOST for p in batch.posts)
        self.stats.authors += len(batch.authors)
        summary = self.summaries[scope]
        summary.rows += len(batch.posts)
        summary.pages += batch.pages
        if progress is not None:
            progress(scope, len(batch.posts))

    async def scope(
        self,
        scope: str,
        params: dict[str, Any],
        query: str,
        since: dt.datetime | None,
        until: dt.datetime | None,
        progress: Callable[[str, int], None] | None,
        account: Account,
    ) -> None:
        """One scope as ``account``: left alone while a block recorded in its checkpoint lasts, else paged
        from its checkpoint.  A block met now is recorded in the checkpoint, after the rows committed before
        it, together with their cursor."""
        _ACCOUNT.set(account)  # the tasks this scope starts inherit it
        summary = self.summaries[scope] = ScopeSummary(scope, account.name)
        cp = await self.db(self.wh.get_checkpoint, Platform.WEIBO, scope)
        state = json.loads(cp.cursor) if cp else {}
        blocked_until = state.pop("blocked_until", None)
        if blocked_until and dt.datetime.fromisoformat(blocked_until) > dt.datetime.now(dt.UTC):
            summary.status, summary.until, summary.resumable = "blocked", blocked_until, True
            summary.detail = f"blocked until {blocked_until}; resumes from its checkpoint after that"
            return
        kept = [state]  # the cursor of the last batch committed (or the checkpoint it started from)
        try:
            await self.walk(scope, state, kept, params, query, since, until, progress)
        except Blocked as exc:
            wait = exc.retry_after if exc.retry_after is not None else self.settings.platforms.block_hours * 3600
            # to the microsecond: a resume time cut to the second would end the block up to 1 s early
            resume = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)).isoformat()
            cursor = json.dumps({**kept[-1], "blocked_until": resume})
            await self.db(self.wh.ingest, checkpoint=Checkpoint(Platform.WEIBO, scope, cursor, since, until))
            summary.status, summary.until, summary.resumable = "blocked", resume, True
            summary.detail = str(exc)
            raise

    async def walk(
        self,
        scope: str,
        state: dict[str, Any],
        kept: list[dict[str, Any]],
        params: dict[str, Any],
        query: str,
        since: dt.datetime | None,
        until: dt.datetime | None,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        """Page through one scope from ``state``.  Search pages are fetched in order; the threads of up to
        ``PAGES_AHEAD`` pages are walked at once; pages are committed strictly in order, so a checkpoint never
        passes a page whose rows are not in the same or an earlier transaction.  ``kept`` receives the cursor
        of each batch committed."""
        page = int(state.get("page", 0)) + 1
        newest = state.get("newest")
        done_newest = state.get("done_newest")
        stop_before = since
        if done_newest and page == 1:
            previous = dt.datetime.fromisoformat(done_newest) - OVERLAP
            stop_before = max(stop_before, previous) if stop_before else previous
        # (page rows being fetched, checkpoint cursor after that page, whether it is the scope's last page)
        inflight: deque[tuple[asyncio.Task[tuple[list[Post], list[Author]]], dict[str, Any], bool]] = deque()
        batch = _Batch()
        last_commit = time.monotonic()
        committing: asyncio.Task[None] | None = None  # the scope's latest commit; each waits for the one before

        def flush() -> None:
            """Commit the batch in the background (paging goes on), after the scope's previous commit."""
            nonlocal batch, last_commit, committing
            done, previous = batch, committing

            async def write() -> None:
                if previous is not None:
                    await previous  # a failed earlier commit fails this one: a checkpoint never skips rows
                await self.commit(scope, done, since, until, progress)
                assert done.cursor is not None
                kept.append(done.cursor)

            committing = asyncio.create_task(write())
            batch = _Batch()
            last_commit = time.monotonic()

        async def settle() -> None:
            """The oldest page in flight joins the batch; the batch is committed when it is due."""
            task, cursor, last = inflight.popleft()
            rows, authors = await task
            batch.posts += rows
            batch.authors += authors
            batch.pages += 1
            batch.cursor = cursor
            if last or len(batch.posts) >= self.batch_rows or time.monotonic() - last_commit >= self.batch_seconds:
                flush()

        try:
            for _ in range(MAX_PAGES):
                fetched_at = dt.datetime.now(dt.UTC)
                try:
                    payload = await self.get(f"{self.mobile}/api/container/getIndex", {**params, "page": page})
                    found = to_posts(payload, query=query)
                except CollectorError:
                    # the pages already in flight are complete work: keep them, up to the first that fails
                    with contextlib.suppress(CollectorError):
                        while inflight:
                            await settle()
                    raise
                posts = [
                    p.model_copy(update={"fetched_at": fetched_at})
                    for p in found
                    if (until is None or p.created_at < until) and (stop_before is None or p.created_at >= stop_before)
                ]
                page_newest = max((p.created_at for p in found), default=None)
                if page_newest and (newest is None or page_newest.isoformat() > newest):
                    newest = page_newest.isoformat()
                next_page = ((payload.get("data") or {}).get("cardlistInfo") or {}).get("page")
                older = bool(found) and stop_before is not None and all(p.created_at < stop_before for p in found)
                finished = not next_page or not found or older
                cursor = (
                    {"done_newest": newest or done_newest}
                    if finished
                    else {"page": page, "newest": newest, "done_newest": done_newest}
                )
                inflight.append((asyncio.create_task(self.rows_of(posts, fetched_at)), cursor, finished))
                while inflight and (finished or len(inflight) >= PAGES_AHEAD or inflight[0][0].done()):
                    await settle()
                if finished:
                    break
                page += 1
        except CollectorError:
            # the batch holds only pages before the failure, in order: keep them and their checkpoint
            if batch.pages:
                flush()
            raise
        finally:
            for task, _, _ in inflight:
                task.cancel()
            await asyncio.gather(*(task for task, _, _ in inflight), return_exceptions=True)
            if committing is not None:
                await committing  # a scope is done when its rows are written (a failed write is raised)


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
        with Warehouse.open(settings.warehouse.path) as wh:
            c = _Collector(settings, client, wh, sleep, batch_rows=batch_rows, batch_seconds=batch_seconds)
            # m.weibo.cn reads the search query from inside the container id, as its own search page sends it
            scopes = [
                (f"search:{q}", {"containerid": f"100103type=1&q={q}", "page_type": "searchall"}, q)
                for q in settings.collect.queries
            ]
            scopes += [(f"timeline:{uid}", {"containerid": f"107603{uid}"}, "") for uid in settings.collect.accounts]

            async def one(scope: str, params: dict[str, Any], query: str, account: Account) -> None:
                try:
                    await c.scope(scope, params, query, since, until, progress, account)
                except (CookieExpired, CaptchaRequired) as exc:
                    summary = c.summaries[scope]
                    summary.status = "captcha" if isinstance(exc, CaptchaRequired) else "cookie_expired"
                    summary.resumable, summary.detail = True, str(exc)
                    c.stats.skipped_scopes.append(f"{scope}: {exc}")
                except AuthExpired:
                    raise
                except CollectorError as exc:
                    # one broken scope does not stop the others; its checkpoint keeps the progress made
                    log.error("collection of %s stopped: %s", scope, exc)
                    summary = c.summaries[scope]
                    if summary.status == "done":
                        summary.status, summary.resumable, summary.detail = "stopped", True, str(exc)
                    c.stats.skipped_scopes.append(f"{scope}: {exc}")

            # scopes run concurrently over the pooled client, shared out among the accounts; the warehouse's
            # one writer commits each batch whole, one transaction at a time
            await _all(
                one(scope, params, query, c.accounts[i % len(c.accounts)])
                for i, (scope, params, query) in enumerate(scopes)
            )
    stats = c.stats
    stats.scopes = [c.summaries[scope] for scope, *_ in scopes if scope in c.summaries]
    for account in c.accounts:
        if isinstance(account.stopped, CookieExpired | CaptchaRequired):
            stopped = [s.scope for s in stats.scopes if s.account == account.name and s.status != "done"]
            stats.notices.append(operator_notice(account.stopped, stopped))
    stats.requests = c.fetch_stats.requests
    stats.retries = c.fetch_stats.retries
    stats.refreshes = c.fetch_stats.refreshes
    stats.retry_after_waits = c.fetch_stats.retry_after_waits
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
