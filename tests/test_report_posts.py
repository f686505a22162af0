"""Warehouse.report_posts (the reports' per-post frame) read in chunks equals one plain query, across chunks that
hold only unanalysed posts (NULL analysis) and chunks that hold analysed ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import make_author, make_post

N = 50_000  # > two chunks of 20,480 rows


def _warehouse(path: Path) -> None:
    from yuqing.store.warehouse import Warehouse

    with Warehouse.open(path) as wh:
        wh.upsert_posts([make_post(0, topics=["焕新季"])])
        wh.upsert_authors([make_author(i) for i in range(7)])
        wh.con.execute(
            "INSERT INTO posts SELECT * EXCLUDE (r) REPLACE (CAST(1000 + r AS VARCHAR) AS id, "
            "created_at + r * INTERVAL 1 SECOND AS created_at, CAST(r % 7 AS VARCHAR) AS author_id, "
            "CASE WHEN r % 3 = 0 THEN ['焕新季', '星阅X5'] ELSE [] END AS topics) FROM posts, range(1, ?) t(r)",
            [N],
        )
        seed = pd.DataFrame(
            {
                "platform": ["weibo"],
                "id": ["1000"],
                "sentiment": [0.5],
                "polarity": ["neutral"],
                "complaint": [False],
                "complaint_category": [""],
                "emotion": ["中性"],
                "keywords": ["星阅 不错"],
                "brands": [["星阅"]],
                "brand_sentiment": [json.dumps({"星阅": 0.5}, ensure_ascii=False)],
            }
        )
        wh.write_frame("post_analysis", seed)
        # posts 1..29,999 stay unanalysed: whole chunks of NULL analysis before the analysed ones
        wh.con.execute(
            "INSERT INTO post_analysis SELECT 'weibo', CAST(1000 + r AS VARCHAR), (r % 100) / 100.0, 'neutral', "
            "r % 5 = 0, CASE WHEN r % 5 = 0 THEN '质量' ELSE '' END, '中性', '星阅 不错', "
            "CASE WHEN r % 2 = 0 THEN ['星阅'] ELSE ['星阅', '云雀'] END, "
            "CASE WHEN r % 2 = 0 THEN json_object('星阅', (r % 100) / 100.0)::VARCHAR "
            "ELSE json_object('星阅', 0.25, '云雀', 0.75)::VARCHAR END, '', NULL FROM range(30000, ?) t(r)",
            [N],
        )


def test_report_posts_in_chunks_equal_one_query(tmp_path: Path) -> None:
    from yuqing.reports.data import load_frames
    from yuqing.store.warehouse import Warehouse

    path = tmp_path / "w.duckdb"
    _warehouse(path)
    with Warehouse.open(path, read_only=True) as wh:
        lean = wh.report_posts()
        assert wh.rows_fetched == N
        plain = wh.query(
            "SELECT p.platform, p.id, p.created_at, p.author_id, p.reposts_count, p.topics, "
            "coalesce(u.followers_count, 0) AS followers, a.sentiment, a.complaint, a.complaint_category, a.brands, "
            "a.brand_sentiment FROM posts p LEFT JOIN post_analysis a USING (platform, id) "
            "LEFT JOIN authors u ON u.platform = p.platform AND u.id = p.author_id ORDER BY p.created_at"
        )
    assert "text" not in lean.columns and len(lean) == N
    for col in ("platform", "id", "author_id", "complaint_category"):
        assert lean[col].tolist() == plain[col].tolist(), col
    for col in ("created_at", "reposts_count", "followers", "sentiment"):
        pd.testing.assert_series_equal(lean[col], plain[col], check_dtype=False)

    frames = load_frames(path)
    posts = frames.posts
    assert posts["created_at"].is_monotonic_increasing and len(posts) == N
    # an unanalysed post's brands are NULL: pd.NA in DuckDB's frame (the old per-row list() raised on it)
    as_lists = [list(b) if isinstance(b, list | np.ndarray) else [] for b in plain["brands"]]
    assert posts["brands"].tolist() == as_lists
    assert posts["topics"].tolist() == [list(t) for t in plain["topics"]]
    decoded = [json.loads(v) if isinstance(v, str) else {} for v in plain["brand_sentiment"]]
    assert posts["brand_sentiment"].tolist() == decoded
    assert posts["complaint"].dtype == bool
    assert posts["complaint"].tolist() == [False if pd.isna(c) else bool(c) for c in plain["complaint"]]
    assert int(posts["complaint"].sum()) == len(range(30000, N, 5))
    # equal values share one decoded object (read-only): two distinct brand lists among 20,001 analysed posts
    assert len({id(b) for b in posts["brands"]}) == 3  # [], ['星阅'], ['星阅', '云雀']


def test_names_tests_each_distinct_list_once_and_equals_the_per_post_check() -> None:
    from yuqing.reports.data import _shared_lists, names

    joined = pd.Series(["星阅", "星阅\x1f云雀", "", None, "云雀", "星阅"] * 50, dtype="str")
    shared = pd.Series(_shared_lists(joined), dtype=object)
    separate = pd.Series([list(b) for b in shared], dtype=object)  # frames built by hand: no sharing
    for brand in ("星阅", "云雀", "星"):
        expected = [brand in b for b in shared]
        assert names(shared, brand).tolist() == expected
        assert names(separate, brand).tolist() == expected
    assert names(shared.iloc[:0], "星阅").tolist() == []


def test_customers_posts_carry_only_what_the_crm_sections_read(tmp_path: Path) -> None:
    """The brand report's per-post frame (the posts of customers' accounts) joins only the analysis columns the
    CRM sections read: every joined column is carried through DuckDB's join over the whole analysis table."""
    from yuqing.reports.data import load_frames
    from yuqing.store.warehouse import Warehouse

    path = tmp_path / "w.duckdb"
    _warehouse(path)
    with Warehouse.open(path) as wh:
        wh.con.execute(
            "INSERT INTO customer_links (customer_id, platform, author_id, method, confidence, linked_at) "
            "VALUES ('c1', 'weibo', '3', 'uid', 1.0, now())"
        )
        everything = wh.report_posts()
    linked = load_frames(path, linked_only=True).posts
    mine = everything[everything["author_id"] == "3"]
    assert len(linked) == len(mine) > 7000
    assert set(linked.columns) == {
        "platform", "id", "kind", "created_at", "author_id", "sentiment", "complaint", "complaint_category", "brands"
    }  # fmt: skip
    assert linked["id"].tolist() == mine["id"].tolist()
    assert linked["complaint_category"].tolist() == mine["complaint_category"].tolist()
    pd.testing.assert_series_equal(
        linked["sentiment"].reset_index(drop=True), mine["sentiment"].reset_index(drop=True), check_dtype=False
    )
    assert int(linked["complaint"].sum()) == int(mine["complaint"].fillna(False).astype(bool).sum()) > 0
