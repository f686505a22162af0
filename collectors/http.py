"""The one HTTP seam: a pooled ``httpx.AsyncClient`` factory and a polite JSON request loop.

Every call has a timeout; 5xx, timeouts, connection errors and 429 are retried a
bounded number of times with exponential backoff and full jitter; a
``Retry-After`` header (seconds or HTTP date) is honoured up to a cap; 401
triggers one token refresh, then :class:`AuthExpired`; an unparseable body is
retried, then :class:`ParseError` naming the URL; other 4xx are not retried.

A platform's own refusals (blocks, dead cookies, captchas) are recognised by the
``guard`` its client passes (see :mod:`collectors.weibo.client`); they are raised
at once, never retried.  Login cookies form a pool of :class:`Account` objects, each
with its own :class:`RateBudget` (requests per hour); the cookie travels only in
the ``Cookie`` header and never appears in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from yuqing.store.errors import AuthExpired, CollectorError, ParseError, RateLimited, TransientError
from yuqing.store.schema import Platform
from yuqing.store.settings import Settings

__all__ = [
    "ANONYMOUS",
    "Account",
    "Guard",
    "RateBudget",
    "RetryPolicy",
    "accounts_for",
    "fetch_json",
    "make_client",
    "retry_after_seconds",
]

Sleep = Callable[[float], Awaitable[None]]
# A platform's refusal check: called with each response (payload ``None``) and again with its decoded JSON;
# returns the error to raise at once, or ``None``.
Guard = Callable[[httpx.Response, Any], CollectorError | None]
USER_AGENT = "yuqing/0.1 (+https://github.com/yuqing; social listening)"


def make_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One pooled client per run; tests pass a transport (``httpx.MockTransport``/ASGI) or a loopback URL."""
    timeout = httpx.Timeout(settings.platforms.timeout, connect=min(5.0, settings.platforms.timeout))
    return httpx.AsyncClient(
        timeout=timeout,
        transport=transport,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json, text/plain, */*"},
        limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
        follow_redirects=True,
    )


@dataclass
class RetryPolicy:
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        p = settings.platforms
        return cls(max_retries=p.max_retries, backoff_base=p.backoff_base, max_retry_after=p.max_retry_after)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt))."""
        return rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


@dataclass
class RateBudget:
    """A token bucket of ``per_hour`` requests; ``acquire`` waits when it is empty.

    Concurrent callers queue for the bucket one at a time: each waits for its own token, so many
    coroutines sharing one budget never spend more than it allows.
    """

    per_hour: int
    tokens: float = field(init=False)
    updated: float = field(init=False)
    used: int = 0
    waited: float = 0.0
    _turn: asyncio.Lock = field(init=False, repr=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.tokens = float(self.per_hour)
        self.updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.per_hour, self.tokens + (now - self.updated) * self.per_hour / 3600.0)
        self.updated = now

    @property
    def remaining(self) -> int:
        self._refill()
        return int(self.tokens)

    async def acquire(self, sleep: Sleep = asyncio.sleep) -> None:
        async with self._turn:
            self._refill()
            if self.tokens < 1:
                wait = (1 - self.tokens) * 3600.0 / self.per_hour
                self.waited += wait
                await sleep(wait)
                self._refill()
            self.tokens -= 1
            self.used += 1


@dataclass
class Account:
    """One login of a platform (or the anonymous client): its cookie, its own rate budget, and whether the
    platform still lets it in.  ``repr`` and ``str`` show the name only."""

    name: str
    cookie: SecretStr | None
    budget: RateBudget
    stopped: CollectorError | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie.get_secret_value()} if self.cookie is not None else {}

    def __str__(self) -> str:
        return self.name


ANONYMOUS = "anonymous"  # the account name of a client without a login cookie


def accounts_for(settings: Settings, platform: Platform) -> list[Account]:
    """The platform's cookie pool from ``platforms.cookies`` (sorted by name), or one anonymous client."""
    per_hour = settings.platforms.requests_per_hour
    pool = settings.platforms.cookies.get(platform) or {}
    if not pool:
        return [Account(ANONYMOUS, None, RateBudget(per_hour))]
    return [Account(name, pool[name], RateBudget(per_hour)) for name in sorted(pool)]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


@dataclass
class FetchStats:
    requests: int = 0
    retries: int = 0
    retry_after_waits: list[float] = field(default_factory=list)
    backoff_waits: list[float] = field(default_factory=list)
    refreshes: int = 0


async def fetch_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: dict[str, Any] | None = None,
    policy: RetryPolicy,
    budget: RateBudget | None = None,
    stats: FetchStats | None = None,
    refresh_token: Callable[[], Awaitable[dict[str, str]]] | None = None,
    headers: dict[str, str] | None = None,
    guard: Guard | None = None,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> Any:
    """GET ``url`` and decode JSON with the retry rules of this module.

    ``refresh_token`` is called at most once, on a 401; it returns query parameters
    (e.g. a new ``access_token``) to retry with.  ``guard`` raises the platform's own
    refusals (see :data:`Guard`) before the generic rules apply.
    """
    rng = rng or random.Random()
    stats = stats or FetchStats()
    hdrs = dict(headers or {})
    query = dict(params or {})
    refreshed = False
    attempt = 0
    while True:
        if budget is not None:
            await budget.acquire(sleep)
        stats.requests += 1
        wait: float | None = None
        try:
            response = await client.get(url, params=query, headers=hdrs)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            error: Exception = TransientError(f"{url}: {type(exc).__name__}: {exc}")
        else:
            if guard is not None and (refused := guard(response, None)) is not None:
                raise refused
            status = response.status_code
            if status == 401:
                if refresh_token is None or refreshed:
                    raise AuthExpired(f"{url}: 401 Unauthorized (token expired or revoked)")
                query.update(await refresh_token())
                refreshed = True
                stats.refreshes += 1
                continue
            if status == 429 or status == 503:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                error = RateLimited(f"{url}: {status}", retry_after=wait)
            elif status >= 500:
                error = TransientError(f"{url}: HTTP {status}")
            elif status >= 400:
                raise _client_error(url, response)
            else:
                try:
                    payload = response.json()
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    error = ParseError(f"{url}: response is not valid JSON ({exc})")
                else:
                    if guard is not None and (refused := guard(response, payload)) is not None:
                        raise refused
                    return payload
        if attempt >= policy.max_retries:
            raise error
        if wait is not None:
            if wait > policy.max_retry_after:
                raise RateLimited(f"{url}: Retry-After {wait:.0f}s exceeds the cap", retry_after=wait)
            stats.retry_after_waits.append(wait)
        else:
            wait = policy.backoff(attempt, rng)
            stats.backoff_waits.append(wait)
        stats.retries += 1
        attempt += 1
        await sleep(wait)


def _client_error(url: str, response: httpx.Response) -> Exception:
    return CollectorError(f"{url}: HTTP {response.status_code}: {response.text[:200]}")
