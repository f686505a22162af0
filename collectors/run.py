"""Incremental, checkpointed collection: the platform-neutral half of an httpx engine.

A platform's engine (``collectors/<platform>/client.py``, e.g. :mod:`collectors.weibo.client`) subclasses
:class:`ScopeCollector` with how one page of a scope is fetched (:meth:`ScopeCollector.page`) and what rows a
page brings (:meth:`ScopeCollector.rows_of`: threads, full texts, profiles); this module does the rest:

Scopes (a search query, an account's timeline) are paged from their checkpoint.  The rows of up to
``PAGES_AHEAD`` pages of a scope are fetched at once (the next page does not wait for the threads of the
last).  Complete pages are buffered per scope, strictly in page order, and written together with their
authors, interactions **and** the checkpoint of the last buffered page in one warehouse transaction, once
``batch_rows`` rows are buffered, ``batch_seconds`` have passed since the scope's last commit, the scope ends,
or a request fails for good.  A crash never skips or double-counts: the checkpoint only moves with the rows it
covers, a restart resumes after the last committed page (re-fetching what was buffered but not committed),
and upserts are idempotent.  When a scope finishes, its checkpoint records the newest post seen; the next run
stops paging once it reaches posts older than that (minus an overlap), so collection is incremental.

The checkpoint format (:func:`page_cursor`, :func:`read_cursor`, :func:`blocked_cursor`) is shared with the
scrapy spider (:mod:`spiders.spiders.weibo`): either engine resumes where the other stopped.

The warehouse has one writer: its calls run one at a time on a worker thread, so downloads continue while a
batch is written.

Scopes are shared out among the accounts of ``platforms.cookies`` (round robin over the sorted account
names; one anonymous client when none is set); every request of a scope — its pages and threads — goes
out with that account's cookie and spends that account's rate budget.  When the platform refuses an account
(its :data:`~collectors.http.Guard`), every scope of that account stops at its next request, keeping the
pages committed so far and their checkpoint:

* :class:`Blocked` (418/432 on Weibo) — the scope's checkpoint also records ``blocked_until`` (now +
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
    Guard,
    RetryPolicy,
    Sleep,
    accounts_for,
    fetch_json,
)
from yuqing.store.errors import AuthExpired, Blocked, CaptchaRequired, CollectorError, CookieExpired
from yuqing.store.schema import Author, Interaction, Platform, Post, PostKind
from yuqing.store.settings import Settings
from yuqing.store.warehouse import Checkpoint, Warehouse

__all__ = [
    "BATCH_ROWS",
    "BATCH_SECONDS",
    "MAX_PAGES",
    "OVERLAP",
    "PAGES_AHEAD",
    "CollectStats",
    "ScopeCollector",
    "ScopeSummary",
    "Target",
    "blocked_cursor",
    "concurrently",
    "first_page",
    "page_cursor",
    "read_cursor",
    "run_scopes",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_PAGES = 2000
OVERLAP = dt.timedelta(hours=1)
BATCH_ROWS = 500  # a scope commits once this many rows are buffered ...
BATCH_SECONDS = 10.0  # ... or this long after its last commit (bounds the work a crash costs)
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


@dataclass(frozen=True)
class Target:
    """One scope to page: its checkpoint name (``search:<q>``, ``timeline:<uid>``), the request parameters
    of its pages and the search query its posts match (empty for a timeline)."""

    scope: str
    params: dict[str, Any]
    query: str = ""


@dataclass
class _Batch:
    """Complete pages of one scope not yet committed, and the cursor after the last of them."""

    posts: list[Post] = field(default_factory=list)
    authors: list[Author] = field(default_factory=list)
    pages: int = 0
    cursor: dict[str, Any] | None = None


# ---------------------------------------------------------------------- the checkpoint format (both engines)


def page_cursor(page: int, newest: str | None, done_newest: str | None, *, finished: bool) -> dict[str, Any]:
    """The checkpoint after ``page`` of a scope: where the next run resumes, or — once the scope reached its
    end — only the newest post time it saw (the next run stops paging a little before it)."""
    if finished:
        return {"done_newest": newest or done_newest}
    return {"page": page, "newest": newest, "done_newest": done_newest}


def read_cursor(checkpoint: Checkpoint | None) -> tuple[dict[str, Any], str | None]:
    """A stored checkpoint as (cursor to resume from, ``blocked_until`` if the scope is blocked now)."""
    state: dict[str, Any] = json.loads(checkpoint.cursor) if checkpoint else {}
    blocked_until = state.pop("blocked_until", None)
    if blocked_until and dt.datetime.fromisoformat(blocked_until) > dt.datetime.now(dt.UTC):
        return state, str(blocked_until)
    return state, None


def blocked_cursor(kept: dict[str, Any], exc: Blocked, block_hours: float) -> tuple[str, str]:
    """The checkpoint of a scope blocked now: the cursor of its last committed rows and ``blocked_until``
    (the platform's ``Retry-After``, else ``block_hours``).  Returns (cursor JSON, resume time)."""
    wait = exc.retry_after if exc.retry_after is not None else block_hours * 3600
    # to the microsecond: a resume time cut to the second would end the block up to 1 s early
    resume = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)).isoformat()
    return json.dumps({**kept, "blocked_until": resume}), resume


