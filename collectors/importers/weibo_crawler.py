"""dataabc/weibo-crawler exports: ``<output_directory>/<screen_name|uid>/<uid>.csv`` and ``<uid>.json``.

Derived from weibo-crawler's writer code (``weibo.py``, snapshot 93cd292, 2026-06-24): ``get_result_headers`` and
``get_write_info`` (CSV, ``utf-8-sig``; ids written as ``str(id) + "\\t"``; ``user_id``/``screen_name`` left out;
a repost row carries ``是否原创=False`` and its source as ``源用户id``, ``源用户昵称``, ``源微博<header>``),
``parse_weibo`` (``pics``, ``topics``, ``at_users`` comma-joined; ``created_at`` ``%Y-%m-%dT%H:%M:%S``,
``full_created_at`` ``%Y-%m-%d %H:%M:%S``), ``write_json``/``update_json_data`` (``{"user": {...}, "weibo":
[{..., "retweet": {...}}]}``), ``get_filepath`` (the uid is only in the file name) and ``user_to_csv``
(``users.csv`` next to the user folders: 用户id, 昵称, 粉丝数, ...).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Collection, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from yuqing.collectors.fields import parse_count, parse_id
from yuqing.collectors.importers import columnar
from yuqing.collectors.importers.columnar import Checks, Columns, Planner, Rows
from yuqing.collectors.importers.files import Row
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
from yuqing.store.errors import InputError, ParseError
from yuqing.store.schema import Author, Platform, Post, PostKind

__all__ = ["columns_plan", "explode", "make_parser", "matches"]

# CSV header → the key weibo-crawler's own dicts (and its JSON) use
_HEADERS = {
    "id": "id",
    "bid": "bid",
    "user_id": "user_id",
    "用户id": "user_id",
    "用户昵称": "screen_name",
    "screen_name": "screen_name",
    "正文": "text",
    "头条文章url": "article_url",
    "原始图片url": "pics",
    "视频url": "video_url",
    "Live Photo视频url": "live_photo_url",
    "位置": "location",
    "日期": "created_at",
    "工具": "source",
    "点赞数": "attitudes_count",
    "评论数": "comments_count",
    "转发数": "reposts_count",
    "话题": "topics",
    "@用户": "at_users",
    "完整日期": "full_created_at",
    "是否编辑过": "edited",
    "编辑次数": "edit_count",
    "是否原创": "is_original",
}
_SOURCE_PREFIX = "源微博"
_SOURCE_USER = {"源用户id": "user_id", "源用户昵称": "screen_name"}
_MARKERS = ("正文", "日期", "点赞数", "源微博id")


def matches(path: Path, columns: Collection[str]) -> bool:
    cols = set(columns)
    if "正文" in cols and ("日期" in cols or "点赞数" in cols):
        return True
    return "__document__" in cols and "weibo" in cols and "user" in cols  # {"user": {...}, "weibo": [...]}


def explode(doc: Any, path: Path) -> Iterator[Row]:
    """The ``weibo`` items of a weibo-crawler JSON document, each with the document's ``user``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("weibo"), list):
        raise InputError('not a weibo-crawler JSON file (expected {"user": {...}, "weibo": [...]})', file=str(path))
    user = doc.get("user") if isinstance(doc.get("user"), dict) else {}
    for i, item in enumerate(doc["weibo"]):
        values = dict(item) if isinstance(item, dict) else {"__error__": f"weibo[{i}] is not an object"}
        values["__user__"] = user
        values["__where__"] = f"weibo[{i}]"
        yield Row(None, values)


def _normalise(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the weibo, its source weibo or None) with weibo-crawler's English keys, from a CSV row or a JSON item."""
    if "retweet" in values or "text" in values:
        retweet = values.get("retweet")
        return values, retweet if isinstance(retweet, dict) else None
    own_names, source_names = _column_names(values)
    own = {key: values[column] for key, column in own_names.items()}
    source = {key: values[column] for key, column in source_names.items()}
    return own, source if any(str(v).strip() for v in source.values()) else None


def _is_false(value: Any) -> bool:
    return value is False or str(value).strip().lower() in ("false", "0", "否")


def _users_csv(directory: Path) -> dict[str, dict[str, str]]:
    """``users.csv`` that weibo-crawler keeps next to the user folders, by 用户id (empty when absent/unreadable)."""
    path = directory / "users.csv"
    try:
        return _read_users_csv(path, path.stat().st_mtime_ns)
    except OSError:
        return {}


