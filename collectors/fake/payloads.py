"""Records → the payload shapes the real platforms return (the inverse of :mod:`collectors.weibo.parse`).

Field for field as in the captured responses of ``tests/fixtures/weibo/real/`` (sources in its ``SOURCE.md``):
an m.weibo.cn ``mblog`` carries about 40 fields — HTML ``text`` cut at 140 characters with ``...全文`` and
``isLongText`` for long posts (the full text comes from ``statuses/extend``), ``textLength``, ``pics[]`` with
their ``large`` size and ``thumbnail_pic``/``bmiddle_pic``/``original_pic``, ``page_info`` for a post with a topic,
``retweeted_status`` for a repost, and the display flags the page ignores.  ``tests/test_world.py`` compares the
key sets per endpoint with the captures.

A few fields are not in the 2019 captures; each is named in :data:`FAKE_ONLY` with why it is sent.
"""

from __future__ import annotations

import html
import json
import re
import zlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import pandas as pd

from yuqing.store.schema import CHINA_TZ

__all__ = [
    "FAKE_ONLY",
    "LONG_TEXT_CHARS",
    "comment",
    "extend",
    "mblog",
    "open_api_user",
    "repost",
    "user",
    "weibo_time",
]

# m.weibo.cn shows the first 140 characters of a longer post and links the rest ("全文")
LONG_TEXT_CHARS = 140
# keys the fake sends that the captures do not hold, per object, with the reason
FAKE_ONLY: dict[str, dict[str, str]] = {
    "mblog": {
        "region_name": "'发布于 <province>', sent by m.weibo.cn since 2022 (after these captures)",
        "pid": "the post a repost of a repost reposted (the Open API's pid); the world's cascades are deeper than one",
        "parent_user_id": "the author of pid, so that a repost edge goes to whom was reposted",
    },
    "user": {
        "location": "the profile's location (Open API users/show carries it; mobile pages show it on the profile)",
        "created_at": "account creation time (Open API users/show)",
        "contact_phone": "planted contact data in some simulated profiles, for the CRM linking to find",
        "contact_email": "planted contact data in some simulated profiles, for the CRM linking to find",
    },
}

_EMOTICON = re.compile(r"(\[[\u4e00-\u9fffA-Za-z]{1,8}\])")
_TOPIC = re.compile(r"#([^#\s]{1,64})#")
_MENTION = re.compile(r"@([\w\-\u4e00-\u9fff]{1,30})")
_SHORT_URL = re.compile(r"(https?://t\.cn/\w+)")
_PID = re.compile(r"/large/([0-9a-z]{32})\.(\w+)$")


def weibo_time(value: Any) -> str:
    """``Tue Sep 01 20:15:00 +0800 2026`` — the format of Weibo's ``created_at``."""
    ts = pd.Timestamp(value)
    when = ts.to_pydatetime().astimezone(CHINA_TZ) if ts.tzinfo else ts.to_pydatetime().replace(tzinfo=CHINA_TZ)
    return when.strftime("%a %b %d %H:%M:%S %z %Y")


def _html_text(text: str) -> str:
    """m.weibo.cn renders emoticons as <img alt>, topics as topic-search links, mentions as profile links and a
    short link as an anchor with ``data-url`` and a link icon."""
    out = html.escape(text, quote=False)
    out = _EMOTICON.sub(
        r'<span class="url-icon"><img alt=\1 src="//h5.sinaimg.cn/m/emoticon/icon/default/x.png" '
        r'style="width:1em; height:1em;" /></span>',
        out,
    )
    out = _TOPIC.sub(
        lambda m: (
            f'<a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D%23'
            f'{quote(m.group(1))}%23&luicode=10000011" data-hide=""><span class="surl-text">#{m.group(1)}#</span></a>'
        ),
        out,
    )
    out = _MENTION.sub(r"<a href='/n/\1'>@\1</a>", out)
    out = _SHORT_URL.sub(
        r'<a data-url="\1" href="https://weibo.cn/sinaurl?u=\1" data-hide=""><span class="url-icon">'
        r"<img style='width: 1rem;height: 1rem' src='https://h5.sinaimg.cn/upload/2015/09/25/3/"
        r"timeline_card_small_web_default.png'></span><span class=\"surl-text\">网页链接</span></a>",
        out,
    )
    return out.replace("\n", "<br />")