def first_page(state: dict[str, Any], since: dt.datetime | None) -> tuple[int, dt.datetime | None]:
    """Where paging starts from a checkpoint's cursor, and the time before which a page's posts are not wanted
    (``since``, or on a fresh pass over a finished scope its newest post minus :data:`OVERLAP`)."""
    page = int(state.get("page", 0)) + 1
    done_newest = state.get("done_newest")
    stop_before = since
    if done_newest and page == 1:
        previous = dt.datetime.fromisoformat(done_newest) - OVERLAP
        stop_before = max(stop_before, previous) if stop_before else previous
    return page, stop_before


# ---------------------------------------------------------------------- helpers


async def concurrently(aws: Iterable[Awaitable[T]]) -> list[T]:
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


class ScopeCollector:
    """Pages scopes from their checkpoints as the accounts of ``platforms.cookies``; a platform's engine says
    how a page is fetched (:meth:`page`) and what rows it brings (:meth:`rows_of`)."""

    platform: Platform

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
        self.accounts = accounts_for(settings, self.platform)
        self.summaries: dict[str, ScopeSummary] = {}
        self.fetch_stats = FetchStats()
        self.stats = CollectStats()
        self.writer = asyncio.Lock()

    # ------------------------------------------------------------------ what a platform says
    def guard(self, account: Account) -> Guard | None:
        """How the platform refuses ``account`` (``None``: it has no refusals of its own)."""
        return None

    def notice(self, exc: CookieExpired | CaptchaRequired, scopes: list[str]) -> str:
        """One line telling the operator what happened to which account and what to do (never the cookie)."""
        return f"{self.platform.value} account {exc.account or 'anonymous'!r} stopped {', '.join(scopes)}: {exc}"

    async def page(self, target: Target, page: int) -> tuple[list[Post], bool]:
        """Page ``page`` of a scope: the posts it lists and whether a next page exists."""
        raise NotImplementedError

    async def rows_of(self, posts: list[Post], fetched_at: dt.datetime) -> tuple[list[Post], list[Author]]:
        """A page's rows (its posts and what hangs off them) and their authors."""
        return posts, []

    def interactions(self, posts: list[Post]) -> list[Interaction]:
        return []

    # ------------------------------------------------------------------ the shared machinery
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

    async def get(self, url: str, params: dict[str, Any]) -> Any:
        """GET as the account of the current scope; a refusal stops every scope of that account."""
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
                guard=self.guard(account),
                sleep=self.sleep,
            )
        except (Blocked, CookieExpired, CaptchaRequired) as exc:
            if account.stopped is None:
                account.stopped = exc
                log.error("%s account %r stopped: %s", self.platform.value, account.name, exc)
            raise

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
            interactions=self.interactions(batch.posts),
            checkpoint=Checkpoint(self.platform, scope, json.dumps(batch.cursor), since, until),
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
        target: Target,
        since: dt.datetime | None,
        until: dt.datetime | None,
        progress: Callable[[str, int], None] | None,
        account: Account,
    ) -> None:
        """One scope as ``account``: left alone while a block recorded in its checkpoint lasts, else paged
        from its checkpoint.  A block met now is recorded in the checkpoint, after the rows committed before
        it, together with their cursor."""
        scope = target.scope
        _ACCOUNT.set(account)  # the tasks this scope starts inherit it
        summary = self.summaries[scope] = ScopeSummary(scope, account.name)
        state, blocked_until = read_cursor(await self.db(self.wh.get_checkpoint, self.platform, scope))
        if blocked_until:
            summary.status, summary.until, summary.resumable = "blocked", blocked_until, True
            summary.detail = f"blocked until {blocked_until}; resumes from its checkpoint after that"
            return
        kept = [state]  # the cursor of the last batch committed (or the checkpoint it started from)
        try:
            await self.walk(target, state, kept, since, until, progress)
        except Blocked as exc:
            cursor, resume = blocked_cursor(kept[-1], exc, self.settings.platforms.block_hours)
            await self.db(self.wh.ingest, checkpoint=Checkpoint(self.platform, scope, cursor, since, until))
            summary.status, summary.until, summary.resumable = "blocked", resume, True
            summary.detail = str(exc)
            raise

    async def walk(
        self,
        target: Target,
        state: dict[str, Any],
        kept: list[dict[str, Any]],
        since: dt.datetime | None,
        until: dt.datetime | None,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        """Page through one scope from ``state``.  Pages are fetched in order; the rows of up to
        ``PAGES_AHEAD`` pages are fetched at once; pages are committed strictly in order, so a checkpoint never
        passes a page whose rows are not in the same or an earlier transaction.  ``kept`` receives the cursor
        of each batch committed."""
        scope = target.scope
        page, stop_before = first_page(state, since)
        newest = state.get("newest")
        done_newest = state.get("done_newest")
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
                    found, has_next = await self.page(target, page)
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
                older = bool(found) and stop_before is not None and all(p.created_at < stop_before for p in found)
                finished = not has_next or not found or older
                cursor = page_cursor(page, newest, done_newest, finished=finished)
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


async def run_scopes(
    c: ScopeCollector,
    targets: list[Target],
    since: dt.datetime | None,
    until: dt.datetime | None,
    progress: Callable[[str, int], None] | None,
) -> CollectStats:
    """Every target once, concurrently over the pooled client, shared out among the accounts (round robin);
    one broken scope does not stop the others.  Returns the stats with a summary per scope and the notices
    for accounts that need a person."""

    async def one(target: Target, account: Account) -> None:
        scope = target.scope
        try:
            await c.scope(target, since, until, progress, account)
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

    # the warehouse's one writer commits each batch whole, one transaction at a time
    await concurrently(one(target, c.accounts[i % len(c.accounts)]) for i, target in enumerate(targets))
    stats = c.stats
    stats.scopes = [c.summaries[t.scope] for t in targets if t.scope in c.summaries]
    for account in c.accounts:
        if isinstance(account.stopped, CookieExpired | CaptchaRequired):
            stopped = [s.scope for s in stats.scopes if s.account == account.name and s.status != "done"]
            stats.notices.append(c.notice(account.stopped, stopped))
    stats.requests = c.fetch_stats.requests
    stats.retries = c.fetch_stats.retries
    stats.refreshes = c.fetch_stats.refreshes
    stats.retry_after_waits = c.fetch_stats.retry_after_waits
    return stats
