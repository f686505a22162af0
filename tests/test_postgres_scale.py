"""The reads PostgreSQL runs in SQL of its own for speed at scale (store/postgres.py: repost cascades, the
``post_counts`` recount, community profiles, the brand report's distinct authors, top mentions and keyword counts)
give DuckDB's rows, on generated data with the awkward cases in it;
and the index the cascades walk exists, also on a warehouse made before it was added."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import psycopg

from tests.conftest import T0, make_post
from tests.test_postgres_search import utc
from yuqing.store.schema import PostKind
from yuqing.store.warehouse import Warehouse

KEYS = ["hour", "platform", "kind", "brand", "polarity", "complaint", "complaint_category"]


def _both(pg_url: str, tmp_path: Path) -> list[tuple[str, str | Path]]:
    return [("duckdb", tmp_path / "w.duckdb"), ("postgres", pg_url)]


def _cascade_posts() -> list[object]:
    """Posts and repost chains: several levels, branches, a repost of a comment (a first repost), a parent not
    stored, a repost without a root, a cycle (reached from no first repost), a root that is a comment, an original
    without an author, and the same ids on a second platform."""
    at = T0

    def repost(i: str, parent: str, root: str | None, **kw: object) -> object:
        return make_post(0, id=i, kind=PostKind.REPOST, parent_id=parent, root_id=root, author_id=f"u{i}", **kw)

    posts = [make_post(k, id=f"p{k}", author_id=f"a{k % 3}") for k in range(6)]
    posts[5] = make_post(5, id="p5", author_id="")
    posts += [
        repost("r1", "p0", "p0"), repost("r2", "r1", "p0"), repost("r3", "r2", "p0"), repost("r4", "r1", "p0"),
        repost("r5", "p1", "p1"), repost("r14", "r3", "p0"), repost("r15", "r14", "p0"),
        make_post(0, id="c1", kind=PostKind.COMMENT, parent_id="p2", root_id="p2", author_id="c"),
        repost("r6", "c1", "p2"), repost("r7", "r6", "p2"),
        repost("r8", "missing", "p3"), repost("r9", "p4", None),
        repost("r10", "r11", "p0"), repost("r11", "r10", "p0"),
        repost("r12", "c1", "c1"), repost("r13", "p5", "p5"),
        make_post(1, id="p0", platform="douyin", author_id="a0", created_at=at),
        repost("r1", "p0", "p0", platform="douyin"), repost("r2", "r1", "p0", platform="douyin"),
    ]  # fmt: skip
    return posts


def test_repost_cascades_are_duckdbs(pg_url: str, tmp_path: Path) -> None:
    got = {}
    for name, target in _both(pg_url, tmp_path):
        with Warehouse.open(target) as wh:
            wh.upsert_posts(_cascade_posts())  # type: ignore[arg-type]
            got[name] = wh.repost_cascades()
    pd.testing.assert_frame_equal(got["postgres"], got["duckdb"])
    by_author = got["duckdb"].set_index(["platform", "author_id"])
    assert by_author.loc[("weibo", "a0"), "cascade_depth"] == 5  # p0 → r1 → r2 → r3 → r14 → r15
    assert by_author.loc[("douyin", "a0"), "cascade_depth"] == 2


def _analysed(n: int) -> tuple[list[object], pd.DataFrame]:
    """``n`` posts over a day's hours, three in four analysed: no brand, one, two (a sentiment for only one of
    them), complaints in two categories, a missing category."""
    posts = [
        make_post(i, id=f"q{i}", created_at=T0 + dt.timedelta(minutes=37 * i), reposts_count=i % 5,
                  comments_count=i % 3, attitudes_count=i % 2, author_id=str(i % 9))
        for i in range(n)
    ]  # fmt: skip
    rows = [i for i in range(n) if i % 4]
    brands = [[], ["星阅"], ["星阅", "楚风"], ["楚风"]]
    analysis = pd.DataFrame(
        {
            "platform": "weibo",
            "id": [f"q{i}" for i in rows],
            "sentiment": [(i % 10) / 10 + 0.05 for i in rows],
            "polarity": [("negative", "neutral", "positive")[i % 3] for i in rows],
            "complaint": [i % 5 == 0 for i in rows],
            "complaint_category": [("质量", "服务", None)[i % 3] if i % 5 == 0 else None for i in rows],
            "brands": [brands[i % 4] for i in rows],
            "brand_sentiment": [{b: (i % 7) / 7 for b in brands[i % 4][:1]} for i in rows],
            "keywords": "续航 发热",
            "tokens": "续航 发热",
        }
    )
    return posts, analysis  # type: ignore[return-value]


def test_post_counts_recount_is_duckdbs(pg_url: str, tmp_path: Path) -> None:
    """Counted as the analysis is saved (every hour new), then after a re-analysis of some posts and a re-fetch
    of others (only those hours recounted): the same rows as DuckDB's at each step."""
    posts, analysis = _analysed(300)
    refetched = [p.model_copy(update={"fetched_at": T0 + dt.timedelta(days=3), "reposts_count": 99})
                 for p in posts[40:60]]  # type: ignore[attr-defined]  # fmt: skip
    steps: dict[str, list[pd.DataFrame]] = {}
    for name, target in _both(pg_url, tmp_path):
        with Warehouse.open(target) as wh:
            wh.upsert_posts(posts)  # type: ignore[arg-type]
            wh.save_analysis(analysis)
            first = wh.query(f"SELECT * FROM post_counts ORDER BY {', '.join(KEYS)}")
            wh.save_analysis(analysis.iloc[::7].assign(sentiment=0.9, brands=[["云雀"]] * len(analysis.iloc[::7])))
            wh.upsert_posts(refetched)  # type: ignore[arg-type]
            recounted = wh.refresh_post_counts()
            second = wh.query(f"SELECT * FROM post_counts ORDER BY {', '.join(KEYS)}")
            steps[name] = [first, second, pd.DataFrame({"hours": [recounted]})]
    for pg, duck in zip(steps["postgres"], steps["duckdb"], strict=True):
        if "hour" in pg:  # a naive timestamp (China wall clock) reads back as UTC from PostgreSQL
            pg["hour"] = pg["hour"].dt.tz_localize(None)
        stamps = [c for c in duck.columns if c.endswith("_upto")]  # when written: each backend's own clock
        pd.testing.assert_frame_equal(pg.drop(columns=stamps), duck.drop(columns=stamps), rtol=1e-12)
        for c in stamps:  # the same hours hold the newest fetch; every analysed hour an analysis time
            assert pg[c].isna().tolist() == duck[c].isna().tolist()
    assert steps["duckdb"][2]["hours"].iat[0] > 0
    assert set(steps["duckdb"][1]["brand"]) == {"", "星阅", "楚风", "云雀"}


