"""collectors.fields: the value parsing every source (collectors, spiders, importers) shares."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yuqing.collectors.fields import (
    clean_text,
    clean_texts,
    extract,
    extract_many,
    parse_count,
    parse_counts,
    parse_id,
    parse_ids,
    parse_list,
    parse_time,
    parse_times,
)
from yuqing.store.errors import ParseError
from yuqing.store.schema import CHINA_TZ

CRAWL = dt.datetime(2026, 10, 13, 15, 40, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # seconds, milliseconds (Xiaohongshu, Douyin comments), microseconds — told apart by magnitude
        (1_790_000_000, dt.datetime.fromtimestamp(1_790_000_000, tz=CHINA_TZ)),
        (1_790_000_000_123, dt.datetime.fromtimestamp(1_790_000_000.123, tz=CHINA_TZ)),
        ("1790000000123", dt.datetime.fromtimestamp(1_790_000_000.123, tz=CHINA_TZ)),
        ("1790000000", dt.datetime.fromtimestamp(1_790_000_000, tz=CHINA_TZ)),
        (1_790_000_000_123_456, dt.datetime.fromtimestamp(1_790_000_000.123456, tz=CHINA_TZ)),
        (1790000000.5, dt.datetime.fromtimestamp(1_790_000_000.5, tz=CHINA_TZ)),
        ("Tue Sep 01 20:15:00 +0800 2026", dt.datetime(2026, 9, 1, 20, 15, tzinfo=CHINA_TZ)),
        ("2026-09-01T12:15:00Z", dt.datetime(2026, 9, 1, 12, 15, tzinfo=dt.UTC)),
        ("2026-09-01T20:15:00+08:00", dt.datetime(2026, 9, 1, 20, 15, tzinfo=CHINA_TZ)),
        ("2026-09-01 20:15:07", dt.datetime(2026, 9, 1, 20, 15, 7, tzinfo=CHINA_TZ)),
        ("2026-09-01 20:15", dt.datetime(2026, 9, 1, 20, 15, tzinfo=CHINA_TZ)),
        ("2026/9/1 8:05", dt.datetime(2026, 9, 1, 8, 5, tzinfo=CHINA_TZ)),
        ("2026-09-01", dt.datetime(2026, 9, 1, tzinfo=CHINA_TZ)),
        ("2026年09月01日 20:15", dt.datetime(2026, 9, 1, 20, 15, tzinfo=CHINA_TZ)),
        ("2026年9月1日", dt.datetime(2026, 9, 1, tzinfo=CHINA_TZ)),
        # relative times resolve against the crawl time, never against "now"
        ("刚刚", CRAWL),
        ("30秒前", CRAWL - dt.timedelta(seconds=30)),
        ("5分钟前", CRAWL - dt.timedelta(minutes=5)),
        ("3小时前", CRAWL - dt.timedelta(hours=3)),
        ("2天前", CRAWL - dt.timedelta(days=2)),
        ("今天 09:30", dt.datetime(2026, 10, 13, 9, 30, tzinfo=CHINA_TZ)),
        ("昨天 12:30", dt.datetime(2026, 10, 12, 12, 30, tzinfo=CHINA_TZ)),
        ("前天 23:59", dt.datetime(2026, 10, 11, 23, 59, tzinfo=CHINA_TZ)),
        ("09-01", dt.datetime(2026, 9, 1, tzinfo=CHINA_TZ)),
        ("12-31", dt.datetime(2025, 12, 31, tzinfo=CHINA_TZ)),  # after the crawl date → last year
        ("09-01 08:30", dt.datetime(2026, 9, 1, 8, 30, tzinfo=CHINA_TZ)),
        ("9月1日 08:30", dt.datetime(2026, 9, 1, 8, 30, tzinfo=CHINA_TZ)),
    ],
)
def test_parse_time_shapes(raw: object, expected: dt.datetime) -> None:
    got = parse_time(raw, CRAWL)
    assert got == expected and got.tzinfo is not None


def test_relative_time_is_stable_for_a_given_crawl_time() -> None:
    assert parse_time("5分钟前", CRAWL) == parse_time("5分钟前", CRAWL)
    assert parse_time("5分钟前", CRAWL) != parse_time("5分钟前", CRAWL + dt.timedelta(days=1))


@pytest.mark.parametrize(
    "raw", ["", "  ", None, True, "很久以前", "2026", -5, "year 58882", float("nan"), 10**30, "昨天 25"]
)
def test_parse_time_rejects_with_parse_error(raw: object) -> None:
    with pytest.raises(ParseError):
        parse_time(raw, CRAWL)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (7, 7),
        ("12", 12),
        ("1,234", 1234),
        ("1.2万", 12_000),
        ("1万+", 10_000),
        ("100万+", 1_000_000),
        ("3亿", 300_000_000),
        ("1.5亿", 150_000_000),
        ("1.2w", 12_000),
        ("2k", 2_000),
        ("", 0),
        (None, 0),
        (float("nan"), 0),
        ("赞", 0),
        ("转发", 0),
        (-3, 0),
        (" 42 ", 42),
        (12.0, 12),
    ],
)
def test_parse_count(raw: object, expected: int) -> None:
    assert parse_count(raw) == expected


@pytest.mark.parametrize("raw", ["很多", "1.2.3", "万", "inf", "NaN万", float("inf")])
def test_parse_count_rejects_with_parse_error(raw: object) -> None:
    with pytest.raises(ParseError):
        parse_count(raw)


def test_parse_id_trims_what_exporters_add() -> None:
    assert parse_id("4987654321012345\t") == "4987654321012345"
    assert parse_id(" 123 ") == "123"
    assert parse_id(4987654321012345) == "4987654321012345"
    assert parse_id(12.0) == "12" and parse_id("12.0") == "12"
    assert parse_id(None) == "" and parse_id(float("nan")) == "" and parse_id("nan") == ""
    assert parse_id("6543abc") == "6543abc"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["a", "b"], ["a", "b"]),
        ('["话题一", "话题二"]', ["话题一", "话题二"]),
        ("a,b，c", ["a", "b", "c"]),
        ("a b  c", ["a", "b", "c"]),
        ("星阅 X5, 数码", ["星阅 X5", "数码"]),
        ("a、b;c|d", ["a", "b", "c", "d"]),
        ("['a', 'b']", ["a", "b"]),
        ("", []),
        ("[]", []),
        (None, []),
    ],
)
def test_parse_list(raw: object, expected: list[str]) -> None:
    assert parse_list(raw) == expected


def test_clean_text() -> None:
    raw = (
        '好用&gt;_&lt; <span class="url-icon"><img alt="[哈哈]" src="https://h5.sinaimg.cn/m/emoticon/x.png" />'
        "</span><br />第二行<br>\u200b<a href='https://m.weibo.cn/n/小明'>@小明</a> &amp; 5 &lt; 6"
    )
    assert clean_text(raw) == "好用>_< [哈哈]\n第二行\n@小明 & 5 < 6"
    assert clean_text("<img alt=[心] src=x>") == "[心]"
    assert clean_text("1<2 且 List<String> 不是标签, <3") == "1<2 且 List<String> 不是标签, <3"
    assert clean_text("<p>段落</p><P>二</P>") == "段落\n二"
    assert clean_text(None) == "" and clean_text(float("nan")) == ""
    assert clean_text("\ufeff零\u200d宽\u200c") == "零宽"


def test_extract_topics_mentions_urls_the_same_for_every_source() -> None:
    source = (
        '<a href="https://m.weibo.cn/search?containerid=231522type%3D1%26q%3D%23某品牌%23">#某品牌#</a>'
        '<a href="https://m.weibo.cn/n/小明">@小明</a> 看 <a data-url="http://t.cn/A6abc" '
        'href="https://weibo.cn/sinaurl?u=https%3A%2F%2Fexample.com%2Fa">网页链接</a>'
        '<img alt="[哈哈]" src="https://h5.sinaimg.cn/m/emoticon/icon/default/d_haha.png">'
        " 邮件 a@b.com https://shop.example.cn/x?id=1。"
    )
    text = clean_text(source)
    found = extract(text, source)
    assert found.topics == ["某品牌"]
    assert found.at_users == ["小明"]  # not "b" from the e-mail address
    assert found.urls == ["https://example.com/a", "https://shop.example.cn/x?id=1"]
    # plain text gives the same topics/mentions/URLs as HTML
    plain = extract("#某品牌# @小明 看 https://shop.example.cn/x?id=1, #某品牌#")
    assert plain.topics == ["某品牌"] and plain.at_users == ["小明"]
    assert plain.urls == ["https://shop.example.cn/x?id=1"]
    assert extract("# 不是话题 # 和 ## 和 #超话[超话]#").topics == ["超话[超话]"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.integers(), st.floats(), st.none(), st.booleans()))
def test_any_value_parses_or_raises_parse_error(value: object) -> None:
    for parse in (lambda v: parse_time(v, CRAWL), parse_count):
        with contextlib.suppress(ParseError):
            parse(value)
    assert isinstance(parse_id(value), str)
    assert all(isinstance(x, str) for x in parse_list(value))
    if isinstance(value, str):
        found = extract(clean_text(value), value)
        assert all(isinstance(u, str) for u in found.urls)


# ------------------------------------------------------------------ whole columns agree with the per-value rules

_COUNT_CELLS = st.one_of(
    st.from_regex(r"\A[0-9]{1,21}(\.[0-9]{0,8})?[万亿千wWkK]?\+{0,2}\Z"),
    st.sampled_from(["", " 12 ", "1,234", "1，234", "赞", "--", "nan", "-3", "1e3", "１２", "0.5万", "+"]),
    st.text(alphabet="0123456789.,万亿kw+- 赞", max_size=8),
)
_TIME_CELLS = st.one_of(
    st.integers(10**7, 10**15).map(str),
    st.from_regex(r"\A(19[89][0-9]|20[0-9][0-9]|210[0-9])-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?\Z"),
    st.datetimes(dt.datetime(1985, 1, 1), dt.datetime(2099, 12, 31)).map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.sampled_from(["", "刚刚", "5分钟前", "昨天 12:30", "09-01", "2026/9/1 8:05", "Tue Sep 01 20:15:00 +0800 2026",
                     "2026-09-01T12:15:00Z", "1991-07-01 12:00", "1992-01-01", " 2026-09-01", "2026-9-1", "x"]),
)  # fmt: skip
_TEXT_CELLS = st.one_of(
    st.text(alphabet="ab中 #@<>&;/amp\n\r\t\u3000\u200b\xa0\x1c[]=\"'brimgalt.:htps", max_size=40),
    st.lists(st.sampled_from(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&amp", "&ampx;", "&#3", "a", "中", " ",
                              "lt;", "&", "#", "<br>"]), max_size=8).map("".join),
)  # fmt: skip
_ID_CELLS = st.one_of(
    st.text(alphabet="0123456789. \tnaNulo\ufeff\u200b\u3000x", max_size=12),
    st.sampled_from(["12.0", "12.50", "nan", " None", "4900000000000000001\t", "１２.0"]),
)


def _per_value(rule: Any, cell: Any) -> Any:
    try:
        return rule(cell)
    except ParseError:
        return ParseError


@settings(max_examples=300, deadline=None)
@given(st.lists(_COUNT_CELLS, max_size=25))
def test_parse_counts_agrees_with_parse_count(cells: list[str]) -> None:
    counts, errors = parse_counts(cells)
    for i, cell in enumerate(cells):
        expected = _per_value(parse_count, cell)
        if expected is ParseError or expected > 2**63 - 1:
            assert i in errors, cell
        else:
            assert i not in errors and counts[i] == expected, cell


@settings(max_examples=300, deadline=None)
@given(st.lists(_TIME_CELLS, max_size=25))
def test_parse_times_agrees_with_parse_time(cells: list[str]) -> None:
    times, errors = parse_times(cells, CRAWL)
    for i, cell in enumerate(cells):
        expected = _per_value(lambda c: parse_time(c, CRAWL), cell)
        if expected is ParseError:
            assert i in errors and np.isnat(times[i]), cell
        else:
            assert i not in errors, cell
            assert times[i] == np.datetime64(expected.astimezone(dt.UTC).replace(tzinfo=None), "us"), cell


def test_parse_times_resolves_each_row_against_its_own_crawl_time() -> None:
    crawls = [CRAWL, CRAWL + dt.timedelta(days=1)]
    times, errors = parse_times(["5分钟前", "5分钟前"], crawls)
    assert not errors
    assert [t.astype("datetime64[us]").item().replace(tzinfo=dt.UTC) for t in times] == [
        c - dt.timedelta(minutes=5) for c in crawls
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT_CELLS, max_size=25))
def test_clean_texts_and_extract_many_agree_with_the_per_value_rules(cells: list[str]) -> None:
    cleaned = clean_texts(cells)
    assert cleaned == [clean_text(c) for c in cells]
    found = [extract(t, c) for t, c in zip(cleaned, cells, strict=True)]
    assert extract_many(cleaned, cells) == (
        [f.topics for f in found],
        [f.at_users for f in found],
        [f.urls for f in found],
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_ID_CELLS, max_size=25))
def test_parse_ids_agrees_with_parse_id(cells: list[str]) -> None:
    assert parse_ids(cells) == [parse_id(c) for c in cells]


def test_column_functions_take_arrow_arrays_and_non_strings() -> None:
    assert parse_counts(pa.array(["1.2万", "", None]))[0].tolist() == [12_000, 0, 0]
    assert parse_ids([12.0, None, "7 "]) == ["12", "", "7"]
    assert clean_texts([None, 5, "<b>x</b>"]) == ["", "5", "x"]
