"""A simulated Chinese social-media world with planted truth (``yuqing simulate``).

The world holds a brand and its competitors; accounts with heavy-tailed
followers grouped in communities (people interact mostly inside their own);
a few verified KOLs whose posts drive repost cascades (``//@`` chains deeper
than one level); comments and floor replies; ``@`` mentions; Tieba forum
threads; a CRM export (customers with phones in every format, orders with
realistic RFM spreads) partly linked to accounts; a marketing campaign with a
hashtag and a lift in brand volume and sentiment (competitors as control); and
a complaint burst about a concrete product problem on a known day.  Everything
the pipeline should recover is written to ``truth.json``.

Files written to the output directory::

    yuqing.toml            settings for this world (brand, competitors, campaign, queries, alerts)
    authors.parquet        Author records (weibo and tieba identities; ``raw`` JSON with contact data for some)
    posts.parquet          Post records: posts, comments, reposts (kind/parent_id/root_id/parent_author_id)
    interactions.parquet   Interaction records (repost/comment/reply/mention)
    labels.parquet         per row: the generating brand, intent, sentiment, complaint category, burst/campaign flags
    customers.csv          CRM customers as a company exports them (clear PII, Chinese headers)
    tickets.csv            the service desk's tickets (工单号, 客户编号, 创建时间, 工单类型, 状态)
    orders.csv             CRM orders
    truth.json             the planted truth

Generation is vectorised (numpy draws in bulk, cascades built level by level,
ids/joins/counts in Arrow compute), runs in blocks of top-level posts that are
streamed to Parquet row groups (memory stays under ~1 GB at a million posts),
and is seeded: the same arguments give byte-identical files.  Rows are in time
order inside a block; ``authors.raw`` is stored as a JSON string (``load_world``
turns it back into a dict).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yuqing.collectors.fake.texts import (
    COMPLAINT_CATEGORIES,
    INTENTS,
    LONG_DETAILS,
    NLP_CATEGORY,
    SENTIMENT_OF_INTENT,
    TextGenerator,
)
from yuqing.store.schema import CHINA_TZ, Customer, Order

__all__ = [
    "BRAND",
    "COMPETITORS",
    "CRM_CUSTOMER_COLUMNS",
    "World",
    "WorldSummary",
    "brand_spec",
    "crm_records",
    "generate_world",
    "load_world",
]

BRAND: dict[str, Any] = {
    "name": "星阅",
    "aliases": ["XingYue", "星阅手机", "小星"],
    "products": ["星阅X5", "星阅X5 Pro", "星阅Pad"],
}
COMPETITORS: list[dict[str, Any]] = [
    {"name": "楚风", "aliases": ["ChuFeng", "楚风手机"], "products": ["楚风K9", "楚风K9 Ultra"]},
    {"name": "云雀", "aliases": ["Yunque", "云雀科技"], "products": ["云雀S3", "云雀Note"]},
]
CAMPAIGN_NAME = "焕新季"
BURST_PROBLEM = "电池鼓包"
# CRM export column → Customer field
CRM_CUSTOMER_COLUMNS = {
    "客户编号": "customer_id",
    "姓名": "name",
    "手机": "phone",
    "邮箱": "email",
    "城市": "city",
    "注册时间": "registered_at",
}
# what the brand sells (suffix after the brand name) and list prices, for CRM orders
_CATALOGUE = {"X5": 3999, "X5 Pro": 5999, "Pad": 2499, "蓝牙耳机": 399, "65W充电器": 149}
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
_GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚华玉萍红玲芬燕彬鹏浩宇欣怡涵萱诺琪轩睿晨阳")
_NICK_A = [
    "momo",
    "小",
    "阿",
    "大",
    "老",
    "是",
    "爱吃",
    "不吃",
    "一只",
    "今天也要",
    "熬夜的",
    "会飞的",
    "快乐的",
    "社恐",
]
_NICK_B = ["橘子", "鱼", "猫猫", "团子", "兔兔", "同学", "小王", "桃子", "土豆", "咸鱼", "柠檬", "星星", "阿狸", "饺子"]
_KOL_NAMES = ["数码老王", "科技小甜甜", "手机测评君", "极客阿飞", "机圈大V", "玩机研究所", "数码情报局", "评测师小K"]
_CITIES = ["北京", "上海", "广东", "浙江", "江苏", "四川", "湖北", "陕西", "重庆", "湖南", "山东", "福建"]
_TRAD_PLACES = ["台湾", "香港"]
_BIOS = ["", "", "", "热爱生活", "数码爱好者", "打工人", "摄影/旅行", "吃货一枚", "每天都要开心", "学生党"]
_WEIBO_SOURCES = ["iPhone客户端", "Android", "微博网页版", "星阅X5", "星阅X5 Pro", "楚风K9", "云雀S3", "HUAWEI Mate 60"]
_MOBILE_PREFIXES = [130, 131, 132, 135, 136, 137, 138, 139, 150, 151, 152, 157, 158, 159, 177, 186, 187, 188, 199]
_MAIL_DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "foxmail.com", "sina.com"]
_CHANNELS = ["天猫旗舰店", "京东自营", "线下门店", "官网商城", "抖音直播间"]
_HOUR_WEIGHTS = np.array([3, 2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 6, 6, 6, 7, 8, 10, 12, 13, 11, 6], dtype=float)
_N_KOLS = 8
_KOL_SHARE = 0.03  # share of top-level posts written by KOLs
_TRAD_SHARE = 0.05  # authors in Taiwan/Hong Kong who write traditional characters
_TIEBA_SHARE = 0.08
_CAMPAIGN_DAYS = 8
_POST_DAYS = 7  # the campaign's post-period in the world's settings
_CRM_LIFT = 0.6  # planted extra orders per exposed customer in the campaign window and post-period
_BLOCK = 200_000  # top-level posts generated per block
_VOLUME_LIFT = 0.6  # extra brand posts inside the campaign window, relative to the base rate
_SENTIMENT_SHIFT = 0.35  # share of brand negatives turned to praise inside the window
_LONG_SHARE = 0.05  # Weibo posts longer than the 140 characters a page shows (the rest is behind "全文")
_PICS_SHARE = 0.3  # Weibo posts with pictures (1 to 9)
_PID = np.array(list("0123456789abcdefghijklmnopqrstuvwxyz"))


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


# ---------------------------------------------------------------------------- helpers


def _choice(rng: np.random.Generator, bank: list[str], n: int) -> np.ndarray:
    return np.asarray(bank, dtype=object)[rng.integers(0, len(bank), size=n)]


def _tree(rng: np.random.Generator, counts: np.ndarray, p_root: float) -> tuple[np.ndarray, np.ndarray]:
    """Children of many roots at once: each child's root index and its parent child (-1 = the root).

    Child ``k`` of a root attaches to the root with probability ``p_root`` and otherwise to one of the
    ``k`` children before it, so parents always precede children and depth grows like a random tree.
    """
    counts = counts.astype(np.int64)
    root = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    pos = np.arange(len(root), dtype=np.int64) - starts
    u = rng.random(len(root))
    u2 = rng.random(len(root))
    parent_pos = np.floor(u2 * pos).astype(np.int64)
    parent = np.where((u < p_root) | (pos == 0), -1, starts + parent_pos)
    return root, parent


def _depths(parent: np.ndarray) -> np.ndarray:
    depth = np.ones(len(parent), dtype=np.int64)
    has = parent >= 0
    while True:
        new = depth.copy()
        new[has] = depth[parent[has]] + 1
        if np.array_equal(new, depth):
            return depth
        depth = new


def _list_array(n: int, rows: np.ndarray, values: list[list[str]]) -> pa.Array:
    """A ``list<string>`` column of length ``n``: ``values[k]`` at ``rows[k]``, empty lists elsewhere."""
    lengths = np.zeros(n, dtype=np.int32)
    lengths[rows] = [len(v) for v in values]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    order = np.argsort(rows, kind="stable")
    flat = [x for k in order.tolist() for x in values[k]]
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.string()))


def _extract(text_pa: pa.Array, texts: np.ndarray, marker: str, pattern: str) -> tuple[np.ndarray, list[list[str]]]:
    """Rows whose text contains ``marker`` and the ``pattern`` matches in each (the scan runs in Arrow)."""
    has = pc.match_substring(text_pa, marker).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(has)
    regex = re.compile(pattern)
    return rows, [regex.findall(t) for t in texts[rows].tolist()]


def _joiner_mark(text: str) -> str:
    return "" if text[-1:] in "？?！!。，" else "。"


def _pictures(rng: np.random.Generator, candidates: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
    """Rows among ``candidates`` that carry pictures, and their picture URLs at the large size (as the platform
    serves them: ``https://wxN.sinaimg.cn/large/<32-character picture id>.jpg``)."""
    rows = candidates[rng.random(len(candidates)) < _PICS_SHARE]
    counts = rng.integers(1, 10, size=len(rows))
    chars = _PID[rng.integers(0, len(_PID), size=(int(counts.sum()), 28))]
    pids = ["".join(c) for c in chars.tolist()]
    hosts = rng.integers(1, 5, size=len(pids)).tolist()
    urls = [f"https://wx{h}.sinaimg.cn/large/{p[:8]}ly1g{p[8:]}.jpg" for h, p in zip(hosts, pids, strict=True)]
    ends = np.cumsum(counts).tolist()
    return rows, [urls[e - c : e] for c, e in zip(counts.tolist(), ends, strict=True)]


def _post_ids(lo: int, tb: np.ndarray, r_off: int, r_n: int, c_off: int, c_n: int) -> pa.Array:
    """Ids of every row: numeric mids for Weibo posts, ``tb…`` for forum threads, ``R…``/``C…`` for children."""
    total = len(tb)
    i = lo + np.arange(total, dtype=np.int64)
    num = np.concatenate(
        [
            np.where(tb, 8_000_000_000 + i, 4_900_000_000_000_000 + i * 13),
            r_off + np.arange(r_n),
            c_off + np.arange(c_n),
        ]
    )
    digits = pc.cast(pa.array(num), pa.string())
    child = pa.array(np.concatenate([np.zeros(total, dtype=bool), np.ones(r_n + c_n, dtype=bool)]))
    digits = pc.if_else(child, pc.utf8_lpad(digits, width=10, padding="0"), digits)
    kind = np.concatenate([tb.astype(np.int8), np.full(r_n, 2, np.int8), np.full(c_n, 3, np.int8)])
    prefix = pc.take(pa.array(["", "tb", "R", "C"]), pa.array(kind))
    return pc.binary_join_element_wise(prefix, digits, "")


def brand_spec(name: str | None = None) -> dict[str, Any]:
    """The monitored brand: the default 星阅, or ``name`` with the same product line (``{name}X5`` …)."""
    if not name or name == BRAND["name"]:
        return {k: list(v) if isinstance(v, list) else v for k, v in BRAND.items()}
    name = name.strip()
    if not name or any(c in name for c in '#@[]"\n'):
        raise ValueError(f"brand name {name!r} must be non-empty and free of # @ [ ] and quotes")
    if name in {c["name"] for c in COMPETITORS}:
        raise ValueError(f"brand name {name!r} is already a competitor in the simulated world")
    return {
        "name": name,
        "aliases": [f"{name}手机", f"{name}官方"],
        "products": [f"{name}X5", f"{name}X5 Pro", f"{name}Pad"],
    }


def _format_phone(digits: str, variant: int) -> str:
    """CRM exports write phones in every way people type them."""
    v = variant % 5
    if v == 0:
        return digits
    if v == 1:
        return f"+86 {digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if v == 2:
        return f"0086{digits}"
    if v == 3:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return f"+86{digits}"


# ---------------------------------------------------------------------------- the world


def generate_world(
    out: Path,
    *,
    posts: int = 5000,
    seed: int = 7,
    days: int = 60,
    start: dt.date | None = None,
    brand: str | None = None,
    crm_lift: float = _CRM_LIFT,
) -> WorldSummary:
    """Generate a world of about ``posts`` top-level posts (plus their comments and reposts) into ``out``.

    ``crm_lift``: extra orders (a Poisson mean) each customer linked to a campaign participant places in the
    campaign window and post-period (0: no lift); ``truth.json`` holds the exposed customers and the lift in
    orders and spend per customer (``campaign.crm_lift``).

    Roughly 2.5 rows per top-level post end up in ``posts.parquet`` (reposts and comments included).
    """
    if posts < 100:
        raise ValueError(f"a world needs at least 100 posts (got {posts})")
    if days < 30:
        raise ValueError(f"a world needs at least 30 days for pre-period, campaign and burst (got {days})")
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # long texts and pictures draw from their own stream: adding them left every other draw of the world as it was
    extra_rng = np.random.default_rng([seed, 1])
    start = start or dt.date(2026, 9, 1)
    day0 = dt.datetime.combine(start, dt.time(), tzinfo=CHINA_TZ)
    epoch0 = int(day0.timestamp())
    end_ts = epoch0 + days * 86400
    fetched_at = dt.datetime.fromtimestamp(end_ts + 3600, tz=dt.UTC)
    main = brand_spec(brand)
    name = main["name"]
    campaign_tag, burst_product, burst_topic = f"{name}X5焕新季", f"{name}X5", f"{name}X5电池鼓包"
    brands = [main, *COMPETITORS]
    brand_names = np.array([b["name"] for b in brands], dtype=object)

    # ------------------------------------------------------------------ accounts and communities
    n_authors = max(150, posts // 4)
    n_comm = max(6, n_authors // 400)
    comm_p = rng.dirichlet(np.full(n_comm, 4.0))
    community = rng.choice(n_comm, size=n_authors, p=comm_p)
    followers = np.round(rng.lognormal(mean=5.5, sigma=1.6, size=n_authors)).astype(np.int64)
    kol_idx = np.array(
        [int(rng.choice(np.flatnonzero(community == (k % n_comm)))) for k in range(_N_KOLS)], dtype=np.int64
    )
    kol_idx = np.array(list(dict.fromkeys(kol_idx.tolist())), dtype=np.int64)
    n_kols = len(kol_idx)
    is_kol = np.zeros(n_authors, dtype=bool)
    is_kol[kol_idx] = True
    kol_followers = np.sort(rng.integers(600_000, 8_000_000, size=n_kols))[::-1]
    followers = np.minimum(followers, 300_000)
    followers[kol_idx] = kol_followers
    verified = (rng.random(n_authors) < 0.02) | is_kol
    uid_num = 5_000_000_000 + np.arange(n_authors, dtype=np.int64) * 7919
    uids = np.array([str(u) for u in uid_num.tolist()], dtype=object)
    style = rng.random(n_authors)
    na, nb = rng.integers(0, len(_NICK_A), n_authors), rng.integers(0, len(_NICK_B), n_authors)
    sn, gn = rng.integers(0, len(_SURNAMES), n_authors), rng.integers(0, len(_GIVEN), n_authors)
    names = np.array(
        [
            f"用户{uids[i][-7:]}{i % 10}"
            if style[i] < 0.12
            else f"{_NICK_A[na[i]]}{_NICK_B[nb[i]]}{i}"
            if style[i] < 0.6
            else f"{_SURNAMES[sn[i]]}{_GIVEN[gn[i]]}_{i}"
            for i in range(n_authors)
        ],
        dtype=object,
    )
    for rank, idx in enumerate(kol_idx.tolist()):
        names[idx] = _KOL_NAMES[rank]
    trad = rng.random(n_authors) < _TRAD_SHARE
    trad[kol_idx] = False
    author_loc = _choice(rng, _CITIES, n_authors)
    author_loc[trad] = _choice(rng, _TRAD_PLACES, int(trad.sum()))
    activity = np.log1p(followers) * rng.lognormal(0.0, 0.8, n_authors)
    activity[kol_idx] = 0.0
    activity_p = activity / activity.sum()
    order_by_comm = np.argsort(community, kind="stable")
    comm_start = np.searchsorted(community[order_by_comm], np.arange(n_comm))
    comm_size = np.bincount(community, minlength=n_comm)

    def same_community(of: np.ndarray, p_inside: float | np.ndarray) -> np.ndarray:
        """An actor for each author in ``of``: from the same community with probability ``p_inside``."""
        c = community[of]
        inside = order_by_comm[comm_start[c] + np.floor(rng.random(len(of)) * comm_size[c]).astype(np.int64)]
        anyone = rng.integers(0, n_authors, size=len(of))
        return np.where(rng.random(len(of)) < p_inside, inside, anyone)

    # ------------------------------------------------------------------ CRM (before posts: burst plants complainers)
    n_customers = max(60, n_authors // 3)
    value = rng.pareto(1.3, n_customers) + 0.1
    n_orders = np.minimum(1 + rng.poisson(0.6 * value), 60)
    spend_rank = np.argsort(-(value + rng.random(n_customers) * 1e-6), kind="stable")
    top_value_idx = spend_rank[: max(5, n_customers // 10)]
    n_linked = int(n_customers * 0.45)
    linked_cust = rng.permutation(n_customers)[:n_linked]
    # two KOLs are customers (advocates to reward); the rest are ordinary accounts
    ordinary = np.flatnonzero(~is_kol)
    linked_auth = rng.choice(ordinary, size=n_linked, replace=False)
    linked_auth[:2] = kol_idx[:2]
    method_u = rng.random(n_linked)
    link_method = np.where(
        method_u < 0.5,
        "uid",
        np.where(method_u < 0.65, "handle", np.where(method_u < 0.85, "phone_hash", "email_hash")),
    )
    link_method[:2] = "uid"
    cust_of_author = dict(zip(linked_auth.tolist(), linked_cust.tolist(), strict=True))

    # ------------------------------------------------------------------ calendar
    camp_d0 = days // 3
    burst_day = int(days * 2 // 3) + 2
    burst_h0, burst_h1 = 10, 16
    hour_p = _HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()
    weekday = np.array([(start + dt.timedelta(days=d)).weekday() for d in range(days)])
    day_w = np.where(weekday >= 5, 1.15, 1.0) * rng.uniform(0.9, 1.1, days)

    def seconds_of_day(k: int) -> np.ndarray:
        return rng.choice(24, size=k, p=hour_p) * 3600 + rng.integers(0, 3600, size=k)

    # ------------------------------------------------------------------ top-level posts
    n = posts
    post_brand = rng.choice(len(brands), size=n, p=[0.5, 0.27, 0.23])
    post_day = rng.choice(days, size=n, p=day_w / day_w.sum())
    intents = np.array(["praise", "neutral", "question", "complaint", "negative_other"], dtype=object)
    post_intent = intents[rng.choice(len(intents), size=n, p=[0.30, 0.25, 0.13, 0.17, 0.15])]
    in_window = (post_day >= camp_d0) & (post_day < camp_d0 + _CAMPAIGN_DAYS)
    shift = (post_brand == 0) & in_window & np.isin(post_intent, ["complaint", "negative_other"])
    shift &= rng.random(n) < _SENTIMENT_SHIFT
    post_intent[shift] = "praise"
    # campaign: extra brand posts with the hashtag inside the window, some of them by KOLs
    n_extra = round(int(((post_brand == 0) & in_window).sum()) * _VOLUME_LIFT)
    # complaint burst: one product problem, a few hours of one day
    n_burst = max(40, n // 30)
    burst_sec = np.clip(rng.normal(13.0, 1.3, n_burst), burst_h0, burst_h1 - 1e-3) * 3600
    total = n + n_extra + n_burst
    day = np.concatenate(
        [post_day, rng.integers(camp_d0, camp_d0 + _CAMPAIGN_DAYS, n_extra), np.full(n_burst, burst_day)]
    )
    secs = np.concatenate([seconds_of_day(n + n_extra), burst_sec.astype(np.int64)])
    created = epoch0 + day.astype(np.int64) * 86400 + secs.astype(np.int64)
    brand_i = np.concatenate([post_brand, np.zeros(n_extra + n_burst, dtype=np.int64)])
    intent = np.concatenate(
        [post_intent, np.full(n_extra, "campaign", dtype=object), np.full(n_burst, "complaint", dtype=object)]
    )
    is_burst = np.zeros(total, dtype=bool)
    is_burst[n + n_extra :] = True
    is_campaign = intent == "campaign"
    author = rng.choice(n_authors, size=total, p=activity_p)
    kol_posts = rng.random(total) < _KOL_SHARE
    author[kol_posts] = kol_idx[rng.integers(0, n_kols, int(kol_posts.sum()))]
    camp_rows = np.flatnonzero(is_campaign)
    camp_kols = kol_idx[: max(1, n_kols // 2)]
    if len(camp_rows):
        k = min(len(camp_rows), max(len(camp_kols) * 2, len(camp_rows) // 15))
        author[camp_rows[:k]] = np.resize(camp_kols, k)
    # planted: high-value linked customers complain in public during the burst
    burst_rows = np.flatnonzero(is_burst)
    top_value_set = set(top_value_idx.tolist())
    hv_linked = [a for a, c in cust_of_author.items() if c in top_value_set and not is_kol[a]]
    hv_plant = np.array(hv_linked[: min(len(hv_linked), 3 + n // 20_000)], dtype=np.int64)
    author[burst_rows[: len(hv_plant)]] = hv_plant

    category = np.full(total, "", dtype=object)
    comp = np.flatnonzero(intent == "complaint")
    cats = np.array(list(COMPLAINT_CATEGORIES), dtype=object)
    category[comp] = cats[rng.integers(0, len(cats), len(comp))]
    category[is_burst] = BURST_PROBLEM
    product = np.empty(total, dtype=object)
    for b, spec in enumerate(brands):
        rows = np.flatnonzero(brand_i == b)
        product[rows] = _choice(rng, spec["products"], len(rows))
    product[is_burst] = burst_product
    brand_text = brand_names[brand_i].copy()
    alias_rows = np.flatnonzero(rng.random(total) < 0.2)
    for b, spec in enumerate(brands):
        rows = alias_rows[brand_i[alias_rows] == b]
        brand_text[rows] = _choice(rng, spec["aliases"], len(rows))
    topic = np.full(total, "", dtype=object)
    tu = rng.random(total)
    topic[is_campaign] = ""  # the campaign hashtag is part of its templates
    brand_topic = (tu < 0.1) & ~is_campaign & ~is_burst
    topic[brand_topic] = [
        f"{brand_names[brand_i[i]]}{s}"
        for i, s in zip(
            np.flatnonzero(brand_topic),
            _choice(rng, ["新品", "售后", "体验", "测评", "发布会"], int(brand_topic.sum())),
            strict=True,
        )
    ]
    topic[is_burst & (tu < 0.55)] = burst_topic
    # mentions: a KOL or an acquaintance from the same community
    mention = np.full(total, "", dtype=object)
    m_rows = np.flatnonzero((rng.random(total) < 0.12) & ~is_kol[author])
    if len(m_rows):
        target = same_community(author[m_rows], 0.9)
        comm_kol = np.full(n_comm, -1, dtype=np.int64)
        comm_kol[community[kol_idx[::-1]]] = kol_idx[::-1]
        to_kol = (rng.random(len(m_rows)) < 0.4) & (comm_kol[community[author[m_rows]]] >= 0)
        target = np.where(to_kol, comm_kol[community[author[m_rows]]], target)
        ok = target != author[m_rows]
        m_rows, target = m_rows[ok], target[ok]
        mention[m_rows] = names[target]
    else:
        target = np.zeros(0, dtype=np.int64)
    mention_target = target

    # top-level posts in time order: the blocks below are time ranges and ids follow time
    m_target_row = np.full(total, -1, dtype=np.int64)
    m_target_row[m_rows] = mention_target
    perm = np.argsort(created, kind="stable")
    created, day, brand_i, intent, is_burst, is_campaign, author = (
        x[perm] for x in (created, day, brand_i, intent, is_burst, is_campaign, author)
    )
    category, product, brand_text, topic, mention, m_target_row = (
        x[perm] for x in (category, product, brand_text, topic, mention, m_target_row)
    )
    gen = TextGenerator(rng, [b["name"] for b in brands])
    # Taiwan / Hong Kong users write traditional characters (the //@ and 回复@ the platform adds stay as they are)
    import opencc

    s2t = opencc.OpenCC("s2t")

    def traditional(texts: np.ndarray, who: np.ndarray) -> None:
        rows = np.flatnonzero(trad[who])
        texts[rows] = [s2t.convert(t) for t in texts[rows]]

    tb = (rng.random(total) < _TIEBA_SHARE) & ~(is_burst | is_campaign | is_kol[author])
    sentiment_top = np.array([SENTIMENT_OF_INTENT[x] for x in intent.tolist()], dtype=object)

    # ------------------------------------------------------------------ cascades
    aud = followers[author].astype(float)
    lam_r = 0.04 + 0.12 * np.log10(1 + aud / 500.0)
    lam_r[is_kol[author]] = 18.0
    lam_r[is_burst] *= 3
    lam_r[is_campaign & is_kol[author]] *= 1.5
    lam_r[tb] = 0
    n_rep = rng.negative_binomial(1, 1 / (1 + lam_r))  # heavy-tailed cascade sizes with mean lam_r
    lam_c = 0.35 + 0.15 * np.log10(1 + aud / 100.0)
    lam_c[is_kol[author]] = 6.0
    lam_c[tb] = 2.5
    n_com = rng.negative_binomial(1, 1 / (1 + lam_c))

    def block(
        lo: int,
        r_off: int,
        c_off: int,
        author: np.ndarray,
        created: np.ndarray,
        tb: np.ndarray,
        intent: np.ndarray,
        brand_text: np.ndarray,
        product: np.ndarray,
        category: np.ndarray,
        topic: np.ndarray,
        mention: np.ndarray,
        brand_i: np.ndarray,
        is_burst: np.ndarray,
        is_campaign: np.ndarray,
        sentiment_top: np.ndarray,
        n_rep: np.ndarray,
        n_com: np.ndarray,
        m_target_row: np.ndarray,
    ) -> dict[str, Any]:
        """Texts, cascades and threads of the top-level posts ``lo…lo+len(author)``, as Arrow tables."""
        total = len(author)
        m_rows = np.flatnonzero(m_target_row >= 0)
        mention_target = m_target_row[m_rows]
        top_text = np.array(
            gen.posts(
                intent.tolist(),
                brand_text.tolist(),
                product.tolist(),
                category.tolist(),
                topic.tolist(),
                mention.tolist(),
                campaign_tag=campaign_tag,
            ),
            dtype=object,
        )
        long_rows = np.flatnonzero(~tb & (extra_rng.random(total) < _LONG_SHARE))
        details = extra_rng.integers(0, len(LONG_DETAILS), size=(len(long_rows), 2)).tolist()
        top_text[long_rows] = [
            f"{t}{_joiner_mark(t)}{LONG_DETAILS[a]}{LONG_DETAILS[b] if b != a else ''}"
            for t, (a, b) in zip(top_text[long_rows].tolist(), details, strict=True)
        ]
        traditional(top_text, author)

        # reposts: a random tree per root, actors mostly from the root author's community
        r_root, r_parent = _tree(rng, n_rep, p_root=0.7)
        r_n = len(r_root)
        r_author = same_community(author[r_root], np.where(is_kol[author[r_root]], 0.6, 0.85))
        r_depth = _depths(r_parent)
        r_time = np.zeros(r_n, dtype=np.int64)
        r_delay = (rng.exponential(2.5 * 3600, r_n) + 30).astype(np.int64)
        r_sent = sentiment_top[r_root].copy()
        r_sent[rng.random(r_n) < 0.15] = "neu"
        r_own = np.array(gen.reposts(r_sent.tolist()), dtype=object)
        traditional(r_own, r_author)
        r_text = r_own.copy()
        r_parent_author = np.where(r_parent >= 0, r_author[np.maximum(r_parent, 0)], author[r_root])
        for d in range(1, int(r_depth.max(initial=0)) + 1):
            lvl = np.flatnonzero(r_depth == d)
            if d == 1:
                r_time[lvl] = created[r_root[lvl]] + r_delay[lvl]
                continue
            par = r_parent[lvl]
            r_time[lvl] = r_time[par] + r_delay[lvl]
            r_text[lvl] = [
                f"{own}//@{name}:{ptext}"
                for own, name, ptext in zip(r_own[lvl], names[r_author[par]], r_text[par], strict=True)
            ]

        # comments: floor replies on Tieba, comment threads on Weibo; a quarter reply to an earlier comment
        c_root, c_parent = _tree(rng, n_com, p_root=0.75)
        c_n = len(c_root)
        c_author = same_community(author[c_root], 0.85)
        c_delay = (rng.exponential(2 * 3600, c_n) + 20).astype(np.int64)
        has_parent = c_parent >= 0
        c_time = created[c_root] + c_delay
        c_depth = _depths(c_parent)
        for d in range(2, int(c_depth.max(initial=0)) + 1):
            lvl = np.flatnonzero(c_depth == d)
            c_time[lvl] = c_time[c_parent[lvl]] + c_delay[lvl] // 2 + 15
        c_sent = sentiment_top[c_root].copy()
        c_sent[rng.random(c_n) < 0.2] = "neu"
        c_text = np.array(gen.comments(c_sent.tolist(), product[c_root].tolist()), dtype=object)
        traditional(c_text, c_author)
        c_parent_author = np.where(has_parent, c_author[np.maximum(c_parent, 0)], author[c_root])
        rep_rows = np.flatnonzero(has_parent)
        c_text[rep_rows] = [
            f"回复@{nm}:{t}" for nm, t in zip(names[c_parent_author[rep_rows]], c_text[rep_rows], strict=True)
        ]

        # ------------------------------------------------------------------ assemble posts (integer keys, columnar)
        n_all = total + r_n + c_n
        g_tb = np.concatenate([tb, tb[r_root], tb[c_root]])
        g_kind = np.concatenate([np.zeros(total, np.int8), np.ones(r_n, np.int8), np.full(c_n, 2, np.int8)])
        g_time = np.concatenate([created, r_time, c_time])
        g_author = np.concatenate([author, r_author, c_author])
        g_root = np.concatenate([np.arange(total, dtype=np.int64), r_root, c_root])
        g_parent = np.concatenate(
            [
                np.full(total, -1, dtype=np.int64),
                np.where(r_parent >= 0, total + r_parent, r_root),
                np.where(has_parent, total + r_n + c_parent, c_root),
            ]
        )
        g_parent_author = np.concatenate([np.full(total, -1, dtype=np.int64), r_parent_author, c_parent_author])
        # children past the end of the world are dropped; a child is always later than its parent
        keep = g_time < end_ts
        keep_idx = np.flatnonzero(keep)
        order = keep_idx[np.argsort(g_time[keep_idx], kind="stable")]
        n_rows = len(order)
        ids_all = _post_ids(lo, tb, r_off, r_n, c_off, c_n)
        tb_o = g_tb[order]
        prefix_o = pc.take(pa.array(["", "tb"]), pa.array(tb_o.astype(np.int8)))
        kind_o = g_kind[order]
        is_root = kind_o == 0
        parent_o = g_parent[order]
        pa_o = g_parent_author[order]
        author_o = g_author[order]
        ids_o = pc.take(ids_all, pa.array(order))
        author_id_o = pc.binary_join_element_wise(prefix_o, pc.take(uid_str, pa.array(author_o)), "")
        parent_author_id_o = pc.binary_join_element_wise(prefix_o, pc.take(uid_str, pa.array(pa_o, mask=pa_o < 0)), "")
        # counts: roots count their whole cascade / thread, children their direct replies
        rep_kept, com_kept = keep & (g_kind == 1), keep & (g_kind == 2)
        reposts_count = np.where(
            g_kind == 0,
            np.bincount(g_root[rep_kept], minlength=n_all),
            np.bincount(g_parent[rep_kept], minlength=n_all),
        )[order].astype(np.int64)
        comments_count = np.where(
            g_kind == 0,
            np.bincount(g_root[com_kept], minlength=n_all),
            np.bincount(g_parent[com_kept], minlength=n_all),
        )[order].astype(np.int64)
        attitudes = (
            reposts_count * rng.uniform(1.0, 4.0, n_rows) + rng.poisson(0.5 + np.log1p(followers[author_o]) * 0.4)
        ).astype(np.int64)
        text_all = np.concatenate([top_text, r_text, c_text])
        del top_text, r_text, c_text, r_own
        text_o = text_all[order]
        del text_all
        text_pa = pa.array(text_o, pa.string())
        source_idx = rng.integers(0, len(_WEIBO_SOURCES), n_rows)
        source_idx[tb_o] = len(_WEIBO_SOURCES)
        topic_rows, topic_vals = _extract(text_pa, text_o, "#", r"#([^#\s]{1,40})#")
        at_rows, at_vals = _extract(text_pa, text_o, "@", r"@([\w\-]{1,30})")
        url_rows, url_vals = _extract(text_pa, text_o, "http", r"https?://t\.cn/\w+")
        del text_o
        pic_rows, pic_vals = _pictures(extra_rng, np.flatnonzero((kind_o == 0) & ~tb_o))
        blank = pc.take(pa.array([""]), pa.array(np.zeros(n_rows, dtype=np.int8)))
        posts_table = pa.table(
            {
                "platform": pc.take(pa.array(["weibo", "tieba"]), pa.array(tb_o.astype(np.int8))),
                "id": ids_o,
                "kind": pc.take(pa.array(["post", "repost", "comment"]), pa.array(kind_o)),
                "text": text_pa,
                "created_at": pa.array(g_time[order] * 1_000_000, pa.timestamp("us", tz="UTC")),
                "author_id": author_id_o,
                "author_name": pc.take(pa.array(names, pa.string()), pa.array(author_o)),
                "parent_id": pc.take(ids_all, pa.array(parent_o, mask=parent_o < 0)),
                "root_id": pc.take(ids_all, pa.array(g_root[order], mask=is_root)),
                "parent_author_id": parent_author_id_o,
                "reposts_count": pa.array(reposts_count, pa.int64()),
                "comments_count": pa.array(comments_count, pa.int64()),
                "attitudes_count": pa.array(attitudes, pa.int64()),
                "source": pc.take(pa.array([*_WEIBO_SOURCES, "贴吧客户端"]), pa.array(source_idx)),
                "location": pc.take(pa.array(author_loc, pa.string()), pa.array(author_o)),
                "topics": _list_array(n_rows, topic_rows, topic_vals),
                "at_users": _list_array(n_rows, at_rows, at_vals),
                "urls": _list_array(n_rows, url_rows, url_vals),
                "pics": _list_array(n_rows, pic_rows, pic_vals),
                "query": blank,
                "fetched_at": pa.array(
                    np.full(n_rows, int(fetched_at.timestamp()) * 1_000_000), pa.timestamp("us", tz="UTC")
                ),
                "raw": pa.nulls(n_rows, pa.string()),
            }
        )
        root_o = g_root[order]
        intent_names = [*INTENTS, "repost", "comment"]
        intent_code = {name: k for k, name in enumerate(intent_names)}
        top_intent = np.array([intent_code[x] for x in intent.tolist()], dtype=np.int8)
        g_intent = np.concatenate(
            [top_intent, np.full(r_n, intent_code["repost"], np.int8), np.full(c_n, intent_code["comment"], np.int8)]
        )[order]
        sent_names = ["pos", "neu", "neg"]
        g_sent_obj = np.concatenate([sentiment_top, r_sent, c_sent])[order]
        g_sent = np.where(g_sent_obj == "pos", 0, np.where(g_sent_obj == "neu", 1, 2)).astype(np.int8)
        del g_sent_obj
        cat_names = ["", *COMPLAINT_CATEGORIES]
        cat_code = np.array([cat_names.index(c) for c in cat_names], dtype=np.int8)
        top_cat = np.array([cat_names.index(c) for c in category.tolist()], dtype=np.int8)
        row_cat = np.where(is_root, top_cat[root_o], 0).astype(np.int8)
        product_names = [p for spec in brands for p in spec["products"]]
        top_product = np.array([product_names.index(p) for p in product.tolist()], dtype=np.int16)
        labels_table = pa.table(
            {
                "platform": posts_table["platform"],
                "id": posts_table["id"],
                "kind": posts_table["kind"],
                "brand": pc.take(pa.array(list(brand_names), pa.string()), pa.array(brand_i[root_o])),
                "intent": pc.take(pa.array(intent_names), pa.array(g_intent)),
                "sentiment": pc.take(pa.array(sent_names), pa.array(g_sent)),
                "complaint": pa.array(g_intent == intent_code["complaint"], pa.bool_()),
                "category": pc.take(pa.array(cat_names), pa.array(cat_code[row_cat])),
                "nlp_category": pc.take(pa.array([NLP_CATEGORY.get(c, "") for c in cat_names]), pa.array(row_cat)),
                "product": pc.take(pa.array(product_names), pa.array(top_product[root_o])),
                "burst": pa.array(is_burst[root_o], pa.bool_()),
                "campaign": pa.array(is_campaign[root_o], pa.bool_()),
            }
        )

        # ------------------------------------------------------------------ interactions
        child = ~is_root
        e_kind = np.where(kind_o == 1, 0, np.where(parent_o >= total + r_n, 2, 1))[child]  # repost/comment/reply
        m_keep = created[m_rows] < end_ts
        m_rows_k, m_target_k = m_rows[m_keep], mention_target[m_keep]
        e_src = np.concatenate([author_o[child], author[m_rows_k]])
        e_dst = np.concatenate([pa_o[child], m_target_k])
        e_tb = np.concatenate([tb_o[child], tb[m_rows_k]])
        e_post = np.concatenate([order[child], m_rows_k])
        e_time = np.concatenate([g_time[order][child], created[m_rows_k]])
        e_kind = np.concatenate([e_kind, np.full(len(m_rows_k), 3)])
        ok = e_src != e_dst
        e_prefix = pc.take(pa.array(["", "tb"]), pa.array(e_tb[ok].astype(np.int8)))
        inter_table = pa.table(
            {
                "platform": pc.take(pa.array(["weibo", "tieba"]), pa.array(e_tb[ok].astype(np.int8))),
                "kind": pc.take(pa.array(["repost", "comment", "reply", "mention"]), pa.array(e_kind[ok])),
                "source_author_id": pc.binary_join_element_wise(e_prefix, pc.take(uid_str, pa.array(e_src[ok])), ""),
                "target_author_id": pc.binary_join_element_wise(e_prefix, pc.take(uid_str, pa.array(e_dst[ok])), ""),
                "post_id": pc.take(ids_all, pa.array(e_post[ok])),
                "created_at": pa.array(e_time[ok] * 1_000_000, pa.timestamp("us", tz="UTC")),
                "weight": pa.array(np.ones(int(ok.sum())), pa.float64()),
            }
        )
        tb_mentioned = m_target_k[tb[m_rows_k]]
        return {
            "posts": posts_table,
            "labels": labels_table,
            "interactions": inter_table,
            "statuses": np.bincount(g_author[keep_idx], minlength=n_authors),
            "tieba_authors": np.unique(np.concatenate([g_author[keep_idx][g_tb[keep_idx]], tb_mentioned])),
            "kept_top": keep[:total],
            "repost_root_authors": author[r_root][keep[total : total + r_n]],
            "r_n": r_n,
            "c_n": c_n,
        }

    uid_str = pc.cast(pa.array(uid_num), pa.string())
    # generated block by block (bounded memory) and streamed to Parquet row groups
    statuses = np.zeros(n_authors, dtype=np.int64)
    tieba_parts: list[np.ndarray] = []
    kept_parts: list[np.ndarray] = []
    repost_root_authors: list[np.ndarray] = []
    n_rows = n_inter = r_off = c_off = 0
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for lo in range(0, total, _BLOCK):
            sl = slice(lo, lo + _BLOCK)
            res = block(
                lo,
                r_off,
                c_off,
                author[sl],
                created[sl],
                tb[sl],
                intent[sl],
                brand_text[sl],
                product[sl],
                category[sl],
                topic[sl],
                mention[sl],
                brand_i[sl],
                is_burst[sl],
                is_campaign[sl],
                sentiment_top[sl],
                n_rep[sl],
                n_com[sl],
                m_target_row[sl],
            )
            for part in ("posts", "labels", "interactions"):
                table = res[part]
                if part not in writers:
                    writers[part] = pq.ParquetWriter(out / f"{part}.parquet.part", table.schema, compression="zstd")
                writers[part].write_table(table)
            n_rows += res["posts"].num_rows
            n_inter += res["interactions"].num_rows
            r_off += res["r_n"]
            c_off += res["c_n"]
            statuses += res["statuses"]
            tieba_parts.append(res["tieba_authors"])
            kept_parts.append(res["kept_top"])
            repost_root_authors.append(res["repost_root_authors"])
            del res
    finally:
        for writer in writers.values():
            writer.close()
    for part in writers:
        (out / f"{part}.parquet.part").replace(out / f"{part}.parquet")

    # ------------------------------------------------------------------ authors (weibo and tieba identities)
    cust_phone_digits = np.array(
        [
            f"{_MOBILE_PREFIXES[p]}{d:08d}"
            for p, d in zip(
                rng.integers(0, len(_MOBILE_PREFIXES), n_customers).tolist(),
                rng.integers(0, 10**8, n_customers).tolist(),
                strict=True,
            )
        ],
        dtype=object,
    )
    local_a = rng.integers(0, 26, (n_customers, 6))
    mail_num = rng.integers(10, 9999, n_customers)
    domains = _choice(rng, _MAIL_DOMAINS, n_customers)
    qq = rng.integers(100_000_000, 3_000_000_000, n_customers)
    emails = np.array(
        [
            f"{qq[i]}@qq.com"
            if domains[i] == "qq.com"
            else "".join(chr(97 + x) for x in local_a[i, : 3 + i % 4]) + f"{mail_num[i]}@{domains[i]}"
            for i in range(n_customers)
        ],
        dtype=object,
    )
    phone_variant = rng.integers(0, 5, n_customers)
    raw_col = np.full(n_authors, None, dtype=object)
    for k in np.flatnonzero(np.isin(link_method, ["phone_hash", "email_hash"])).tolist():
        a, c = int(linked_auth[k]), int(linked_cust[k])
        if link_method[k] == "phone_hash":
            # the platform shows the bound phone in another format than the CRM does
            shown = int(phone_variant[c]) + 1 + k % 4
            payload = {"contact_phone": _format_phone(str(cust_phone_digits[c]), shown)}
        else:
            payload = {"contact_email": emails[c].upper() if k % 3 == 0 else emails[c]}
        raw_col[a] = json.dumps(payload, ensure_ascii=False)
    verified_reason = np.full(n_authors, "", dtype=object)
    verified_reason[verified] = "微博认证用户"
    verified_reason[kol_idx] = "知名数码博主 微博科技视频自媒体"
    description = _choice(rng, _BIOS, n_authors)
    description[kol_idx] = "合作请私信 | 只做真实测评"
    authors_w = pd.DataFrame(
        {
            "platform": "weibo",
            "id": uids,
            "screen_name": names,
            "followers_count": followers,
            "friends_count": rng.integers(10, 2000, n_authors),
            "statuses_count": statuses + rng.integers(0, 800, n_authors),
            "verified": verified,
            "verified_type": np.where(verified, 0, -1),
            "verified_reason": verified_reason,
            "gender": _choice(rng, ["m", "f"], n_authors),
            "location": author_loc,
            "description": description,
            "created_at": pd.Timestamp("2012-06-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 4500, n_authors), unit="D"),
            "fetched_at": pd.Timestamp(fetched_at),
            "raw": raw_col,
        }
    )
    tieba_idx = np.unique(np.concatenate(tieba_parts))
    authors_t = authors_w.iloc[tieba_idx].copy()
    authors_t["platform"] = "tieba"
    authors_t["id"] = "tb" + authors_t["id"]
    authors_t["followers_count"] = (authors_t["followers_count"] // 50).astype("int64")
    authors_t["verified"] = False
    authors_t["verified_type"] = -1
    authors_t["verified_reason"] = ""
    authors_t["raw"] = None
    authors_df = pd.concat([authors_w, authors_t], ignore_index=True)

    # ------------------------------------------------------------------ CRM export
    cust_ids = np.array([f"C{100000 + i}" for i in range(n_customers)], dtype=object)
    g1, g2 = rng.integers(0, len(_GIVEN), n_customers), rng.integers(0, len(_GIVEN), n_customers)
    s1 = rng.integers(0, len(_SURNAMES), n_customers)
    two = rng.random(n_customers) < 0.7
    cust_names = [f"{_SURNAMES[s1[i]]}{_GIVEN[g1[i]]}{_GIVEN[g2[i]] if two[i] else ''}" for i in range(n_customers)]
    handle_uid = np.full(n_customers, "", dtype=object)
    handle_name = np.full(n_customers, "", dtype=object)
    for k in range(n_linked):
        a, c = int(linked_auth[k]), int(linked_cust[k])
        if link_method[k] == "uid":
            handle_uid[c] = uids[a]
        elif link_method[k] == "handle":
            handle_name[c] = ("@" if k % 2 else "") + names[a]
    phone_col = [_format_phone(str(p), v) for p, v in zip(cust_phone_digits, phone_variant.tolist(), strict=True)]
    missing_email = rng.random(n_customers) < 0.1
    missing_email[linked_cust[link_method == "email_hash"]] = False
    registered = pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 1800 * 86400, n_customers), unit="s")
    customers = pd.DataFrame(
        {
            "客户编号": cust_ids,
            "姓名": cust_names,
            "手机": phone_col,
            "邮箱": np.where(missing_email, "", emails),
            "城市": _choice(rng, [c for c in _CITIES], n_customers),
            "注册时间": registered.strftime("%Y-%m-%d %H:%M:%S"),
            "微博UID": handle_uid,
            "微博昵称": handle_name,
        }
    )
    # orders: a few whales who buy often and recently, many one-off buyers
    o_cust = np.repeat(np.arange(n_customers), n_orders)
    n_ord = len(o_cust)
    span = np.where(value[o_cust] > 2, 180, 720)
    o_when = end_ts - (rng.random(n_ord) * span * 86400).astype(np.int64) - 3600
    prods = [f"{name}{item}" for item in _CATALOGUE]
    o_prod = rng.choice(len(prods), size=n_ord, p=[0.35, 0.15, 0.15, 0.2, 0.15])
    o_amount = np.round(np.array(list(_CATALOGUE.values()))[o_prod] * rng.uniform(0.82, 1.0, n_ord), 2)
    kept_now = np.concatenate(kept_parts)
    early = (intent == "complaint") & (brand_i == 0) & kept_now & ~is_burst & (created < epoch0 + days * 86400 * 0.4)
    first_complaint: dict[int, int] = {}
    for a, t in zip(author[early].tolist(), created[early].tolist(), strict=True):  # in time order
        if a in cust_of_author and not is_kol[a]:
            first_complaint.setdefault(int(cust_of_author[a]), int(t))
    o_cust, o_when, o_prod, o_amount, churners = _plant_churners(
        first_complaint, (o_cust, o_when, o_prod, o_amount), seed
    )
    camp_start = start + dt.timedelta(days=camp_d0)
    camp_end = camp_start + dt.timedelta(days=_CAMPAIGN_DAYS - 1)
    # planted: customers whose account took part in the campaign buy more in its window and post-period
    uid_index = {str(u): i for i, u in enumerate(uids.tolist())}
    participants = _campaign_accounts(out, campaign_tag, camp_start, camp_end)
    exposed = sorted(
        {int(cust_of_author[uid_index[a]]) for a in participants if a in uid_index and uid_index[a] in cust_of_author}
    )
    # the high-value customers are the top spenders, and the campaign's extra orders lift nobody else above them
    spend = pd.Series(o_amount).groupby(o_cust).sum().reindex(range(n_customers), fill_value=0.0)
    hv_idx = np.argsort(-spend.to_numpy(), kind="stable")[: max(5, n_customers // 10)]
    headroom = np.full(n_customers, np.inf)
    headroom[np.setdiff1d(np.arange(n_customers), hv_idx)] = float(spend.to_numpy()[hv_idx].min())
    headroom -= spend.to_numpy() + 0.01
    o_cust, o_when, o_prod, o_amount, planted = _plant_campaign_orders(
        exposed,
        set(churners),
        (o_cust, o_when, o_prod, o_amount),
        (camp_start, camp_end + dt.timedelta(days=_POST_DAYS)),
        crm_lift,
        headroom,
        seed,
    )
    n_ord = len(o_cust)
    ord_order = np.lexsort((o_cust, o_when))
    orders = pd.DataFrame(
        {
            "order_id": [f"SO{start:%Y}{i:08d}" for i in range(n_ord)],
            "customer_id": cust_ids[o_cust[ord_order]],
            "amount": [f"{a:.2f}" for a in o_amount[ord_order]],
            "ordered_at": pd.to_datetime(o_when[ord_order], unit="s", utc=True)
            .tz_convert(CHINA_TZ)
            .strftime("%Y-%m-%d %H:%M:%S"),
            "product": np.array(prods, dtype=object)[o_prod[ord_order]],
            "channel": _choice(rng, _CHANNELS, n_ord),
        }
    )
    hv_ids = set(cust_ids[hv_idx].tolist())

    # ------------------------------------------------------------------ truth
    kept_top = np.concatenate(kept_parts)
    burst_authors = sorted(set(author[is_burst & kept_top].tolist()))
    burst_customers = sorted({str(cust_ids[cust_of_author[a]]) for a in burst_authors if a in cust_of_author})
    reposts_by_author = pd.Series(np.concatenate(repost_root_authors)).value_counts()
    kol_order = sorted(kol_idx.tolist(), key=lambda a: (-int(reposts_by_author.get(a, 0)), -int(followers[a])))
    burst_date = start + dt.timedelta(days=burst_day)
    lift = _measured_lift(brands, brand_i[:total][kept_top], day[:total][kept_top], sentiment_top[kept_top], camp_d0)
    links = [
        {
            "customer_id": str(cust_ids[int(linked_cust[k])]),
            "platform": "weibo",
            "author_id": str(uids[int(linked_auth[k])]),
            "method": str(link_method[k]),
        }
        for k in range(n_linked)
    ]
    truth: dict[str, Any] = {
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "top_level_posts": int(kept_top.sum()),
        "brand": name,
        "brands": brands,
        "competitors": [c["name"] for c in COMPETITORS],
        "kols": [str(uids[a]) for a in kol_order],
        "kol_names": [str(names[a]) for a in kol_order],
        "communities": {str(uids[i]): int(community[i]) for i in range(n_authors)},
        "n_communities": n_comm,
        "traditional_authors": [str(uids[i]) for i in np.flatnonzero(trad)],
        "burst": {
            "date": burst_date.isoformat(),
            "start": dt.datetime.combine(burst_date, dt.time(burst_h0), tzinfo=CHINA_TZ).isoformat(),
            "end": dt.datetime.combine(burst_date, dt.time(burst_h1), tzinfo=CHINA_TZ).isoformat(),
            "brand": name,
            "product": burst_product,
            "problem": BURST_PROBLEM,
            "category": NLP_CATEGORY[BURST_PROBLEM],
            "topic": burst_topic,
            "keywords": ["电池", "鼓包", "发烫", burst_product],
            "posts": int((is_burst & kept_top).sum()),
            "authors": [str(uids[a]) for a in burst_authors],
            "affected_customers": burst_customers,
            "high_value_complainers": sorted(set(burst_customers) & hv_ids),
        },
        "quiet_days": [
            (start + dt.timedelta(days=d)).isoformat()
            for d in range(days)
            if abs(d - burst_day) > 3 and not (camp_d0 - 1 <= d <= camp_d0 + _CAMPAIGN_DAYS)
        ],
        "campaign": {
            "name": CAMPAIGN_NAME,
            "hashtag": campaign_tag,
            "start": camp_start.isoformat(),
            "end": camp_end.isoformat(),
            "pre_days": 14,
            "planted_volume_lift": _VOLUME_LIFT,
            "planted_sentiment_shift": _SENTIMENT_SHIFT,
            "measured": lift,
            "kols": sorted(str(uids[a]) for a in camp_kols),
            "crm_lift": {
                **planted,
                "exposed_customers": sorted(str(cust_ids[c]) for c in exposed),
                "window": [camp_start.isoformat(), (camp_end + dt.timedelta(days=_POST_DAYS)).isoformat()],
            },
        },
        "customer_links": links,
        "high_value_customers": sorted(hv_ids),
        "churners": sorted(str(cust_ids[c]) for c in churners),
        "kol_customers": sorted(str(cust_ids[cust_of_author[a]]) for a in kol_idx.tolist() if a in cust_of_author),
    }

    # ------------------------------------------------------------------ service tickets
    cust_of_uid = {str(uids[a]): str(cust_ids[c]) for a, c in cust_of_author.items()}
    first = [str(cust_ids[cust_of_author[int(a)]]) for a in hv_plant.tolist()]
    tickets, no_ticket = _tickets(out, cust_of_uid, first, name, [str(c) for c in cust_ids], seed)
    truth["complaints_without_ticket"] = no_ticket

    # ------------------------------------------------------------------ write
    tickets.to_csv(out / "tickets.csv", index=False)
    (out / "yuqing.toml").write_text(_settings_toml(main, campaign_tag, camp_start, camp_end), encoding="utf-8")
    pq.write_table(pa.Table.from_pandas(authors_df, preserve_index=False), out / "authors.parquet", compression="zstd")
    customers.to_csv(out / "customers.csv", index=False)
    orders.to_csv(out / "orders.csv", index=False)
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    return WorldSummary(
        out,
        len(authors_df),
        n_rows,
        n_inter,
        len(customers),
        len(orders),
        round(time.perf_counter() - started, 2),
    )


def _plant_churners(
    first_complaint: dict[int, int],
    orders: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Churners: linked customers who complained about the brand in the first half of the world, bought at a
    steady rhythm (every 7–12 days, at least four orders) until a few days before that complaint, and never
    again.  ``first_complaint`` maps customer index → the complaint's epoch second.  A generator of its own
    keeps every other draw of the world as it was."""
    rng = np.random.default_rng(seed + 202)
    o_cust, o_when, o_prod, o_amount = orders
    candidates = sorted(first_complaint)
    n = min(len(candidates), max(3, len(candidates) // 3))
    churners = sorted(int(c) for c in rng.permutation(candidates)[:n].tolist())
    keep = ~np.isin(o_cust, churners)
    extra_cust, extra_when, extra_prod, extra_amount = [], [], [], []
    for c in churners:
        mine = np.flatnonzero(o_cust == c)
        k = max(4, len(mine))
        last = first_complaint[c] - int(rng.uniform(2, 8) * 86400)
        gap = rng.uniform(7, 12) * 86400
        prod = np.resize(o_prod[mine], k)
        amount = o_amount[mine]
        if k > len(mine):  # the same spend in more, smaller orders: spend ranks (high-value truth) stay as they are
            total = round(float(amount.sum()), 2)
            amount = np.full(k, round(total / k, 2))
            amount[-1] = round(total - float(amount[:-1].sum()), 2)
        extra_cust.append(np.full(k, c))
        extra_when.append((last - np.arange(k) * gap).astype(np.int64))
        extra_prod.append(prod)
        extra_amount.append(amount)
    return (
        np.concatenate([o_cust[keep], *extra_cust]),
        np.concatenate([o_when[keep], *extra_when]),
        np.concatenate([o_prod[keep], *extra_prod]),
        np.concatenate([o_amount[keep], *extra_amount]),
        churners,
    )


def _campaign_accounts(out: Path, tag: str, first: dt.date, last: dt.date) -> set[str]:
    """Accounts that took part in the campaign, by the rule ``Warehouse.campaign_customers`` applies: between
    its first and last day they posted with the hashtag, or reposted or commented on such a post."""
    lo = dt.datetime.combine(first, dt.time(), tzinfo=CHINA_TZ)
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ)
    p = pq.read_table(
        out / "posts.parquet",
        columns=["platform", "id", "author_id", "text", "topics", "root_id", "parent_id"],
        filters=[("created_at", ">=", pa.scalar(lo, pa.timestamp("us", tz="UTC"))),
                 ("created_at", "<", pa.scalar(hi, pa.timestamp("us", tz="UTC")))],
    ).to_pandas()  # fmt: skip
    tagged = p[[tag in list(t) or f"#{tag}#" in x for t, x in zip(p["topics"], p["text"], strict=True)]]
    keys = set(zip(tagged["platform"], tagged["id"], strict=True))
    child = [
        (pl, r) in keys or (pl, q) in keys for pl, r, q in zip(p["platform"], p["root_id"], p["parent_id"], strict=True)
    ]
    acts = pd.concat([tagged, p[child]])
    return {str(a) for pl, a in zip(acts["platform"], acts["author_id"], strict=True) if pl == "weibo"}


def _plant_campaign_orders(
    exposed: list[int],
    churners: set[int],
    orders: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    window: tuple[dt.date, dt.date],
    extra: float,
    headroom: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Extra orders (Poisson mean ``extra``) of the exposed customers between the campaign's first day and the end
    of its post-period, priced as every other order.  Churners stopped buying for good and get none, and an order
    that would spend more than a customer's ``headroom`` (what keeps the high-value customers the top spenders)
    is not placed.  The planted lift is what was placed, per exposed customer (those without count 0).  A
    generator of its own keeps every other draw of the world as it was."""
    rng = np.random.default_rng(seed + 303)
    o_cust, o_when, o_prod, o_amount = orders
    buyers = np.array([c for c in exposed if c not in churners], dtype=np.int64)
    k = rng.poisson(extra, len(buyers)) if extra > 0 else np.zeros(len(buyers), dtype=np.int64)
    cust = np.repeat(buyers, k)
    lo = int(dt.datetime.combine(window[0], dt.time(), tzinfo=CHINA_TZ).timestamp())
    days = (window[1] - window[0]).days + 1
    when = lo + rng.integers(0, days * 86400, len(cust))
    p_prod = np.array([0.35, 0.15, 0.15, 0.2, 0.15])
    prod = rng.choice(len(_CATALOGUE), size=len(cust), p=p_prod)
    prices = np.array(list(_CATALOGUE.values()), dtype=float)
    amount = np.round(prices[prod] * rng.uniform(0.82, 1.0, len(cust)), 2)
    placed = np.zeros(len(cust), dtype=bool)
    room = headroom.copy()
    for i, (c, a) in enumerate(zip(cust.tolist(), amount.tolist(), strict=True)):
        if a < room[c]:
            placed[i], room[c] = True, room[c] - a
    cust, when, prod, amount = cust[placed], when[placed], prod[placed], amount[placed]
    n = max(1, len(exposed))
    truth = {
        "planted_orders_per_customer": round(len(cust) / n, 4),
        "planted_spend_per_customer": round(float(amount.sum()) / n, 2),
        "expected_orders_per_customer": extra,
        "exposed_churners": len(exposed) - len(buyers),
        "extra_orders": len(cust),
        "extra_orders_not_placed": int((~placed).sum()),
    }
    return (
        np.concatenate([o_cust, cust]),
        np.concatenate([o_when, when]),
        np.concatenate([o_prod, prod]),
        np.concatenate([o_amount, amount]),
        truth,
    )


def _tickets(
    out: Path, cust_of_uid: dict[str, str], first: list[str], brand: str, all_customers: list[str], seed: int
) -> tuple[pd.DataFrame, list[str]]:
    """The service desk's tickets (工单) and the planted complainers without an open one.

    Planted: the high-value burst complainers and about a quarter of the other linked customers who complained
    about the brand; some of them have a closed (resolved) ticket from before.  Every other linked customer
    who posted anything has an open ticket, and a few unlinked customers have tickets of any state, so
    "complained in public, no open ticket" names exactly the planted ones.  A generator of its own keeps
    every file written before this one byte-identical.
    """
    rng = np.random.default_rng(seed + 101)
    posts = pq.read_table(out / "posts.parquet", columns=["platform", "id", "author_id", "created_at"]).to_pandas()
    labels = pq.read_table(out / "labels.parquet", columns=["platform", "id", "brand", "intent"]).to_pandas()
    p = posts.merge(labels, on=["platform", "id"])
    p = p[(p["platform"] == "weibo") & p["author_id"].isin(set(cust_of_uid))]
    p = p.assign(customer_id=p["author_id"].map(cust_of_uid))
    complained = p[(p["intent"] == "complaint") & (p["brand"] == brand)].groupby("customer_id").size()
    planted = [c for c in dict.fromkeys(first) if c in complained.index]
    others = sorted(c for c in complained.index if c not in set(planted))
    planted += [str(c) for c in rng.permutation(others)[: max(2, len(others) // 4)].tolist()]
    first_post = p.groupby("customer_id")["created_at"].min()
    rows: list[tuple[str, pd.Timestamp, str, str]] = []
    for c in sorted(set(first_post.index) - set(planted)):
        opened = first_post[c] + pd.Timedelta(hours=float(rng.uniform(1, 48)))
        rows.append(
            (c, opened, "投诉" if c in complained.index else "咨询", ["待处理", "处理中", "open"][len(rows) % 3])
        )
    for k, c in enumerate(sorted(planted)):
        if k % 2:
            rows.append((c, first_post[c] - pd.Timedelta(days=float(rng.uniform(20, 90))), "售后", "已解决"))
    linked = set(first_post.index)
    spare = [c for c in all_customers if c not in linked]
    for k, c in enumerate(rng.permutation(spare)[: len(spare) // 5].tolist()):
        when = first_post.min() - pd.Timedelta(days=float(rng.uniform(0, 120)))
        rows.append((str(c), when, "咨询", ["已关闭", "处理中", "已解决", "待处理"][k % 4]))
    frame = pd.DataFrame(rows, columns=["客户编号", "创建时间", "工单类型", "状态"])
    frame["创建时间"] = (
        pd.to_datetime(frame["创建时间"], utc=True).dt.tz_convert(CHINA_TZ).dt.strftime("%Y-%m-%d %H:%M")
    )
    frame = frame.sort_values(["创建时间", "客户编号"], kind="stable").reset_index(drop=True)
    frame.insert(0, "工单号", [f"GD{i:07d}" for i in range(len(frame))])
    return frame, sorted(planted)


def _measured_lift(
    brands: list[dict[str, Any]], brand_i: np.ndarray, day: np.ndarray, sentiment: np.ndarray, camp_d0: int
) -> dict[str, Any]:
    """Volume and positive-share lift of top-level posts, campaign window vs the 14 days before, per brand."""
    pre = (day >= camp_d0 - 14) & (day < camp_d0)
    during = (day >= camp_d0) & (day < camp_d0 + _CAMPAIGN_DAYS)
    out: dict[str, Any] = {}
    for b, spec in enumerate(brands):
        mine = brand_i == b
        v_pre = float((mine & pre).sum()) / 14
        v_dur = float((mine & during).sum()) / _CAMPAIGN_DAYS
        pos_pre = float((sentiment[mine & pre] == "pos").mean()) if (mine & pre).any() else 0.0
        pos_dur = float((sentiment[mine & during] == "pos").mean()) if (mine & during).any() else 0.0
        out[spec["name"]] = {
            "daily_posts_pre": round(v_pre, 3),
            "daily_posts_during": round(v_dur, 3),
            "volume_lift": round(v_dur / v_pre - 1, 4) if v_pre else None,
            "positive_share_pre": round(pos_pre, 4),
            "positive_share_during": round(pos_dur, 4),
        }
    return out


def _settings_toml(main: dict[str, Any], campaign_tag: str, camp_start: dt.date, camp_end: dt.date) -> str:
    def q(items: list[str]) -> str:
        return "[" + ", ".join(json.dumps(x, ensure_ascii=False) for x in items) + "]"

    lines = [
        "# Settings for a simulated world written by `yuqing simulate`.",
        "[brand]",
        f"name = {json.dumps(main['name'], ensure_ascii=False)}",
        f"aliases = {q(main['aliases'])}",
        f"products = {q(main['products'])}",
        "",
        "[collect]",
        f"queries = {q([main['name'], *[c['name'] for c in COMPETITORS], '#' + campaign_tag + '#'])}",
        f"forum_boards = {q([main['name'], *[c['name'] for c in COMPETITORS]])}",
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
        f"name = {json.dumps(CAMPAIGN_NAME, ensure_ascii=False)}",
        f"hashtags = {q([campaign_tag])}",
        f"start = {camp_start.isoformat()}",
        f"end = {camp_end.isoformat()}",
        "pre_days = 14",
        f"post_days = {_POST_DAYS}",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- reading a world back


def load_world(directory: Path, *, records: bool = True) -> World:
    """Read a world written by :func:`generate_world`.

    With ``records=True`` (default) the posts and authors frames hold plain Python values (``None`` for nulls,
    lists, ``raw`` dicts) so each row validates as a store.schema record.  ``records=False`` keeps pandas' own
    Arrow-backed dtypes: several times less memory and faster for analytics on big worlds (nulls are NA,
    list cells are numpy arrays, ``raw`` stays JSON text).
    """
    d = Path(directory)
    if not (d / "truth.json").exists():
        raise FileNotFoundError(f"{d} is not a simulated world (no truth.json)")
    read = _read_records if records else pd.read_parquet
    return World(
        authors=read(d / "authors.parquet"),
        posts=read(d / "posts.parquet"),
        interactions=pd.read_parquet(d / "interactions.parquet"),
        labels=pd.read_parquet(d / "labels.parquet"),
        customers=pd.read_csv(d / "customers.csv", dtype=str, keep_default_na=False),
        orders=pd.read_csv(d / "orders.csv", dtype=str, keep_default_na=False),
        truth=json.loads((d / "truth.json").read_text(encoding="utf-8")),
        settings_path=d / "yuqing.toml",
    )


def crm_records(world: World) -> tuple[list[Customer], list[Order]]:
    """The CRM export as :class:`Customer` and :class:`Order` records (explicit uids/handles in ``handles``)."""
    customers = []
    for row in world.customers.to_dict("records"):
        fields = {field: row[col] for col, field in CRM_CUSTOMER_COLUMNS.items()}
        fields["registered_at"] = (
            dt.datetime.fromisoformat(fields["registered_at"]) if fields["registered_at"] else None
        )
        handles = {}
        if row.get("微博UID"):
            handles["weibo"] = str(row["微博UID"])
        elif row.get("微博昵称"):
            handles["weibo"] = str(row["微博昵称"]).lstrip("@")
        customers.append(Customer.model_validate({**fields, "handles": handles}))
    orders = [
        Order.model_validate({**row, "ordered_at": dt.datetime.fromisoformat(row["ordered_at"])})
        for row in world.orders.to_dict("records")
    ]
    return customers, orders


def _strings(col: pa.ChunkedArray) -> np.ndarray:
    """Object array of ``str``/``None``; repeated values share one Python string (ids of authors, platforms…)."""
    enc = col.combine_chunks().dictionary_encode()
    if len(enc.dictionary) > 0.5 * max(1, len(col)):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
    lookup = np.array([*enc.dictionary.to_pylist(), None], dtype=object)
    idx = pc.fill_null(enc.indices, len(lookup) - 1).to_numpy()
    return lookup[idx]


def _read_records(path: Path) -> pd.DataFrame:
    """A Parquet file as a DataFrame whose rows validate as store.schema records.

    Strings stay Python objects with ``None`` for nulls, list columns become Python lists and ``raw`` JSON
    becomes a dict; the conversion runs column by column in Arrow, not row by row.
    """
    table = pq.read_table(path)
    data: dict[str, Any] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_list(col.type):
            data[name] = pd.Series(col.to_pylist(), dtype=object)
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            values = _strings(col)
            if name == "raw":
                values = np.array([json.loads(v) if v is not None else None for v in values.tolist()], dtype=object)
            data[name] = pd.Series(values, dtype=object)
        else:
            data[name] = col.to_pandas()
    return pd.DataFrame(data)