@lru_cache(maxsize=64)
def _read_users_csv(path: Path, mtime_ns: int) -> dict[str, dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return {parse_id(r.get("用户id")): r for r in csv.DictReader(f) if parse_id(r.get("用户id"))}
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}


def _path_author(path: Path) -> tuple[str, str]:
    """(uid, screen name) from ``<screen_name|uid>/<uid>.csv``."""
    uid = path.stem.strip() if path.stem.strip().isdigit() else ""
    folder = path.parent.name
    name = "" if not folder or folder == uid or folder.lower() in ("weibo", "csv", "json") else folder
    return uid, name


def _author_from_user(user: dict[str, Any], fetched: dt.datetime) -> Author | None:
    uid = parse_id(user.get("id"))
    if not uid:
        return None
    try:
        return make_author(
            Platform.WEIBO,
            uid,
            str(user.get("screen_name") or ""),
            fetched,
            followers_count=parse_count(user.get("followers_count")),
            friends_count=parse_count(user.get("follow_count")),
            statuses_count=parse_count(user.get("statuses_count")),
            verified=bool(user.get("verified") in (True, "True", "true", 1)),
            verified_type=int(user["verified_type"])
            if str(user.get("verified_type", "")).lstrip("-").isdigit()
            else None,
            verified_reason=str(user.get("verified_reason") or ""),
            gender=str(user.get("gender") or ""),
            location=str(user.get("location") or ""),
            description=str(user.get("description") or ""),
        )
    except ParseError as exc:
        raise RowError("user", str(exc)) from exc


def _int_or_none(value: Any) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.lstrip("-").isdigit() and len(text) < 10 else None


def _users_csv_author(row: dict[str, str], fetched: dt.datetime) -> Author | None:
    user = {
        "id": row.get("用户id"),
        "screen_name": row.get("昵称"),
        "followers_count": row.get("粉丝数"),
        "follow_count": row.get("关注数"),
        "statuses_count": row.get("微博数"),
        "verified": row.get("是否认证"),
        "verified_type": row.get("认证类型"),
        "verified_reason": row.get("认证信息"),
        "gender": row.get("性别"),
        "location": row.get("所在地"),
        "description": row.get("简介"),
    }
    try:
        return _author_from_user(user, fetched)
    except RowError:
        return None


def make_parser(ctx: FileContext, columns: Collection[str]) -> Callable[[dict[str, Any], int | None], Parsed]:
    if ctx.platform not in (None, Platform.WEIBO):
        raise InputError("weibo-crawler exports are Weibo posts (drop --platform)", file=str(ctx.path))
    if "__document__" not in columns and not ({"正文", "text"} & set(columns)):
        raise InputError(
            f"not a weibo-crawler CSV (no 正文 column); columns are {sorted(columns)[:20]}", file=str(ctx.path), line=1
        )
    uid, folder_name = _path_author(ctx.path)
    known = _users_csv(ctx.path.parent.parent) if uid else {}

    def parse(values: dict[str, Any], line: int | None) -> Parsed:
        fetched = crawl_time_of(Cells(values), ctx, line)
        own, source = _normalise(values)
        cells = Cells(own)
        authors: list[Author] = []
        user = values.get("__user__") if isinstance(values.get("__user__"), dict) else None
        author_id = cells.id("user_id") or (parse_id(user.get("id")) if user else "") or uid
        author_name = cells.text("screen_name") or (str(user.get("screen_name") or "") if user else "") or folder_name
        # the loader keeps the first Author per id and file: the profile (JSON user, users.csv) goes first
        profile = _author_from_user(user, fetched) if user else None
        if profile is None and author_id == uid and uid in known:
            profile = _users_csv_author(known[uid], fetched)
        if profile is not None:
            authors.append(profile)
            author_name = author_name or profile.screen_name
        elif author_id:
            authors.append(make_author(Platform.WEIBO, author_id, author_name, fetched))
        posts: list[Post] = []
        kind, parent = PostKind.POST, None
        parent_author = None
        if source is not None or _is_false(own.get("is_original", True)):
            kind = PostKind.REPOST
            if source is not None:
                src_cells = Cells(source)
                src = _weibo(
                    src_cells, fetched, "源微博", src_cells.id("user_id"), src_cells.text("screen_name"), source
                )
                if src is not None:
                    posts.append(src)
                    parent, parent_author = src.id, src.author_id or None
                    if src.author_id:
                        authors.append(make_author(Platform.WEIBO, src.author_id, src.author_name, fetched))
                else:
                    parent = parse_id(source.get("id")) or None
        post = _weibo(
            cells, fetched, "", author_id, author_name, values, kind=kind, parent=parent, parent_author=parent_author
        )
        if post is None:
            raise RowError("id", "empty id")
        posts.insert(0, post)
        return Parsed(posts, authors)

    return parse


