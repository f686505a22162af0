"""Importers on fixtures written the way MediaCrawler, weibo-crawler and weibo-search write their files
(tests/fixtures/importers/README.md names the writer code each follows), into a real DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from yuqing.collectors.importers import import_file, import_paths
from yuqing.flows.cli import app
from yuqing.store.errors import InputError
from yuqing.store.schema import CHINA_TZ, Platform, Post, PostKind
from yuqing.store.warehouse import Warehouse

FIX = Path(__file__).parent / "fixtures" / "importers"
MC = FIX / "mediacrawler" / "data"
WC = FIX / "weibo_crawler" / "weibo"
WS = FIX / "weibo_search" / "结果文件"


def _q(db: Path, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    with Warehouse.open(db, read_only=True) as wh:
        return wh.query(sql, params)


def _post(db: Path, platform: str, post_id: str) -> pd.Series:
    frame = _q(db, "SELECT * FROM posts WHERE platform = ? AND id = ?", [platform, post_id])
    assert len(frame) == 1, f"{platform}/{post_id} not stored once"
    return frame.iloc[0]


@pytest.fixture(scope="module")
def mc_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every MediaCrawler fixture, imported by walking data/ (platform and kind from the path)."""
    db = tmp_path_factory.mktemp("mc") / "w.duckdb"
    result = import_paths([MC], db)
    assert not result.failed and not result.errors, [str(e) for e in result.errors]
    return db


# ------------------------------------------------------------------------------------------ MediaCrawler


def test_walk_infers_every_platform_and_kind_from_the_layout(mc_db: Path) -> None:
    counts = _q(mc_db, "SELECT platform, kind, count(*) AS n FROM posts GROUP BY ALL ORDER BY ALL")
    got = {(r.platform, r.kind): r.n for r in counts.itertuples()}
    assert got == {
        ("bilibili", "comment"): 2,
        ("bilibili", "post"): 1,
        ("douyin", "comment"): 2,
        ("douyin", "post"): 1,
        ("kuaishou", "comment"): 1,
        ("kuaishou", "post"): 1,
        ("tieba", "comment"): 1,
        ("tieba", "post"): 1,
        ("weibo", "comment"): 4,
        ("weibo", "post"): 3,
        ("xiaohongshu", "comment"): 2,
        ("xiaohongshu", "post"): 1,
        ("zhihu", "comment"): 1,
        ("zhihu", "post"): 1,
    }


def test_weibo_comments_hang_under_their_note_and_make_edges(mc_db: Path) -> None:
    """parent_comment_id is Weibo's rootid: a top-level comment's own id.  Old code: self-parented, 0 edges."""
    top = _post(mc_db, "weibo", "5031")
    assert (top.parent_id, top.root_id) == ("5021234567890123", "5021234567890123")
    reply = _post(mc_db, "weibo", "5032")
    assert (reply.parent_id, reply.root_id) == ("5031", "5021234567890123")
    note = _post(mc_db, "weibo", "5021234567890123")
    assert top.parent_author_id == note.author_id and reply.parent_author_id == top.author_id
    edges = _q(
        mc_db, "SELECT kind, source_author_id, target_author_id, post_id FROM interactions WHERE platform='weibo'"
    )
    by_post = {r.post_id: (r.kind, r.source_author_id, r.target_author_id) for r in edges.itertuples()}
    assert by_post["5031"] == ("comment", top.author_id, note.author_id)
    assert by_post["5032"] == ("reply", reply.author_id, top.author_id)
    assert by_post["5041"][0] == "comment"  # the pre-2026-07 schema as well


def test_creator_hash_schema_keeps_authors_newest_counts_and_clean_text(mc_db: Path) -> None:
    note = _post(mc_db, "weibo", "5021234567890123")
    # current schema: no user_id — the creator hash is the author, the masked nickname its name
    assert note.author_id == "db218bcb6c8edc8f" and note.author_name == "熬***子"
    author = _q(mc_db, "SELECT raw FROM authors WHERE platform = 'weibo' AND id = 'db218bcb6c8edc8f'")
    assert json.loads(author["raw"].iat[0]) == {"creator_hash": "db218bcb6c8edc8f", "nickname_masked": True}
    # the file repeats the row after a re-crawl: the newest counts win and are a metrics snapshot
    assert (note.attitudes_count, note.comments_count, note.reposts_count) == (15, 4, 2)
    metrics = _q(mc_db, "SELECT attitudes_count FROM post_metrics WHERE post_id = '5021234567890123'")
    assert metrics["attitudes_count"].tolist() == [15]
    assert note.fetched_at == pd.Timestamp(1791903600000, unit="ms", tz="UTC")  # its last_modify_ts
    # entities unescaped, topics / mentions / URLs extracted
    assert note.text.startswith("#星阅X5# 电池鼓包了>_< 客服")
    assert list(note.topics) == ["星阅X5"] and list(note.at_users) == ["小桃子"]
    assert list(note.urls) == ["https://shop.example.cn/x?id=1"]
    assert json.loads(note.raw)["source_keyword"] == "星阅X5" and note.query == "星阅X5"


