"""The platform registry: one entry per site, read by the collect stage, ``yuqing collect`` and the importers.

Adding a platform touches:

1. ``collectors/<platform>/parse.py`` — pure: the platform's payloads to :class:`~store.schema.Post` /
   :class:`~store.schema.Author` (tested on saved payloads in ``tests/fixtures/<platform>/``);
2. ``collectors/<platform>/client.py`` — how its API is walked and how it says no (its refusals as
   :class:`~store.errors.Blocked` / :class:`~store.errors.CookieExpired` / :class:`~store.errors.CaptchaRequired`
   through a :data:`~collectors.http.Guard`), with a collect entry point (see :data:`Engine`) built on the shared
   pieces (:func:`~collectors.http.make_client`, :func:`~collectors.http.fetch_json`,
   :func:`~collectors.http.accounts_for`, checkpoints through :meth:`store.warehouse.Warehouse.ingest`);
3. one :class:`PlatformEntry` in :data:`PLATFORMS` below.

Nothing else: the collect stage and ``yuqing collect`` run every entry whose ``scopes`` the settings fill,
login cookies come from ``platforms.cookies`` and its base URL from ``platforms.base_urls`` (both keyed by the
platform), and the importers accept the entry's names and aliases.  (All seven platforms MediaCrawler stores
are :class:`~store.schema.Platform` values already; a new site needs a value there too.)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from yuqing.store.schema import Platform

if TYPE_CHECKING:
    from yuqing.store.settings import Settings

__all__ = ["PLATFORMS", "Engine", "PlatformEntry", "entry", "names", "platform_named"]

# A collect entry point, named "module:function" and imported only when it runs:
#   fn(settings, *, since, until, progress, warn) -> CollectStats | dict[str, Any]
# ``progress(scope, rows)`` is called after each commit, ``warn(message)`` for what the engine leaves out.
Engine = Callable[..., Any]


def _none(settings: Settings) -> list[str]:
    return []


@dataclass(frozen=True)
class PlatformEntry:
    """What yuqing knows about one platform."""

    platform: Platform
    title: str  # as people call it
    aliases: tuple[str, ...] = ()  # the names other tools use for it (MediaCrawler's directories: wb, xhs, dy…)
    engines: Mapping[str, str] = field(default_factory=dict)  # engine name → "module:function"; first = default
    choose: Callable[[Settings], str] | None = None  # which engine the settings pick (default: the first)
    scopes: Callable[[Settings], list[str]] = _none  # what the settings ask to collect here (empty: nothing)
    importers: tuple[str, ...] = ()  # import formats whose files hold this platform's rows (besides csv/jsonl)
    base: str = ""  # the platform's API base URL (``platforms.base_urls`` overrides it)

    @property
    def collectable(self) -> bool:
        return bool(self.engines)

    def engine(self, settings: Settings) -> str:
        name = self.choose(settings) if self.choose is not None else next(iter(self.engines))
        if name not in self.engines:
            raise KeyError(f"{self.platform.value}: no engine {name!r} (known: {', '.join(self.engines)})")
        return name

    def base_url(self, settings: Settings) -> str:
        """Where the platform's API is: ``platforms.base_urls[platform]`` if set, else the entry's ``base``."""
        return (settings.platforms.base_urls.get(self.platform) or self.base).rstrip("/")

    def runner(self, settings: Settings) -> Engine:
        """The collect entry point the settings choose, imported now."""
        module, function = self.engines[self.engine(settings)].split(":")
        fn: Engine = getattr(importlib.import_module(module), function)
        return fn


def _weibo_scopes(settings: Settings) -> list[str]:
    c = settings.collect
    return [f"search:{q}" for q in c.queries] + [f"timeline:{uid}" for uid in c.accounts]


def _tieba_scopes(settings: Settings) -> list[str]:
    return [f"board:{b}" for b in settings.collect.forum_boards]


PLATFORMS: tuple[PlatformEntry, ...] = (
    PlatformEntry(
        Platform.WEIBO,
        "微博",
        aliases=("wb",),
        engines={"api": "yuqing.collectors.weibo.client:collect_weibo", "spider": "yuqing.spiders.run:collect_weibo"},
        choose=lambda s: s.platforms.weibo_engine,
        scopes=_weibo_scopes,
        importers=("mediacrawler", "weibo-crawler", "weibo-search"),
    ),
    PlatformEntry(
        Platform.TIEBA,
        "贴吧",
        engines={"spider": "yuqing.spiders.run:collect_forum"},
        scopes=_tieba_scopes,
        importers=("mediacrawler",),
    ),
    PlatformEntry(Platform.XIAOHONGSHU, "小红书", aliases=("xhs",), importers=("mediacrawler",)),
    PlatformEntry(Platform.DOUYIN, "抖音", aliases=("dy",), importers=("mediacrawler",)),
    PlatformEntry(Platform.KUAISHOU, "快手", aliases=("ks",), importers=("mediacrawler",)),
    PlatformEntry(Platform.BILIBILI, "哔哩哔哩", aliases=("bili",), importers=("mediacrawler",)),
    PlatformEntry(Platform.ZHIHU, "知乎", importers=("mediacrawler",)),
)


def entry(platform: Platform) -> PlatformEntry:
    for e in PLATFORMS:
        if e.platform == platform:
            return e
    raise KeyError(f"{platform.value} is not in the platform registry (collectors/platforms.py)")


def names() -> dict[str, Platform]:
    """Every name a platform goes by (its value and its aliases), lower case."""
    found: dict[str, Platform] = {}
    for e in PLATFORMS:
        found[e.platform.value] = e.platform
        found.update(dict.fromkeys(e.aliases, e.platform))
    return found


def platform_named(name: str) -> Platform:
    """A platform by its value or an alias (``wb``, ``xhs``, ``dy``, ``ks``, ``bili``…); ``KeyError`` if unknown."""
    known = names()
    key = name.strip().lower()
    if key in known:
        return known[key]
    try:
        return Platform(key)
    except ValueError:
        raise KeyError(f"unknown platform {name!r} (one of {', '.join(sorted(known))})") from None