def _weibo(
    cells: Cells,
    fetched: dt.datetime,
    prefix: str,
    author_id: str,
    author_name: str,
    raw: dict[str, Any],
    *,
    kind: PostKind = PostKind.POST,
    parent: str | None = None,
    parent_author: str | None = None,
) -> Post | None:
    post_id = cells.id("id")
    if not post_id:
        return None
    try:
        created = cells.time("full_created_at", "created_at", now=fetched)
    except RowError as exc:
        raise RowError(prefix + ("完整日期" if exc.column == "full_created_at" else "日期"), str(exc)) from exc
    values: dict[str, Any] = {
        "platform": Platform.WEIBO,
        "id": post_id,
        "kind": kind,
        "created_at": created,
        "author_id": author_id,
        "author_name": author_name,
        "parent_id": parent,
        "root_id": parent,
        "parent_author_id": parent_author,
        "attitudes_count": cells.count("attitudes_count"),
        "comments_count": cells.count("comments_count"),
        "reposts_count": cells.count("reposts_count"),
        "source": cells.text("source"),
        "location": cells.text("location"),
        "topics": cells.list("topics"),
        "at_users": cells.list("at_users"),
        "pics": [p for p in cells.list("pics") if p.startswith("http")],
        "fetched_at": fetched,
        "raw": raw_of({k: v for k, v in raw.items() if k != "retweet"} if not prefix else raw),
    }
    return finish_post(values, cells.text("text"))


# ------------------------------------------------------------------------------------------------ columns
# make_parser's rules on whole columns (the bulk path, :mod:`.columnar`) for the CSV export: each row is two
# entries, the weibo and (for a repost) its source weibo, which are stored or rejected together.