def _text_length(text: str) -> int:
    """Weibo's ``textLength``: a CJK character counts 2, an ASCII one 1."""
    return sum(1 if ord(c) < 128 else 2 for c in text)


def _count(n: int) -> Any:
    """Counts above a million come back as ``"100万+"`` (``number_display_strategy``)."""
    n = int(n)
    return "100万+" if n >= 1_000_000 else n


def user(author: dict[str, Any]) -> dict[str, Any]:
    """The ``user`` object embedded in an m.weibo.cn mblog or comment."""
    raw = author.get("raw")
    extra = json.loads(raw) if isinstance(raw, str) else (raw or {})
    uid = str(author["id"])
    verified = bool(author.get("verified"))
    vtype = author.get("verified_type")
    body: dict[str, Any] = {
        "id": int(uid) if uid.isdigit() else uid,
        "screen_name": author.get("screen_name", ""),
        "profile_image_url": f"https://tvax1.sinaimg.cn/crop.0.0.180.180.180/{uid[-8:]}ly8g0000000000j20500500.jpg",
        "profile_url": f"https://m.weibo.cn/u/{uid}?uid={uid}&luicode=10000011",
        "statuses_count": int(author.get("statuses_count") or 0),
        "verified": verified,
        "verified_type": int(vtype) if vtype is not None and not pd.isna(vtype) else -1,
        "verified_type_ext": 0 if verified else -1,
        "verified_reason": author.get("verified_reason") or "",
        "close_blue_v": False,
        "description": author.get("description") or "",
        "gender": author.get("gender") or "",
        "mbtype": 12 if verified else 0,
        "urank": 10,
        "mbrank": 3 if verified else 0,
        "follow_me": False,
        "following": False,
        "followers_count": _count(int(author.get("followers_count") or 0)),
        "follow_count": int(author.get("friends_count") or 0),
        "cover_image_phone": "https://tva1.sinaimg.cn/crop.0.0.640.640.640/549d0121tw1egm1kjly3jj20hs0hsq4f.jpg",
        "avatar_hd": f"https://wx1.sinaimg.cn/orj480/{uid[-8:]}ly8g0000000000j20500500.jpg",
        "like": False,
        "like_me": False,
        "badge": {"user_name_certificate": 1},
        "location": author.get("location") or "",
    }
    if author.get("created_at") is not None and not pd.isna(author.get("created_at")):
        body["created_at"] = weibo_time(author["created_at"])
    body.update(extra)  # e.g. contact_phone / contact_email carried by some profiles
    return body


def open_api_user(author: dict[str, Any]) -> dict[str, Any]:
    """An Open API ``users/show`` profile (a different shape from the mobile ``user``: ``friends_count``,
    ``idstr``, ``province``/``city``, ``created_at``...)."""
    mobile = user(author)
    uid = str(author["id"])
    body = {
        "id": mobile["id"],
        "idstr": uid,
        "class": 1,
        "screen_name": mobile["screen_name"],
        "name": mobile["screen_name"],
        "province": "100",
        "city": "1000",
        "location": mobile["location"],
        "description": mobile["description"],
        "url": "",
        "profile_image_url": mobile["profile_image_url"],
        "cover_image_phone": mobile["cover_image_phone"],
        "profile_url": f"u/{uid}",
        "domain": "",
        "weihao": "",
        "gender": mobile["gender"],
        "followers_count": int(author.get("followers_count") or 0),
        "friends_count": mobile["follow_count"],
        "pagefriends_count": 0,
        "statuses_count": mobile["statuses_count"],
        "favourites_count": 0,
        "created_at": mobile.get("created_at", weibo_time("2015-01-01")),
        "following": False,
        "allow_all_act_msg": False,
        "geo_enabled": True,
        "verified": mobile["verified"],
        "verified_type": mobile["verified_type"],
        "remark": "",
        "ptype": 0,
        "allow_all_comment": True,
        "avatar_large": mobile["profile_image_url"],
        "avatar_hd": mobile["avatar_hd"],
        "verified_reason": mobile["verified_reason"],
        "verified_trade": "",
        "verified_reason_url": "",
        "verified_source": "",
        "verified_source_url": "",
        "follow_me": False,
        "like": False,
        "like_me": False,
        "online_status": 0,
        "bi_followers_count": 0,
        "lang": "zh-cn",
        "star": 0,
        "mbtype": mobile["mbtype"],
        "mbrank": mobile["mbrank"],
        "block_word": 0,
        "block_app": 0,
        "credit_score": 80,
        "user_ability": 0,
        "urank": mobile["urank"],
        "story_read_state": -1,
        "vclub_member": 0,
    }
    body.update({k: v for k, v in mobile.items() if k.startswith("contact_")})
    return body


