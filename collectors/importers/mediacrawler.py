"""NanmiCoder/MediaCrawler exports: seven platforms, contents and comments, CSV (utf-8-sig) / JSON / JSONL.

Derived from MediaCrawler's own writer code (snapshot d6f7c5b, 2026-08-14): ``store/<platform>/__init__.py``
(the dict each ``update_*`` function stores), ``model/m_baidu_tieba.py`` and ``model/m_zhihu.py`` (Tieba and Zhihu
rows are these models dumped), ``tools/async_file_writer.py`` (layout ``data/<platform>/<csv|json|jsonl>/
<crawler_type>_<contents|comments|creators>_<YYYY-MM-DD>.<ext>``; CSV ``utf-8-sig`` appended with a header once,
JSON an indented array rewritten per row, JSONL appended), ``tools/user_hash.py`` (since commit 9f4f8bf,
2026-07-01: ``creator_hash`` = first 16 hex of sha256(user id), nickname masked to first + ``***`` + last
character; no ``user_id``, ``ip_location``, avatar or gender any more) and ``tools/time_util.py``
(``last_modify_ts`` in milliseconds).  Rows before July 2026 carry ``user_id``, ``nickname``, ``ip_location``
(Tieba: ``user_link``; Zhihu/Tieba: ``user_nickname``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa

from yuqing.collectors.importers import columnar
from yuqing.collectors.importers.columnar import Checks, Columns, Planner, Rows
from yuqing.collectors.importers.records import (
    Cells,
    FileContext,
    Parsed,
    RowError,
    crawl_time_of,
    finish_post,
    make_author,
    raw_json,
    raw_of,
)
from yuqing.collectors.platforms import names
from yuqing.store.errors import InputError
from yuqing.store.schema import Platform, PostKind

__all__ = ["PLATFORM_DIRS", "SPECS", "columns_plan", "make_parser", "matches", "platform_from_path"]


@dataclass(frozen=True)
class Spec:
    """Column names of one platform's contents and comments rows."""

    platform: Platform
    content_id: str
    time: tuple[str, ...]
    text: tuple[str, ...]  # joined (title, then description) when they differ
    likes: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()
    shares: tuple[str, ...] = ()
    pics: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    comment_time: tuple[str, ...] = ("create_time",)
    comment_likes: tuple[str, ...] = ("like_count",)
    comment_pics: tuple[str, ...] = ("pictures",)
    markers: tuple[str, ...] = ()  # content columns only this platform writes


SPECS: dict[Platform, Spec] = {
    Platform.WEIBO: Spec(
        Platform.WEIBO,
        "note_id",
        time=("create_time", "create_date_time"),
        text=("content",),
        likes=("liked_count",),
        comments=("comments_count",),
        shares=("shared_count",),
        comment_time=("create_time", "create_date_time"),
        comment_likes=("comment_like_count", "like_count"),
        markers=("shared_count", "create_date_time"),
    ),
    Platform.XIAOHONGSHU: Spec(
        Platform.XIAOHONGSHU,
        "note_id",
        time=("time",),
        text=("title", "desc"),
        likes=("liked_count",),
        comments=("comment_count",),
        shares=("share_count",),
        pics=("image_list",),
        topics=("tag_list",),
        markers=("xsec_token", "image_list", "collected_count"),
    ),
    Platform.DOUYIN: Spec(
        Platform.DOUYIN,
        "aweme_id",
        time=("create_time",),
        text=("title", "desc"),
        likes=("liked_count",),
        comments=("comment_count",),
        shares=("share_count",),
        pics=("note_download_url",),
        markers=("aweme_id",),
    ),
    Platform.KUAISHOU: Spec(
        Platform.KUAISHOU,
        "video_id",
        time=("create_time",),
        text=("title", "desc"),
        likes=("liked_count",),
        comment_likes=(),
        markers=("viewd_count", "video_play_url"),
    ),
    Platform.BILIBILI: Spec(
        Platform.BILIBILI,
        "video_id",
        time=("create_time",),
        text=("title", "desc"),
        likes=("liked_count",),
        comments=("video_comment",),
        shares=("video_share_count",),
        markers=("video_play_count", "video_danmaku", "disliked_count"),
    ),
    Platform.TIEBA: Spec(
        Platform.TIEBA,
        "note_id",
        time=("publish_time",),
        text=("title", "desc"),
        comments=("total_replay_num",),
        comment_time=("publish_time",),
        markers=("tieba_name", "tieba_link"),
    ),
    Platform.ZHIHU: Spec(
        Platform.ZHIHU,
        "content_id",
        time=("created_time",),
        text=("title", "content_text", "desc"),
        likes=("voteup_count",),
        comments=("comment_count",),
        comment_time=("publish_time",),
        markers=("content_id", "voteup_count", "question_id"),
    ),
}

