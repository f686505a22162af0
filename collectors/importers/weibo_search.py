"""dataabc/weibo-search export: ``结果文件/<keyword>/<keyword>.csv``.

Derived from weibo-search's writer code (snapshot b4535b7, 2026-06-05): ``weibo/pipelines.py: CsvPipeline``
(``utf-8-sig``, the header id, bid, user_id, 用户昵称, 微博正文, 头条文章url, 发布位置, 艾特用户, 话题, 转发数, 评论数,
点赞数, 发布时间, 发布工具, 微博图片url, 微博视频url, retweet_id, ip, user_authentication, 会员类型, 会员等级),
``weibo/spiders/search.py`` (counts are the page's display text such as ``1.2万`` or ``100万+``; a repost row has
``retweet_id`` and its source is written as a row of its own just before it; ``艾特用户``/``话题``/``微博图片url`` are
comma-joined) and ``weibo/utils/util.py: standardize_date`` (``发布时间`` as ``%Y-%m-%d %H:%M``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from yuqing.collectors.importers import columnar
from yuqing.collectors.importers.columnar import Columns, Planner, Rows
from yuqing.collectors.importers.records import (
    Cells,
    FileContext,
    Parsed,
    crawl_time_of,
    finish_post,
    make_author,
    raw_of,
)
from yuqing.store.errors import InputError
from yuqing.store.schema import Platform, PostKind

__all__ = ["columns_plan", "make_parser", "matches"]

_VERIFIED = {"蓝V": 1, "黄V": 0, "红V": 0, "金V": 0}


def matches(path: Path, columns: Collection[str]) -> bool:
    cols = set(columns)
    return "微博正文" in cols and ("发布时间" in cols or "转发数" in cols)


def _check(ctx: FileContext, columns: Collection[str]) -> None:
    if ctx.platform not in (None, Platform.WEIBO):
        raise InputError("weibo-search exports are Weibo posts (drop --platform)", file=str(ctx.path))
    missing = [c for c in ("id", "微博正文", "发布时间") if c not in columns]
    if missing:
        raise InputError(
            f"not a weibo-search CSV: no column {missing[0]}", file=str(ctx.path), line=1, field=missing[0]
        )


def columns_plan(ctx: FileContext, columns: Collection[str]) -> tuple[Planner, bool]:
    """:func:`make_parser`'s rules on whole columns (the bulk path, :mod:`.columnar`)."""
    _check(ctx, columns)
    keyword = ctx.path.stem

    def plan(rows: Rows) -> Columns:
        fetched, crawl_checks = columnar.crawl_times_of(rows, ctx)
        cols = Columns(rows, fetched)
        cols.author_id, author_checks = columnar.ids_of(rows, "user_id")
        retweet, retweet_checks = columnar.ids_of(rows, "retweet_id")
        cols.id, id_checks = columnar.ids_of(rows, "id", required=True)
        cols.kind = [PostKind.REPOST.value if r else PostKind.POST.value for r in retweet]
        cols.created_at, time_checks = columnar.times_of(rows, "发布时间", now=fetched)
        cols.refs = {"parent_id": list(retweet), "root_id": list(retweet)}
        checks = [crawl_checks, author_checks, retweet_checks, id_checks, time_checks]
        for name, column in (("reposts_count", "转发数"), ("comments_count", "评论数"), ("attitudes_count", "点赞数")):
            cols.counts[name], found = columnar.counts_of(rows, column)
            checks.append(found)
        cols.check(*checks)
        cols.texts["author_name"] = columnar.texts_of(rows, "用户昵称")
        cols.texts["source"] = columnar.texts_of(rows, "发布工具")
        ips = columnar.texts_of(rows, "ip")
        cols.texts["location"] = [
            place or ip.replace("发布于", "").strip()
            for place, ip in zip(columnar.texts_of(rows, "发布位置"), ips, strict=True)
        ]
        cols.texts["query"] = [keyword] * rows.n
        cols.lists["topics"] = columnar.lists_of(rows, "话题")
        cols.lists["at_users"] = columnar.lists_of(rows, "艾特用户")
        cols.lists["pics"] = [[p for p in ps if p.startswith("http")] for ps in columnar.lists_of(rows, "微博图片url")]
        cols.text = columnar.texts_of(rows, "微博正文")
        labels = columnar.texts_of(rows, "user_authentication")
        cols.author_columns = {
            "verified": [label in _VERIFIED for label in labels],
            "verified_type": [_VERIFIED.get(label) for label in labels],
            "verified_reason": [label if label in _VERIFIED else "" for label in labels],
        }
        return cols

    return plan, False


def make_parser(ctx: FileContext, columns: Collection[str]) -> Callable[[dict[str, Any], int | None], Parsed]:
    _check(ctx, columns)
    keyword = ctx.path.stem  # 结果文件/<keyword>/<keyword>.csv

    def parse(values: dict[str, Any], line: int | None) -> Parsed:
        cells = Cells(values)
        fetched = crawl_time_of(cells, ctx, line)
        author_id = cells.id("user_id")
        author_name = cells.text("用户昵称")
        retweet = cells.id("retweet_id")
        post = finish_post(
            {
                "platform": Platform.WEIBO,
                "id": cells.id("id", required=True),
                "kind": PostKind.REPOST if retweet else PostKind.POST,
                "created_at": cells.time("发布时间", now=fetched),
                "author_id": author_id,
                "author_name": author_name,
                "parent_id": retweet or None,
                "root_id": retweet or None,
                "reposts_count": cells.count("转发数"),
                "comments_count": cells.count("评论数"),
                "attitudes_count": cells.count("点赞数"),
                "source": cells.text("发布工具"),
                "location": cells.text("发布位置") or cells.text("ip").replace("发布于", "").strip(),
                "topics": cells.list("话题"),
                "at_users": cells.list("艾特用户"),
                "pics": [p for p in cells.list("微博图片url") if p.startswith("http")],
                "query": keyword,
                "fetched_at": fetched,
                "raw": raw_of(values),
            },
            cells.text("微博正文"),
        )
        authors = []
        if author_id:
            label = cells.text("user_authentication")
            authors.append(
                make_author(
                    Platform.WEIBO,
                    author_id,
                    author_name,
                    fetched,
                    verified=label in _VERIFIED,
                    verified_type=_VERIFIED.get(label),
                    verified_reason=label if label in _VERIFIED else "",
                )
            )
        return Parsed([post], authors)

    return parse