def _pictures(urls: list[str]) -> dict[str, Any]:
    """``pics[]`` (with their large size) and the first picture's three sizes, as m.weibo.cn sends them."""
    if not urls:
        return {"pic_types": ""}
    pics: list[dict[str, Any]] = []
    for url in urls:
        found = _PID.search(url)
        pid, ext = (found.group(1), found.group(2)) if found else (url.rsplit("/", 1)[-1].split(".")[0], "jpg")
        host = url.split("/")[2] if "://" in url else "wx1.sinaimg.cn"
        pics.append(
            {
                "pid": pid,
                "url": f"https://{host}/orj360/{pid}.{ext}",
                "size": "orj360",
                "geo": {"width": 360, "height": 480, "croped": False},
                "large": {"size": "large", "url": url, "geo": {"width": "1080", "height": "1440", "croped": False}},
            }
        )
    first = urls[0].replace("https://", "http://", 1)
    return {
        "pic_types": ",".join("0" for _ in pics),
        "thumbnail_pic": first.replace("/large/", "/thumbnail/"),
        "bmiddle_pic": first.replace("/large/", "/bmiddle/"),
        "original_pic": first,
        "picStatus": ",".join(f"{i}:1" for i in range(len(pics))),
        "pics": pics,
    }


def _page_info(text: str) -> dict[str, Any] | None:
    """A post naming a topic gets the topic's card, like the captures' ``page_info`` of ``type: topic``."""
    found = _TOPIC.search(text)
    if not found:
        return None
    topic = found.group(1)
    return {
        "page_pic": {"url": "https://wx1.sinaimg.cn/large/007dzhRmly1g2tqwf1035j3068068q6s.jpg"},
        "page_url": f"https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D%23{quote(topic)}%23",
        "page_title": f"#{topic}#",
        "content1": "",
        "content2": "",
        "type": "topic",
        "object_id": f"1022:231522{zlib.crc32(topic.encode()):030d}",
    }