PLATFORM_DIRS: dict[str, Platform] = names()
"""MediaCrawler's directory names (``wb``, ``xhs``, ``dy``, ``ks``, ``bili``, ``tieba``, ``zhihu``, the full names
too): the aliases of the platform registry."""
_FILE_NAME = re.compile(r"^(?:\d+_)?(?P<crawler>[a-z]+)_(?P<item>contents|comments|creators?|dynamics|contacts)_")
_ID_COLUMNS = ("note_id", "aweme_id", "video_id", "content_id", "comment_id")
_OWN_COLUMNS = ("last_modify_ts", "creator_hash", "source_keyword", "note_url", "aweme_url", "sub_comment_count")


def platform_from_path(path: Path) -> Platform | None:
    """``data/<platform>/<csv|json|jsonl>/file`` → the platform of MediaCrawler's directory name."""
    parts = [p.lower() for p in path.parts[:-1]]
    for i, part in enumerate(parts):
        if part in PLATFORM_DIRS and (i + 1 == len(parts) or parts[i + 1] in ("csv", "json", "jsonl")):
            return PLATFORM_DIRS[part]
    return None


def item_from_path(path: Path) -> str | None:
    m = _FILE_NAME.match(path.name.lower())
    return m.group("item") if m else None


def matches(path: Path, columns: Collection[str]) -> bool:
    """A MediaCrawler file: its name/layout, or its columns (``last_modify_ts`` plus a platform id column)."""
    if item_from_path(path) and platform_from_path(path):
        return True
    return any(c in columns for c in _ID_COLUMNS) and any(c in columns for c in _OWN_COLUMNS)


def _platform_from_columns(columns: Collection[str], comment: bool) -> Platform | None:
    cols = set(columns)
    if comment:
        if "aweme_id" in cols:
            return Platform.DOUYIN
        if "content_id" in cols:
            return Platform.ZHIHU
        if "tieba_id" in cols or "tieba_name" in cols:
            return Platform.TIEBA
        if "video_id" in cols:
            return Platform.BILIBILI if "parent_comment_id" in cols or "like_count" in cols else Platform.KUAISHOU
        if "comment_like_count" in cols or "create_date_time" in cols:
            return Platform.WEIBO
        if "pictures" in cols and "note_id" in cols:
            return Platform.XIAOHONGSHU
        return None
    for spec in SPECS.values():
        if any(m in cols for m in spec.markers) and spec.content_id in cols:
            return spec.platform
    return None


def _kind(path: Path, columns: Collection[str]) -> str:
    item = item_from_path(path)
    if item in ("creators", "creator"):
        return "creators"
    if item in ("contents", "comments", "dynamics", "contacts"):
        return item
    if "comment_id" in columns:
        return "comments"
    if "dynamic_id" in columns:
        return "dynamics"
    return "contents"


def _file_kind(ctx: FileContext, columns: Collection[str]) -> tuple[str, Spec]:
    """(contents | comments | dynamics | creators, the platform's columns); :class:`InputError` when platform or
    kind cannot be told."""
    kind = _kind(ctx.path, columns)
    if kind == "contacts":
        raise InputError("Bilibili fan/following lists are not imported (no posts in them)", file=str(ctx.path), line=1)
    platform = ctx.platform or platform_from_path(ctx.path) or _platform_from_columns(columns, kind == "comments")
    if platform is None or platform not in SPECS:
        raise InputError(
            "cannot tell the MediaCrawler platform from the path or columns (put the file under "
            "data/<platform>/ or pass --platform weibo|xiaohongshu|douyin|kuaishou|bilibili|tieba|zhihu)",
            file=str(ctx.path),
            line=1,
        )
    spec = SPECS[platform]
    if kind == "contents" and spec.content_id not in columns and "note_id" not in columns:
        raise InputError(
            f"no {spec.content_id!r} column for {platform.value} contents; columns are {sorted(columns)[:20]}",
            file=str(ctx.path),
            line=1,
            field=spec.content_id,
        )
    return kind, spec