def test_pre_july_schema_keeps_user_ids_and_locations(mc_db: Path) -> None:
    old = _post(mc_db, "weibo", "5021234567890200")
    assert (old.author_id, old.author_name, old.location) == ("6012345680", "数码老王", "北京")
    comment = _post(mc_db, "weibo", "5041")
    assert (comment.author_id, comment.location, comment.parent_author_id) == ("6012345681", "上海", "6012345680")


def test_xiaohongshu_millisecond_times_and_display_counts(mc_db: Path) -> None:
    """Old code: ``ValueError: year 58882 is out of range`` as a traceback."""
    note = _post(mc_db, "xiaohongshu", "66f0a1b2000000001e01abcd")
    assert note.created_at == pd.Timestamp(1791860000123, unit="ms", tz="UTC")
    assert (note.attitudes_count, note.comments_count, note.reposts_count) == (12_000, 100_000, 88)
    assert note.text == "星阅X5一个月真实体验，续航一般，拍照很好 #星阅X5[话题]#"  # title = desc's start, not repeated
    assert list(note.pics) == ["https://sns-webpic-qc.xhscdn.com/a.jpg", "https://sns-webpic-qc.xhscdn.com/b.jpg"]
    assert "数码" in list(note.topics) and "星阅X5" in list(note.topics)
    reply = _post(mc_db, "xiaohongshu", "66f0b0000000000001aaaa02")
    assert reply.parent_id == "66f0b0000000000001aaaa01" and reply.created_at.year == 2026


def test_douyin_comments_keep_likes_root_and_parent(mc_db: Path) -> None:
    """Old code: like_count and root_id lost."""
    top = _post(mc_db, "douyin", "7420000000000000101")
    assert (top.attitudes_count, top.root_id, top.parent_id) == (17, "7420000000000000001", "7420000000000000001")
    reply = _post(mc_db, "douyin", "7420000000000000102")
    assert (reply.attitudes_count, reply.parent_id) == (4, "7420000000000000101")
    assert reply.parent_author_id == top.author_id


def test_other_platforms_map_their_own_columns(mc_db: Path) -> None:
    bili = _post(mc_db, "bilibili", "113000000000001")
    assert bili.text == "【评测】星阅X5值不值\n全面评测，结论在最后" and bili.attitudes_count == 23_000
    assert bili.reposts_count == 765 and bili.comments_count == 2
    ks = _post(mc_db, "kuaishou", "3xabc123def")
    assert ks.created_at == pd.Timestamp(1791862000999, unit="ms", tz="UTC") and ks.attitudes_count == 888
    tieba = _post(mc_db, "tieba", "9100000001")
    assert tieba.created_at == pd.Timestamp(dt.datetime(2026, 10, 12, 21, 5, tzinfo=CHINA_TZ))
    assert tieba.text == "星阅X5发热严重吗\n打游戏半小时就烫手" and tieba.comments_count == 1
    zhihu = _post(mc_db, "zhihu", "3300000001")
    assert zhihu.text == "如何评价星阅X5？\n用了两周，优点是屏幕，缺点是发热。" and zhihu.attitudes_count == 321
    assert _post(mc_db, "zhihu", "3400000001").parent_id == "3300000001"


