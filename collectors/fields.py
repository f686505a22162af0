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
    "PY_SPACE",
    "Entities",
    "clean_text",
    "clean_texts",
    "extract",
    "extract_many",
    "parse_count",
    "parse_counts",
    "parse_id",
    "parse_ids",
    "parse_list",
    "parse_time",
    "parse_times",
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


def _unique(items: Iterable[str | None]) -> list[str]:
    found = items if isinstance(items, list) else list(items)
    if len(found) == 1:  # the common case, without the dict
        return [found[0]] if found[0] else []
    return [i for i in dict.fromkeys(found) if i]


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
    topics = _topics(text) if "#" in text else []
    mentions = _mentions(text) if "@" in text else []
    has_links = bool(source_html) and "<" in source_html
    urls = _urls(text, source_html) if has_links or "http" in text.lower() else []
    return Entities(topics=topics, at_users=mentions, urls=urls)


def _topics(text: str) -> list[str]:
    return _unique([t.strip() for t in _TOPIC.findall(text)])


def _mentions(text: str) -> list[str]:
    return _unique(_MENTION.findall(text))


def _urls(text: str, source_html: str) -> list[str]:
    found: list[str | None] = []
    if source_html and "<" in source_html:
        for tag in _A_TAG.findall(source_html):
            attrs = {name.lower(): value for name, value in _LINK_ATTR.findall(tag)}
            # a resolved href first (sinaurl?u=<target>), else the short link Weibo keeps in data-url
            found.append(_clean_url(attrs.get("href", "")) or _clean_url(attrs.get("data-url", "")))
    if "http" in text.lower():
        found += (_clean_url(u) for u in _URL.findall(text))
    return _unique(found)


# --------------------------------------------------------------------------------------------------- whole columns
#
# The column versions below parse a whole column at once for the bulk paths (``yuqing import``).  Each handles the
# common shapes with Arrow compute and hands every other cell to the per-value function above, which stays the one
# definition of the rule: a cell either takes the fast path, whose result tests/test_fields.py checks against the
# per-value function on generated values, or is parsed by the per-value function itself.

PY_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""The characters ``str.isspace`` is true for (what ``str.strip()`` removes)."""
_NEEDS_CLEANING = f"[<&\r\xa0\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad]|\n\n\n|^[{PY_SPACE}]|[{PY_SPACE}]$"
_COMMON_ENTITY = "&(?:amp|lt|gt|quot|#39);"
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&"))
_DIGITS_COUNT = r"^[0-9]{1,18}$"
_DISPLAY_COUNT = r"^(?P<int>[0-9]{1,10})(?:\.(?P<frac>[0-9]{1,6}))?(?P<unit>[万亿千wWkK]?)\+?$"
_UNIT_VALUES = {"": 1, **_MULTIPLIERS}
_EPOCH_DIGITS = r"^[0-9]{9,13}$"
# naive wall-clock times from 1992 on (China has kept +08:00 without daylight saving since 1991)
_PLAIN_TIME = r"^(199[2-9]|20[0-9][0-9])-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?$"
_CHINA_OFFSET_US = 8 * 3600 * 1_000_000
_INT64_MAX = 2**63 - 1


def _strings(values: Any) -> Any:
    """``values`` as an Arrow string array (non-strings become nulls: the per-value functions take those)."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array) and pa.types.is_string(values.type):
        return values
    try:
        return pa.array(values, type=pa.string())  # a column of str (and None): the usual case
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([v if type(v) is str else None for v in values], type=pa.string())


def _mask(array: Any) -> Any:
    """A boolean Arrow array as numpy, nulls as False."""
    import pyarrow.compute as pc

    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def parse_counts(values: Any) -> tuple[Any, dict[int, str]]:
    """:func:`parse_count` of a whole column: (int64 numpy array, {row: why} of the cells it rejects).

    Digit strings and display counts (``1.2万``, ``3亿``, ``100万+``, ``2k``) are computed with exact integer
    arithmetic on the column; other cells go through :func:`parse_count`.  A count beyond a 64-bit integer is
    rejected (the warehouse stores BIGINT)."""
    import numpy as np
    import pyarrow.compute as pc

    raw = list(values) if not hasattr(values, "type") else None
    array = _strings(values)
    n = len(array)
    out = np.zeros(n, dtype=np.int64)
    done = _mask(pc.equal(array, ""))  # empty → 0
    digits = _mask(pc.match_substring_regex(array, _DIGITS_COUNT))
    if digits.any():
        out[digits] = pc.cast(pc.filter(array, digits), "int64").to_numpy()
        done |= digits
    display = _mask(pc.match_substring_regex(array, _DISPLAY_COUNT)) & ~done
    if display.any():
        parts = pc.extract_regex(pc.filter(array, display), _DISPLAY_COUNT)
        whole = pc.cast(parts.field("int"), "int64").to_numpy()
        frac_text = parts.field("frac")
        frac = pc.cast(pc.if_else(pc.equal(frac_text, ""), "0", frac_text), "int64").to_numpy()
        scale = np.power(10, pc.utf8_length(frac_text).to_numpy().astype(np.int64))
        unit = np.array([_UNIT_VALUES[u] for u in parts.field("unit").to_pylist()], dtype=np.int64)
        out[display] = whole * unit + frac * unit // scale
        done |= display
    errors: dict[int, str] = {}
    for i in np.flatnonzero(~done):
        cell = raw[i] if raw is not None else array[int(i)].as_py()
        try:
            count = parse_count(cell)
        except ParseError as exc:
            errors[int(i)] = str(exc)
            continue
        if count > _INT64_MAX:
            errors[int(i)] = f"count {str(cell)[:40]!r} is too large"
        else:
            out[i] = count
    return out, errors