def make_parser(ctx: FileContext, columns: Collection[str]) -> Callable[[dict[str, Any], int | None], Parsed]:
    """The row parser for a MediaCrawler file; :class:`InputError` when platform or kind cannot be told."""
    kind, spec = _file_kind(ctx, columns)
    if kind == "creators":
        return lambda values, line: _creator(spec, ctx, Cells(values), line)
    if kind == "dynamics":
        return lambda values, line: _dynamic(spec, ctx, Cells(values), line)
    if kind == "comments":
        return lambda values, line: _comment(spec, ctx, Cells(values), line)
    return lambda values, line: _content(spec, ctx, Cells(values), line)


def columns_plan(ctx: FileContext, columns: Collection[str]) -> tuple[Planner, bool] | None:
    """The row parser's rules for contents and comments on whole columns (the bulk path, :mod:`.columnar`); None
    for creators and dynamics (few rows: row by row)."""
    kind, spec = _file_kind(ctx, columns)
    if kind == "contents":
        return (lambda rows: _content_columns(spec, ctx, rows)), False
    if kind == "comments":
        return (lambda rows: _comment_columns(spec, ctx, rows)), False
    return None


# ------------------------------------------------------------------------------------------------ rows

_CRAWL = ("last_modify_ts",)


def _author(spec: Spec, cells: Cells, fetched_at: dt.datetime) -> tuple[str, str, list[Any]]:
    """(author id, name, [Author]) from the current (creator_hash) or the older (user_id/user_link) schema."""
    name = cells.text("nickname", "user_nickname", "user_name")
    old_id = cells.id("user_id")
    if not old_id and cells.text("user_link"):  # Tieba before 2026-07: the profile link is the identity
        old_id = _tieba_user(cells.text("user_link"))
    if old_id:
        extra: dict[str, Any] = {"location": cells.text("ip_location")}
        if cells.text("gender"):
            extra["gender"] = cells.text("gender")
        return old_id, name, [make_author(spec.platform, old_id, name, fetched_at, **extra)]
    hashed = cells.id("creator_hash")
    if hashed:
        return hashed, name, [make_author(spec.platform, hashed, name, fetched_at, masked=True)]
    return "", name, []


def _tieba_user(link: str) -> str:
    query = parse_qs(urlsplit(link).query)
    for key in ("id", "un", "portrait"):
        if query.get(key):
            return query[key][0]
    return link.strip()


def _joined_text(cells: Cells, columns: tuple[str, ...]) -> str:
    """The single text column, or title + body (the first non-empty of the other columns); a title that is the
    body's beginning (Xiaohongshu/Douyin write ``title = desc[:255]``) is not repeated."""
    if len(columns) == 1:
        return cells.text(columns[0])
    return _join(cells.text(columns[0]).strip(), cells.text(*columns[1:]).strip())


def _join(title: str, body: str) -> str:
    if not title or title in body or body.startswith(title.rstrip(".… ")):
        return body or title
    return f"{title}\n{body}" if body else title


def _location(cells: Cells) -> str:
    return cells.text("ip_location").replace("发布于", "").replace("来自", "").strip()


def _content(spec: Spec, ctx: FileContext, cells: Cells, line: int | None) -> Parsed:
    fetched = crawl_time_of(cells, ctx, line, *_CRAWL)
    post_id = cells.id(spec.content_id, "note_id", required=True)
    author_id, name, authors = _author(spec, cells, fetched)
    values: dict[str, Any] = {
        "platform": spec.platform,
        "id": post_id,
        "kind": PostKind.POST,
        "created_at": cells.time(*spec.time, now=fetched),
        "author_id": author_id,
        "author_name": name,
        "attitudes_count": cells.count(*spec.likes) if spec.likes else 0,
        "comments_count": cells.count(*spec.comments) if spec.comments else 0,
        "reposts_count": cells.count(*spec.shares) if spec.shares else 0,
        "location": _location(cells),
        "topics": cells.list(*spec.topics) if spec.topics else [],
        "pics": cells.list(*spec.pics) if spec.pics else [],
        "query": cells.text("source_keyword"),
        "fetched_at": fetched,
        "raw": raw_of(cells.values),
    }
    return Parsed([finish_post(values, _joined_text(cells, spec.text))], authors)