def test_community_profiles_are_duckdbs(pg_url: str, tmp_path: Path) -> None:
    """Keywords with doubled, leading and trailing spaces, tabs and newlines, none, empty; ties broken by word;
    posts not analysed (polarity NULL); authors of no community."""
    texts = ["续航 发热", "  续航\t发热  ", "发热\n 卡顿", "", None, "卡顿 卡顿 续航", "屏幕\r\n续航", "客服 态度"]
    posts = [make_post(i, id=f"m{i}", author_id=f"u{i % 6}") for i in range(48)]
    analysed = [i for i in range(48) if i % 6]
    analysis = pd.DataFrame(
        {
            "platform": "weibo",
            "id": [f"m{i}" for i in analysed],
            "polarity": [("negative", "neutral", "positive")[i % 3] for i in analysed],
            "keywords": [texts[i % len(texts)] for i in analysed],
            "tokens": "x",
        }
    )
    members = pd.DataFrame(
        {"platform": "weibo", "author_id": [f"u{k}" for k in range(5)], "community": [0, 0, 1, 1, 2]}
    )
    got = {}
    for name, target in _both(pg_url, tmp_path):
        with Warehouse.open(target) as wh:
            wh.upsert_posts(posts)  # type: ignore[arg-type]
            wh.save_analysis(analysis)
            got[name] = (wh.community_profiles(members), wh.community_profiles(members, top_words=2))
    for pg, duck in zip(got["postgres"], got["duckdb"], strict=True):
        for a, b in zip(pg, duck, strict=True):
            pd.testing.assert_frame_equal(a, b)
    words, polarity = got["duckdb"][0]
    assert {"续航", "发热", "卡顿", "屏幕"} <= set(words["word"])
    assert polarity["polarity"].isna().any()  # the unanalysed posts of members


def test_the_cascades_index_is_made_on_an_older_warehouse_by_its_owner(pg_url: str) -> None:
    from yuqing.store.postgres import INDEXES

    Warehouse.open(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("DROP INDEX yuqing.posts_repost_parent")
        con.execute("CREATE ROLE flow_only LOGIN IN ROLE yuqing_flow")
    Warehouse.open(pg_url.replace("yuqing_admin@", "flow_only@")).close()  # not the owner: no index, no error
    query = "SELECT indexname FROM pg_indexes WHERE schemaname = 'yuqing' AND tablename = 'posts'"
    with psycopg.connect(pg_url, autocommit=True) as con:
        assert "posts_repost_parent" not in {r[0] for r in con.execute(query).fetchall()}
    Warehouse.open(pg_url).close()  # the owner's next open makes it
    with psycopg.connect(pg_url, autocommit=True) as con:
        assert set(INDEXES) <= {r[0] for r in con.execute(query).fetchall()}


def test_brand_report_reads_are_duckdbs(pg_url: str, tmp_path: Path) -> None:
    """Distinct authors per brand, top mentions (overall and per complaint category, ties by engagement) and
    keyword counts on both sides of a split — keywords repeated within a post, empty, missing, doubled spaces."""
    posts, analysis = _analysed(240)
    words = ["续航 发热 续航", "", None, "发热  卡顿", "客服", "续航 客服 发热 客服"]
    analysis["keywords"] = [words[i % len(words)] for i in range(len(analysis))]
    since, until = T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=30)
    split = T0 + dt.timedelta(hours=60)
    got = {}
    for name, target in _both(pg_url, tmp_path):
        with Warehouse.open(target) as wh:
            wh.upsert_posts(posts)  # type: ignore[arg-type]
            wh.save_analysis(analysis)
            got[name] = (
                wh.brand_authors(["星阅", "楚风", "云雀"], since, until),
                wh.top_mentions("星阅", since, until, n=7),
                wh.top_mentions("星阅", since, until, n=2, per_category=True),
                *wh.brand_keyword_counts("楚风", since, split, until),
            )
    pg, duck = got["postgres"], got["duckdb"]
    assert pg[0] == duck[0] and duck[0]["星阅"] > 0 and "云雀" not in duck[0]
    for a, b in zip(pg[1:4], duck[1:4], strict=True):
        pd.testing.assert_frame_equal(utc(a), utc(b))
    assert pg[4] == duck[4] and set(duck[4]) == {False, True}
    assert len(duck[2]["category"].unique()) == 3 and {"续航", "发热", "客服"} <= set(duck[3]["keyword"])
