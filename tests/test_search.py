"""``yuqing search``: the SQL compiled from a query selects exactly the posts the pure evaluator accepts."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_query import run_cli
from yuqing.nlp.query import And, Doc, FieldFilter, Hashtag, Near, Node, Not, Or, Query, Term, evaluate
from yuqing.store.query_sql import search_sql
from yuqing.store.schema import CHINA_TZ, Platform, Post
from yuqing.store.warehouse import Warehouse

T0 = dt.datetime(2026, 10, 1, 0, 0, tzinfo=CHINA_TZ)
# words chosen to collide: case variants, regex metacharacters, substrings of each other, a phrase with a space
WORDS = [
    "星阅",
    "XingYue",
    "xingyue",
    "发热",
    "烫",
    "官方",
    "星阅湖",
    "X5 Pro",
    "x5pro",
    "a.b",
    "(c)",
    "1+1",
    "*",
    "续航",
]
TAGS = ["双十一", "星阅", "Pro"]
AUTHORS = ["小星", "XiaoXing", "用户1", ""]
PLATFORMS = [Platform.WEIBO, Platform.DOUYIN, Platform.XIAOHONGSHU]


def corpus(n: int, seed: int) -> list[Post]:
    rng = random.Random(seed)
    posts = []
    for i in range(n):
        parts = [rng.choice(WORDS + [f"#{t}#" for t in TAGS] + ["手机", "很", "！"]) for _ in range(rng.randint(0, 7))]
        text = "".join(p + rng.choice(["", "", " ", "，", "\n"]) for p in parts)
        posts.append(
            Post(
                platform=rng.choice(PLATFORMS),
                id=str(i),
                text=text,
                created_at=T0 + dt.timedelta(hours=7 * i),
                author_id=str(rng.randint(1, 5)),
                author_name=rng.choice(AUTHORS),
                topics=rng.sample(TAGS, rng.randint(0, 2)),
            )
        )
    return posts


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Post]]]:
    path = tmp_path_factory.mktemp("search") / "w.duckdb"
    posts = corpus(400, seed=7)
    with Warehouse.open(path) as wh:
        wh.upsert_posts(posts)
    yield path, posts


def reference(
    posts: list[Post], query: Query, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> set[str]:
    out = set()
    for p in posts:
        if (since is not None and p.created_at < since) or (until is not None and p.created_at >= until):
            continue
        doc = Doc.of(p.text, platform=p.platform.value, author=p.author_name, author_id=p.author_id, topics=p.topics)
        if query.matches_doc(doc):
            out.add(p.id)
    return out


def sql_ids(path: Path, query: Query, **kw: object) -> set[str]:
    sql, params = search_sql(query, columns=["id"], **kw)  # type: ignore[arg-type]
    with Warehouse.open(path, read_only=True) as wh:
        return set(wh.query(sql, params)["id"])


# --------------------------------------------------------------------------- generated queries

terms = st.builds(Term, st.sampled_from([*WORDS, "星", "阅湖", "PRO"]), st.booleans())
leaves: st.SearchStrategy[Node] = st.one_of(
    terms,
    st.builds(Hashtag, st.sampled_from(TAGS)),
    st.builds(FieldFilter, st.just("author"), st.sampled_from(["小星", "xiaoxing", "3", "用户1"])),
    st.builds(FieldFilter, st.just("platform"), st.sampled_from([p.value for p in PLATFORMS])),
    st.builds(
        Near,
        st.lists(terms, min_size=1, max_size=2).map(tuple),
        st.lists(terms, min_size=1, max_size=2).map(tuple),
        st.integers(0, 6),
    ),
)
nodes: st.SearchStrategy[Node] = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.builds(Not, kids),
        st.lists(kids, min_size=2, max_size=3).map(lambda c: And(tuple(c))),
        st.lists(kids, min_size=2, max_size=3).map(lambda c: Or(tuple(c))),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=nodes)
def test_sql_equals_the_reference_evaluator(warehouse: tuple[Path, list[Post]], node: Node) -> None:
    path, posts = warehouse
    # the text a user would type for this tree parses back to the same meaning
    query = Query.parse(str(node))
    docs = [
        Doc.of(p.text, platform=p.platform.value, author=p.author_name, author_id=p.author_id, topics=p.topics)
        for p in posts
    ]
    assert [evaluate(node, d) for d in docs] == [query.matches_doc(d) for d in docs]
    assert sql_ids(path, query) == reference(posts, query)


@pytest.mark.parametrize(
    "text",
    [
        "星阅 AND (发热 OR 烫) NOT 官方",
        "星阅 (发热 | 烫) -官方",
        '"X5 Pro" NEAR/3 (续航 OR 发热)',
        "a.b OR (c) OR 1+1",  # metacharacters are literal (and + is AND between 1 and 1)
        '"a.b" NEAR/0 "(c)"',
        "#双十一# -platform:douyin",
        "author:xiaoxing OR author:3",
        "NOT 星阅",
    ],
)
def test_hand_written_queries(warehouse: tuple[Path, list[Post]], text: str) -> None:
    path, posts = warehouse
    q = Query.parse(text)
    expected = reference(posts, q)
    assert expected, "the corpus should hold some matches for each hand-written query"
    assert sql_ids(path, q) == expected


# --------------------------------------------------------------------------- through the CLI


def test_cli_search_writes_exactly_the_reference_matches(
    warehouse: tuple[Path, list[Post]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, posts = warehouse
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(
        f'[brand]\nname = "星阅"\nquery = "(星阅 OR xingyue) -星阅湖"\n[warehouse]\npath = "{path}"\n', encoding="utf-8"
    )
    text = "(发热 OR 烫 OR #双十一#) -平台:抖音"  # a registry name for the platform
    args = ["search", text, "-c", str(cfg), "--from", "2026-10-10", "--to", "2026-10-40"]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 2 and "--to" in err  # a bad date is refused by the option parser

    out_pq, out_csv = tmp_path / "hits.parquet", tmp_path / "hits.csv"
    base = ["search", text, "-c", str(cfg), "--from", "2026-10-10", "--to", "2026-10-30", "--brand", "星阅"]
    code, out, _ = run_cli([*base, "--output", str(out_pq)], capsys, monkeypatch)
    assert code == 0
    since = dt.datetime(2026, 10, 10, tzinfo=CHINA_TZ)
    until = dt.datetime(2026, 10, 31, tzinfo=CHINA_TZ)
    brand = Query.parse("(星阅 OR xingyue) -星阅湖")
    expected = reference(posts, Query.parse("(发热 OR 烫 OR #双十一#) -platform:douyin"), since, until) & reference(
        posts, brand
    )
    assert len(expected) > 5
    table = pq.read_table(out_pq).to_pandas()
    assert set(table["id"]) == expected
    assert len(table) == len(expected)
    assert out.startswith(f"{len(expected)} posts match")
    assert table["created_at"].is_monotonic_decreasing  # newest first

    code, _, _ = run_cli([*base, "--output", str(out_csv)], capsys, monkeypatch)
    assert code == 0
    frame = pd.read_csv(out_csv, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert set(frame["id"]) == expected

    code, out, _ = run_cli([*base, "--limit", "3"], capsys, monkeypatch)
    assert code == 0
    assert f"{len(expected)} posts match" in out
    assert f"{len(expected) - 3} more" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", "x.xlsx"], "--output must end in .csv or .parquet"),
        (["--brand", "无此品牌"], "no brand named '无此品牌'"),
        (["--from", "2026-10-05", "--to", "2026-10-01"], "is before --from"),
    ],
)
def test_cli_search_refuses_bad_options(
    warehouse: tuple[Path, list[Post]],
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _ = warehouse
    code, _, err = run_cli(["search", "星阅", "--warehouse", str(path), *args], capsys, monkeypatch)
    assert code == 1
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("limit", [0, 5, 1000])
def test_search_page_counts_all_and_returns_the_newest(warehouse: tuple[Path, list[Post]], limit: int) -> None:
    from yuqing.store.query_sql import search_page

    path, posts = warehouse
    q = Query.parse("星阅 OR #双十一# OR author:xiaoxing")
    expected = reference(posts, q)
    newest = sorted((p for p in posts if p.id in expected), key=lambda p: p.created_at, reverse=True)[:limit]
    with Warehouse.open(path, read_only=True) as wh:
        total, rows = search_page(wh, q, limit=limit)
    assert total == len(expected)
    assert list(rows["id"]) == [p.id for p in newest]