def test_reimport_changes_nothing_and_created_at_never_moves(mc_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copy(mc_db, db)
    before = _q(db, "SELECT * FROM posts ORDER BY platform, id")
    counts = _q(db, "SELECT count(*) AS n FROM post_metrics")["n"].iat[0]
    again = import_paths([MC], db)
    assert sum(f.inserted + f.updated for f in again.files) == 0
    pd.testing.assert_frame_equal(before, _q(db, "SELECT * FROM posts ORDER BY platform, id"))
    assert _q(db, "SELECT count(*) AS n FROM post_metrics")["n"].iat[0] == counts


def test_comments_imported_before_their_notes_are_linked_later(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    import_file(MC / "douyin" / "jsonl" / "search_comments_2026-10-13.jsonl", "auto", db)
    assert _q(db, "SELECT count(*) AS n FROM interactions")["n"].iat[0] == 1  # the reply: its parent is in the file
    import_file(MC / "douyin" / "jsonl" / "search_contents_2026-10-13.jsonl", "auto", db)
    assert _q(db, "SELECT count(*) AS n FROM interactions")["n"].iat[0] == 2


def test_walk_skips_what_holds_no_posts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(MC / "bili", data / "bili")
    (data / "bili" / "csv" / "search_contacts_2026-10-13.csv").write_text("up_id,fan_id\n1,2\n", encoding="utf-8")
    (data / "bili" / "words").mkdir()
    (data / "bili" / "words" / "search_comments_2026-10-13_word_freq.json").write_text("{}", encoding="utf-8")
    result = import_paths([data], tmp_path / "w.duckdb")
    assert [f.path.name for f in result.files] == [
        "search_contents_2026-10-13.csv",
        "search_comments_2026-10-13.csv",
    ]
    assert not result.failed


def test_platform_from_columns_when_the_file_is_not_in_the_layout(tmp_path: Path) -> None:
    loose = tmp_path / "export.jsonl"
    shutil.copy(MC / "douyin" / "jsonl" / "search_contents_2026-10-13.jsonl", loose)
    import_file(loose, "mediacrawler", tmp_path / "w.duckdb")
    assert _q(tmp_path / "w.duckdb", "SELECT platform FROM posts")["platform"].tolist() == ["douyin"]


# ------------------------------------------------------------------------------------------ weibo-crawler / search


def test_weibo_crawler_csv_ids_reposts_and_author_from_the_path(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    result = import_file(WC / "数码老王" / "5000000001.csv", "weibo-crawler", db)
    assert result.loaded == 2 and not result.errors
    posts = _q(db, "SELECT * FROM posts ORDER BY id").set_index("id")
    assert sorted(posts.index) == ["4987654321000001", "4987654321000002", "4987654321000900"]  # no "\t"
    own = posts.loc["4987654321000001"]
    assert (own.author_id, own.author_name, own.location) == ("5000000001", "数码老王", "北京")
    assert list(own.topics) == ["星阅X5焕新季"] and list(own.at_users) == ["小桃子"] and len(own.pics) == 2
    assert own.created_at == pd.Timestamp(dt.datetime(2026, 9, 22, 20, 15, tzinfo=CHINA_TZ))
    repost = posts.loc["4987654321000002"]
    assert repost.kind == "repost" and repost.parent_id == repost.root_id == "4987654321000900"
    assert repost.parent_author_id == "5000000009"
    source = posts.loc["4987654321000900"]
    assert (source.kind, source.author_id, source.author_name, source.attitudes_count) == (
        "post",
        "5000000009",
        "楚风官方",
        52000,
    )
    edges = _q(db, "SELECT kind, source_author_id, target_author_id FROM interactions")
    assert edges.values.tolist() == [["repost", "5000000001", "5000000009"]]
    author = _q(db, "SELECT followers_count, verified FROM authors WHERE id = '5000000001'")  # from users.csv
    assert author.values.tolist() == [[125000, True]]


def test_weibo_crawler_json_export(tmp_path: Path) -> None:
    """Old code: ``no column for ['id', 'text', 'created_at']``."""
    db = tmp_path / "w.duckdb"
    renamed = tmp_path / "export.json"  # told by its shape, not its name
    shutil.copy(WC / "数码老王" / "5000000001.json", renamed)
    result = import_file(renamed, "auto", db)
    assert result.files[0].format == "weibo-crawler" and result.loaded == 2
    kinds = _q(db, "SELECT id, kind, author_id FROM posts ORDER BY id").values.tolist()
    assert kinds == [
        ["4987654321000001", "post", "5000000001"],
        ["4987654321000002", "repost", "5000000001"],
        ["4987654321000900", "post", "5000000009"],
    ]
    assert _q(db, "SELECT followers_count FROM authors WHERE id = '5000000001'")["followers_count"].iat[0] == 125000


def test_weibo_search_counts_reposts_and_the_same_post_from_two_tools(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    result = import_file(WS / "星阅X5" / "星阅X5.csv", "auto", db)
    assert result.files[0].format == "weibo-search" and result.loaded == 2
    src = _post(db, "weibo", "4987654321000001")
    assert (src.reposts_count, src.comments_count, src.attitudes_count) == (12_000, 880, 1_000_000)
    assert src.query == "星阅X5" and list(src.topics) == ["星阅X5焕新季"]
    repost = _post(db, "weibo", "4987654321000777")
    assert (repost.kind, repost.parent_id, repost.parent_author_id) == ("repost", "4987654321000001", "5000000001")
    assert repost.location == "广东"
    # the same weibo from weibo-crawler (its id written with a trailing tab) stays one post
    import_file(WC / "数码老王" / "5000000001.csv", "auto", db)
    assert _q(db, "SELECT count(*) AS n FROM posts WHERE id LIKE '4987654321000001%'")["n"].iat[0] == 1


# ------------------------------------------------------------------------------------------ generic formats


def _world_posts(n: int) -> list[Post]:
    t0 = dt.datetime(2026, 10, 1, 9, 30, tzinfo=CHINA_TZ)
    return [
        Post(
            platform=Platform.WEIBO if i % 3 else Platform.DOUYIN,
            id=str(5_000_000 + i),
            kind=PostKind.COMMENT if i % 4 == 1 else PostKind.POST,
            text=f"第{i}条 #星阅X5# 好用 @小桃子 https://shop.example.cn/p/{i}",
            created_at=t0 + dt.timedelta(minutes=7 * i),
            author_id=f"u{i % 5}",
            author_name=f"用户{i % 5}",
            parent_id=str(5_000_000 + i - 1) if i % 4 == 1 else None,
            root_id=str(5_000_000 + i - 1) if i % 4 == 1 else None,
            reposts_count=i,
            comments_count=2 * i,
            attitudes_count=3 * i,
            topics=["星阅X5"],
            at_users=["小桃子"],
            urls=[f"https://shop.example.cn/p/{i}"],
            pics=[f"https://img.example.cn/{i}.jpg"] if i % 2 else [],
            fetched_at=t0 + dt.timedelta(days=30, seconds=i),
            raw={"i": i},
        )
        for i in range(12)
    ]


@pytest.mark.parametrize("how", ["jsonl-epoch", "jsonl-iso", "csv"])
def test_the_projects_own_post_records_round_trip(tmp_path: Path, how: str) -> None:
    """Old code: every row rejected with ``[urls]: Input should be a valid list`` and exit code 0."""
    posts = _world_posts(12)
    frame = pd.DataFrame([p.model_dump(mode="python") for p in posts])
    fmt, _, dates = how.partition("-")
    src = tmp_path / f"posts.{fmt}"
    if fmt == "jsonl":  # epoch milliseconds is what pandas wrote by default (deprecated since)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame.to_json(src, orient="records", lines=True, force_ascii=False, date_format=dates)
    else:
        frame.to_csv(src, index=False)
    db = tmp_path / "w.duckdb"
    result = import_file(src, fmt, db)
    assert (result.rows, result.loaded, result.errors) == (12, 12, [])
    stored = _q(db, "SELECT * FROM posts ORDER BY id")
    for post, row in zip(posts, stored.itertuples(), strict=True):
        assert (row.platform, row.kind, row.text, row.author_id) == (
            post.platform,
            post.kind,
            post.text,
            post.author_id,
        )
        assert row.created_at == pd.Timestamp(post.created_at) and row.fetched_at == pd.Timestamp(post.fetched_at)
        parent = None if pd.isna(row.parent_id) else row.parent_id
        assert (parent, row.attitudes_count) == (post.parent_id, post.attitudes_count)
        assert [list(row.topics), list(row.at_users), list(row.urls), list(row.pics)] == [
            post.topics,
            post.at_users,
            post.urls,
            post.pics,
        ]
        assert json.loads(row.raw) == post.raw


def test_relative_times_resolve_against_the_crawl_time_and_never_move(tmp_path: Path) -> None:
    """Old code: resolved against the clock at every import, so a re-import moved created_at."""
    src = tmp_path / "export_2026-10-13.csv"
    src.write_text(
        "id,text,created_at\n1,<p>刚刚 &amp; 真好</p>,刚刚\n2,好评<br>再来,5分钟前\n3,时间戳,1791860000123\n",
        encoding="utf-8",
    )
    noon = dt.datetime(2026, 10, 13, 12, 0, tzinfo=CHINA_TZ).timestamp()
    os.utime(src, (noon, noon))
    db = tmp_path / "w.duckdb"
    import_file(src, "csv", db)
    first = _q(db, "SELECT id, text, created_at FROM posts ORDER BY id")
    assert first["text"].tolist() == ["刚刚 & 真好", "好评\n再来", "时间戳"]
    crawl = pd.Timestamp(dt.datetime(2026, 10, 13, 12, 0, tzinfo=CHINA_TZ))
    assert first["created_at"].iat[0] - crawl < pd.Timedelta(seconds=1)
    assert crawl - first["created_at"].iat[1] - pd.Timedelta(minutes=5) < pd.Timedelta(seconds=1)
    assert first["created_at"].iat[2] == pd.Timestamp(1791860000123, unit="ms", tz="UTC")
    later = noon + 86400  # the file touched a day later and imported again (a newer crawl)
    os.utime(src, (later, later))
    import_file(src, "csv", db)
    again = _q(db, "SELECT id, created_at FROM posts ORDER BY id")
    assert again["created_at"].tolist() == first["created_at"].tolist()


def test_mapping_and_platform_through_the_cli(tmp_path: Path) -> None:
    src = tmp_path / "posts.jsonl"
    pd.DataFrame(
        {"msg_id": ["a1", "a2"], "content": ["好评", "差评"], "ts": ["2026-10-01 10:00:00", "2026-10-02"]}
    ).to_json(src, orient="records", lines=True, force_ascii=False)
    db = tmp_path / "w.duckdb"
    args = ["import", str(src), "--format", "jsonl", "--platform", "xhs", "--warehouse", str(db)]
    result = CliRunner().invoke(app, [*args, "--map", "id=msg_id", "--map", "text=content", "--map", "created_at=ts"])
    assert result.exit_code == 0, result.output
    assert "2 of 2 rows loaded" in result.output
    assert _q(db, "SELECT DISTINCT platform FROM posts")["platform"].tolist() == ["xiaohongshu"]
    missing = CliRunner().invoke(app, ["import", str(src), "--format", "jsonl", "--warehouse", str(db)])
    assert missing.exit_code == 1 and "use --map FIELD=COLUMN" in missing.output


# ------------------------------------------------------------------------------------------ bad files


def test_gbk_file_from_excel_reads_correctly(tmp_path: Path) -> None:
    src = tmp_path / "客户导出.csv"
    src.write_bytes("id,text,created_at\n1,电池鼓包，客服不理,2026/10/13 9:05\n".encode("gbk"))
    db = tmp_path / "w.duckdb"
    import_file(src, "csv", db)
    row = _post(db, "weibo", "1")
    assert row.text == "电池鼓包，客服不理"
    assert row.created_at == pd.Timestamp(dt.datetime(2026, 10, 13, 9, 5, tzinfo=CHINA_TZ))


def test_gbk_after_a_long_ascii_start_is_read_again_as_gbk(tmp_path: Path) -> None:
    src = tmp_path / "crm.csv"
    ascii_rows = "".join(f"{i},order {i} shipped {'x' * 100},2026-10-01\n" for i in range(10_000))  # > 1 MB
    src.write_bytes(("id,text,created_at\n" + ascii_rows + "99999,电池鼓包,2026-10-02\n").encode("gbk"))
    db = tmp_path / "w.duckdb"
    result = import_file(src, "csv", db, chunk=4000)
    assert (result.rows, result.loaded) == (10_001, 10_001)
    assert _post(db, "weibo", "99999").text == "电池鼓包"


def test_a_bad_row_is_rejected_alone_with_file_line_and_field(tmp_path: Path) -> None:
    src = tmp_path / "mixed.csv"
    src.write_text(
        "id,text,created_at,attitudes_count\n"
        "1,好,2026-10-01,5\n"
        "2,坏时间,year 58882,5\n"
        "3,坏计数,2026-10-01,很多\n"
        "4,毫秒,1791860000123,1.2万\n"
        ",没有id,2026-10-01,1\n",
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    result = import_file(src, "csv", db)
    assert (result.rows, result.loaded) == (5, 2)
    assert [(e.line, e.field) for e in result.errors] == [(3, "created_at"), (4, "attitudes_count"), (6, "id")]
    assert str(result.errors[0]).startswith(f"{src}:3 [created_at]: ")
    assert _post(db, "weibo", "4").attitudes_count == 12_000


def test_cut_last_line_of_a_big_jsonl_rejects_that_line_only(tmp_path: Path) -> None:
    """Old code: 20,000 of 25,000 rows committed, then a traceback."""
    src = tmp_path / "big.jsonl"
    lines = [json.dumps({"id": str(i), "text": f"帖子{i}", "created_at": 1791860000 + i}) for i in range(2500)]
    src.write_text("\n".join(lines)[:-7], encoding="utf-8")  # the last record is cut mid-way
    db = tmp_path / "w.duckdb"
    result = import_file(src, "jsonl", db, chunk=1000)
    assert (result.rows, result.loaded) == (2500, 2499)
    assert result.errors[0].line == 2500 and "not JSON" in str(result.errors[0])


def test_truncated_json_array_loads_nothing(tmp_path: Path) -> None:
    src = tmp_path / "search_contents_2026-10-13.json"
    full = (MC / "xhs" / "json" / "search_contents_2026-10-13.json").read_text(encoding="utf-8")
    items = json.loads(full) * 1
    many = [{**items[0], "note_id": f"n{i}"} for i in range(30)]
    src.write_text(json.dumps(many, ensure_ascii=False, indent=4)[:-40], encoding="utf-8")
    db = tmp_path / "w.duckdb"
    with pytest.raises(InputError, match="truncated or broken JSON") as err:
        import_file(src, "mediacrawler", db, platform=Platform.XIAOHONGSHU, chunk=5)
    assert err.value.line is not None and err.value.line > 1
    assert _q(db, "SELECT count(*) AS n FROM posts")["n"].iat[0] == 0  # one file, one transaction


def test_mixed_encoding_late_in_a_file_rolls_the_file_back(tmp_path: Path) -> None:
    src = tmp_path / "late.csv"
    body = "".join(f"{i},{'好' * 200},2026-10-01\n" for i in range(3000))  # > 1 MB of UTF-8
    src.write_bytes(("id,text,created_at\n" + body).encode("utf-8") + "9999,坏,2026-10-01\n".encode("gbk"))
    db = tmp_path / "w.duckdb"
    with pytest.raises(InputError, match="not utf-8"):
        import_file(src, "csv", db, chunk=500)
    assert _q(db, "SELECT count(*) AS n FROM posts")["n"].iat[0] == 0


@pytest.mark.parametrize(
    ("name", "content", "fmt", "why"),
    [
        ("posts.csv", b"id,text,created_at\n1,a,2026-10-01\n", "jsonl", "not JSON Lines"),
        ("posts.jsonl", b'{"id": "1", "text": "a", "created_at": 1791860000}\n', "csv", "this is JSON"),
        ("book.xlsx", b"PK\x03\x04rest-of-zip", "auto", "Excel"),
        ("empty.csv", b"", "csv", "no rows"),
        ("header.csv", b"id,text,created_at\n", "csv", "no rows"),
        ("bad.csv", b"id,text,created_at\n,,\n", "csv", "no row loaded"),
    ],
)
def test_bad_files_fail_in_one_line(tmp_path: Path, name: str, content: bytes, fmt: str, why: str) -> None:
    src = tmp_path / name
    src.write_bytes(content)
    with pytest.raises(InputError, match=why) as err:
        import_file(src, fmt, tmp_path / "w.duckdb")
    assert "\n" not in str(err.value) and str(err.value).startswith(str(src))


def test_cli_one_line_error_and_exit_code(tmp_path: Path) -> None:
    """The installed command: a truncated file → one `error:` line, no traceback, exit code 1."""
    bad = tmp_path / "cut.json"
    bad.write_text('[{"id": "1", "text": "a", "created_at": 1791860000},', encoding="utf-8")
    good = tmp_path / "ok.csv"
    good.write_text("id,text,created_at\n1,好,2026-10-01\n", encoding="utf-8")
    env = {**os.environ, "HOME": str(tmp_path)}
    cmd = [sys.executable, "-c", "from yuqing.flows.cli import main; main()", "import", str(bad), str(good)]
    proc = subprocess.run(
        [*cmd, "--warehouse", str(tmp_path / "w.duckdb")], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"error: {bad}:1: truncated or broken JSON" in proc.stderr
    assert "1 of 1 rows loaded" in proc.stdout  # the good file still loaded
