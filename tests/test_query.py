"""Boolean queries: the parser (errors at a position, through the CLI), the evaluator, brands defined by queries."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yuqing.flows.cli import main
from yuqing.nlp.query import And, Doc, FieldFilter, Hashtag, Near, Not, Or, Query, QueryError, Term, caret_line, parse
from yuqing.store.errors import ConfigError
from yuqing.store.settings import Brand, load_settings


def run_cli(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """``yuqing ARGS`` through the real entry point (its error handling included)."""
    monkeypatch.setattr(sys, "argv", ["yuqing", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out.out, out.err


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("星阅 AND 发热", And((Term("星阅"), Term("发热")))),
        ("星阅 发热", And((Term("星阅"), Term("发热")))),
        ("星阅+发热", And((Term("星阅"), Term("发热")))),
        ("星阅 OR 云雀 | 楚风", Or((Term("星阅"), Term("云雀"), Term("楚风")))),
        ("星阅｜云雀", Or((Term("星阅"), Term("云雀")))),
        ("星阅 -官方", And((Term("星阅"), Not(Term("官方"))))),
        ("星阅 NOT 官方", And((Term("星阅"), Not(Term("官方"))))),
        ("NOT NOT 星阅", Term("星阅")),
        # AND binds tighter than OR
        ("a OR b AND c", Or((Term("a"), And((Term("b"), Term("c")))))),
        ("(a OR b) c", And((Or((Term("a"), Term("b"))), Term("c")))),
        ("（a｜b）c", And((Or((Term("a"), Term("b"))), Term("c")))),
        ('"X5 Pro" OR “星阅 手机”', Or((Term("X5 Pro", phrase=True), Term("星阅 手机", phrase=True)))),
        ('"a AND b"', Term("a AND b", phrase=True)),
        ("#星阅双十一#", Hashtag("星阅双十一")),
        ("author:小星 platform:douyin", And((FieldFilter("author", "小星"), FieldFilter("platform", "douyin")))),
        ('作者："小 星" 平台：WEIBO', And((FieldFilter("author", "小 星"), FieldFilter("platform", "weibo")))),
        ("a NEAR/5 (b OR c)", Near((Term("a"),), (Term("b"), Term("c")), 5)),
        ("-a NEAR/2 b", Not(Near((Term("a"),), (Term("b"),), 2))),
        ("Wi-Fi 10:30 and", And((Term("Wi-Fi"), Term("10:30"), Term("and")))),
    ],
)
def test_parse(text: str, expected: object) -> None:
    assert parse(text) == expected
    # the canonical form parses back to the same tree
    assert parse(str(parse(text))) == expected


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("小米 AND (发热", 11, "expected ')'"),
        ("小米 AND", 7, "expected a word"),
        ("小米 OR OR 发热", 7, "expected a word"),
        ("小米)", 3, "unmatched ')'"),
        ("", 1, "empty query"),
        ("()", 2, "empty parentheses"),
        ('星阅 "X5 Pro', 4, "unterminated phrase"),
        ('星阅 ""', 4, "empty phrase"),
        ("星阅 #双十一", 4, "unterminated #topic#"),
        ("星阅 NEAR 发热", 4, "expected NEAR/n"),
        ("星阅 NEAR/2000 发热", 4, "above 1000"),
        ("a NEAR/3 b NEAR/3 c", 12, "cannot be chained"),
        ("(a b) NEAR/2 c", 1, "NEAR/n joins words"),
        ("a NEAR/2 -b", 10, "expected a word, phrase"),
        ("platform:weib", 10, "unknown platform 'weib'"),
        ("author: 小星", 8, "expected a value after author:"),
        ("星阅 -", 5, "expected a word"),
        ("星阅 ”发热”", 4, "unexpected ”"),
    ],
)
def test_errors_name_the_column(text: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(text)
    err = info.value
    assert err.column == column
    assert reason in err.reason
    head, shown, _caret = str(err).split("\n")
    assert head == f"query:{column}: {err.reason}"
    assert shown == f"  {text}"


def test_platform_names_come_from_the_caller() -> None:
    from yuqing.flows.commands.search import platform_names

    names = platform_names()  # the platform registry's values, aliases and titles
    assert parse("platform:微博", platforms=names) == FieldFilter("platform", "weibo")
    assert parse("平台:XHS", platforms=names) == FieldFilter("platform", "xiaohongshu")
    with pytest.raises(QueryError, match="unknown platform '微博'"):
        parse("platform:微博")  # the pure parser alone knows only the values


def test_caret_counts_wide_characters_twice() -> None:
    assert caret_line("小米 AND (发热", 11) == " " * 14 + "^"
    assert caret_line("ab", 3) == "  ^"


def test_cli_reports_a_parse_error_at_its_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(
        ["search", "小米 AND (发热", "--warehouse", str(tmp_path / "w.duckdb")], capsys, monkeypatch
    )
    assert code == 1
    assert out == ""
    lines = err.rstrip("\n").split("\n")
    assert lines == ["error: query:11: expected ')'", "  小米 AND (发热", "  " + " " * 14 + "^"]
    assert "Traceback" not in err
    assert not (tmp_path / "w.duckdb").exists()  # refused before touching the warehouse


def test_cli_reports_unknown_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli(["search", "星阅 platform:weib"], capsys, monkeypatch)
    assert code == 1
    assert err.startswith("error: query:13: unknown platform 'weib'")


# --------------------------------------------------------------------------- evaluation


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("星阅", "我的星阅手机", True),
        ("xingyue", "XingYue X5", True),  # case-insensitive
        ("星阅 -官方", "星阅官方旗舰店", False),
        ("星阅 (发热 | 烫)", "星阅有点烫", True),
        ("星阅 (发热 | 烫)", "星阅很好", False),
        ('"X5 Pro"', "星阅X5 Pro续航", True),
        ('"X5 Pro"', "星阅X5Pro续航", False),
        ("星阅 NEAR/3 发热", "星阅手机很发热", True),  # 3 characters between
        ("星阅 NEAR/2 发热", "星阅手机很发热", False),
        ("发热 NEAR/0 星阅", "发热星阅", True),  # either order
        ("#双十一#", "冲 #双十一# 了", True),
        ("#双十一#", "双十一冲了", False),
    ],
)
def test_matches_text(query: str, text: str, expected: bool) -> None:
    assert Query.parse(query).matches(text) is expected


def test_fields_match_the_post() -> None:
    q = Query.parse("星阅 author:小星 platform:weibo")
    assert q.matches("星阅", author="小星", platform="weibo")
    assert not q.matches("星阅", author="小星星", platform="weibo")  # author is the whole name
    assert not q.matches("星阅", author="小星", platform="douyin")
    assert Query.parse("author:123").matches("x", author_id="123")
    assert Query.parse("#双十一#").matches("没有话题", topics=["双十一"])
    assert Query.parse("XingYue").matches_doc(Doc("我的xingyue"))  # a Doc built directly lower-cases too


def test_positive_terms_and_collection_keywords() -> None:
    q = Query.parse('(星阅 OR XingYue) AND 手机 NOT 官方 OR "X5 Pro" NEAR/4 续航 OR #星阅双十一#')
    assert q.positive_terms == ["星阅", "XingYue", "手机", "X5 Pro", "续航", "#星阅双十一#"]
    assert q.keywords() == ["星阅 手机", "XingYue 手机", "X5 Pro 续航", "#星阅双十一#"]
    with pytest.raises(QueryError, match="search keywords"):
        Query.parse(" ".join(f"(a{i} OR b{i})" for i in range(8))).keywords()


# --------------------------------------------------------------------------- brands defined by queries


def test_brand_without_query_is_any_of_name_and_aliases() -> None:
    b = Brand(name="星阅", aliases=["XingYue", "小星"])
    assert b.mention_query.matches("xingyue新机")
    assert b.mention_query.matches("小星真香")
    assert not b.mention_query.matches("云雀")
    assert b.terms == ["星阅", "XingYue", "小星"]


def test_brand_query_in_settings_decides_mentions_and_collection(tmp_path: Path) -> None:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(
        '[brand]\nname = "星阅"\nquery = "(星阅 OR XingYue) -星阅湖"\n'
        '[[competitors]]\nname = "云雀"\naliases = ["Yunque"]\n',
        encoding="utf-8",
    )
    settings = load_settings(cfg)
    assert settings.brand.mention_query.matches("XingYue X5")
    assert not settings.brand.mention_query.matches("去星阅湖公园")
    assert settings.brand.terms == ["星阅", "XingYue"]
    # collection keywords come from the brands' queries when collect.queries is not set
    assert settings.collect.queries == ["星阅", "XingYue", "云雀", "Yunque"]
    cfg.write_text(cfg.read_text(encoding="utf-8") + '[collect]\nqueries = ["只搜这个"]\n', encoding="utf-8")
    assert load_settings(cfg).collect.queries == ["只搜这个"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(星阅 OR XingYue", "brand.query: Value error, query:15: expected ')'"),
        ("星阅 platform:weibo", "author:/platform: filters belong in `yuqing search`"),
        ("NOT 星阅", "names no word a mention could contain"),
    ],
)
def test_bad_brand_query_is_a_config_error(tmp_path: Path, query: str, message: str) -> None:
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(f'[brand]\nname = "星阅"\nquery = "{query}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert str(cfg) in str(info.value)
    assert message in str(info.value)


def test_pipeline_brand_detection_follows_the_brand_query() -> None:
    from yuqing.nlp.pipeline import _brand_lists

    brands = [
        Brand(name="星阅", query="(星阅 OR XingYue) -星阅湖"),
        Brand(name="云雀", aliases=["Yunque"]),
    ]
    texts = ["星阅X5很好", "去星阅湖公园", "xingyue和yunque对比", "楚风K9"]
    assert _brand_lists(texts, brands) == [["星阅"], [], ["星阅", "云雀"], []]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('星阅ab "“”()（）|｜+&-#:：NEAR/5 ORANDNOT作者platform\n')), max_size=30))
def test_any_input_parses_or_fails_at_a_column(text: str) -> None:
    try:
        node = parse(text)
    except QueryError as err:
        assert 1 <= err.column <= len(text) + 1
        assert str(err).startswith(f"query:{err.column}: ")
        return
    assert parse(str(node)) is not None  # the canonical form of what parsed parses again


def test_a_brand_query_decides_the_report_mentions_and_share_of_voice(tmp_path: Path) -> None:
    """Through the real text stage into the warehouse and the brand report's figures."""
    import datetime as dt

    from yuqing.flows.stages import analyse_chunk, store_analysis
    from yuqing.reports.brand import brand_figures
    from yuqing.reports.data import load_frames
    from yuqing.store.schema import CHINA_TZ, Platform, Post
    from yuqing.store.warehouse import Warehouse

    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(
        '[brand]\nname = "星阅"\nquery = "(星阅 OR XingYue) -星阅湖"\n'
        '[[competitors]]\nname = "云雀"\naliases = ["Yunque"]\n[warehouse]\npath = "w.duckdb"\n',
        encoding="utf-8",
    )
    settings = load_settings(cfg)
    texts = ["星阅X5很好用", "周末去星阅湖公园", "xingyue新机发布", "yunque续航一般", "星阅和云雀都不错", "今天天气好"]
    t0 = dt.datetime(2026, 10, 1, 10, tzinfo=CHINA_TZ)
    posts = [
        Post(platform=Platform.WEIBO, id=str(i), text=t, created_at=t0 + dt.timedelta(hours=i))
        for i, t in enumerate(texts)
    ]
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.upsert_posts(posts)
        chunk = wh.query("SELECT platform, id, text FROM posts ORDER BY id")
    store_analysis(settings, [analyse_chunk(chunk, settings)])
    frames = load_frames(settings.warehouse.path, dt.date(2026, 10, 1), dt.date(2026, 10, 1))
    figures = brand_figures(frames, "星阅", ["云雀"], dt.date(2026, 10, 1), dt.date(2026, 10, 1))
    # 星阅: posts 0, 2 (case-insensitive alias), 4 — not the lake (1); 云雀: 3 (alias, any case), 4
    assert figures["totals"]["星阅"]["mentions"] == 3
    assert figures["totals"]["云雀"]["mentions"] == 2
    assert figures["totals"]["星阅"]["share_of_voice"] == 0.6
