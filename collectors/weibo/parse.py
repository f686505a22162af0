"""Pure parsers: Weibo payloads (m.weibo.cn container API, comments/hotflow, repost timeline, Open API) → records.

Payload shapes follow what the open-source Weibo crawlers observe:
``mblog`` objects with an HTML ``text``, ``created_at`` in several formats,
counts that may be strings such as ``"1万+"``, an embedded ``user`` object,
``retweeted_status`` for reposts and ``region_name`` ("发布于 北京").
Storage never parses; these functions never do I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from yuqing.collectors.fields import extract, parse_count, parse_time, strip_html
from yuqing.store.errors import ParseError
from yuqing.store.schema import Author, Interaction, InteractionKind, Platform, Post, PostKind

__all__ = [
    "EMPTY_MESSAGES",
    "GONE_MESSAGES",
    "comment_to_post",
    "comments_to_posts",
    "interactions_for",
    "is_empty_page",
    "is_gone",
    "long_text",
    "mblog_to_post",
    "needs_long_text",
    "parse_count",
    "parse_time",
    "strip_html",
    "to_author",
    "to_posts",
    "with_long_text",
]


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


# m.weibo.cn answers ``{"ok": 0, "msg": ...}`` with one of these when a list is simply empty
EMPTY_MESSAGES = (
    "还没有人转发过",
    "还没有人评论",
    "快来发表你的评论吧",
    "暂无数据",
    "没有更多数据了",
    "这里还没有内容",
    "还没有微博",
)
_OK = (1, "1", True)


def is_empty_page(payload: Any) -> bool:
    """``{"ok": 0, "msg": "还没有人转发过"}`` and the like: an empty list, not a failure."""
    if not isinstance(payload, dict) or payload.get("ok") in _OK:
        return False
    msg = str(payload.get("msg") or "")
    return any(m in msg for m in EMPTY_MESSAGES)


def _pics(mblog: dict[str, Any]) -> list[str]:
    """Picture URLs, largest size: m.weibo.cn ``pics[].large.url``, Open API ``pic_urls[].thumbnail_pic`` (the large
    picture has the same name under ``/large/``), weibo.com ``pic_infos``/``pic_ids``."""
    out: list[str] = []
    for pic in mblog.get("pics") or []:
        if isinstance(pic, dict):
            large = pic.get("large")
            url = (large.get("url") if isinstance(large, dict) else None) or pic.get("url")
            if url:
                out.append(str(url))
    if out:
        return out
    for pic in mblog.get("pic_urls") or []:
        if isinstance(pic, dict) and pic.get("thumbnail_pic"):
            out.append(str(pic["thumbnail_pic"]).replace("/thumbnail/", "/large/", 1))
    if out:
        return out
    infos = mblog.get("pic_infos")
    infos = infos if isinstance(infos, dict) else {}
    for pid in mblog.get("pic_ids") or []:
        large = (infos.get(pid) or {}).get("large") or {}
        out.append(str(large.get("url") or f"https://wx1.sinaimg.cn/large/{pid}.jpg"))
    return out


def _text_fields(html_text: str) -> dict[str, Any]:
    """The raw text (HTML stripped, zero-width characters removed) and what the author wrote into it: topics,
    mentions and links (never topic-search links, profile links or icon images)."""
    text = strip_html(html_text)
    found = extract(text, html_text)
    return {"text": text, "topics": found.topics, "at_users": found.at_users, "urls": found.urls}


# what m.weibo.cn answers for a post deleted or hidden since it was listed
GONE_MESSAGES = ("微博不存在", "暂无查看权限", "已被删除", "已被作者删除")


def is_gone(payload: Any) -> bool:
    """``{"ok": 0, "msg": "微博不存在或暂无查看权限!"}`` and the like: the post was deleted or hidden."""
    if not isinstance(payload, dict) or payload.get("ok") in _OK:
        return False
    return any(m in str(payload.get("msg") or "") for m in GONE_MESSAGES)


def needs_long_text(post: Post) -> bool:
    """The platform sent only the start of the text (``isLongText``): the rest comes from ``statuses/extend``
    (unless that already said the post is gone: see :func:`with_long_text`)."""
    raw = post.raw or {}
    return bool(raw.get("isLongText")) and not raw.get("longTextContent") and "statuses_extend" not in raw


def long_text(payload: Any) -> str:
    """The full text (HTML, as in ``mblog.text``) in a ``statuses/extend`` response."""
    if not isinstance(payload, dict) or payload.get("ok") not in _OK:
        raise ParseError(f"statuses/extend not ok: {str(payload)[:120]}")
    data = payload.get("data")
    content = data.get("longTextContent") if isinstance(data, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise ParseError("statuses/extend without longTextContent")
    return content


def with_long_text(post: Post, extend: Any) -> Post:
    """``post`` with the full text of its ``statuses/extend`` response (kept in ``raw`` as ``longTextContent``).

    When the platform answers that the post is gone (deleted or hidden since the page listed it), the post keeps
    the text the page showed and ``raw["statuses_extend"]`` keeps that answer: one deleted post does not stop
    the collection, and it is not asked for again."""
    if is_gone(extend):
        return post.model_copy(update={"raw": {**(post.raw or {}), "statuses_extend": extend}})
    content = long_text(extend)
    return post.model_copy(update={**_text_fields(content), "raw": {**(post.raw or {}), "longTextContent": content}})


def mblog_to_post(
    mblog: dict[str, Any],
    *,
    platform: Platform = Platform.WEIBO,
    query: str = "",
    fetched_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Post:
    """An ``mblog``/status object → :class:`Post` (a repost when it carries ``retweeted_status``).

    A long post's ``text`` is cut (``isLongText``, ending in ``全文``); where the full text was fetched
    (``longTextContent``) it is used instead — see :func:`with_long_text`."""
    try:
        user = mblog.get("user") or {}
        fields = _text_fields(str(mblog.get("longTextContent") or mblog.get("text") or mblog.get("raw_text") or ""))
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
            pics=_pics(mblog),
            query=query,
            fetched_at=fetched_at or dt.datetime.now(dt.UTC),
            raw=mblog,
            **fields,
        )
    except ParseError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParseError(f"mblog {mblog.get('id', '?') if isinstance(mblog, dict) else '?'}: {exc}") from exc


def comment_to_post(
    comment: dict[str, Any],
    *,
    root_id: str,
    root_author_id: str,
    floor: Post | None = None,
    platform: Platform = Platform.WEIBO,
    fetched_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Post:
    """A ``comments/hotflow`` or ``comments/show`` comment → :class:`Post` of kind comment.

    Its parent is the comment it replies to (``reply_comment``), else the ``floor`` it is nested under, else the
    post."""
    try:
        user = comment.get("user") or {}
        reply = comment.get("reply_comment") or {}
        parent_id = str(reply.get("id") or (floor.id if floor else root_id))
        parent_author = str((reply.get("user") or {}).get("id") or (floor.author_id if floor else root_author_id))
        fields = _text_fields(str(comment.get("text") or comment.get("text_raw") or ""))
        return Post(
            platform=platform,
            id=str(comment["id"]),
            kind=PostKind.COMMENT,
            created_at=parse_time(comment["created_at"], now),
            author_id=str(user.get("id") or ""),
            author_name=str(user.get("screen_name") or ""),
            parent_id=parent_id,
            root_id=root_id,
            parent_author_id=parent_author,
            attitudes_count=parse_count(comment.get("like_count", comment.get("like_counts"))),
            comments_count=parse_count(comment.get("total_number")),
            source=strip_html(str(comment.get("source") or "")),
            pics=_pics(comment),
            fetched_at=fetched_at or dt.datetime.now(dt.UTC),
            raw=comment,
            **fields,
        )
    except ParseError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParseError(f"comment {comment.get('id', '?') if isinstance(comment, dict) else '?'}: {exc}") from exc


def comments_to_posts(
    payload: Any,
    *,
    root_id: str,
    root_author_id: str,
    fetched_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> list[Post]:
    """A ``comments/hotflow`` page (or an Open API ``comments/show`` list) → comments, each once: the floors and
    the replies nested in a floor's ``comments[]`` (``false`` when there are none)."""
    if is_empty_page(payload):
        return []
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object")
    if isinstance(payload.get("comments"), list):  # Open API
        items = payload["comments"]
    elif payload.get("ok") in _OK:
        data = payload.get("data") or {}
        items = data.get("data") if isinstance(data, dict) else None
        items = items or []
    else:
        raise ParseError(f"payload not ok: {str(payload)[:120]}")
    found: dict[str, Post] = {}
    for item in items:
        if not isinstance(item, dict):
            raise ParseError(f"comment is not an object: {str(item)[:80]}")
        floor = comment_to_post(item, root_id=root_id, root_author_id=root_author_id, fetched_at=fetched_at, now=now)
        found.setdefault(floor.id, floor)
        for reply in item.get("comments") or []:
            if isinstance(reply, dict):
                post = comment_to_post(
                    reply,
                    root_id=root_id,
                    root_author_id=root_author_id,
                    floor=floor,
                    fetched_at=fetched_at,
                    now=now,
                )
                found.setdefault(post.id, post)
    return list(found.values())


def to_posts(payload: dict[str, Any], *, query: str = "", now: dt.datetime | None = None) -> list[Post]:
    """Posts in a container/getIndex page (card_type 9, and card groups), a repost timeline or an Open API
    ``statuses`` list.  An ``ok: 0`` answer saying the list is empty (``还没有人转发过``) is an empty page."""
    if not isinstance(payload, dict):
        raise ParseError("payload is not a JSON object")
    if "statuses" in payload or "reposts" in payload:
        items = payload.get("statuses") or payload.get("reposts") or []
        return [mblog_to_post(m, query=query, now=now) for m in items]
    if is_empty_page(payload):
        return []
    if payload.get("ok") not in _OK:
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
    """The edge implied by a post: repost/comment/reply to the parent's author.

    Mentions (``at_users``) are names, not ids: the warehouse resolves them to the one author known by that name
    when the graph is read (``Warehouse.interaction_edges``), so an author collected later still gets the edge."""
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