def mblog(post: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
    """An m.weibo.cn ``mblog``; a long post's ``text`` is its first :data:`LONG_TEXT_CHARS` characters."""
    text = str(post["text"])
    long = len(text) > LONG_TEXT_CHARS
    shown = _html_text(text[:LONG_TEXT_CHARS]) + f' ...<a href="/status/{post["id"]}">全文</a>' if long else None
    reposts, comments, likes = (int(post[k]) for k in ("reposts_count", "comments_count", "attitudes_count"))
    body: dict[str, Any] = {
        "created_at": weibo_time(post["created_at"]),
        "id": post["id"],
        "idstr": post["id"],
        "mid": post["id"],
        "can_edit": False,
        "show_additional_indication": 0,
        "text": shown if long else _html_text(text),
        "textLength": _text_length(text),
        "source": post.get("source") or "",
        "favorited": False,
        "is_paid": False,
        "mblog_vip_type": 0,
        "user": user(author),
        "reposts_count": _count(reposts),
        "comments_count": _count(comments),
        "attitudes_count": _count(likes),
        "pending_approval_count": 0,
        "isLongText": long,
        "reward_exhibition_type": 0,
        "hide_flag": 0,
        "visible": {"type": 0, "list_id": 0},
        "mblogtype": 0,
        "more_info_type": 0,
        "extern_safe": 0,
        "number_display_strategy": {
            "apply_scenario_flag": 3,
            "display_text_min_number": 1000000,
            "display_text": "100万+",
        },
        "content_auth": 0,
        "mblog_menu_new_style": 0,
        "edit_config": {"edited": False},
        "weibo_position": 1,
        "show_attitude_bar": 0,
        "region_name": f"发布于 {post['location']}" if post.get("location") else "",
        "bid": f"N{str(post['id'])[-8:]}",
    }
    body.update(_pictures(list(post.get("pics") or [])))
    if (info := _page_info(text)) is not None:
        body["page_info"] = info
    return body


def extend(post: dict[str, Any]) -> dict[str, Any]:
    """``statuses/extend``: a post's full text, shaped as the captured response."""
    return {
        "ok": 1,
        "data": {
            "ok": 1,
            "longTextContent": _html_text(str(post["text"])),
            "reposts_count": _count(int(post["reposts_count"])),
            "comments_count": _count(int(post["comments_count"])),
            "attitudes_count": _count(int(post["attitudes_count"])),
        },
    }


def repost(
    post: dict[str, Any], author: dict[str, Any], root: dict[str, Any] | None, root_author: dict[str, Any]
) -> dict[str, Any]:
    """A repost as the repost timeline lists it: the mblog, its ``raw_text``, the root in ``retweeted_status``,
    and (:data:`FAKE_ONLY`) the repost it reposted when it is a repost of a repost."""
    body = mblog(post, author)
    body["raw_text"] = str(post["text"])[:LONG_TEXT_CHARS]
    if root is not None:
        body["retweeted_status"] = {**mblog(root, root_author), "retweeted": 1}
    body["pid"] = post.get("parent_id")
    body["parent_user_id"] = post.get("parent_author_id")
    return body


def _comment_body(post: dict[str, Any], author: dict[str, Any], floor_id: str) -> dict[str, Any]:
    return {
        "created_at": weibo_time(post["created_at"]),
        "id": post["id"],
        "rootid": floor_id,
        "rootidstr": floor_id,
        "floor_number": 0,
        "text": _html_text(str(post["text"])),
        "disable_reply": 0,
        "restrictOperate": 0,
        "source": (post.get("location") and f"来自{post['location']}") or "",
        "user": user(author),
        "mid": post["id"],
        "idstr": post["id"],
        "liked": False,
        "like_count": int(post["attitudes_count"]),
        "isLikedByMblogAuthor": False,
        "more_info_type": 0,
        "bid": f"N{str(post['id'])[-8:]}",
    }


def comment(
    post: dict[str, Any],
    author: dict[str, Any],
    by_id: dict[str, dict[str, Any]],
    *,
    floor_number: int = 0,
    replies: Sequence[tuple[dict[str, Any], dict[str, Any]]] = (),
) -> dict[str, Any]:
    """A hotflow floor: a comment on the post, with the replies under it nested in ``comments`` (``false`` when
    there are none); a reply to another reply names it in ``reply_comment``."""
    body = _comment_body(post, author, post["id"])
    body["floor_number"] = floor_number
    nested = []
    for reply, reply_author in replies:
        item = _comment_body(reply, reply_author, post["id"])
        if reply.get("parent_id") != post["id"] and reply.get("parent_id") in by_id:
            parent = by_id[reply["parent_id"]]
            item["reply_comment"] = {
                "id": parent["id"],
                "user": {"id": reply.get("parent_author_id")},
                "text": _html_text(str(parent["text"])),
            }
        nested.append(item)
    body["comments"] = nested or False
    body["max_id"] = 0
    body["total_number"] = len(nested)
    return body
