"""Value parsing every source shares: times, counts, ids, list cells, text cleaning and entity extraction.

Collectors, spiders and importers all read values the platforms display in a handful of shapes. Parsing them in
one place means a post collected live and the same post imported from a crawler's export end up identical:

* :func:`parse_time` — unix seconds, milliseconds, microseconds (told apart by magnitude), Weibo's
  ``Tue Sep 01 20:15:00 +0800 2026``, ISO 8601, ``2026-09-01 12:30``, ``2026/9/1``, ``2026年9月1日 12:30``, and the
  relative times the sites display (``刚刚``, ``N秒/分钟/小时/天前``, ``今天 12:30``, ``昨天 12:30``, ``前天``,
  ``09-01``, ``9月1日``) resolved against the crawl time given as ``now``;
* :func:`parse_count` — ``12``, ``"1,234"``, ``"1.2万"``, ``"100万+"``, ``"3亿"``, ``"1.2w"``, ``"2k"``, empty → 0;
* :func:`parse_id` — ids as ``str`` without the whitespace/tabs exporters add (``str(id) + "\\t"``);
* :func:`parse_list` — a JSON array, or a JSON/space/comma separated cell, as a list of strings;
* :func:`clean_text` — source text as people read it: emoticon ``<img alt="[哈哈]">`` kept as ``[哈哈]``,
  ``<br>`` → newline, other tags stripped, HTML entities unescaped, zero-width characters removed;
* :func:`extract` — ``#话题#``, ``@mentions`` and URLs, the same way for every source.  URLs come from the text and
  from ``href`` attributes, never Weibo's own topic-search, mention or emoticon links.

Every failure is a :class:`store.errors.ParseError` (never ``ValueError``/``OverflowError``) so that callers can
reject the one row and go on.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from yuqing.store.errors import ParseError
from yuqing.store.schema import CHINA_TZ

__all__ = [
    "Entities",
    "clean_text",
    "extract",
    "parse_count",
    "parse_id",
    "parse_list",
    "parse_time",
    "strip_html",
]

# --------------------------------------------------------------------------------------------------- times

_EPOCH_MIN = dt.datetime(1990, 1, 1, tzinfo=dt.UTC).timestamp()
_EPOCH_MAX = dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_RELATIVE = re.compile(r"^(\d{1,6})\s*(秒|秒钟|分|分钟|小时|个小时|天|日|周|星期)\s*前$")
_REL_UNITS = {
    "秒": "seconds",
    "秒钟": "seconds",
    "分": "minutes",
    "分钟": "minutes",
    "小时": "hours",
    "个小时": "hours",
    "天": "days",
    "日": "days",
    "周": "weeks",
    "星期": "weeks",
}
_DAY_WORDS = {"今天": 0, "昨天": 1, "前天": 2}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_YMD = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2}(?:\.\d+)?)秒?)?)?\s*$"
)
_MD = re.compile(r"^(\d{1,2})\s*[-/月]\s*(\d{1,2})\s*日?(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_WEIBO_FORMAT = "%a %b %d %H:%M:%S %z %Y"


def _from_epoch(number: float) -> dt.datetime:
    """Unix time in seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude."""
    if math.isnan(number) or math.isinf(number):
        raise ParseError(f"not a time: {number!r}")
    seconds = number
    for _ in range(4):  # s → ms → µs → ns
        if abs(seconds) < _EPOCH_MAX:
            break
        seconds /= 1000
    if not _EPOCH_MIN <= seconds < _EPOCH_MAX:
        raise ParseError(f"unix time {number!r} is outside 1990–2100")
    return dt.datetime.fromtimestamp(seconds, tz=CHINA_TZ)


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(CHINA_TZ)
    return (now if now.tzinfo else now.replace(tzinfo=CHINA_TZ)).astimezone(CHINA_TZ)


def _at(day: dt.date, hour: int, minute: int, second: float = 0.0) -> dt.datetime:
    whole = int(second)
    micro = round((second - whole) * 1_000_000)
    return dt.datetime(day.year, day.month, day.day, hour, minute, whole, min(micro, 999_999), tzinfo=CHINA_TZ)


def _parse_text_time(text: str, now: dt.datetime | None) -> dt.datetime:
    if _NUMBER.fullmatch(text):
        return _from_epoch(float(text))
    m = _YMD.match(text)
    if m:
        year, month, day, hour, minute, second = m.groups()
        return _at(dt.date(int(year), int(month), int(day)), int(hour or 0), int(minute or 0), float(second or 0))
    if text[:1].isascii() and text[:1].isalpha():  # Weibo's "Tue Sep 01 20:15:00 +0800 2026"
        try:
            return dt.datetime.strptime(text, _WEIBO_FORMAT)
        except ValueError:
            pass
    # relative times: only meaningful against the crawl time
    if text in ("刚刚", "刚才", "just now"):
        return _now(now)
    m = _RELATIVE.match(text)
    if m:
        return _now(now) - dt.timedelta(**{_REL_UNITS[m.group(2)]: int(m.group(1))})
    for word, days_back in _DAY_WORDS.items():
        if text.startswith(word):
            rest = text[len(word) :].strip()
            day = (_now(now) - dt.timedelta(days=days_back)).date()
            if not rest:
                return _at(day, 0, 0)
            clock = _CLOCK.match(rest)
            if not clock:
                raise ParseError(f"unrecognised time {text!r}")
            return _at(day, int(clock.group(1)), int(clock.group(2)), float(clock.group(3) or 0))
    m = _MD.match(text)
    if m:
        month, day_, hour, minute, second = (int(g) if g else 0 for g in m.groups())
        crawl = _now(now)
        year = crawl.year if (month, day_) <= (crawl.month, crawl.day) else crawl.year - 1
        return _at(dt.date(year, month, day_), hour, minute, second)
    iso = text.replace("Z", "+00:00") if text.endswith("Z") else text
    parsed = dt.datetime.fromisoformat(iso)  # ValueError handled by the caller
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TZ)


def parse_time(value: Any, now: dt.datetime | None = None) -> dt.datetime:
    """A timezone-aware time from any shape the platforms and crawler exports use.

    Numbers (and digit strings) are unix time in seconds, milliseconds, microseconds or nanoseconds, told apart by
    magnitude and checked to fall in 1990–2100.  Naive times are China Standard Time.  Relative times (``刚刚``,
    ``5分钟前``, ``昨天 12:30``, ``09-01`` …) are resolved against ``now`` — pass the crawl time so that parsing the
    same row twice gives the same answer; without it the current time is used.  Raises :class:`ParseError`.
    """
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=CHINA_TZ)
    if isinstance(value, bool) or value is None:
        raise ParseError(f"not a time: {value!r}")
    try:
        if isinstance(value, int | float | Decimal):
            return _from_epoch(float(value))
        text = " ".join(str(value).split())
        if not text:
            raise ParseError("empty time")
        return _parse_text_time(text, now)
    except ParseError:
        raise
    except (ValueError, OverflowError, OSError) as exc:
        raise ParseError(f"unrecognised time {str(value)[:60]!r}") from exc


# --------------------------------------------------------------------------------------------------- counts

_MULTIPLIERS = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000, "千": 1_000, "k": 1_000, "K": 1_000}
_ZERO_LABELS = frozenset({"赞", "点赞", "转发", "评论", "分享", "收藏", "-", "--", "—", "null", "None", "nan", "NaN"})


def parse_count(value: Any) -> int:
    """A non-negative int from what the sites display: ``12``, ``"1,234"``, ``"1.2万"``, ``"100万+"``, ``"3亿"``,
    ``"1.2w"``, ``"2k"``; empty, ``None``, NaN and zero labels (``"赞"``, ``"转发"``) → 0.

    Raises :class:`ParseError`."""
    if value is None or isinstance(value, bool):
        return int(bool(value))
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, float):
        if math.isnan(value):
            return 0
        if math.isinf(value):
            raise ParseError(f"not a count: {value!r}")
        return max(0, int(value))
    if isinstance(value, str) and value.isascii() and value.isdigit():  # the common case
        return int(value)
    text = str(value).strip().replace(",", "").replace("，", "").replace(" ", "")
    if not text or text in _ZERO_LABELS:
        return 0
    text = text.rstrip("+")
    mult = 1
    if text and text[-1] in _MULTIPLIERS:
        mult, text = _MULTIPLIERS[text[-1]], text[:-1]
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or not text or len(text) > 30:
        raise ParseError(f"not a count: {str(value)[:40]!r}")
    return max(0, int(number * mult))


# --------------------------------------------------------------------------------------------------- ids, lists

_INTEGRAL_FLOAT = re.compile(r"^(\d+)\.0+$")


def parse_id(value: Any) -> str:
    """An id as ``str``: surrounding whitespace and tabs removed (weibo-crawler writes ``str(id) + "\\t"`` so that
    Excel keeps the digits), an integral float (``12.0``) read as its integer; ``""`` when there is none."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer():
            return str(int(value))
        return repr(value)
    text = str(value).strip().strip("\ufeff\u200b")
    m = _INTEGRAL_FLOAT.match(text)
    if m:
        return m.group(1)
    if text in ("nan", "NaN", "None", "null"):
        return ""
    return text