def _comment(spec: Spec, ctx: FileContext, cells: Cells, line: int | None) -> Parsed:
    fetched = crawl_time_of(cells, ctx, line, *_CRAWL)
    comment_id = cells.id("comment_id", required=True)
    note_id = cells.id(spec.content_id, "note_id", "aweme_id", "video_id", "content_id")
    if not note_id:
        raise RowError(spec.content_id, "comment without the id of its note")
    parent = cells.id("parent_comment_id")
    # Weibo writes ``rootid``: a top-level comment's own id.  Douyin/Bilibili write "0", others "".
    parent_id = note_id if parent in ("", "0", comment_id) else parent
    author_id, name, authors = _author(spec, cells, fetched)
    values: dict[str, Any] = {
        "platform": spec.platform,
        "id": comment_id,
        "kind": PostKind.COMMENT,
        "created_at": cells.time(*spec.comment_time, now=fetched),
        "author_id": author_id,
        "author_name": name,
        "parent_id": parent_id,
        "root_id": note_id,
        "attitudes_count": cells.count(*spec.comment_likes) if spec.comment_likes else 0,
        "comments_count": cells.count("sub_comment_count"),
        "location": _location(cells),
        "pics": cells.list(*spec.comment_pics),
        "fetched_at": fetched,
        "raw": raw_of(cells.values),
    }
    return Parsed([finish_post(values, cells.text("content"))], authors)


def _dynamic(spec: Spec, ctx: FileContext, cells: Cells, line: int | None) -> Parsed:
    """Bilibili creator dynamics (``store/bilibili/__init__.py: update_bilibili_creator_dynamic``)."""
    fetched = crawl_time_of(cells, ctx, line, *_CRAWL)
    author_id, name, authors = _author(spec, cells, fetched)
    values: dict[str, Any] = {
        "platform": spec.platform,
        "id": cells.id("dynamic_id", required=True),
        "created_at": cells.time("pub_ts", now=fetched),
        "author_id": author_id,
        "author_name": name,
        "attitudes_count": cells.count("total_liked"),
        "comments_count": cells.count("total_comments"),
        "reposts_count": cells.count("total_forwards"),
        "fetched_at": fetched,
        "raw": raw_of(cells.values),
    }
    return Parsed([finish_post(values, cells.text("text"))], authors)


def _creator(spec: Spec, ctx: FileContext, cells: Cells, line: int | None) -> Parsed:
    """Creator profiles (written before 2026-07 only): followers and follows become the author's counts."""
    fetched = crawl_time_of(cells, ctx, line, *_CRAWL)
    author_id = cells.id("user_id", required=True)
    author = make_author(
        spec.platform,
        author_id,
        cells.text("nickname", "user_nickname", "user_name"),
        fetched,
        followers_count=cells.count("fans", "total_fans"),
        friends_count=cells.count("follows"),
        gender=cells.text("gender", "sex"),
        location=_location(cells),
        description=cells.text("desc", "sign"),
        raw=raw_of(cells.values),
    )
    return Parsed([], [author])


# ------------------------------------------------------------------------------------------------ columns
# The rules above on whole columns (:mod:`.columnar`); tests/test_importers_columnar.py compares the two.


def _author_columns(spec: Spec, rows: Rows, cols: Columns) -> Checks:
    """:func:`_author` of every row: the post's author id and name, the author's columns; the rows it rejects."""
    cols.texts["author_name"] = columnar.texts_of(rows, "nickname", "user_nickname", "user_name")
    old_ids, checks = columnar.ids_of(rows, "user_id")
    links = columnar.texts_of(rows, "user_link")
    hashed, hash_checks = columnar.ids_of(rows, "creator_hash")
    places = columnar.texts_of(rows, "ip_location")
    genders = columnar.texts_of(rows, "gender")
    # make_author(..., masked=True) keeps {"creator_hash": id, "nickname_masked": true} as the author's raw
    masked = raw_json(["creator_hash"], [pa.array(hashed, pa.string())])
    ids: list[str] = []
    location: list[str] = []
    gender: list[str] = []
    raw: list[str | None] = []
    for i, old in enumerate(old_ids):
        if not old and links[i]:
            old = _tieba_user(links[i])
        if old:
            ids.append(old)
            location.append(places[i])
            gender.append(genders[i])
            raw.append(None)
            continue
        if i in hash_checks:
            checks.setdefault(i, hash_checks[i])
        ids.append(hashed[i])
        location.append("")
        gender.append("")
        raw.append(masked[i][:-1] + ', "nickname_masked": true}' if hashed[i] else None)
    cols.author_id = ids
    cols.author_columns = {"location": location, "gender": gender, "raw": raw}
    return checks


