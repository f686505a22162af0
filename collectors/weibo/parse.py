"""Pure parsers: Weibo payloads (m.weibo.cn container API, comments/hotflow, repost timeline, Open API) → records.

Payload shapes follow what the open-source Weibo crawlers observe:
``mblog`` objects with an HTML ``text``, ``created_at`` in several formats,
counts that may be strings such as ``"1万+"``, an embedded ``user`` object,
``retweeted_status`` for reposts and ``region_name`` ("发布于 北京").
Storage never parses; these functions never do I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from collectors.fields import parse_count, parse_time, strip_html
from store.errors import ParseError
from store.schema import Author, Interaction, InteractionKind, Platform, Post, PostKind

__all__ = [
    "comment_to_post",
    "interactions_for",
    "mblog_to_post",
    "parse_count",
    "parse_time",
    "strip_html",
    "to_author",
    "to_posts",
]

_TOPIC = re.compile(r"#([^#\s]{1,64})#")
_MENTION = re.compile(r"@([\w\-\u4e00-\u9fff]{1,30})")
_URL = re.compile(r"https?://[^\s\u4e00-\u9fff<\"']+")


def to_author(
    user: dict[str, Any], platform: Platform = Platform.WEIBO, fetched_at: dt.datetime | None = None
) -> Author:
    if not isinstance(user, dict) or "id" not in user:
        raise ParseError(f"user object without id: {str(user)[:80]}")
    return Author(
        platform=platform,
        id=str(user["id"]),
        screen_name=str(user.get("screen_name") or ""),
        followers_count=parse_count(user.get("followers_count")),
        friends_count=parse_count(user.get("friends_count", user.get("follow_count"))),
        statuses_count=parse_count(user.get("statuses_count")),
        verified=bool(user.get("verified", False)),
        verified_type=user.get("verified_type"),
        verified_reason=str(user.get("verified_reason") or ""),
        gender=str(user.get("gender") or ""),
        location=str(user.get("location") or ""),
        description=str(user.get("description") or ""),
        created_at=parse_time(user["created_at"]) if user.get("created_at") else None,
        fetched_at=fetched_at or dt.datetime.now(dt.UTC),
        raw=user,
    )


def _location(mblog: dict[str, Any]) -> str:
    region = str(mblog.get("region_name") or mblog.get("status_province") or "")
    return region.replace("发布于", "").strip()


def mblog_to_post(
    mblog: dict[str, Any],
    *,
    platform: Platform = Platform.WEIBO,
    query: str = "",
    fetched_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Post:
    """An ``mblog``/status object → :class:`Post` (a repost when it carries ``retweeted_status``)."""
    try:
        user = mblog.get("user") or {}
        text = strip_html(str(mblog.get("text") or mblog.get("raw_text") or ""))
        retweeted = mblog.get("retweeted_status")
        kind, parent_id, root_id, parent_author = PostKind.POST, None, None, None
        if isinstance(retweeted, dict) and retweeted.get("id"):
            kind = PostKind.REPOST
            root_id = str(retweeted["id"])
            parent_id = str(mblog.get("pid") or root_id)
            parent_author = str(mblog.get("parent_user_id") or (retweeted.get("user") or {}).get("id") or "") or None
        return Post(
            platform=platform,
            id=str(mblog["id"]),
            kind=kind,
            text=text,
            created_at=parse_time(mblog["created_at"], now),
            author_id=str(user.get("id") or ""),
            author_name=str(user.get("screen_name") or ""),
            parent_id=parent_id,
            root_id=root_id,
            parent_author_id=parent_author,
            reposts_count=parse_count(mblog.get("reposts_count")),
            comments_count=parse_count(mblog.get("comments_count")),
            attitudes_count=parse_count(mblog.get("attitudes_count")),
            source=strip_html(str(mblog.get("source") or "")),
            location=_location(mblog),
            topics=_TOPIC.findall(text),
            at_users=_MENTION.findall(text),
            urls=_URL.findall(str(mblog.get("text") or "")),
            pics=[str(p) for p in mblog.get("pic_ids") or []],
            query=query,
            fetched_at=fetched_at or dt.datetime.now(dt.UTC),
            raw=mblog,
        )
    except ParseError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"mblog {mblog.get('id', '?') if isinstance(mblog, dict) else '?'}: {exc}") from exc


def comment_to_post(
    comment: dict[str, Any],
    *,
    root_id: str,
    root_author_id: str,
    platform: Platform = Platform.WEIBO,
    fetched_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Post:
    """A ``comments/hotflow`` or ``comments/show`` comment → :class:`Post` of kind comment."""
    try:
        user = comment.get("user") or {}
        reply = comment.get("reply_comment") or {}
        parent_id = str(reply.get("id") or root_id)
        parent_author = str((reply.get("user") or {}).get("id") or root_author_id)
        text = strip_html(str(comment.get("text") or ""))
        return Post(
            platform=platform,
            id=str(comment["id"]),
            kind=PostKind.COMMENT,
            text=text,
            created_at=parse_time(comment["created_at"], now),
            author_id=str(user.get("id") or ""),
            author_name=str(user.get("screen_name") or ""),
            parent_id=parent_id,
            root_id=root_id,
            parent_author_id=parent_author,
            attitudes_count=parse_count(comment.get("like_count", comment.get("like_counts"))),
            comments_count=parse_count(comment.get("total_number")),
            source=strip_html(str(comment.get("source") or "")),
            topics=_TOPIC.findall(text),
            at_users=_MENTION.findall(text),
            fetched_at=fetched_at or dt.datetime.now(dt.UTC),
            raw=comment,
        )
    except ParseError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"comment {comment.get('id', '?') if isinstance(comment, dict) else '?'}: {exc}") from exc


def to_posts(payload: dict[str, Any], *, query: str = "", now: dt.datetime | None = None) -> list[Post]:
    """Posts in a container/getIndex page (card_type 9, and card groups) or an Open API ``statuses`` list."""
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object")
    if "statuses" in payload or "reposts" in payload:
        items = payload.get("statuses") or payload.get("reposts") or []
        return [mblog_to_post(m, query=query, now=now) for m in items]
    if payload.get("ok") not in (1, "1", True):
        raise ParseError(f"payload not ok: {str(payload)[:120]}")
    data = payload.get("data") or {}
    posts: list[Post] = []
    for card in data.get("cards") or []:
        groups = card.get("card_group") if card.get("card_type") == 11 else [card]
        for c in groups or []:
            if c.get("card_type") == 9 and isinstance(c.get("mblog"), dict):
                posts.append(mblog_to_post(c["mblog"], query=query, now=now))
    if isinstance(data.get("data"), list):  # repost timeline
        posts.extend(mblog_to_post(m, query=query, now=now) for m in data["data"])
    return posts


def interactions_for(post: Post) -> list[Interaction]:
    """Edges implied by a post: repost/comment/reply to the parent's author, and mentions by name."""
    edges: list[Interaction] = []
    if post.parent_author_id and post.author_id and post.parent_author_id != post.author_id:
        if post.kind == PostKind.REPOST:
            kind = InteractionKind.REPOST
        elif post.parent_id != post.root_id:
            kind = InteractionKind.REPLY
        else:
            kind = InteractionKind.COMMENT
        edges.append(
            Interaction(
                platform=post.platform,
                kind=kind,
                source_author_id=post.author_id,
                target_author_id=post.parent_author_id,
                post_id=post.id,
                created_at=post.created_at,
            )
        )
    return edges
