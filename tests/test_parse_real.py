"""The Weibo parsers on real captured responses (``tests/fixtures/weibo/real/``, sources in ``SOURCE.md``):
every parsed field checked against the payload it came from."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from yuqing.collectors.weibo.parse import (
    comments_to_posts,
    is_empty_page,
    is_gone,
    long_text,
    needs_long_text,
    to_posts,
    with_long_text,
)
from yuqing.store.errors import ParseError
from yuqing.store.schema import CHINA_TZ, PostKind

REAL = Path(__file__).parent / "fixtures" / "weibo" / "real"
NOW = dt.datetime(2019, 7, 16, 12, 0, tzinfo=CHINA_TZ)  # about when the m.weibo.cn pages were captured


def _load(name: str) -> Any:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def _mblogs(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [c["mblog"] for c in payload["data"]["cards"] if c.get("card_type") == 9]


def test_getindex_timeline_every_field() -> None:
    payload = _load("getIndex_timeline_pics.json")
    posts = to_posts(payload, query="q", now=NOW)
    mblogs = _mblogs(payload)
    assert [p.id for p in posts] == [m["id"] for m in mblogs] and len(posts) == 10
    for post, m in zip(posts, mblogs, strict=True):
        assert post.author_id == str(m["user"]["id"]) and post.author_name == m["user"]["screen_name"]
        counts = [m["reposts_count"], m["comments_count"], m["attitudes_count"]]
        # "100万+" above a million (number_display_strategy), else ints
        expected = [1_000_000 if c == "100万+" else c for c in counts]
        assert [post.reposts_count, post.comments_count, post.attitudes_count] == expected
        # every picture, at its large size
        assert post.pics == [p["large"]["url"] for p in m.get("pics") or []]
        assert all("/large/" in url for url in post.pics)
        assert "<" not in post.text and "全文" not in post.text
        assert post.created_at.tzinfo is not None and post.created_at.year == 2019
        assert post.query == "q" and post.raw == m
    first = posts[0]
    assert first.text.startswith("搬完这块砖，就可以吃好吃的了[偷笑][偷笑][偷笑]")
    assert first.created_at.date() == dt.date(2019, 6, 14)
    assert len(first.pics) == 3 and first.pics[0] == "https://wx3.sinaimg.cn/large/63885668gy1g40ypljwzvj20o70v379u.jpg"
    repost = posts[1]
    assert repost.kind == PostKind.REPOST and repost.root_id == "4383031864995274" == repost.parent_id
    assert repost.parent_author_id == "2007341923"
    # topic links are topics, not urls; a t.cn short link the author posted is kept
    assert all("m.weibo.cn/search" not in u and "sinaimg" not in u for p in posts for u in p.urls)
    assert any(p.topics for p in posts)
    linked = next(p for p in posts if p.id == "4378893399854472")
    assert linked.urls == ["http://t.cn/Ai95z8fh"]


def test_long_post_is_recognised_and_completed_from_statuses_extend() -> None:
    posts = to_posts(_load("getIndex_timeline_longtext.json"), now=NOW)
    assert len(posts) == 11
    long = next(p for p in posts if p.id == "4393264377139656")
    assert needs_long_text(long) and [p.id for p in posts if needs_long_text(p)] == [long.id]
    assert long.text.endswith("全文")  # what the page carries: the start of the text
    assert len(long.pics) == 4
    # super-topic and topic-search links and their icon PNGs are not the author's links; the t.cn link of a
    # post's video (``data-url``) is
    assert long.urls == []
    for p in posts:
        assert all(u.startswith("http://t.cn/") for u in p.urls) and len(p.urls) <= 1
        assert bool(p.urls) == ("object_type=video" in p.raw["text"])
    extend = _load("statuses_extend.json")
    full = with_long_text(long, extend)
    assert full.text.startswith("😄😆😊") and "<br" not in full.text and "\nNature \n" in full.text
    assert len(full.text) > 500 > len(long.text)
    assert "全文" not in full.text and not needs_long_text(full)
    assert full.raw["longTextContent"] == extend["data"]["longTextContent"]
    kept = (long.id, long.created_at, long.pics, long.author_id)
    assert (full.id, full.created_at, full.pics, full.author_id) == kept


def test_pinned_repost_with_super_topic() -> None:
    posts = to_posts(_load("getIndex_timeline_longtext.json"), now=NOW)
    pinned = posts[0]
    assert pinned.kind == PostKind.REPOST and pinned.root_id == "4387930325701338"
    assert pinned.text.startswith("和平精英超话") and pinned.text.endswith("[doge]")
    assert pinned.pics == [] and pinned.urls == []
    relative = posts[1]  # "15小时前"
    assert relative.created_at == NOW - dt.timedelta(hours=15)


def test_open_api_statuses_every_field() -> None:
    payload = _load("openapi_statuses_home_timeline.json")
    posts = to_posts(payload)
    assert [p.id for p in posts] == [str(s["id"]) for s in payload["statuses"]]
    for post, s in zip(posts, payload["statuses"], strict=True):
        assert post.created_at == dt.datetime.strptime(s["created_at"], "%a %b %d %H:%M:%S %z %Y")
        assert post.pics == [p["thumbnail_pic"].replace("/thumbnail/", "/large/") for p in s["pic_urls"]]
        assert post.author_id == str(s["user"]["id"])
        assert post.kind == (PostKind.REPOST if "retweeted_status" in s else PostKind.POST)
        assert post.source == s["source"].split(">")[1].split("<")[0]
        assert "\u200b" not in post.text and post.text == post.text.strip()  # the captures end texts in U+200B
    pictures = posts[2]
    assert len(pictures.pics) == 6 and pictures.pics[0] == pictures.raw["original_pic"]
    assert pictures.urls == ["http://t.cn/R2WxELY"]
    assert posts[0].urls == ["http://t.cn/Ruhl6fM"]


def test_open_api_comments() -> None:
    payload = _load("openapi_comments_show.json")
    root = payload["comments"][0]["status"]
    comments = comments_to_posts(payload, root_id=str(root["id"]), root_author_id=str(root["user"]["id"]))
    assert [c.id for c in comments] == [str(c["id"]) for c in payload["comments"]]
    for post, c in zip(comments, payload["comments"], strict=True):
        assert post.kind == PostKind.COMMENT and post.root_id == str(root["id"])
        assert post.author_id == str(c["user"]["id"]) and post.text == c["text"]
        assert post.parent_id == str((c.get("reply_comment") or {}).get("id") or root["id"])


def test_nested_replies_in_hotflow_are_comments_of_their_floor() -> None:
    payload = json.loads((REAL.parent / "hotflow_nested.json").read_text(encoding="utf-8"))
    posts = comments_to_posts(payload, root_id="4987654321012345", root_author_id="5000012345")
    by_id = {p.id: p for p in posts}
    assert len(by_id) == len(posts) == 5  # 2 floors + 3 nested replies, each once
    assert by_id["6002"].parent_id == "6001" and by_id["6002"].parent_author_id == "5000077777"
    # a nested reply to another nested reply names it in reply_comment
    assert by_id["6003"].parent_id == "6002" and by_id["6003"].parent_author_id == "5000088888"
    assert by_id["6011"].parent_id == "4987654321012345"  # a floor is a comment on the post
    assert all(p.root_id == "4987654321012345" for p in posts)


@pytest.mark.parametrize("msg", ["还没有人转发过", "快来发表你的评论吧", "暂无数据"])
def test_ok_zero_with_an_empty_list_message_is_an_empty_page(msg: str) -> None:
    payload = {"ok": 0, "msg": msg}
    assert is_empty_page(payload)
    assert to_posts(payload) == []
    assert comments_to_posts(payload, root_id="1", root_author_id="2") == []


def test_ok_zero_with_another_message_is_a_parse_error() -> None:
    payload = {"ok": 0, "msg": "请求过于频繁"}
    assert not is_empty_page(payload)
    with pytest.raises(ParseError):
        to_posts(payload)
    with pytest.raises(ParseError):
        comments_to_posts(payload, root_id="1", root_author_id="2")
    with pytest.raises(ParseError):
        long_text({"ok": 1, "data": {}})


def test_millisecond_timestamps_parse_and_impossible_ones_are_parse_errors() -> None:
    mblog = {"id": "1", "created_at": 1602561600000, "text": "x", "user": {"id": 2}}
    [post] = to_posts({"statuses": [mblog]})
    assert post.created_at == dt.datetime(2020, 10, 13, 12, 0, tzinfo=CHINA_TZ)
    with pytest.raises(ParseError):
        to_posts({"statuses": [{**mblog, "created_at": 10**30}]})
    with pytest.raises(ParseError):
        comments_to_posts(
            {"ok": 1, "data": {"data": [{**mblog, "created_at": "not a time"}]}}, root_id="9", root_author_id="8"
        )


def test_a_long_post_deleted_before_its_full_text_keeps_the_text_shown_and_is_not_asked_again() -> None:
    long = next(p for p in to_posts(_load("getIndex_timeline_longtext.json"), now=NOW) if needs_long_text(p))
    answer = {"ok": 0, "msg": "微博不存在或暂无查看权限!"}
    kept = with_long_text(long, answer)
    assert is_gone(answer) and not is_gone({"ok": 0, "msg": "还没有人转发过"})
    assert kept.text == long.text and not needs_long_text(kept) and kept.raw["statuses_extend"] == answer
    with pytest.raises(ParseError):
        with_long_text(long, {"ok": 0, "msg": "请求过于频繁"})  # not an answer about the post: the page fails
