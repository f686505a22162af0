"""Record types shared by every stage of yuqing.

Collectors, spiders and importers emit these; the warehouse stores them; ``nlp``
and ``graph`` read them (or DataFrames with the same column names).  Field names
follow what the popular Weibo crawlers emit (``id``, ``text``, ``created_at``,
``reposts_count``/``comments_count``/``attitudes_count``, ``source``,
``location``, ``topics``, ``at_users``) so that their exports map 1:1.

Rules:

* one schema for every platform, distinguished by :class:`Platform` only;
* times are timezone-aware (naive input is read as Asia/Shanghai);
* metrics are ``int`` (never text), ids are ``str`` (Weibo ids overflow JS ints);
* comments and reposts are :class:`Post` rows with ``kind`` and ``parent_id``/``root_id``;
* personal data (phone, e-mail, name) appears only on :class:`Customer`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CHINA_TZ",
    "Author",
    "Customer",
    "CustomerAccountLink",
    "Interaction",
    "InteractionKind",
    "LinkMethod",
    "Order",
    "Platform",
    "Post",
    "PostKind",
    "aware",
    "utcnow",
]

CHINA_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """Return ``value`` timezone-aware; naive times are read as China Standard Time."""
    if value.tzinfo is None:
        return value.replace(tzinfo=CHINA_TZ)
    return value


class Platform(StrEnum):
    """The sites yuqing knows.  Never use ad-hoc strings such as ``"wb"``.

    The first seven are the platforms MediaCrawler stores (its short names ``xhs``, ``dy``, ``ks``, ``bili``,
    ``wb``, ``tieba``, ``zhihu`` are mapped onto these by the importers, never stored).
    """

    WEIBO = "weibo"
    TIEBA = "tieba"
    DOUYIN = "douyin"
    XIAOHONGSHU = "xiaohongshu"
    KUAISHOU = "kuaishou"
    BILIBILI = "bilibili"
    ZHIHU = "zhihu"
    WECHAT = "wechat"
    FORUM = "forum"
    OTHER = "other"


class PostKind(StrEnum):
    POST = "post"
    COMMENT = "comment"
    REPOST = "repost"


class InteractionKind(StrEnum):
    REPOST = "repost"
    COMMENT = "comment"
    REPLY = "reply"
    MENTION = "mention"


class LinkMethod(StrEnum):
    """How a CRM customer was linked to a social account (strongest first)."""

    HANDLE = "handle"
    UID = "uid"
    PHONE_HASH = "phone_hash"
    EMAIL_HASH = "email_hash"
    FUZZY_NAME = "fuzzy_name"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False, use_enum_values=False)


def _aware_validator(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return aware(value)
    return value


class Author(_Record):
    """An account on a platform (Weibo ``user`` object)."""

    platform: Platform
    id: str = Field(min_length=1)
    screen_name: str = ""
    followers_count: int = Field(default=0, ge=0)
    friends_count: int = Field(default=0, ge=0)
    statuses_count: int = Field(default=0, ge=0)
    verified: bool = False
    verified_type: int | None = None
    verified_reason: str = ""
    gender: str = ""
    location: str = ""
    description: str = ""
    created_at: dt.datetime | None = None
    fetched_at: dt.datetime = Field(default_factory=utcnow)
    raw: dict[str, Any] | None = None

    _aware = field_validator("created_at", "fetched_at", mode="before")(_aware_validator)


class Post(_Record):
    """A post, comment or repost.  Comments/reposts carry ``parent_id`` and ``root_id``.

    ``parent_id`` is the item replied to or reposted; ``root_id`` the original post of
    the thread/cascade.  For a top-level post both are ``None``.
    """

    platform: Platform
    id: str = Field(min_length=1)
    kind: PostKind = PostKind.POST
    text: str = ""
    created_at: dt.datetime
    author_id: str = ""
    author_name: str = ""
    parent_id: str | None = None
    root_id: str | None = None
    parent_author_id: str | None = None
    reposts_count: int = Field(default=0, ge=0)
    comments_count: int = Field(default=0, ge=0)
    attitudes_count: int = Field(default=0, ge=0)
    source: str = ""
    location: str = ""
    topics: list[str] = Field(default_factory=list)
    at_users: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    pics: list[str] = Field(default_factory=list)
    query: str = ""
    fetched_at: dt.datetime = Field(default_factory=utcnow)
    raw: dict[str, Any] | None = None

    _aware = field_validator("created_at", "fetched_at", mode="before")(_aware_validator)

    @property
    def key(self) -> tuple[Platform, str]:
        return (self.platform, self.id)


class Interaction(_Record):
    """A directed edge between two accounts: ``source`` reposted/commented/replied to/mentioned ``target``."""

    platform: Platform
    kind: InteractionKind
    source_author_id: str = Field(min_length=1)
    target_author_id: str = Field(min_length=1)
    post_id: str = ""
    created_at: dt.datetime
    weight: float = 1.0

    _aware = field_validator("created_at", mode="before")(_aware_validator)


class Customer(_Record):
    """A CRM customer record.  The only record that holds personal data in the clear."""

    customer_id: str = Field(min_length=1)
    name: str = ""
    phone: str = ""
    email: str = ""
    city: str = ""
    registered_at: dt.datetime | None = None
    handles: dict[str, str] = Field(default_factory=dict)
    """Explicit social handles/uids from the CRM, keyed by platform value."""

    _aware = field_validator("registered_at", mode="before")(_aware_validator)


class CustomerAccountLink(_Record):
    """A link customer -> social account, with how it was made.  Stored append-only."""

    customer_id: str
    platform: Platform
    author_id: str
    method: LinkMethod
    confidence: float = Field(ge=0.0, le=1.0)
    linked_at: dt.datetime = Field(default_factory=utcnow)
    note: str = ""


class Order(_Record):
    """A CRM order, for RFM segments and CLV."""

    order_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    amount: Decimal = Field(ge=0)
    ordered_at: dt.datetime
    product: str = ""
    channel: str = ""

    _aware = field_validator("ordered_at", mode="before")(_aware_validator)