def _column_names(columns: Collection[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(weibo key → CSV column, source weibo key → CSV column), as :func:`_normalise` reads a row."""
    own: dict[str, str] = {}
    source: dict[str, str] = {}
    for column in columns:
        if column in _SOURCE_USER:
            source[_SOURCE_USER[column]] = column
        elif column.startswith(_SOURCE_PREFIX):
            key = _HEADERS.get(column[len(_SOURCE_PREFIX) :])
            if key:
                source[key] = column
        elif column in _HEADERS:
            own[_HEADERS[column]] = column
    return own, source


def columns_plan(ctx: FileContext, columns: Collection[str]) -> tuple[Planner, bool] | None:
    """The CSV export's rules on whole columns; None for a file :func:`_normalise` reads by English keys."""
    if "text" in columns or "retweet" in columns:
        return None
    make_parser(ctx, columns)  # the same refusals
    uid, folder_name = _path_author(ctx.path)
    known = _users_csv(ctx.path.parent.parent) if uid else {}
    own_names, source_names = _column_names(columns)
    has_profile = bool(uid) and uid in known and _users_csv_author(known[uid], ctx.crawl_time) is not None

    def plan(rows: Rows) -> Columns:
        n = rows.n
        fetched, _ = columnar.crawl_times_of(rows, ctx)
        own = Rows(rows.lines, {k: rows.cells[c] for k, c in own_names.items()}, list(own_names))
        src = Rows(rows.lines, {k: rows.cells[c] for k, c in source_names.items()}, list(source_names))
        author_ids, author_checks = columnar.ids_of(own, "user_id")
        author_ids = [a or uid for a in author_ids]
        names = [a or folder_name for a in columnar.texts_of(own, "screen_name")]
        sourced = np.zeros(n, dtype=bool)
        for column in source_names.values():
            sourced |= np.array([bool(v.strip()) for v in rows.cells[column]], dtype=bool)
        original = own.cells.get("is_original")
        reposts = sourced | (np.array([_is_false(v) for v in original], dtype=bool) if original else False)
        src_authors, src_author_checks = columnar.ids_of(src, "user_id")
        src_ids, src_id_checks = columnar.ids_of(src, "id")
        has_src = sourced & np.array([bool(i) for i in src_ids], dtype=bool)
        src_fields, src_checks = _weibo_columns(src, fetched, "源微博", has_src)
        own_ids, own_id_checks = columnar.ids_of(own, "id")
        has_id = np.array([bool(i) for i in own_ids], dtype=bool)
        own_fields, own_checks = _weibo_columns(own, fetched, "", has_id)
        empty = {int(i): ("id", "empty id") for i in np.flatnonzero(~has_id)}
        cols = Columns(rows, np.repeat(fetched, 2))
        cols.check(
            author_checks,
            _only(src_author_checks, sourced),
            _only(src_id_checks, sourced),
            *src_checks,
            own_id_checks,
            *own_checks,
            empty,
        )
        profiled = np.array([has_profile and a == uid for a in author_ids], dtype=bool)
        if has_profile:
            names = [a or (known[uid].get("昵称") or "") if p else a for a, p in zip(names, profiled, strict=True)]
        parents = [s if h else None for s, h in zip(src_ids, has_src, strict=True)]
        parent_authors = [a or None if h else None for a, h in zip(src_authors, has_src, strict=True)]
        cols.owner = np.repeat(np.arange(n), 2)
        cols.absent = np.zeros(2 * n, dtype=bool)
        cols.absent[1::2] = ~has_src
        cols.profiled = np.zeros(2 * n, dtype=bool)
        cols.profiled[0::2] = profiled

        def profile(entry: int) -> Author:
            at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(cols.fetched[entry]))
            made = _users_csv_author(known[uid], at)
            assert made is not None  # has_profile
            return made

        cols.profile = profile
        cols.platform = [Platform.WEIBO.value] * (2 * n)
        cols.id = _mix(own_ids, src_ids)
        cols.kind = _mix([PostKind.REPOST.value if r else PostKind.POST.value for r in reposts],
                         [PostKind.POST.value] * n)  # fmt: skip
        cols.created_at = _mix_array(own_fields["created_at"], src_fields["created_at"])
        cols.author_id = _mix(author_ids, src_authors)
        cols.texts["author_name"] = _mix(names, columnar.texts_of(src, "screen_name"))
        cols.refs["parent_id"] = _mix(parents, [None] * n)
        cols.refs["root_id"] = list(cols.refs["parent_id"])
        cols.refs["parent_author_id"] = _mix(parent_authors, [None] * n)
        for name in ("attitudes_count", "comments_count", "reposts_count"):
            cols.counts[name] = _mix_array(own_fields[name], src_fields[name])
        for name in ("source", "location"):
            cols.texts[name] = _mix(columnar.texts_of(own, name), columnar.texts_of(src, name))
        for name in ("topics", "at_users", "pics"):
            cols.lists[name] = _mix(columnar.lists_of(own, name), columnar.lists_of(src, name))
        cols.lists["pics"] = [[p for p in ps if p.startswith("http")] for ps in cols.lists["pics"]]
        cols.text = _mix(columnar.texts_of(own, "text"), columnar.texts_of(src, "text"))
        src_raw = raw_json(list(source_names), [pa.array(rows.cells[c], pa.string()) for c in source_names.values()])
        cols.raw = _mix(rows.raw(), list(src_raw))
        return cols

    return plan, True


def _weibo_columns(
    rows: Rows, fetched: np.ndarray, prefix: str, exists: np.ndarray
) -> tuple[dict[str, Any], list[Checks]]:
    """:func:`_weibo`'s time and counts of every row, and its checks on the rows where the weibo ``exists``."""
    fields: dict[str, Any] = {}
    created, found = columnar.times_of(rows, "full_created_at", "created_at", now=fetched)
    fields["created_at"] = created
    renamed = {i: (prefix + ("完整日期" if c == "full_created_at" else "日期"), why) for i, (c, why) in found.items()}
    checks = [_only(renamed, exists)]
    for name in ("attitudes_count", "comments_count", "reposts_count"):
        fields[name], found = columnar.counts_of(rows, name)
        checks.append(_only(found, exists))
    return fields, checks


def _only(checks: Checks, rows: np.ndarray) -> Checks:
    return {i: why for i, why in checks.items() if rows[i]}


def _mix(own: list[Any], source: list[Any]) -> list[Any]:
    out: list[Any] = [None] * (2 * len(own))
    out[0::2], out[1::2] = own, source
    return out


def _mix_array(own: np.ndarray, source: np.ndarray) -> np.ndarray:
    out = np.empty(2 * len(own), dtype=own.dtype)
    out[0::2], out[1::2] = own, source
    return out
