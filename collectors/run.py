"""Incremental collection from the Weibo mobile API (search, timelines, comments, reposts) and Open API users.

Each page of search results is written together with its comments, reposts,
authors, interactions **and** the checkpoint of that page in one warehouse
transaction.  A crash never skips or double-counts: a restart resumes after the
last committed page, and upserts are idempotent.  When a scope finishes, its
checkpoint records the newest post seen; the next run stops paging once it
reaches posts older than that (minus an overlap), so collection is incremental.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from collectors.http import FetchStats, RateBudget, RetryPolicy, Sleep, fetch_json, make_client
from collectors.weibo.parse import comment_to_post, interactions_for, to_author, to_posts
from store.errors import AuthExpired, CollectorError
from store.schema import Author, Interaction, Platform, Post
from store.settings import Settings
from store.warehouse import Checkpoint, Warehouse

__all__ = ["CollectStats", "collect"]

log = logging.getLogger(__name__)
MAX_PAGES = 2000
OVERLAP = dt.timedelta(hours=1)
ENRICH_FOLLOWERS = 10_000


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
    retry_after_waits: list[float] = field(default_factory=list)
    skipped_scopes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Collector:
    def __init__(self, settings: Settings, client: httpx.AsyncClient, wh: Warehouse, sleep: Sleep) -> None:
        self.settings = settings
        self.client = client
        self.wh = wh
        self.sleep = sleep
        self.policy = RetryPolicy.from_settings(settings)
        self.budget = RateBudget(settings.platforms.requests_per_hour)
        self.fetch_stats = FetchStats()
        self.stats = CollectStats()
        self.mobile = settings.platforms.weibo_mobile_base.rstrip("/")
        self.api = settings.platforms.weibo_api_base.rstrip("/")
        token = settings.platforms.weibo_token
        self.token = token.get_secret_value() if token else ""
        self.enriched: set[str] = set()

    async def get(self, url: str, params: dict[str, Any], *, auth: bool = False) -> Any:
        if auth:
            params = {**params, "access_token": self.token}
        return await fetch_json(
            self.client,
            url,
            params=params,
            policy=self.policy,
            budget=self.budget,
            stats=self.fetch_stats,
            refresh_token=self.refresh if auth else None,
            sleep=self.sleep,
        )

    async def refresh(self) -> dict[str, str]:
        """OAuth2 refresh-token grant against the Open API host."""
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
    async def thread(self, post: Post, fetched_at: dt.datetime) -> tuple[list[Post], list[Author]]:
        posts: list[Post] = []
        authors: list[Author] = []
        if self.settings.collect.comments and post.comments_count > 0:
            max_id = 0
            for _ in range(MAX_PAGES):
                payload = await self.get(
                    f"{self.mobile}/comments/hotflow",
                    {"id": post.id, "mid": post.id, "max_id": max_id, "max_id_type": 0},
                )
                data = payload.get("data") or {}
                for c in data.get("data") or []:
                    posts.append(
                        comment_to_post(c, root_id=post.id, root_author_id=post.author_id, fetched_at=fetched_at)
                    )
                    if isinstance(c.get("user"), dict):
                        authors.append(to_author(c["user"], fetched_at=fetched_at))
                max_id = int(data.get("max_id") or 0)
                if not max_id:
                    break
        if self.settings.collect.reposts and post.reposts_count > 0:
            for page in range(1, MAX_PAGES):
                payload = await self.get(f"{self.mobile}/api/statuses/repostTimeline", {"id": post.id, "page": page})
                found = to_posts(payload)
                for r, raw in zip(found, (payload.get("data") or {}).get("data") or [], strict=False):
                    posts.append(r.model_copy(update={"fetched_at": fetched_at}))
                    if isinstance(raw.get("user"), dict):
                        authors.append(to_author(raw["user"], fetched_at=fetched_at))
                if page >= int((payload.get("data") or {}).get("max") or 0):
                    break
        return posts, authors

    async def enrich(self, authors: list[Author], fetched_at: dt.datetime) -> list[Author]:
        """Fresh profiles from the Open API for influential accounts (needs a token)."""
        if not self.token:
            return []
        out = []
        for a in authors:
            if a.followers_count < ENRICH_FOLLOWERS or a.id in self.enriched:
                continue
            self.enriched.add(a.id)
            try:
                payload = await self.get(f"{self.api}/users/show.json", {"uid": a.id}, auth=True)
            except CollectorError as exc:
                log.warning("users/show %s failed: %s", a.id, exc)
                continue
            out.append(to_author(payload, fetched_at=fetched_at))
        return out

    # ------------------------------------------------------------------ a scope (search query or timeline)
    async def scope(
        self,
        scope: str,
        params: dict[str, Any],
        since: dt.datetime | None,
        until: dt.datetime | None,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        cp = self.wh.get_checkpoint(Platform.WEIBO, scope)
        state = json.loads(cp.cursor) if cp else {}
        page = int(state.get("page", 0)) + 1
        newest = state.get("newest")
        done_newest = state.get("done_newest")
        stop_before = since
        if done_newest and page == 1:
            previous = dt.datetime.fromisoformat(done_newest) - OVERLAP
            stop_before = max(stop_before, previous) if stop_before else previous
        for _ in range(MAX_PAGES):
            fetched_at = dt.datetime.now(dt.UTC)
            payload = await self.get(f"{self.mobile}/api/container/getIndex", {**params, "page": page})
            found = to_posts(payload, query=params.get("q", ""))
            cards = [c["mblog"] for c in (payload.get("data") or {}).get("cards") or [] if c.get("card_type") == 9]
            keep = [
                p
                for p in found
                if (until is None or p.created_at < until) and (stop_before is None or p.created_at >= stop_before)
            ]
            posts: list[Post] = []
            authors: list[Author] = []
            for p, raw in zip(found, cards, strict=False):
                if p not in keep:
                    continue
                posts.append(p.model_copy(update={"fetched_at": fetched_at}))
                if isinstance(raw.get("user"), dict):
                    authors.append(to_author(raw["user"], fetched_at=fetched_at))
            threads = await asyncio.gather(*(self.thread(p, fetched_at) for p in list(posts)))
            for more_posts, more_authors in threads:
                posts += more_posts
                authors += more_authors
            authors += await self.enrich(authors, fetched_at)
            edges: list[Interaction] = [e for p in posts for e in interactions_for(p)]
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
            self.wh.ingest(
                posts=posts,
                authors=authors,
                interactions=edges,
                checkpoint=Checkpoint(Platform.WEIBO, scope, json.dumps(cursor), since, until),
            )
            self.stats.pages += 1
            self.stats.posts += sum(p.kind == "post" for p in posts)
            self.stats.comments += sum(p.kind == "comment" for p in posts)
            self.stats.reposts += sum(p.kind == "repost" for p in posts)
            self.stats.authors += len(authors)
            if progress is not None:
                progress(scope, len(posts))
            if finished:
                return
            page += 1


async def collect(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    progress: Callable[[str, int], None] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> CollectStats:
    """Collect every configured query and account once, resuming from checkpoints."""
    import time

    started = time.perf_counter()
    async with make_client(settings, transport) as client:
        with Warehouse.open(settings.warehouse.path) as wh:
            c = _Collector(settings, client, wh, sleep)
            scopes = [(f"search:{q}", {"containerid": f"100103type=1&q={q}", "q": q}) for q in settings.collect.queries]
            scopes += [(f"timeline:{uid}", {"containerid": f"107603{uid}"}) for uid in settings.collect.accounts]

            async def one(scope: str, params: dict[str, Any]) -> None:
                try:
                    await c.scope(scope, params, since, until, progress)
                except AuthExpired:
                    raise
                except CollectorError as exc:
                    # one broken scope does not stop the others; its checkpoint keeps the progress made
                    log.error("collection of %s stopped: %s", scope, exc)
                    c.stats.skipped_scopes.append(f"{scope}: {exc}")

            # scopes run concurrently over the pooled client; warehouse writes are synchronous, so
            # each page's transaction is still written whole by this one writer
            await asyncio.gather(*(one(scope, params) for scope, params in scopes))
    stats = c.stats
    stats.requests = c.fetch_stats.requests
    stats.retries = c.fetch_stats.retries
    stats.refreshes = c.fetch_stats.refreshes
    stats.retry_after_waits = c.fetch_stats.retry_after_waits
    stats.seconds = round(time.perf_counter() - started, 2)
    return stats
