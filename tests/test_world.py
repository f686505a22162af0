"""The simulated world: reproducible, schema-valid, realistic, and carrying the truth it claims to plant."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import opencc
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from yuqing.collectors.fake.world import World, crm_records, generate_world, load_world
from yuqing.store.pii import normalize_email, normalize_phone
from yuqing.store.schema import CHINA_TZ, Author, Interaction, Post
from yuqing.store.settings import load_settings

FILES = [
    "yuqing.toml",
    "posts.parquet",
    "authors.parquet",
    "interactions.parquet",
    "labels.parquet",
    "customers.csv",
    "orders.csv",
    "truth.json",
]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(out, posts=3000, seed=11)
    return out


@pytest.fixture(scope="module")
def world(world_dir: Path) -> World:
    return load_world(world_dir)


def _local(frame: pd.DataFrame, col: str = "created_at") -> pd.Series:
    return pd.to_datetime(frame[col], utc=True).dt.tz_convert(CHINA_TZ)


# ---------------------------------------------------------------------------- reproducibility


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(world_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    other = tmp_path / "other"
    summary = generate_world(again, posts=3000, seed=11)
    generate_world(other, posts=3000, seed=12)
    for name in FILES:
        assert (again / name).read_bytes() == (world_dir / name).read_bytes(), name
    assert (other / "posts.parquet").read_bytes() != (world_dir / "posts.parquet").read_bytes()
    assert (other / "truth.json").read_bytes() != (world_dir / "truth.json").read_bytes()
    assert summary.posts == len(pd.read_parquet(again / "posts.parquet"))


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 100 posts"):
        generate_world(tmp_path, posts=10)
    with pytest.raises(ValueError, match="at least 30 days"):
        generate_world(tmp_path, posts=500, days=10)


# ---------------------------------------------------------------------------- every row is a record


def test_every_row_validates_as_a_store_record(world: World) -> None:
    posts = [Post.model_validate(r) for r in world.posts.to_dict("records")]
    authors = [Author.model_validate(r) for r in world.authors.to_dict("records")]
    inter = [Interaction.model_validate(r) for r in world.interactions.to_dict("records")]
    customers, orders = crm_records(world)
    assert len(posts) == len(world.posts) and len(authors) == len(world.authors)
    assert len(inter) == len(world.interactions) and len(customers) == len(world.customers)
    assert len(orders) == len(world.orders)
    assert all(p.created_at.tzinfo is not None for p in posts)
    assert list(world.posts.columns) == list(Post.model_fields)
    assert {p.platform.value for p in posts} == {"weibo", "tieba"}
    assert {p.kind.value for p in posts} == {"post", "repost", "comment"}
    keys = {(p.platform, p.id) for p in posts}
    assert len(keys) == len(posts), "post keys are unique"
    author_keys = {(a.platform, a.id) for a in authors}
    assert len(author_keys) == len(authors)
    assert {(p.platform, p.author_id) for p in posts} <= author_keys
    assert {(i.platform, i.source_author_id) for i in inter} <= author_keys
    assert {(i.platform, i.target_author_id) for i in inter} <= author_keys
    assert {i.post_id for i in inter} <= {p.id for p in posts}


def test_settings_file_loads_and_matches_the_truth(world: World) -> None:
    settings = load_settings(world.settings_path)
    truth = world.truth
    assert settings.brand.name == truth["brand"]
    assert [c.name for c in settings.competitors] == truth["competitors"]
    camp = settings.campaign(truth["campaign"]["name"])
    assert camp.hashtags == [truth["campaign"]["hashtag"]]
    assert camp.start.isoformat() == truth["campaign"]["start"] and camp.end.isoformat() == truth["campaign"]["end"]
    assert settings.warehouse.path == world.settings_path.parent.resolve() / "yuqing.duckdb"
    assert settings.collect.queries and settings.collect.forum_boards


# ---------------------------------------------------------------------------- threads and cascades


def test_reposts_and_comments_form_consistent_threads(world: World) -> None:
    posts = world.posts
    by_id = posts.set_index("id")
    kids = posts[posts["kind"] != "post"]
    assert kids["parent_id"].isin(by_id.index).all()
    assert (by_id.loc[kids["root_id"], "kind"] == "post").all()
    assert (by_id.loc[kids["parent_id"], "author_id"].to_numpy() == kids["parent_author_id"].to_numpy()).all()
    parent_time = pd.to_datetime(by_id.loc[kids["parent_id"], "created_at"], utc=True).to_numpy()
    assert (pd.to_datetime(kids["created_at"], utc=True).to_numpy() > parent_time).all()
    tops = posts[posts["kind"] == "post"]
    assert tops["parent_id"].isna().all() and tops["root_id"].isna().all()
    # counts agree with the rows
    reposts = kids[kids["kind"] == "repost"]
    cascade = reposts.groupby("root_id").size()
    assert (tops.set_index("id")["reposts_count"].reindex(cascade.index) == cascade).all()
    # deep cascades: a repost of a repost quotes the chain, Weibo style
    deep = reposts[reposts["parent_id"].isin(reposts["id"])]
    assert len(deep) > 20
    for row in deep.head(50).itertuples():
        parent = by_id.loc[row.parent_id]
        assert f"//@{parent['author_name']}:" in row.text
    assert deep["text"].str.count("//@").max() >= 2
    # forum threads have floor replies but no reposts
    assert (posts.loc[posts["platform"] == "tieba", "kind"] != "repost").all()
    assert (posts.loc[posts["platform"] == "tieba", "kind"] == "comment").any()
    replies = world.interactions[world.interactions["kind"] == "reply"]
    assert len(replies) and posts.set_index("id").loc[replies["post_id"], "text"].str.contains("回复@").all()


def test_kols_have_the_top_followers_and_drive_the_most_reposts(world: World) -> None:
    truth = world.truth
    kols = truth["kols"]
    authors = world.authors[world.authors["platform"] == "weibo"].set_index("id")
    top_followers = authors["followers_count"].nlargest(len(kols)).index
    assert set(top_followers) == set(kols)
    assert authors.loc[kols, "verified"].all()
    posts = world.posts
    root_author = posts[posts["kind"] == "post"].set_index("id")["author_id"]
    reposts = posts[posts["kind"] == "repost"]
    reach = reposts["root_id"].map(root_author).value_counts()
    assert set(reach.index[:5]) <= set(kols)
    ranked = [reach.get(k, 0) for k in kols]
    assert ranked == sorted(ranked, reverse=True), "truth ranks KOLs by the reposts they drove"
    # followers are heavy-tailed: the top 1 % of accounts hold most of the audience
    f = np.sort(authors["followers_count"].to_numpy())[::-1]
    assert f[: max(1, len(f) // 100)].sum() > 0.5 * f.sum()
    assert np.median(f) < 1000


def test_accounts_interact_mostly_inside_their_planted_community(world: World) -> None:
    comm = world.truth["communities"]
    inter = world.interactions[world.interactions["platform"] == "weibo"]
    src = inter["source_author_id"].map(comm)
    dst = inter["target_author_id"].map(comm)
    assert src.notna().all() and dst.notna().all()
    inside = float((src == dst).mean())
    expected_random = sum((v / len(comm)) ** 2 for v in pd.Series(list(comm.values())).value_counts())
    assert inside > 0.6 > 2 * expected_random
    assert world.truth["n_communities"] == len(set(comm.values()))
    assert set(inter["kind"]) == {"repost", "comment", "reply", "mention"}


# ---------------------------------------------------------------------------- burst, quiet days, campaign


def test_complaint_burst_is_a_spike_on_its_day_and_hours_with_the_planted_topic(world: World) -> None:
    truth = world.truth["burst"]
    labels = world.labels.set_index("id")
    posts = world.posts[world.posts["kind"] == "post"].copy()
    posts["complaint"] = posts["id"].map(labels["complaint"]).astype(bool)
    posts["brand"] = posts["id"].map(labels["brand"])
    posts["local"] = _local(posts)
    brand_complaints = posts[posts["complaint"] & (posts["brand"] == truth["brand"])]
    per_day = brand_complaints.groupby(brand_complaints["local"].dt.date).size()
    burst_day = dt.date.fromisoformat(truth["date"])
    others = per_day.drop(burst_day)
    assert per_day[burst_day] > 5 * others.median()
    assert per_day[burst_day] > 2 * others.max()
    quiet = [dt.date.fromisoformat(d) for d in world.truth["quiet_days"]]
    assert burst_day not in quiet and len(quiet) > 20
    assert per_day.reindex(quiet, fill_value=0).max() < per_day[burst_day] / 3
    start, end = dt.datetime.fromisoformat(truth["start"]), dt.datetime.fromisoformat(truth["end"])
    in_burst = posts[posts["id"].map(labels["burst"]).astype(bool)]
    assert len(in_burst) == truth["posts"]
    assert ((in_burst["local"] >= start) & (in_burst["local"] < end)).all()
    texts = in_burst["text"]
    assert texts.str.contains(truth["product"], regex=False).mean() > 0.9
    assert texts.str.contains("电池|鼓包|发烫|烫|焦味|掉电|鼓起").mean() > 0.9
    assert texts.str.contains(f"#{truth['topic']}#", regex=False).any()
    # the burst is reposted: its cascades are larger than an ordinary complaint's
    reposts = world.posts[world.posts["kind"] == "repost"]
    assert reposts["root_id"].isin(in_burst["id"]).sum() > len(in_burst) * 0.5


def test_burst_complainers_include_linked_high_value_customers(world: World) -> None:
    truth = world.truth
    hv = truth["burst"]["high_value_complainers"]
    assert hv and set(hv) <= set(truth["burst"]["affected_customers"]) and set(hv) <= set(truth["high_value_customers"])
    link_of = {lk["customer_id"]: lk["author_id"] for lk in truth["customer_links"]}
    assert {link_of[c] for c in hv} <= set(truth["burst"]["authors"])
    spend = world.orders.assign(a=world.orders["amount"].astype(float)).groupby("customer_id")["a"].sum()
    threshold = spend.sort_values(ascending=False).iloc[len(truth["high_value_customers"]) - 1]
    assert all(spend[c] >= threshold for c in hv)


def test_campaign_window_lifts_brand_volume_and_sentiment_but_not_competitors(world: World) -> None:
    camp = world.truth["campaign"]
    labels = world.labels.set_index("id")
    posts = world.posts[world.posts["kind"] == "post"].copy()
    posts["brand"] = posts["id"].map(labels["brand"])
    posts["sentiment"] = posts["id"].map(labels["sentiment"])
    posts["day"] = _local(posts).dt.date
    start, end = dt.date.fromisoformat(camp["start"]), dt.date.fromisoformat(camp["end"])
    pre0 = start - dt.timedelta(days=camp["pre_days"])
    during = posts[(posts["day"] >= start) & (posts["day"] <= end)]
    pre = posts[(posts["day"] >= pre0) & (posts["day"] < start)]
    n_during, n_pre = (end - start).days + 1, camp["pre_days"]

    def rate(frame: pd.DataFrame, brand: str, days: int) -> float:
        return float((frame["brand"] == brand).sum()) / days

    brand = world.truth["brand"]
    lift = rate(during, brand, n_during) / rate(pre, brand, n_pre) - 1
    assert lift > 0.3
    for comp in world.truth["competitors"]:
        assert abs(rate(during, comp, n_during) / rate(pre, comp, n_pre) - 1) < 0.3
    pos_pre = (pre.loc[pre["brand"] == brand, "sentiment"] == "pos").mean()
    pos_during = (during.loc[during["brand"] == brand, "sentiment"] == "pos").mean()
    assert pos_during > pos_pre + 0.15
    assert camp["measured"][brand]["volume_lift"] == pytest.approx(lift, abs=1e-3)
    tagged = posts[posts["text"].str.contains(f"#{camp['hashtag']}#", regex=False)]
    assert len(tagged) > 20 and tagged["day"].between(start, end).all()
    assert set(camp["kols"]) <= set(world.truth["kols"])
    assert set(camp["kols"]) <= set(tagged["author_id"])


def test_evenings_are_busier_than_nights(world: World) -> None:
    hours = _local(world.posts[world.posts["kind"] == "post"]).dt.hour
    assert (hours.between(19, 23)).mean() > 3 * (hours.between(2, 6)).mean()


# ---------------------------------------------------------------------------- CRM


def test_crm_export_is_messy_linked_and_has_realistic_rfm(world: World) -> None:
    customers = world.customers
    assert list(customers.columns[:6]) == ["客户编号", "姓名", "手机", "邮箱", "城市", "注册时间"]
    phones = customers["手机"]
    patterns = {
        "plain": r"^1\d{10}$",
        "dashed": r"^\+86 1\d{2}-\d{4}-\d{4}$",
        "0086": r"^00861\d{10}$",
        "spaced": r"^1\d{2} \d{4} \d{4}$",
    }
    for name, pattern in patterns.items():
        assert phones.str.match(pattern).any(), name
    assert all(normalize_phone(p).startswith("+861") for p in phones)
    truth = world.truth
    links = pd.DataFrame(truth["customer_links"])
    assert set(links["method"]) == {"uid", "handle", "phone_hash", "email_hash"}
    authors = world.authors[world.authors["platform"] == "weibo"].set_index("id")
    assert links["author_id"].isin(authors.index).all() and links["customer_id"].isin(customers["客户编号"]).all()
    cust = customers.set_index("客户编号")
    for lk in links.itertuples():
        raw = authors.loc[lk.author_id, "raw"] or {}
        if lk.method == "uid":
            assert cust.loc[lk.customer_id, "微博UID"] == lk.author_id
        elif lk.method == "handle":
            assert cust.loc[lk.customer_id, "微博昵称"].lstrip("@") == authors.loc[lk.author_id, "screen_name"]
        elif lk.method == "phone_hash":
            assert raw["contact_phone"] != cust.loc[lk.customer_id, "手机"]
            assert normalize_phone(raw["contact_phone"]) == normalize_phone(cust.loc[lk.customer_id, "手机"])
            assert not cust.loc[lk.customer_id, "微博UID"]
        else:
            assert normalize_email(raw["contact_email"]) == normalize_email(cust.loc[lk.customer_id, "邮箱"])
    assert set(truth["kol_customers"]) <= set(links["customer_id"])
    # RFM: many one-off buyers, a few whales holding a large share of revenue
    orders = world.orders.assign(a=world.orders["amount"].astype(float))
    per = orders.groupby("customer_id").agg(n=("a", "size"), m=("a", "sum"))
    assert set(per.index) == set(customers["客户编号"])
    assert (per["n"] == 1).mean() > 0.4
    assert per["n"].max() >= 8
    top = per["m"].nlargest(max(1, len(per) // 10)).sum()
    assert top > 0.3 * per["m"].sum()


# ---------------------------------------------------------------------------- text quality


def test_texts_read_like_weibo_and_follow_their_intent(world: World) -> None:
    posts = world.posts
    labels = world.labels.set_index("id")
    tops = posts[posts["kind"] == "post"]
    assert tops["text"].nunique() / len(tops) > 0.9
    assert not tops["text"].str.match(r"^(post|text) ?\d+$").any()
    everything = "\n".join(posts["text"])
    for marker in ["[哈哈]", "[怒]", "[泪]", "[doge]", "[赞]", "[允悲]", "http://t.cn/", "回复@", "//@"]:
        assert marker in everything, marker
    for slang in ["绝绝子", "yyds", "破防了", "无语", "真的会谢", "踩雷"]:
        assert slang in everything, slang
    assert tops["topics"].map(len).gt(0).mean() > 0.05
    assert tops["at_users"].map(len).gt(0).mean() > 0.05
    assert posts["urls"].map(len).gt(0).any()
    # the extracted fields agree with the text
    for row in tops[tops["topics"].map(len) > 0].head(30).itertuples():
        assert all(f"#{t}#" in row.text for t in row.topics)
    # traditional characters from Taiwan / Hong Kong users
    t2s = opencc.OpenCC("t2s")
    trad_authors = set(world.truth["traditional_authors"])
    trad_posts = tops[tops["author_id"].isin(trad_authors)]
    assert len(trad_posts) > 0
    changed = trad_posts["text"].map(lambda t: t2s.convert(t) != t).mean()
    assert changed > 0.8
    assert tops.loc[~tops["author_id"].isin(trad_authors), "text"].map(lambda t: t2s.convert(t) != t).mean() < 0.05
    # sentiment follows the intent without hanging on one marker
    sent = tops["id"].map(labels["sentiment"])
    neg_emo = tops["text"].str.contains(r"\[(?:怒|泪|抓狂|衰|伤心)\]")
    pos_emo = tops["text"].str.contains(r"\[(?:哈哈|赞|爱你|开心|鼓掌)\]")
    assert neg_emo[sent == "pos"].mean() == 0 and pos_emo[sent == "neg"].mean() == 0
    assert 0.2 < neg_emo[sent == "neg"].mean() < 0.7, "many negatives carry no emoticon"
    # complaint is not the same thing as negative
    intents = tops["id"].map(labels["intent"])
    assert (intents == "negative_other").sum() > 0.1 * (sent == "neg").sum()
    assert (tops["id"].map(labels["complaint"]) == (intents == "complaint")).all()
    cats = tops["id"].map(labels["category"])[intents == "complaint"]
    assert {"物流慢", "客服不回复", "退款难", "质量问题", "电池鼓包", "价格", "安全"} <= set(cats)
    refund = tops.loc[(intents == "complaint") & (cats == "退款难"), "text"]
    assert refund.str.contains("退|价保|差价").mean() > 0.95
    assert re.search(r"星阅X5|楚风K9|云雀S3", everything)


# ---------------------------------------------------------------------------- CLI


def test_simulate_command_writes_a_world(tmp_path: Path) -> None:
    from yuqing.flows.commands import world as world_cmd

    app = typer.Typer()
    world_cmd.register(app)

    @app.callback()
    def _root() -> None:
        """test app"""

    out = tmp_path / "w"
    args = ["simulate", "--out", str(out), "--posts", "400", "--seed", "3", "--days", "40"]
    result = CliRunner().invoke(app, [*args, "--brand", "青柠", "--start", "2027-03-01"])
    assert result.exit_code == 0, result.output
    assert all((out / name).exists() for name in FILES)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth["seed"] == 3 and truth["days"] == 40 and truth["start"] == "2027-03-01"
    assert truth["brand"] == "青柠" and truth["burst"]["product"] == "青柠X5"
    assert str(out) in result.output
    settings = load_settings(out / "yuqing.toml")
    assert settings.brand.name == "青柠" and settings.campaigns[0].hashtags == ["青柠X5焕新季"]
    posts = pd.read_parquet(out / "posts.parquet")
    tops = posts[posts["kind"] == "post"]
    assert tops["text"].str.contains("青柠").mean() > 0.3 and not posts["text"].str.contains("星阅X").any()
    assert pd.to_datetime(posts["created_at"]).min() >= pd.Timestamp("2027-03-01", tz=CHINA_TZ)
    bad = CliRunner().invoke(app, [*args, "--brand", "楚风"])
    assert bad.exit_code == 2 and "competitor" in bad.output


def test_block_by_block_generation_keeps_threads_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yuqing.collectors.fake.world as world_mod

    monkeypatch.setattr(world_mod, "_BLOCK", 700)
    generate_world(tmp_path, posts=2500, seed=5)
    world = load_world(tmp_path)
    posts = world.posts
    assert posts["id"].is_unique and len(world.labels) == len(posts)
    assert (world.labels["id"].to_numpy() == posts["id"].to_numpy()).all()
    kids = posts[posts["kind"] != "post"]
    assert kids["parent_id"].isin(posts["id"]).all() and kids["root_id"].isin(posts["id"]).all()
    assert world.interactions["post_id"].isin(posts["id"]).all()
    tops = posts[posts["kind"] == "post"].set_index("id")
    cascade = kids[kids["kind"] == "repost"].groupby("root_id").size()
    assert (tops["reposts_count"].reindex(cascade.index) == cascade).all()
    assert pq_row_groups(tmp_path / "posts.parquet") > 1
    assert world.truth["top_level_posts"] == len(tops)


def pq_row_groups(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).num_row_groups


# ---------------------------------------------------------------------------- the fake platform speaks the real API

REAL = Path(__file__).parent / "fixtures" / "weibo" / "real"


def _real(name: str) -> Any:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def served(world_dir: Path) -> Any:
    """GET against the fake platform in-process (``httpx.ASGITransport``), JSON decoded."""
    import asyncio

    import httpx

    from yuqing.collectors.fake.server import FakePlatform, FaultConfig, build_app

    app = build_app(FakePlatform(world_dir, FaultConfig()))

    def get(path: str, **params: Any) -> Any:
        async def go() -> Any:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake") as client:
                return (await client.get(path, params=params)).json()

        return asyncio.run(go())

    return get


def _search(served: Any, world: World, pages: int = 6) -> list[dict[str, Any]]:
    brand = world.truth["brand"]
    found: list[dict[str, Any]] = []
    for page in range(1, pages + 1):
        body = served(
            "/api/container/getIndex", containerid=f"100103type=1&q={brand}", page_type="searchall", page=page
        )
        found += [c["mblog"] for c in body["data"]["cards"]]
    return found


def test_fake_payload_keys_are_the_real_ones_per_endpoint(served: Any, world: World) -> None:
    """Each object the fake platform serves has the keys of the captured real responses: all the keys every
    real capture carries, and none the captures lack except the few :data:`payloads.FAKE_ONLY` names."""
    from yuqing.collectors.fake.payloads import FAKE_ONLY

    real_pages = [_real("getIndex_timeline_pics.json"), _real("getIndex_timeline_longtext.json")]
    real_mblogs = [c["mblog"] for page in real_pages for c in page["data"]["cards"]]
    real_users = [m["user"] for m in real_mblogs]
    every, union = set.intersection(*map(set, real_mblogs)), set().union(*map(set, real_mblogs))
    assert len(every) >= 30 and len(union) >= 50

    brand = world.truth["brand"]
    page = served("/api/container/getIndex", containerid=f"100103type=1&q={brand}", page_type="searchall", page=1)
    assert set(page) == set(real_pages[0]) and set(page["data"]) == set(real_pages[0]["data"])
    assert set(page["data"]["cardlistInfo"]) == set(real_pages[0]["data"]["cardlistInfo"])
    assert {frozenset(c) for c in page["data"]["cards"]} == {frozenset(real_pages[0]["data"]["cards"][0])}
    mblogs = _search(served, world)
    for m in mblogs:
        assert every <= set(m), every - set(m)
        assert set(m) - union <= set(FAKE_ONLY["mblog"]), set(m) - union
        assert set(m["user"]) - set().union(*map(set, real_users)) <= set(FAKE_ONLY["user"])
        assert set(real_users[0]) <= set(m["user"])
    real_pics = [p for m in real_mblogs for p in m.get("pics") or []]
    fake_pics = [p for m in mblogs for p in m.get("pics") or []]
    assert fake_pics and {frozenset(p) for p in fake_pics} == {frozenset(real_pics[0])}
    assert {frozenset(p["large"]) for p in fake_pics} == {frozenset(real_pics[0]["large"])}
    real_topic_info = [m["page_info"] for m in real_mblogs if (m.get("page_info") or {}).get("type") == "topic"]
    fake_info = [m["page_info"] for m in mblogs if "page_info" in m]
    assert fake_info and all(set(i) <= set().union(*map(set, real_topic_info)) for i in fake_info)

    # statuses/extend
    long = next(m for m in mblogs if m["isLongText"])
    extend = served("/statuses/extend", id=long["id"])
    real_extend = _real("statuses_extend.json")
    assert set(extend) == set(real_extend) and set(extend["data"]) == set(real_extend["data"])

    # repost timeline: an mblog with the root in retweeted_status (as the captured statuses/show of a repost)
    root = next(m for m in mblogs if int(m["reposts_count"]) > 0)
    reposts = served("/api/statuses/repostTimeline", id=root["id"], page=1)
    assert reposts["ok"] == 1 and reposts["data"]["data"]
    real_repost = _real("statuses_show_repost.json")["data"]
    for r in reposts["data"]["data"]:
        assert every <= set(r)
        assert set(r) - union - set(real_repost) <= set(FAKE_ONLY["mblog"])
        assert {"retweeted_status", "raw_text"} <= set(r) and r["retweeted_status"]["id"] == root["id"]

    # Open API users/show: the Open API's user object, not the mobile one
    real_open_user = _real("openapi_statuses_home_timeline.json")["statuses"][0]["user"]
    uid = str(mblogs[0]["user"]["id"])
    profile = served("/2/users/show.json", uid=uid, access_token="demo-token")
    assert set(real_open_user) - set(profile) <= {"insecurity"}, set(real_open_user) - set(profile)
    assert set(profile) - set(real_open_user) <= set(FAKE_ONLY["user"]), set(profile) - set(real_open_user)


def test_the_search_query_is_read_from_inside_the_container_id(served: Any, world: World) -> None:
    brand = world.truth["brand"]
    inside = served("/api/container/getIndex", containerid=f"100103type=1&q={brand}", page=1)
    assert inside["data"]["cards"] and inside["data"]["cardlistInfo"]["total"] > 10
    # a separate q parameter is not how the platform takes a query
    beside = served("/api/container/getIndex", containerid="100103type=1", q=brand, page=1)
    assert beside["data"]["cards"] == [] and beside["data"]["cardlistInfo"]["total"] == 0


def test_the_fake_platform_serves_long_posts_pictures_reposts_of_reposts_and_nested_replies(
    served: Any, world: World
) -> None:
    from yuqing.collectors.weibo.parse import comments_to_posts, long_text, needs_long_text, to_posts, with_long_text
    from yuqing.store.schema import PostKind

    by_id = world.posts.set_index("id")
    mblogs = _search(served, world)
    posts = to_posts({"ok": 1, "data": {"cards": [{"card_type": 9, "mblog": m} for m in mblogs]}})
    # long posts: cut at 140 characters with "全文" on the page, whole from statuses/extend
    long = [p for p in posts if needs_long_text(p)]
    assert long and all(len(by_id.loc[p.id, "text"]) > 140 and p.text.endswith("全文") for p in long)
    assert all(len(by_id.loc[p.id, "text"]) <= 140 for p in posts if not needs_long_text(p))
    for p in long:
        extend = served("/statuses/extend", id=p.id)
        assert with_long_text(p, extend).text == by_id.loc[p.id, "text"] and long_text(extend)
    # pictures: what the world holds, at their large size
    pictured = [p for p in posts if p.pics]
    assert pictured and all(p.pics == list(by_id.loc[p.id, "pics"]) for p in posts)
    # reposts of reposts: the timeline of a root lists the whole cascade; pid names the repost reposted
    weibo = world.posts[world.posts["platform"] == "weibo"]
    deep = weibo[(weibo["kind"] == "repost") & (weibo["parent_id"] != weibo["root_id"])]
    root = deep["root_id"].value_counts().index[0]
    timeline = []
    for page in range(1, 100):
        body = served("/api/statuses/repostTimeline", id=root, page=page)
        if body["ok"] != 1:
            assert body == {"ok": 0, "msg": "还没有人转发过"}  # past the last page, as the platform says it
            break
        timeline += to_posts(body)
    assert {p.id for p in timeline} == set(weibo.loc[(weibo["kind"] == "repost") & (weibo["root_id"] == root), "id"])
    assert any(p.parent_id != p.root_id for p in timeline)
    assert all(p.parent_id == by_id.loc[p.id, "parent_id"] and p.kind == PostKind.REPOST for p in timeline)
    # nested replies: a floor carries the replies under it in comments[]
    replies = weibo[(weibo["kind"] == "comment") & (weibo["parent_id"] != weibo["root_id"])]
    thread = replies["root_id"].value_counts().index[0]
    body = served("/comments/hotflow", id=thread, mid=thread, max_id=0)
    assert any(isinstance(c["comments"], list) and c["comments"] for c in body["data"]["data"])
    comments = comments_to_posts(body, root_id=thread, root_author_id=str(by_id.loc[thread, "author_id"]))
    for c in comments:
        assert (c.parent_id, c.parent_author_id) == (by_id.loc[c.id, "parent_id"], by_id.loc[c.id, "parent_author_id"])
    no_comments = weibo[(weibo["kind"] == "post") & (weibo["comments_count"] == 0)]["id"].iloc[0]
    assert served("/comments/hotflow", id=no_comments, max_id=0) == {"ok": 0, "msg": "快来发表你的评论吧"}