_LIST_SPLIT = re.compile(r"\s*[,，;；、|]\s*")


def parse_list(value: Any) -> list[str]:
    """A list of strings from a JSON array or a cell holding one (JSON, or separated by commas/spaces/、/;)."""
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [s for s in (str(v).strip() for v in value if v is not None) if s]
    if isinstance(value, float) and math.isnan(value):
        return []
    text = str(value).strip()
    if not text or text in ("[]", "nan", "None", "null"):
        return []
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            decoded = None
        if isinstance(decoded, list):
            return [s for s in (str(v).strip() for v in decoded if v is not None) if s]
        text = text.strip("[]")
    # separated by commas (or ；、|) when the cell has any, else by whitespace: "星阅 X5,数码" is two topics
    parts = _LIST_SPLIT.split(text) if _LIST_SPLIT.search(text) else text.split()
    return [t.strip().strip("'\"") for t in parts if t.strip().strip("'\"")]


# --------------------------------------------------------------------------------------------------- text

_IMG_ALT = re.compile(r"<img\b[^>]*?\balt\s*=\s*[\"']?(\[[^\]\"'<>]{1,20}\])[\"']?[^>]*>", re.I)
_BR = re.compile(r"<br\s*/?>|</p\s*>|</div\s*>", re.I)
_TAG_NAMES = (
    "a|abbr|article|b|big|blockquote|body|br|button|center|cite|code|del|div|em|font|h[1-6]|head|hr|html|i|iframe|img"
    "|input|ins|label|li|mark|meta|ol|p|pre|q|s|script|section|small|source|span|strong|style|sub|sup|svg|table"
    "|tbody|td|th|thead|title|tr|u|ul|video|wbr"
)
_TAG = re.compile(rf"<!--.*?-->|</?(?:{_TAG_NAMES})\b[^<>]*>", re.S | re.I)
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad]")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: Any) -> str:
    """Source text as people read it: emoticon ``<img alt="[哈哈]">`` → ``[哈哈]``, ``<br>`` → newline, tags stripped,
    entities unescaped (``&gt;_&lt;`` → ``>_<``), zero-width characters removed, outer whitespace trimmed."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    out = str(text)
    if "<" in out:
        out = _IMG_ALT.sub(r"\1", out)
        out = _BR.sub("\n", out)
        out = _TAG.sub("", out)
    if "&" in out:
        out = html.unescape(out)
    out = _ZERO_WIDTH.sub("", out).replace("\r\n", "\n").replace("\xa0", " ")
    return _BLANK_LINES.sub("\n\n", out).strip()


strip_html = clean_text
"""The name :mod:`collectors.weibo.parse` has always exported."""


# --------------------------------------------------------------------------------------------------- entities

_TOPIC = re.compile(r"#([^#\s](?:[^#\n]{0,62}[^#\s])?)#")
_MENTION = re.compile(r"(?<![A-Za-z0-9_.+\-@])@([\w\-\u4e00-\u9fff]{1,30})")
_URL = re.compile(r"https?://[^\s\u3000-\u303f\u4e00-\u9fff\uff00-\uffef<>\"'`{}|\\^]+", re.I)
_A_TAG = re.compile(r"<a\b[^>]*>", re.I)
_LINK_ATTR = re.compile(r"""\b(href|data-url)\s*=\s*["']([^"']+)["']""", re.I)
_URL_TRAILING = ".,;:!?)]}'\""
_NOT_CONTENT_URL = (
    re.compile(r"^https?://(m\.)?weibo\.cn/(search|p/index|n/|k/)", re.I),  # topic search, super-topic, @name
    re.compile(r"^https?://s\.weibo\.com/weibo\?q=", re.I),  # topic search on weibo.com
    re.compile(r"^https?://(www\.)?weibo\.com/n/", re.I),  # mention link
    re.compile(r"^https?://[^/]*(sinaimg\.cn|sinajs\.cn)/.*(emoticon|expression|face|icon)", re.I),
    re.compile(r"\.(png|gif|jpe?g|webp|svg)(\?.*)?$", re.I),  # images (pics are their own field)
)
_REDIRECTS = ("weibo.cn/sinaurl", "weibo.com/sinaurl", "weibo.cn/feature/applink")


@dataclass(frozen=True)
class Entities:
    """What :func:`extract` finds in a text, each list in order of first appearance, without repeats."""

    topics: list[str] = field(default_factory=list)
    at_users: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _clean_url(url: str) -> str | None:
    url = html.unescape(url).strip().rstrip(_URL_TRAILING)
    if any(marker in url for marker in _REDIRECTS):  # weibo.cn/sinaurl?u=<target>
        target = parse_qs(urlsplit(url).query).get("u") or parse_qs(urlsplit(url).query).get("url")
        if target:
            url = unquote(target[0]).strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > 2048:
        return None
    if any(p.search(url) for p in _NOT_CONTENT_URL):
        return None
    return url


def extract(text: str, source_html: str = "") -> Entities:
    """``#话题#``, ``@mentions`` and URLs of a cleaned ``text``; links of ``source_html`` (the text as the source sent
    it, e.g. m.weibo.cn HTML) are added, without topic-search, mention and emoticon links."""
    text = text or ""
    topics = _unique(t.strip() for t in _TOPIC.findall(text)) if "#" in text else []
    mentions = _unique(_MENTION.findall(text)) if "@" in text else []
    found: list[str | None] = []
    if source_html and "<" in source_html:
        for tag in _A_TAG.findall(source_html):
            attrs = {name.lower(): value for name, value in _LINK_ATTR.findall(tag)}
            # a resolved href first (sinaurl?u=<target>), else the short link Weibo keeps in data-url
            found.append(_clean_url(attrs.get("href", "")) or _clean_url(attrs.get("data-url", "")))
    if "http" in text.lower():
        found += (_clean_url(u) for u in _URL.findall(text))
    urls = _unique(u for u in found if u)
    return Entities(topics=topics, at_users=mentions, urls=urls)
