"""Records → the payload shapes the real platforms return (the inverse of :mod:`collectors.weibo.parse`)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pandas as pd

from store.schema import CHINA_TZ

__all__ = ["comment", "mblog", "repost", "user", "weibo_time"]

_EMOTICON = re.compile(r"(\[[\u4e00-\u9fffA-Za-z]{1,8}\])")
_TOPIC = re.compile(r"#([^#\s]{1,64})#")


def weibo_time(value: Any) -> str:
    """``Tue Sep 01 20:15:00 +0800 2026`` — the format of Weibo's ``created_at``."""
    ts = pd.Timestamp(value)
    when = ts.to_pydatetime().astimezone(CHINA_TZ) if ts.tzinfo else ts.to_pydatetime().replace(tzinfo=CHINA_TZ)
    return when.strftime("%a %b %d %H:%M:%S %z %Y")


def _html_text(text: str) -> str:
    """m.weibo.cn renders emoticons as <img alt>, topics and mentions as links."""
    out = html.escape(text, quote=False)
    out = _EMOTICON.sub(
        r'<span class="url-icon"><img alt="\1" src="https://h5.sinaimg.cn/m/emoticon/x.png" /></span>', out
    )
    out = _TOPIC.sub(r'<a href="https://m.weibo.cn/search?containerid=231522type%3D1%26q%3D%23\1%23">#\1#</a>', out)
    return out


def _count(n: int) -> Any:
    """Large counts come back as strings such as "1.2万" or "100万+"."""
    n = int(n)
    if n >= 1_000_000:
        return f"{n // 10_000}万+"
    if n >= 10_000:
        return f"{n / 10_000:.1f}万"
    return n


def user(author: dict[str, Any]) -> dict[str, Any]:
    raw = author.get("raw")
    extra = json.loads(raw) if isinstance(raw, str) else (raw or {})
    body = {
        "id": int(author["id"]) if str(author["id"]).isdigit() else author["id"],
        "screen_name": author.get("screen_name", ""),
        "followers_count": _count(int(author.get("followers_count") or 0)),
        "follow_count": int(author.get("friends_count") or 0),
        "statuses_count": int(author.get("statuses_count") or 0),
        "verified": bool(author.get("verified")),
        "verified_type": int(author.get("verified_type") or 0) if author.get("verified_type") is not None else -1,
        "verified_reason": author.get("verified_reason") or "",
        "gender": author.get("gender") or "",
        "description": author.get("description") or "",
        "location": author.get("location") or "",
    }
    if author.get("created_at") is not None and not pd.isna(author.get("created_at")):
        body["created_at"] = weibo_time(author["created_at"])
    body.update(extra)  # e.g. contact_phone / contact_email carried by some payloads
    return body


def mblog(post: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": post["id"],
        "mid": post["id"],
        "bid": f"N{post['id'][-8:]}",
        "created_at": weibo_time(post["created_at"]),
        "text": _html_text(post["text"]),
        "source": post.get("source") or "",
        "reposts_count": _count(int(post["reposts_count"])),
        "comments_count": _count(int(post["comments_count"])),
        "attitudes_count": _count(int(post["attitudes_count"])),
        "region_name": f"发布于 {post['location']}" if post.get("location") else "",
        "pic_ids": list(post.get("pics") or []),
        "user": user(author),
    }


def repost(
    post: dict[str, Any], author: dict[str, Any], root: dict[str, Any] | None, root_author: dict[str, Any]
) -> dict[str, Any]:
    body = mblog(post, author)
    if root is not None:
        body["retweeted_status"] = mblog(root, root_author)
    body["pid"] = post.get("parent_id")
    body["parent_user_id"] = post.get("parent_author_id")
    return body


def comment(post: dict[str, Any], author: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": post["id"],
        "rootid": post["root_id"],
        "created_at": weibo_time(post["created_at"]),
        "text": _html_text(post["text"]),
        "source": (post.get("location") and f"来自{post['location']}") or "",
        "like_count": int(post["attitudes_count"]),
        "total_number": int(post["comments_count"]),
        "user": user(author),
    }
    if post.get("parent_id") and post["parent_id"] != post["root_id"] and post["parent_id"] in by_id:
        parent = by_id[post["parent_id"]]
        body["reply_comment"] = {
            "id": parent["id"],
            "user": {"id": post["parent_author_id"]},
            "text": _html_text(str(parent["text"])),
        }
    return body
