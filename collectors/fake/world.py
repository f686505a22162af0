"""A simulated Chinese social-media world with planted truth (``yuqing simulate``).

The world holds a brand and its competitors, accounts with heavy-tailed
followers grouped in communities, a few KOLs whose posts drive repost cascades,
comments and replies, mentions, Tieba forum threads, a CRM export with orders,
a marketing campaign with a measurable lift (competitors as control), and a
complaint burst about a concrete product problem on a known day.  Everything
the pipeline should recover is written to ``truth.json``.

Files written to the output directory::

    yuqing.toml            settings for this world (brand, competitors, campaign, queries)
    authors.parquet        Author records (platform weibo and tieba)
    posts.parquet          Post records: posts, comments, reposts (kind/parent_id/root_id)
    interactions.parquet   Interaction records (repost/comment/reply/mention)
    labels.parquet         per-post generating intent (for evaluating the NLP stage)
    customers.csv          CRM customers as a company exports them (clear PII)
    orders.csv             CRM orders
    truth.json             the planted truth

Same seed → byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collectors.fake.texts import COMPLAINT_CATEGORIES, TextGenerator
from store.schema import CHINA_TZ

__all__ = ["World", "WorldSummary", "generate_world", "load_world"]

BRAND: dict[str, Any] = {
    "name": "星阅",
    "aliases": ["XingYue", "星阅手机", "小星"],
    "products": ["星阅X5", "星阅X5 Pro", "星阅Pad"],
}
COMPETITORS: list[dict[str, Any]] = [
    {"name": "楚风", "aliases": ["ChuFeng"], "products": ["楚风K9"]},
    {"name": "云雀", "aliases": ["Yunque"], "products": ["云雀S3"]},
]
CAMPAIGN_TAG = "星阅X5焕新季"
BURST_PRODUCT = "星阅X5"
BURST_CATEGORY = "电池"
FETCHED_AT = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
_GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏浩宇欣怡子涵梓萱一诺")
_NICK_A = ["momo", "小", "阿", "大", "老", "是", "爱吃", "不吃", "一只", "今天也要", "熬夜的", "会飞的"]
_NICK_B = ["橘子", "鱼", "猫猫", "团子", "兔兔", "同学", "小王", "桃子", "土豆", "咸鱼", "柠檬", "星星", "阿狸", "饺子"]
_KOL_NAMES = ["数码老王", "科技小甜甜", "手机测评君", "极客阿飞", "机圈大V", "玩机研究所", "数码情报局", "评测师小K"]


@dataclass
class WorldSummary:
    out: Path
    authors: int
    posts: int
    interactions: int
    customers: int
    orders: int
    seconds: float


@dataclass
class World:
    authors: pd.DataFrame
    posts: pd.DataFrame
    interactions: pd.DataFrame
    labels: pd.DataFrame
    customers: pd.DataFrame
    orders: pd.DataFrame
    truth: dict[str, Any]
    settings_path: Path


def _ts(day0: dt.datetime, day: np.ndarray, seconds: np.ndarray) -> pd.DatetimeIndex:
    base = pd.Timestamp(day0)
    return base + pd.to_timedelta(day, unit="D") + pd.to_timedelta(seconds, unit="s")


def generate_world(
    out: Path,
    *,
    posts: int = 5000,
    seed: int = 7,
    days: int = 60,
    start: dt.date | None = None,
) -> WorldSummary:
    """Generate a world of about ``posts`` top-level posts (plus their comments and reposts) into ``out``."""
    import time

    if posts < 100:
        raise ValueError("a world needs at least 100 posts")
    if days < 30:
        raise ValueError("a world needs at least 30 days (pre-period, campaign, burst)")
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    start = start or dt.date(2026, 9, 1)
    day0 = dt.datetime.combine(start, dt.time(), tzinfo=CHINA_TZ)
    brands = [BRAND, *COMPETITORS]
    brand_names = [b["name"] for b in brands]

    # ------------------------------------------------------------------ accounts and communities
    n_authors = max(150, posts // 4)
    n_comm = 6
    comm_sizes = rng.dirichlet(np.full(n_comm, 4.0))
    community = rng.choice(n_comm, size=n_authors, p=comm_sizes)
    followers = np.round(rng.lognormal(mean=5.5, sigma=1.6, size=n_authors)).astype(np.int64)
    n_kols = min(len(_KOL_NAMES), 8)
    # KOLs: one or two per community, with the largest audiences
    kol_idx = np.array([int(np.flatnonzero(community == c % n_comm)[0]) for c in range(n_kols)])
    kol_idx = np.unique(kol_idx)
    n_kols = len(kol_idx)
    kol_followers = np.sort(rng.integers(500_000, 5_000_000, size=n_kols))[::-1]
    followers[kol_idx] = kol_followers
    verified = rng.random(n_authors) < 0.03
    verified[kol_idx] = True
    uids = np.array([str(5_000_000_000 + i * 7919) for i in range(n_authors)])
    names = []
    for i in range(n_authors):
        if rng.random() < 0.5:
            names.append(f"{_NICK_A[rng.integers(len(_NICK_A))]}{_NICK_B[rng.integers(len(_NICK_B))]}{i}")
        else:
            names.append(f"{_SURNAMES[rng.integers(len(_SURNAMES))]}{_GIVEN[rng.integers(len(_GIVEN))]}_{i}")
    for rank, idx in enumerate(kol_idx):
        names[idx] = _KOL_NAMES[rank]
    names_arr = np.array(names)
    kol_rank = {int(idx): r for r, idx in enumerate(kol_idx)}

    # ------------------------------------------------------------------ calendar
    campaign_start_day = days // 3
    campaign_days = 8
    burst_day = int(days * 2 // 3) + 2
    burst_start_h, burst_end_h = 10, 16
    hour_w = np.array([2, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 6, 6, 6, 7, 8, 10, 12, 12, 10, 5], dtype=float)
    hour_w /= hour_w.sum()

    # ------------------------------------------------------------------ top-level posts
    n = posts
    brand_p = np.array([0.5, 0.27, 0.23])
    post_brand = rng.choice(len(brands), size=n, p=brand_p)
    day_w = np.ones(days)
    day_w[campaign_start_day : campaign_start_day + campaign_days] = 1.0
    post_day = rng.choice(days, size=n, p=day_w / day_w.sum())
    # campaign lift: extra brand posts inside the window (control brands get none)
    in_campaign = (post_day >= campaign_start_day) & (post_day < campaign_start_day + campaign_days)
    intent_p_base = {"praise": 0.30, "neutral": 0.25, "question": 0.13, "complaint": 0.17, "negative_other": 0.15}
    intents = np.array(list(intent_p_base))
    post_intent = rng.choice(intents, size=n, p=np.array(list(intent_p_base.values())))
    seconds = (rng.choice(24, size=n, p=hour_w) * 3600 + rng.integers(0, 3600, size=n)).astype(np.int64)

    lift_volume = 0.6  # +60 % brand volume during the campaign
    brand_in_window = np.flatnonzero((post_brand == 0) & in_campaign)
    n_extra = round(len(brand_in_window) * lift_volume)
    extra_day = rng.integers(campaign_start_day, campaign_start_day + campaign_days, size=n_extra)
    extra_sec = (rng.choice(24, size=n_extra, p=hour_w) * 3600 + rng.integers(0, 3600, size=n_extra)).astype(np.int64)

    # complaint burst: many complaints about one product problem on one day, a few hours
    n_burst = max(40, n // 25)
    burst_sec = rng.integers(burst_start_h * 3600, burst_end_h * 3600, size=n_burst)

    post_day = np.concatenate([post_day, extra_day, np.full(n_burst, burst_day)])
    seconds = np.concatenate([seconds, extra_sec, burst_sec])
    post_brand = np.concatenate([post_brand, np.zeros(n_extra, int), np.zeros(n_burst, int)])
    post_intent = np.concatenate([post_intent, np.full(n_extra, "campaign"), np.full(n_burst, "complaint")])
    is_burst = np.concatenate([np.zeros(n + n_extra, bool), np.ones(n_burst, bool)])
    total = len(post_day)
    # authors: activity grows slowly with audience; KOLs post more
    activity = np.log1p(followers).astype(float)
    activity[kol_idx] *= 6
    post_author = rng.choice(n_authors, size=total, p=activity / activity.sum())
    created = _ts(day0, post_day, seconds)

    gen = TextGenerator(rng, BRAND["name"], BRAND["products"], [c["name"] for c in COMPETITORS])
    texts: list[str] = []
    categories: list[str] = []
    products: list[str] = []
    for i in range(total):
        b = brands[int(post_brand[i])]
        intent = str(post_intent[i])
        product = BURST_PRODUCT if is_burst[i] else b["products"][int(rng.integers(len(b["products"])))]
        name = b["name"] if rng.random() < 0.8 else b["aliases"][int(rng.integers(len(b["aliases"])))]
        category = ""
        if intent == "complaint":
            category = BURST_CATEGORY if is_burst[i] else str(rng.choice(list(COMPLAINT_CATEGORIES)))
        topic = ""
        if is_burst[i] and rng.random() < 0.5:
            topic = f"{BURST_PRODUCT}电池鼓包"
        elif intent == "campaign":
            topic = CAMPAIGN_TAG
        elif rng.random() < 0.1:
            topic = f"{b['name']}{rng.choice(['新品', '售后', '体验', '测评'])}"
        mention = ""
        author_comm = community[post_author[i]]
        if rng.random() < 0.08:
            same = kol_idx[community[kol_idx] == author_comm]
            if len(same):
                mention = names[int(same[0])]
        if intent == "campaign":
            text = gen.post("campaign", name, product, tag=f"#{CAMPAIGN_TAG}#", mention=mention)
        else:
            text = gen.post(intent, name, product, category=category, mention=mention, topic=topic)
        texts.append(text)
        categories.append(category)
        products.append(product)

    top = pd.DataFrame(
        {
            "platform": "weibo",
            "id": [str(4_900_000_000_000_000 + i) for i in range(total)],
            "kind": "post",
            "text": texts,
            "created_at": created,
            "author_idx": post_author,
            "brand": np.array(brand_names)[post_brand],
            "intent": post_intent,
            "category": categories,
            "product": products,
            "burst": is_burst,
        }
    )
    # a share of threads live on the Tieba-like forum
    top.loc[rng.random(total) < 0.08, "platform"] = "tieba"
    top.loc[top["platform"] == "tieba", "id"] = "tb" + top.loc[top["platform"] == "tieba", "id"].str[-9:]

    # ------------------------------------------------------------------ cascades: reposts, comments, replies
    sentiment_hint = np.where(
        np.isin(top["intent"], ["praise", "campaign"]),
        "pos",
        np.where(top["intent"].isin(["complaint", "negative_other"]), "neg", "neu"),
    )
    aud = followers[top["author_idx"].to_numpy()]
    lam_repost = 0.15 + 0.6 * np.log10(1 + aud / 1000.0)
    lam_repost[np.isin(top["author_idx"], kol_idx)] *= 8
    lam_repost[top["burst"].to_numpy()] *= 2
    lam_repost[top["platform"].to_numpy() == "tieba"] = 0
    n_reposts = rng.poisson(lam_repost)
    n_comments = rng.poisson(0.6 + 0.25 * np.log10(1 + aud / 100.0))

    comm_members = [np.flatnonzero(community == c) for c in range(n_comm)]

    def pick_actor(c: int) -> int:
        if rng.random() < 0.85:
            members = comm_members[c]
            return int(members[rng.integers(len(members))])
        return int(rng.integers(n_authors))

    rows: list[dict[str, Any]] = []
    edges: list[tuple[str, str, str, str, pd.Timestamp]] = []
    top_ids = top["id"].to_numpy()
    top_created = top["created_at"].to_numpy()
    top_platform = top["platform"].to_numpy()
    top_author = top["author_idx"].to_numpy()
    seq = 0
    for i in np.flatnonzero((n_reposts > 0) | (n_comments > 0)).tolist():
        root_id = top_ids[i]
        root_author = int(top_author[i])
        c = int(community[root_author])
        t0 = pd.Timestamp(top_created[i])
        platform = top_platform[i]
        chain: list[tuple[str, int, str]] = [(root_id, root_author, "")]  # (id, author, text for //@)
        for _ in range(int(n_reposts[i])):
            actor = pick_actor(c)
            parent_id, parent_author, parent_chain = (
                chain[0] if rng.random() < 0.7 or len(chain) == 1 else chain[int(rng.integers(1, len(chain)))]
            )
            own = gen.repost_comment(str(sentiment_hint[i]))
            chained = own if parent_id == root_id else f"{own}//@{names[parent_author]}:{parent_chain}"
            seq += 1
            rid = f"R{seq:010d}"
            when = t0 + pd.Timedelta(seconds=int(rng.exponential(3 * 3600)) + 60)
            rows.append(
                {
                    "platform": platform,
                    "id": rid,
                    "kind": "repost",
                    "text": chained,
                    "created_at": when,
                    "author_idx": actor,
                    "parent_id": parent_id,
                    "root_id": root_id,
                    "parent_author_idx": parent_author,
                }
            )
            edges.append(("repost", uids[actor], uids[parent_author], rid, when))
            chain.append((rid, actor, chained))
        comment_ids: list[tuple[str, int]] = []
        for _ in range(int(n_comments[i])):
            actor = pick_actor(c)
            seq += 1
            cid = f"C{seq:010d}"
            when = t0 + pd.Timedelta(seconds=int(rng.exponential(2 * 3600)) + 30)
            reply_to = comment_ids[int(rng.integers(len(comment_ids)))] if comment_ids and rng.random() < 0.25 else None
            text = gen.comment(str(sentiment_hint[i]), str(top["product"].iat[i]))
            if reply_to is not None:
                text = f"回复@{names[reply_to[1]]}:{text}"
            parent_id, parent_author = reply_to if reply_to is not None else (root_id, root_author)
            rows.append(
                {
                    "platform": platform,
                    "id": cid,
                    "kind": "comment",
                    "text": text,
                    "created_at": when,
                    "author_idx": actor,
                    "parent_id": parent_id,
                    "root_id": root_id,
                    "parent_author_idx": parent_author,
                }
            )
            edges.append(("reply" if reply_to is not None else "comment", uids[actor], uids[parent_author], cid, when))
            comment_ids.append((cid, actor))

    children = pd.DataFrame(rows)
    # mentions inside top-level texts
    top_texts = top["text"].tolist()
    for i in np.flatnonzero(top["text"].str.contains("@", regex=False).to_numpy()).tolist():
        mentioned = [k for k in kol_idx if f"@{names[k]}" in top_texts[i]]
        for k in mentioned:
            edges.append(("mention", uids[int(top_author[i])], uids[int(k)], top_ids[i], pd.Timestamp(top_created[i])))

    # ------------------------------------------------------------------ traditional characters for some users
    import opencc

    s2t = opencc.OpenCC("s2t")
    trad_authors = set(np.flatnonzero(rng.random(n_authors) < 0.05).tolist())
    mask = top["author_idx"].isin(trad_authors)
    top.loc[mask, "text"] = top.loc[mask, "text"].map(s2t.convert)

    # ------------------------------------------------------------------ assemble posts
    allp = pd.concat([top, children], ignore_index=True)
    allp["created_at"] = pd.to_datetime(allp["created_at"], utc=True)
    allp = allp[allp["created_at"] < pd.Timestamp(day0 + dt.timedelta(days=days))].copy()
    reposts_of = allp.loc[allp["kind"] == "repost"].groupby("parent_id").size()
    comments_of = allp.loc[allp["kind"] == "comment"].groupby("root_id").size()
    allp["reposts_count"] = allp["id"].map(reposts_of).fillna(0).astype("int64")
    allp["comments_count"] = allp["id"].map(comments_of).fillna(0).astype("int64")
    allp["attitudes_count"] = (allp["reposts_count"] * rng.uniform(1, 5, len(allp)) + rng.poisson(2, len(allp))).astype(
        "int64"
    )
    allp["author_id"] = np.where(allp["platform"] == "tieba", "tb" + uids[allp["author_idx"]], uids[allp["author_idx"]])
    allp["author_name"] = names_arr[allp["author_idx"]]
    pai = allp["parent_author_idx"].fillna(-1).astype(int).to_numpy()
    allp["parent_author_id"] = np.where(  # type: ignore[assignment]
        pai >= 0, np.where(allp["platform"] == "tieba", "tb", "") + uids[np.maximum(pai, 0)], None
    )
    allp["source"] = rng.choice(["星阅X5", "iPhone客户端", "Android", "微博网页版", "楚风K9"], size=len(allp))
    allp["location"] = rng.choice(["", "北京", "上海", "广东", "浙江", "四川", "台湾", "香港"], size=len(allp))
    topics_re = allp["text"].str.findall(r"#([^#\s]{1,40})#")
    allp["topics"] = topics_re
    allp["at_users"] = allp["text"].str.findall(r"@([\w\-]{1,30})")
    allp["urls"] = allp["text"].str.findall(r"https?://t\.cn/\w+")
    allp["pics"] = [[] for _ in range(len(allp))]
    allp["query"] = ""
    allp["fetched_at"] = FETCHED_AT
    allp["raw"] = None
    for col in ("parent_id", "root_id"):
        allp[col] = allp[col].where(allp[col].notna(), None)
    post_cols = [
        "platform",
        "id",
        "kind",
        "text",
        "created_at",
        "author_id",
        "author_name",
        "parent_id",
        "root_id",
        "parent_author_id",
        "reposts_count",
        "comments_count",
        "attitudes_count",
        "source",
        "location",
        "topics",
        "at_users",
        "urls",
        "pics",
        "query",
        "fetched_at",
        "raw",
    ]
    posts_df = allp[post_cols].sort_values(["created_at", "id"], kind="stable").reset_index(drop=True)
    labels = allp.loc[allp["kind"] == "post", ["platform", "id", "brand", "intent", "category", "product", "burst"]]
    labels = labels.sort_values("id").reset_index(drop=True)

    # ------------------------------------------------------------------ authors (weibo and tieba identities)
    statuses = np.bincount(allp["author_idx"].to_numpy(), minlength=n_authors)
    authors_w = pd.DataFrame(
        {
            "platform": "weibo",
            "id": uids,
            "screen_name": names_arr,
            "followers_count": followers,
            "friends_count": rng.integers(10, 2000, n_authors),
            "statuses_count": statuses + rng.integers(0, 500, n_authors),
            "verified": verified,
            "verified_type": np.where(verified, 0, -1),
            "verified_reason": np.where(np.isin(np.arange(n_authors), kol_idx), "知名数码博主", ""),
            "gender": rng.choice(["m", "f"], n_authors),
            "location": rng.choice(_CITIES_FOR_AUTHORS, n_authors),
            "description": "",
            "created_at": pd.Timestamp("2015-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 3000, n_authors), unit="D"),
            "fetched_at": FETCHED_AT,
        }
    )
    tieba_idx = np.unique(allp.loc[allp["platform"] == "tieba", "author_idx"].to_numpy())
    authors_t = authors_w.iloc[tieba_idx].copy()
    authors_t["platform"] = "tieba"
    authors_t["id"] = "tb" + authors_t["id"]
    authors_t["followers_count"] = (authors_t["followers_count"] // 50).astype("int64")

    # ------------------------------------------------------------------ CRM
    n_customers = max(60, n_authors // 3)
    cust_ids = [f"C{100000 + i}" for i in range(n_customers)]
    # linked customers: explicit weibo uid in the CRM, or only a phone/email that the platform payload carries
    linked_authors = rng.choice(n_authors, size=int(n_customers * 0.45), replace=False)
    explicit = linked_authors[: len(linked_authors) * 2 // 3]
    via_hash = linked_authors[len(linked_authors) * 2 // 3 :]
    phones = [f"1{rng.choice([3, 5, 7, 8, 9])}{rng.integers(0, 10**9):09d}" for _ in range(n_customers)]
    emails = [f"user{i}_{rng.integers(1000, 9999)}@example.com" for i in range(n_customers)]
    cust_names = [
        f"{_SURNAMES[rng.integers(len(_SURNAMES))]}{_GIVEN[rng.integers(len(_GIVEN))]}{_GIVEN[rng.integers(len(_GIVEN))]}"
        for _ in range(n_customers)
    ]
    handle = [""] * n_customers
    author_contact: dict[int, dict[str, str]] = {}
    links: list[dict[str, Any]] = []
    for ci, ai in enumerate(explicit):
        handle[ci] = uids[ai]
        links.append({"customer_id": cust_ids[ci], "author_id": uids[ai], "method": "uid"})
    for k, ai in enumerate(via_hash):
        ci = len(explicit) + k
        if k % 2 == 0:
            author_contact[int(ai)] = {"contact_phone": _format_phone(phones[ci], k)}
            links.append({"customer_id": cust_ids[ci], "author_id": uids[ai], "method": "phone_hash"})
        else:
            author_contact[int(ai)] = {"contact_email": emails[ci].upper() if k % 3 == 0 else emails[ci]}
            links.append({"customer_id": cust_ids[ci], "author_id": uids[ai], "method": "email_hash"})
    customer_of_author = {lk["author_id"]: lk["customer_id"] for lk in links}
    authors_w["raw"] = [
        json.dumps(author_contact[i], ensure_ascii=False) if i in author_contact else None for i in range(n_authors)
    ]
    authors_t["raw"] = None
    authors_df = pd.concat([authors_w, authors_t], ignore_index=True)

    customers = pd.DataFrame(
        {
            "客户编号": cust_ids,
            "姓名": cust_names,
            "手机": [_format_phone(p, i) for i, p in enumerate(phones)],
            "邮箱": emails,
            "城市": rng.choice(_CITIES_FOR_AUTHORS, n_customers),
            "注册时间": (
                pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 1000, n_customers), unit="D")
            ).strftime("%Y-%m-%d"),
            "微博UID": handle,
        }
    )
    # orders: a few whales, many one-off buyers
    value = rng.pareto(1.5, n_customers) + 0.2
    n_orders = np.minimum(1 + rng.poisson(value * 2), 40)
    ord_rows = []
    end_day = pd.Timestamp(day0 + dt.timedelta(days=days))
    for ci in range(n_customers):
        for _ in range(int(n_orders[ci])):
            when = end_day - pd.Timedelta(days=int(rng.integers(1, 540 if value[ci] < 1 else 120)))
            amount = round(float(rng.lognormal(7.0 + min(value[ci], 3) * 0.3, 0.5)), 2)
            ord_rows.append((ci, when, amount))
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i:08d}" for i in range(len(ord_rows))],
            "customer_id": [cust_ids[r[0]] for r in ord_rows],
            "amount": [f"{r[2]:.2f}" for r in ord_rows],
            "ordered_at": [r[1].strftime("%Y-%m-%d %H:%M:%S") for r in ord_rows],
            "product": rng.choice(BRAND["products"], len(ord_rows)),
            "channel": rng.choice(["天猫旗舰店", "京东自营", "线下门店", "官网"], len(ord_rows)),
        }
    )
    spend = orders.assign(a=orders["amount"].astype(float)).groupby("customer_id")["a"].sum()
    top_value = set(spend.sort_values(ascending=False).index[: max(5, n_customers // 10)])

    # ------------------------------------------------------------------ interactions
    inter = pd.DataFrame(edges, columns=["kind", "source_author_id", "target_author_id", "post_id", "created_at"])
    inter["created_at"] = pd.to_datetime(inter["created_at"], utc=True)
    pid_platform = dict(zip(posts_df["id"], posts_df["platform"], strict=True))
    inter["platform"] = inter["post_id"].map(pid_platform)
    inter = inter[inter["platform"].notna() & (inter["source_author_id"] != inter["target_author_id"])].copy()
    tb = inter["platform"] == "tieba"
    inter.loc[tb, "source_author_id"] = "tb" + inter.loc[tb, "source_author_id"]
    inter.loc[tb, "target_author_id"] = "tb" + inter.loc[tb, "target_author_id"]
    inter["weight"] = 1.0
    inter = inter[["platform", "kind", "source_author_id", "target_author_id", "post_id", "created_at", "weight"]]
    inter = inter.drop_duplicates(["platform", "kind", "source_author_id", "target_author_id", "post_id"]).reset_index(
        drop=True
    )

    # ------------------------------------------------------------------ truth
    burst_posts = allp[(allp["kind"] == "post") & allp["burst"].fillna(False).astype(bool)]
    burst_author_ids = set(uids[burst_posts["author_idx"].to_numpy()])
    burst_customers = sorted({customer_of_author[a] for a in burst_author_ids if a in customer_of_author})
    cascade = allp.loc[allp["kind"] == "repost"].groupby("root_id").size()
    root_author_of = dict(zip(top["id"], uids[top["author_idx"].to_numpy()], strict=True))
    reach_by_author = cascade.groupby(cascade.index.map(root_author_of)).sum().sort_values(ascending=False)
    kol_ids = [str(uids[i]) for i in kol_idx]
    kol_ids.sort(key=lambda a: -int(reach_by_author.get(a, 0)))
    camp_start = start + dt.timedelta(days=campaign_start_day)
    camp_end = camp_start + dt.timedelta(days=campaign_days - 1)
    burst_date = start + dt.timedelta(days=burst_day)
    camp_posts = top[top["intent"] == "campaign"]
    camp_kols = sorted({str(uids[a]) for a in camp_posts["author_idx"] if int(a) in kol_rank})
    truth: dict[str, Any] = {
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "brand": BRAND["name"],
        "competitors": [c["name"] for c in COMPETITORS],
        "kols": kol_ids,
        "communities": {str(uids[i]): int(community[i]) for i in range(n_authors)},
        "n_communities": n_comm,
        "burst": {
            "date": burst_date.isoformat(),
            "start": dt.datetime.combine(burst_date, dt.time(burst_start_h), tzinfo=CHINA_TZ).isoformat(),
            "end": dt.datetime.combine(burst_date, dt.time(burst_end_h), tzinfo=CHINA_TZ).isoformat(),
            "brand": BRAND["name"],
            "product": BURST_PRODUCT,
            "category": BURST_CATEGORY,
            "keywords": ["电池", "鼓包", "发烫", BURST_PRODUCT],
            "posts": len(burst_posts),
            "affected_customers": burst_customers,
            "high_value_complainers": sorted(set(burst_customers) & top_value),
        },
        "quiet_days": [
            (start + dt.timedelta(days=d)).isoformat()
            for d in range(days)
            if abs(d - burst_day) > 3 and not (campaign_start_day <= d < campaign_start_day + campaign_days)
        ],
        "campaign": {
            "name": "焕新季",
            "hashtag": CAMPAIGN_TAG,
            "start": camp_start.isoformat(),
            "end": camp_end.isoformat(),
            "volume_lift": lift_volume,
            "kols": camp_kols,
        },
        "customer_links": links,
        "high_value_customers": sorted(top_value),
    }

    # ------------------------------------------------------------------ write
    settings_toml = _settings_toml(truth, camp_start, camp_end)
    (out / "yuqing.toml").write_text(settings_toml, encoding="utf-8")
    posts_df.to_parquet(out / "posts.parquet", index=False)
    authors_df.to_parquet(out / "authors.parquet", index=False)
    inter.to_parquet(out / "interactions.parquet", index=False)
    labels.to_parquet(out / "labels.parquet", index=False)
    customers.to_csv(out / "customers.csv", index=False)
    orders.to_csv(out / "orders.csv", index=False)
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    return WorldSummary(
        out,
        len(authors_df),
        len(posts_df),
        len(inter),
        len(customers),
        len(orders),
        round(time.perf_counter() - started, 2),
    )


_CITIES_FOR_AUTHORS = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆", "苏州", "长沙"]


def _format_phone(digits: str, variant: int) -> str:
    """CRM exports write phones in every way people type them."""
    v = variant % 4
    if v == 0:
        return digits
    if v == 1:
        return f"+86 {digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if v == 2:
        return f"0086{digits}"
    return f"{digits[:3]} {digits[3:7]} {digits[7:]}"


def _settings_toml(truth: dict[str, Any], camp_start: dt.date, camp_end: dt.date) -> str:
    def q(items: list[str]) -> str:
        return "[" + ", ".join(json.dumps(x, ensure_ascii=False) for x in items) + "]"

    lines = [
        "# Settings for a simulated world written by `yuqing simulate`.",
        "[brand]",
        f"name = {json.dumps(BRAND['name'], ensure_ascii=False)}",
        f"aliases = {q(BRAND['aliases'])}",
        f"products = {q(BRAND['products'])}",
        "",
        "[collect]",
        f"queries = {q([BRAND['name'], *[c['name'] for c in COMPETITORS]])}",
        'forum_boards = ["星阅", "楚风", "云雀"]',
        "",
        "[warehouse]",
        'path = "yuqing.duckdb"',
        "",
        "[alerts]",
        "threshold = 4.0",
        "min_count = 8",
        'bucket = "hour"',
        "baseline_days = 14",
        "",
    ]
    for c in COMPETITORS:
        lines += [
            "[[competitors]]",
            f"name = {json.dumps(c['name'], ensure_ascii=False)}",
            f"aliases = {q(c['aliases'])}",
            f"products = {q(c['products'])}",
            "",
        ]
    lines += [
        "[[campaigns]]",
        f"name = {json.dumps(truth['campaign']['name'], ensure_ascii=False)}",
        f"hashtags = {q([CAMPAIGN_TAG])}",
        f"start = {camp_start.isoformat()}",
        f"end = {camp_end.isoformat()}",
        "pre_days = 14",
        "post_days = 7",
        "",
    ]
    return "\n".join(lines)


def load_world(directory: Path) -> World:
    d = Path(directory)
    if not (d / "truth.json").exists():
        raise FileNotFoundError(f"{d} is not a simulated world (no truth.json)")
    return World(
        authors=_plain(pd.read_parquet(d / "authors.parquet")),
        posts=_plain(pd.read_parquet(d / "posts.parquet")),
        interactions=pd.read_parquet(d / "interactions.parquet"),
        labels=pd.read_parquet(d / "labels.parquet"),
        customers=pd.read_csv(d / "customers.csv", dtype=str, keep_default_na=False),
        orders=pd.read_csv(d / "orders.csv", dtype=str, keep_default_na=False),
        truth=json.loads((d / "truth.json").read_text(encoding="utf-8")),
        settings_path=d / "yuqing.toml",
    )


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Nulls as ``None`` and list columns as Python lists, so rows validate as store.schema records."""
    for col in frame.columns:
        if frame[col].dtype == object or str(frame[col].dtype) in ("str", "string"):
            values = frame[col].astype(object)
            cleaned = [
                list(v)
                if isinstance(v, np.ndarray)
                else (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                for v in values
            ]
            if col == "raw":
                cleaned = [json.loads(v) if isinstance(v, str) else v for v in cleaned]
            frame[col] = pd.Series(cleaned, index=frame.index, dtype=object)
    return frame