def _located(rows: Rows) -> list[str]:
    return [t.replace("发布于", "").replace("来自", "").strip() for t in columnar.texts_of(rows, "ip_location")]


def _content_columns(spec: Spec, ctx: FileContext, rows: Rows) -> Columns:
    fetched, crawl_checks = columnar.crawl_times_of(rows, ctx, *_CRAWL)
    cols = Columns(rows, fetched)
    cols.platform = [spec.platform.value] * rows.n
    cols.id, id_checks = columnar.ids_of(rows, spec.content_id, "note_id", required=True)
    checks = [crawl_checks, id_checks, _author_columns(spec, rows, cols)]
    cols.created_at, found = columnar.times_of(rows, *spec.time, now=fetched)
    checks.append(found)
    for name, columns in (("attitudes_count", spec.likes), ("comments_count", spec.comments),
                          ("reposts_count", spec.shares)):  # fmt: skip
        if columns:
            cols.counts[name], found = columnar.counts_of(rows, *columns)
            checks.append(found)
    cols.check(*checks)
    cols.texts["location"] = _located(rows)
    if spec.topics:
        cols.lists["topics"] = columnar.lists_of(rows, *spec.topics)
    if spec.pics:
        cols.lists["pics"] = columnar.lists_of(rows, *spec.pics)
    cols.texts["query"] = columnar.texts_of(rows, "source_keyword")
    if len(spec.text) == 1:
        cols.text = columnar.texts_of(rows, spec.text[0])
    else:
        titles, bodies = columnar.texts_of(rows, spec.text[0]), columnar.texts_of(rows, *spec.text[1:])
        cols.text = [_join(title.strip(), body.strip()) for title, body in zip(titles, bodies, strict=True)]
    return cols


def _comment_columns(spec: Spec, ctx: FileContext, rows: Rows) -> Columns:
    fetched, crawl_checks = columnar.crawl_times_of(rows, ctx, *_CRAWL)
    cols = Columns(rows, fetched)
    cols.platform = [spec.platform.value] * rows.n
    cols.kind = [PostKind.COMMENT.value] * rows.n
    cols.id, id_checks = columnar.ids_of(rows, "comment_id", required=True)
    notes, note_checks = columnar.ids_of(rows, spec.content_id, "note_id", "aweme_id", "video_id", "content_id")
    orphans = {i: (spec.content_id, "comment without the id of its note") for i, v in enumerate(notes) if not v}
    parents, parent_checks = columnar.ids_of(rows, "parent_comment_id")
    checks = [crawl_checks, id_checks, note_checks, orphans, parent_checks, _author_columns(spec, rows, cols)]
    # Weibo writes ``rootid``: a top-level comment's own id.  Douyin/Bilibili write "0", others "".
    cols.refs["parent_id"] = [
        note if parent in ("", "0", own) else parent for note, parent, own in zip(notes, parents, cols.id, strict=True)
    ]
    cols.refs["root_id"] = list(notes)
    cols.created_at, found = columnar.times_of(rows, *spec.comment_time, now=fetched)
    checks.append(found)
    if spec.comment_likes:
        cols.counts["attitudes_count"], found = columnar.counts_of(rows, *spec.comment_likes)
        checks.append(found)
    cols.counts["comments_count"], found = columnar.counts_of(rows, "sub_comment_count")
    checks.append(found)
    cols.check(*checks)
    cols.texts["location"] = _located(rows)
    cols.lists["pics"] = columnar.lists_of(rows, *spec.comment_pics)
    cols.text = columnar.texts_of(rows, "content")
    return cols