def parse_times(values: Any, now: Any) -> tuple[Any, dict[int, str]]:
    """:func:`parse_time` of a whole column: (numpy ``datetime64[us]`` of UTC instants, {row: why} rejected).

    ``now`` is the crawl time, one for the column or one per row (a sequence of aware datetimes).  Unix seconds
    and milliseconds and ``YYYY-MM-DD[ HH:MM[:SS]]`` are computed on the column; every other cell (relative times,
    Weibo's format, ISO with offsets, …) goes through :func:`parse_time` with its row's crawl time.  Rejected rows
    hold ``NaT``."""
    import numpy as np
    import pyarrow.compute as pc

    raw = list(values) if not hasattr(values, "type") else None
    array = _strings(values)
    n = len(array)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    done = np.zeros(n, dtype=bool)
    epoch = _mask(pc.match_substring_regex(array, _EPOCH_DIGITS))
    if epoch.any():
        number = pc.cast(pc.filter(array, epoch), "int64").to_numpy()
        high = int(_EPOCH_MAX)
        micros = np.where(number < high, number * 1_000_000, number * 1_000)
        valid = (number < high * 1000) & (micros >= int(_EPOCH_MIN) * 1_000_000)
        rows = np.flatnonzero(epoch)[valid]
        out[rows] = micros[valid].astype("datetime64[us]")
        done[rows] = True
    plain = _mask(pc.match_substring_regex(array, _PLAIN_TIME)) & ~done
    if plain.any():
        text = pc.replace_substring(pc.filter(array, plain), "T", " ")
        length = pc.utf8_length(text).to_numpy()
        full = pc.binary_join_element_wise(
            text, pc.if_else(pc.equal(length, 10), " 00:00:00", pc.if_else(pc.equal(length, 16), ":00", "")), ""
        )
        stamp = pc.strptime(full, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
        # strptime rolls 02-30 over into March: keep only values whose fields are the ones written
        same = np.ones(len(full), dtype=bool)
        for field_of, start in (
            (pc.year, 0),
            (pc.month, 5),
            (pc.day, 8),
            (pc.hour, 11),
            (pc.minute, 14),
            (pc.second, 17),
        ):
            written = pc.cast(pc.utf8_slice_codeunits(full, start, start + (4 if start == 0 else 2)), "int64")
            same &= _mask(pc.equal(field_of(stamp), written))
        rows = np.flatnonzero(plain)[same]
        wall = pc.filter(stamp, same).to_numpy(zero_copy_only=False).astype("datetime64[us]")
        out[rows] = wall - np.timedelta64(_CHINA_OFFSET_US, "us")
        done[rows] = True
    errors: dict[int, str] = {}
    if not done.all():
        for i in np.flatnonzero(~done):
            cell = raw[i] if raw is not None else array[int(i)].as_py()
            crawl = now if now is None or isinstance(now, dt.datetime) else now[int(i)]
            try:
                parsed = parse_time(cell, crawl)
            except ParseError as exc:
                errors[int(i)] = str(exc)
                continue
            out[i] = np.datetime64(parsed.astimezone(dt.UTC).replace(tzinfo=None), "us")
    return out, errors


def clean_texts(values: Any) -> list[str]:
    """:func:`clean_text` of a whole column: cells without markup, entities, zero-width characters or outer
    whitespace are kept as they are, cells whose only markup is the five common entities (``&amp;`` ``&lt;``
    ``&gt;`` ``&quot;`` ``&#39;``) are unescaped on the column, and only the others go through :func:`clean_text`."""
    import numpy as np
    import pyarrow.compute as pc

    raw = list(values) if not hasattr(values, "type") else None
    array = _strings(values)
    work = _mask(pc.match_substring_regex(array, _NEEDS_CLEANING)) | _mask(pc.is_null(array))
    out: list[str] = array.to_pylist() if raw is None else [v if type(v) is str else "" for v in raw]
    if not work.any():
        return out
    # only common entities: every "&" starts one, and nothing else needs cleaning
    rest = pc.replace_substring_regex(array, _COMMON_ENTITY, "")
    simple = work & ~_mask(pc.match_substring_regex(rest, _NEEDS_CLEANING)) & _mask(pc.is_valid(array))
    if simple.any():
        rows = np.flatnonzero(simple)
        unescaped = pc.filter(array, simple)
        for entity, char in _ENTITIES:  # &amp; last, so that "&amp;lt;" stays "&lt;" as html.unescape leaves it
            unescaped = pc.replace_substring(unescaped, entity, char)
        for i, text in zip(rows, unescaped.to_pylist(), strict=True):
            out[i] = text
        work &= ~simple
    for i in np.flatnonzero(work):
        out[i] = clean_text(raw[i] if raw is not None else array[int(i)].as_py())
    return out


def extract_many(
    texts: list[str], sources: list[str] | None = None
) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """:func:`extract` of a whole column of cleaned ``texts`` (and the texts as the source sent them), as (topics,
    mentions, URLs) lists: each rule runs only on the rows holding its marker (``#``, ``@``, ``http``/markup)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(texts, type=pa.string())
    empty: list[str] = []
    topics, mentions, urls = [empty] * len(texts), [empty] * len(texts), [empty] * len(texts)
    joinable = not pc.any(pc.match_substring(array, "\x00")).as_py()
    rows = np.flatnonzero(_mask(pc.match_substring(array, "#"))).tolist()
    for i, found in zip(rows, _each_row(_TOPIC, texts, rows, joinable), strict=True):
        if len(found) == 1:  # the common case, as _topics makes it without the dict
            topic = found[0].strip()
            if topic:
                topics[i] = [topic]
        elif found:
            topics[i] = _unique([t.strip() for t in found])
    rows = np.flatnonzero(_mask(pc.match_substring(array, "@"))).tolist()
    for i, found in zip(rows, _each_row(_MENTION, texts, rows, joinable), strict=True):
        mentions[i] = found if len(found) == 1 else _unique(found)  # a mention is never empty
    links = _mask(pc.match_substring(array, "http", ignore_case=True))
    if sources is not None:
        links |= _mask(pc.match_substring(pa.array(sources, type=pa.string()), "<"))
    for j in np.flatnonzero(links).tolist():
        urls[j] = _urls(texts[j], sources[j] if sources is not None else "")
    return topics, mentions, urls


_ROW_BREAK = "\n\x00\n"
_BY_ROW = {_TOPIC: re.compile("\x00|" + _TOPIC.pattern), _MENTION: re.compile("\x00|" + _MENTION.pattern)}


def _each_row(rule: re.Pattern[str], texts: list[str], rows: Any, joinable: bool) -> list[list[str]]:
    """``rule.findall`` (the topic or the mention rule) of each of ``texts[rows]``; when ``joinable`` (no text holds
    NUL) by ONE findall over them joined by line break, NUL, line break: no match of either rule holds a line break
    and a row's first mention sees the line break before it as it would the start of its text; a NUL ends a row."""
    if not joinable or not len(rows):
        return [rule.findall(texts[i]) for i in rows]
    out: list[list[str]] = []
    current: list[str] = []
    for item in _BY_ROW[rule].findall(_ROW_BREAK.join([texts[i] for i in rows])):
        if item:
            current.append(item)
        else:
            out.append(current)
            current = []
    out.append(current)
    return out


def parse_ids(values: Any) -> list[str]:
    """:func:`parse_id` of a whole column: cells that are already clean ids are kept, the others parsed."""
    import numpy as np
    import pyarrow.compute as pc

    raw = list(values) if not hasattr(values, "type") else None
    array = _strings(values)
    edge = f"^[{PY_SPACE}\ufeff\u200b]|[{PY_SPACE}\ufeff\u200b]$"
    work = (
        _mask(pc.match_substring_regex(array, edge))
        | _mask(pc.match_substring_regex(array, r"\.0+$|^(nan|NaN|None|null)$"))
        | _mask(pc.is_null(array))
    )
    out: list[str] = array.to_pylist() if raw is None else [v if type(v) is str else "" for v in raw]
    for i in np.flatnonzero(work):
        out[i] = parse_id(raw[i] if raw is not None else array[int(i)].as_py())
    return out
