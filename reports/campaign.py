"""Campaign effect evaluation: pre/during/post windows, lift vs the pre-period and vs competitors (DiD).

Daily series per brand: volume (posts naming the brand), reach (followers of the *unique* authors who
posted that day: a KOL posting ten times reaches its followers once), engagement (reposts + comments +
likes), sentiment toward the brand.  Lift = during mean / pre mean − 1.

Difference-in-differences on log volume, d_t = log(1+brand_t) − log(1+competitors_t):
effect = mean(d during) − mean(d pre), with a 95 % interval from a day bootstrap.  The event study
shows the same per day, β_t = d_t − mean(d pre), with a prediction interval from the pre-period's day
to day spread (t quantile × sd × √(1 + 1/n_pre)); the pre-trend test is the OLS slope of d over the
pre-period days (a slope ≠ 0 at p < 0.05 means brand and competitors were not moving in parallel before
the campaign, and the DiD is not to be trusted).  Carriers: the authors and communities of the
campaign-hashtag posts, ranked by the followers they reach (each author once).

Lift on CRM customers (section ``crm_lift``, with ``crm_balance``): orders and spend per customer of the
customers linked to the campaign's participants against coarsened-exact matched controls (RFM segment ×
baseline-spend bin), difference-in-differences with a customer-bootstrap interval — :mod:`graph.lift` says
how and why; the data comes from ``Warehouse.campaign_customers`` (:func:`campaign_crm`).

The report is made of :data:`reports.sections.CAMPAIGN_SECTIONS`, like the brand report.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from yuqing.graph.lift import LiftWindows, crm_lift
from yuqing.reports.charts import bar_chart, event_study_chart, group_bars, line_chart
from yuqing.reports.data import ReportFrames
from yuqing.reports.html import render
from yuqing.reports.sections import CAMPAIGN_SECTIONS, ReportContext, Section, compute_sections, register, write_extras
from yuqing.store.schema import CHINA_TZ
from yuqing.store.settings import Campaign

if TYPE_CHECKING:
    from yuqing.store.warehouse import CampaignCustomers

__all__ = ["campaign_crm", "campaign_figures", "write_campaign_report"]

METRICS = ("volume", "reach", "engagement", "sentiment")
METRIC_NAMES = {"volume": "声量", "reach": "触达（去重作者粉丝）", "engagement": "互动", "sentiment": "品牌情感"}


def _daily(posts: pd.DataFrame, brand: str, days: pd.DatetimeIndex) -> pd.DataFrame:
    m = posts[pd.Series([brand in b for b in posts["brands"]], index=posts.index, dtype=bool)]
    key = m["created_at"].dt.date
    sent = pd.Series([d.get(brand) if isinstance(d, dict) else np.nan for d in m["brand_sentiment"]], index=m.index)
    unique = m.assign(day=key).drop_duplicates(["day", "platform", "author_id"])
    g = pd.DataFrame(
        {
            "volume": m.groupby(key).size(),
            "reach": unique.groupby("day")["followers"].sum(),
            "engagement": (m["reposts_count"] + m["comments_count"] + m["attitudes_count"]).groupby(key).sum(),
            "sentiment": sent.groupby(key).mean(),
        }
    )
    return g.reindex([d.date() for d in days]).fillna({"volume": 0, "reach": 0, "engagement": 0})


def _mean(values: pd.Series) -> float | None:
    """Mean of the days that have a value (None when none has: no sentiment without posts)."""
    m = values.astype(float).mean()
    return None if pd.isna(m) else round(float(m), 3)


def _unique_reach(posts: pd.DataFrame, brand: str, lo: dt.date, hi: dt.date) -> int:
    """Followers of the distinct authors who mentioned the brand between lo and hi (each author once)."""
    m = posts[pd.Series([brand in b for b in posts["brands"]], index=posts.index, dtype=bool)]
    day = m["created_at"].dt.date
    m = m[(day >= lo) & (day <= hi)]
    return int(m.drop_duplicates(["platform", "author_id"])["followers"].sum())


def _china(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=CHINA_TZ)


def _from_posts(
    frames: ReportFrames, campaign: Campaign, brands: list[str], days: pd.DatetimeIndex, windows: dict[str, Any]
) -> dict[str, Any]:
    """Daily series, unique reach and the hashtag posts' figures from a frame of posts (texts included)."""
    posts = frames.posts
    topic_lists = [list(t) if t is not None and not isinstance(t, float) else [] for t in posts["topics"]]
    tagged = [
        any(h in t or f"#{h}#" in (x or "") for h in campaign.hashtags)
        for t, x in zip(topic_lists, posts["text"], strict=True)
    ]
    tag_posts = posts[pd.Series(tagged, index=posts.index, dtype=bool)]
    tag_posts = tag_posts[
        (tag_posts["created_at"].dt.date >= campaign.start) & (tag_posts["created_at"].dt.date <= campaign.end)
    ]
    carriers = (
        tag_posts.groupby(["platform", "author_id"])
        .agg(
            author_name=("author_name", "last"),
            posts=("id", "size"),
            reach=("followers", "max"),
            engagement=("reposts_count", "sum"),
        )
        .reset_index()
        .sort_values(["reach", "posts"], ascending=False)
        .head(10)
    )
    member = frames.members.set_index("author_id")["community"] if not frames.members.empty else pd.Series(dtype=int)
    comm = (
        tag_posts.assign(community=tag_posts["author_id"].map(member))
        .dropna(subset=["community"])
        .groupby("community")
        .agg(posts=("id", "size"), authors=("author_id", "nunique"))
        .sort_values("posts", ascending=False)
        .head(5)
        .reset_index()
    )
    customers = 0
    if not frames.links.empty and not tag_posts.empty:
        customers = int(frames.links[frames.links["author_id"].isin(tag_posts["author_id"])]["customer_id"].nunique())
    brand = brands[0]
    return {
        "series": {b: _daily(posts, b, days) for b in brands},
        "unique_reach": {k: None if w is None else _unique_reach(posts, brand, *w) for k, w in windows.items()},
        "tagged": {
            "posts": len(tag_posts),
            "authors": int(tag_posts["author_id"].nunique()),
            "reach": int(tag_posts.drop_duplicates(["platform", "author_id"])["followers"].sum()),
            "customers": customers,
            "carriers": carriers,
            "communities": comm,
        },
    }


def _daily_reach(wh: Any, *, brand: str, since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
    return wh.brand_reach(brand, since, until, daily=True)


def _from_warehouse(
    frames: ReportFrames, campaign: Campaign, brands: list[str], days: pd.DatetimeIndex, windows: dict[str, Any]
) -> dict[str, Any]:
    """The same figures computed in SQL (``post_counts`` for the daily sums; distinct accounts and the hashtag
    posts in the warehouse): rows read grow with days and the shown carriers, not with posts."""
    since, until = _china(days[0].date()), _china(days[-1].date() + dt.timedelta(days=1))
    counts = frames.sql(lambda wh: wh.brand_counts(brands, since, until))
    counts = counts.assign(day=pd.to_datetime(counts["day"]).dt.date)
    index = [d.date() for d in days]
    series: dict[str, pd.DataFrame] = {}
    for b in brands:
        g = counts[counts["brand"] == b].groupby("day")[["posts", "engagement", "sentiment_n", "sentiment_sum"]].sum()
        reach = frames.sql(partial(_daily_reach, brand=b, since=since, until=until))
        daily = pd.DataFrame(
            {
                "volume": g["posts"],
                "reach": pd.Series(reach["reach"].to_numpy(), index=pd.to_datetime(reach["day"]).dt.date),
                "engagement": g["engagement"],
                "sentiment": (g["sentiment_sum"] / g["sentiment_n"].where(g["sentiment_n"] > 0)).astype(float),
            }
        )
        series[b] = daily.reindex(index).fillna({"volume": 0, "reach": 0, "engagement": 0})

    def reach_of(lo: dt.date, hi: dt.date) -> int:
        got = frames.sql(lambda wh: wh.brand_reach(brands[0], _china(lo), _china(hi + dt.timedelta(days=1))))
        return int(got["reach"].fillna(0).sum())

    tagged = frames.sql(
        lambda wh: wh.hashtag_posts(
            campaign.hashtags, _china(campaign.start), _china(campaign.end + dt.timedelta(days=1))
        )
    )
    return {
        "series": series,
        "unique_reach": {k: None if w is None else reach_of(*w) for k, w in windows.items()},
        "tagged": tagged,
    }


def _did(
    brand_v: np.ndarray,
    ctrl_v: np.ndarray,
    pre: np.ndarray,
    during: np.ndarray,
    rng: np.random.Generator,
    n_boot: int = 2000,
) -> tuple[float, float, float]:
    b, c = np.log1p(brand_v), np.log1p(ctrl_v)

    def est(pre_idx: np.ndarray, dur_idx: np.ndarray) -> float:
        return float((b[dur_idx].mean() - b[pre_idx].mean()) - (c[dur_idx].mean() - c[pre_idx].mean()))

    pre_i, dur_i = np.flatnonzero(pre), np.flatnonzero(during)
    point = est(pre_i, dur_i)
    boots = [est(rng.choice(pre_i, len(pre_i)), rng.choice(dur_i, len(dur_i))) for _ in range(n_boot)]
    lo, hi = np.percentile(boots, [2.5, 97.5])
    # on log1p volume: exp(effect) - 1 is the relative lift
    return float(np.expm1(point)), float(np.expm1(lo)), float(np.expm1(hi))


def event_study(brand_v: np.ndarray, ctrl_v: np.ndarray, pre: np.ndarray, rel_days: np.ndarray) -> dict[str, Any]:
    """Per-day effect relative to the pre-period, its 95 % interval, and the pre-trend test."""
    d = np.log1p(brand_v) - np.log1p(ctrl_v)
    d_pre = d[pre]
    n = len(d_pre)
    base = float(d_pre.mean()) if n else 0.0
    beta = d - base
    flat = n >= 3 and float(np.ptp(d_pre)) == 0.0 and float(np.ptp(rel_days[pre])) > 0  # no test on a constant
    if n >= 3 and not flat:
        sd = float(d_pre.std(ddof=1))
        half = float(stats.t.ppf(0.975, n - 1)) * sd * np.sqrt(1 + 1 / n)
        fit = stats.linregress(rel_days[pre].astype(float), d_pre)
        pretrend: dict[str, Any] = {
            "slope_per_day": round(float(np.expm1(fit.slope)), 4),
            "p_value": round(float(fit.pvalue), 4),
            "days": n,
            "parallel": bool(fit.pvalue >= 0.05),
        }
    else:
        half = 0.0 if flat else float("nan")
        pretrend = {"slope_per_day": None, "p_value": None, "days": n, "parallel": None}

    def rel(x: np.ndarray) -> list[float | None]:
        return [None if not np.isfinite(v) else round(float(np.expm1(v)), 4) for v in x]

    return {
        "rel_days": [int(x) for x in rel_days],
        "effect": rel(beta),
        "lo": rel(beta - half),
        "hi": rel(beta + half),
        "pretrend": pretrend,
    }


def campaign_crm(warehouse_path: str | Path, campaign: Campaign) -> CampaignCustomers:
    """The campaign's participants, customers and orders from the warehouse (read-only; no clear PII)."""
    from yuqing.store.warehouse import Warehouse

    since = dt.datetime.combine(campaign.start, dt.time(), tzinfo=CHINA_TZ)
    until = dt.datetime.combine(campaign.end + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ)
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        return wh.campaign_customers(campaign.hashtags, since, until)


def campaign_figures(
    frames: ReportFrames,
    campaign: Campaign,
    brand: str,
    competitors: list[str],
    *,
    seed: int = 0,
    crm: CampaignCustomers | None = None,
) -> dict[str, Any]:
    """The campaign's figures and sections; ``crm`` (:func:`campaign_crm`) adds the lift on CRM customers."""
    start = campaign.start - dt.timedelta(days=campaign.pre_days)
    end = campaign.end + dt.timedelta(days=campaign.post_days)
    days = pd.date_range(start, end, freq="D")
    dates = np.array([d.date() for d in days])
    pre = dates < campaign.start
    during = (dates >= campaign.start) & (dates <= campaign.end)
    post = dates > campaign.end
    pre_w = (start, campaign.start - dt.timedelta(days=1))
    post_w = (campaign.end + dt.timedelta(days=1), end)
    windows = {"pre": pre_w, "during": (campaign.start, campaign.end), "post": post_w if post.any() else None}
    # frames read from a warehouse: figures in SQL; a frame of posts made by hand (tests): from its rows
    read = _from_posts if frames.source is None else _from_warehouse
    data = read(frames, campaign, [brand, *competitors], days, windows)
    series, tagged = data["series"], data["tagged"]
    rng = np.random.default_rng(seed)
    lift: dict[str, Any] = {}
    for metric in METRICS:
        s = series[brand][metric].reset_index(drop=True)
        pre_mean, dur_mean, post_mean = (_mean(s[mask]) for mask in (pre, during, post))
        lift[metric] = {
            "pre": pre_mean,
            "during": dur_mean,
            "post": post_mean,
            "lift": None if not pre_mean or dur_mean is None else round(dur_mean / pre_mean - 1, 3),
        }
    ctrl = sum((series[c]["volume"].to_numpy(dtype=float) for c in competitors), np.zeros(len(days)))
    brand_v = series[brand]["volume"].to_numpy(dtype=float)
    did, lo, hi = _did(brand_v, ctrl, pre, during, rng)
    rel_days = np.array([(d - campaign.start).days for d in dates])
    total = brand_v + ctrl
    sov = brand_v / np.where(total == 0, 1, total)
    comm = tagged["communities"]
    figures: dict[str, Any] = {
        "campaign": campaign.name,
        "hashtags": campaign.hashtags,
        "brand": brand,
        "competitors": competitors,
        "windows": {
            "pre": [pre_w[0].isoformat(), pre_w[1].isoformat()],
            "during": [campaign.start.isoformat(), campaign.end.isoformat()],
            "post": [post_w[0].isoformat(), post_w[1].isoformat()],
        },
        "lift": lift,
        "did_volume": {"lift": round(did, 3), "ci95": [round(lo, 3), round(hi, 3)]},
        "event_study": event_study(brand_v, ctrl, pre, rel_days),
        "unique_reach": {**data["unique_reach"], "hashtag_authors": tagged["reach"]},
        "share_of_voice": {"pre": round(float(sov[pre].mean()), 3), "during": round(float(sov[during].mean()), 3)},
        "hashtag_posts": tagged["posts"],
        "hashtag_authors": tagged["authors"],
        "linked_customers_in_campaign": tagged["customers"],
        "carriers": json.loads(tagged["carriers"].to_json(orient="records", force_ascii=False)),
        "communities": {
            str(int(r.community)): {"posts": int(r.posts), "authors": int(r.authors)} for r in comm.itertuples()
        },
        "daily": {
            "days": [d.isoformat() for d in dates],
            "volume": {b: series[b]["volume"].astype(int).tolist() for b in series},
            "reach": series[brand]["reach"].astype(int).tolist(),
        },
    }
    extra: dict[str, Any] = {"campaign": campaign, "crm": crm, "seed": seed}
    ctx = ReportContext(frames, brand, competitors, start, end, figures=figures, extra=extra)
    shown = compute_sections(CAMPAIGN_SECTIONS, ctx)
    figures["_sections"] = [s.key for s in shown]
    figures["_ctx"] = ctx
    return figures


# --- sections -----------------------------------------------------------------------------------------


def _conclusion(ctx: ReportContext) -> dict[str, Any]:
    f = ctx.figures
    d, pt = f["did_volume"], f["event_study"]["pretrend"]
    sentence = (
        f"活动期间 {f['brand']} 的声量相对竞品提升 {d['lift']:+.1%}"
        f"（95% 区间 {d['ci95'][0]:+.1%} ~ {d['ci95'][1]:+.1%}）"
        + ("，区间不含 0，提升显著。" if d["ci95"][0] > 0 or d["ci95"][1] < 0 else "，区间包含 0，提升不显著。")
    )
    if pt["parallel"] is True:
        check = f"预趋势检验：活动前 {pt['days']} 天品牌与竞品走势平行（斜率 p = {pt['p_value']:.2f}），双重差分可信。"
    elif pt["parallel"] is False:
        check = (
            f"预趋势检验未通过：活动前品牌相对竞品每天变化 {pt['slope_per_day']:+.1%}（p = {pt['p_value']:.3f}），"
            "双重差分结果需谨慎解读。"
        )
    elif pt["days"] >= 3:
        check = "活动前品牌与竞品的声量差每天相同（多为没有提及），无法做预趋势检验。"
    else:
        check = "活动前天数不足 3 天，无法做预趋势检验。"
    return {"sentence": sentence, "pretrend": check}


def _event_charts(_data: Any, ctx: ReportContext) -> dict[str, str]:
    e = ctx.figures["event_study"]
    return {
        "event": event_study_chart(
            "event_study",
            e["rel_days"],
            e["effect"],
            e["lo"],
            e["hi"],
            title="事件研究：每日声量相对竞品的变化（阴影为 95% 区间，橙线为活动开始）",
            empty="活动窗口内没有数据",
        )
    }


def _trend_charts(_data: Any, ctx: ReportContext) -> dict[str, str]:
    f = ctx.figures
    w = f["windows"]["during"]
    return {
        "volume": line_chart(
            "campaign_volume",
            f["daily"]["days"],
            f["daily"]["volume"],
            title="活动前后每日提及量（黄色为活动期）",
            shade=(w[0], w[1]),
            shade_label="活动期",
            empty="活动窗口内没有提及",
        ),
        "reach": line_chart(
            "campaign_reach",
            f["daily"]["days"],
            {"触达": f["daily"]["reach"]},
            title="每日触达（当天发帖作者去重后的粉丝数，万）",
            wan=True,
            shade=(w[0], w[1]),
            shade_label="活动期",
            empty="活动窗口内没有触达",
        ),
    }


def _carrier_charts(_data: Any, ctx: ReportContext) -> dict[str, str]:
    c = ctx.figures["carriers"]
    return {
        "carriers": bar_chart(
            "carriers",
            [x["author_name"] or x["author_id"] for x in c],
            [x["reach"] for x in c],
            title="活动传播者（粉丝数，每位作者只计一次）",
            empty="没有带活动话题的帖子",
        )
    }


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:+,.0f} 元"


def _crm_lift(ctx: ReportContext) -> dict[str, Any] | None:
    """Lift on CRM customers, or None when no customer was imported (nothing to say)."""
    crm: CampaignCustomers | None = ctx.extra.get("crm")
    if crm is None or crm.customers.empty:
        return None
    camp: Campaign = ctx.extra["campaign"]
    windows = LiftWindows.for_campaign(camp.start, camp.end, camp.post_days)
    exposed = crm.participants["customer_id"].astype(str).unique().tolist()
    res = crm_lift(crm.customers, crm.orders, exposed, windows, seed=int(ctx.extra.get("seed", 0)))
    data = res.to_dict()
    data["accounts"] = int(crm.accounts)
    data["linked_accounts"] = len(crm.participants[["platform", "author_id"]].drop_duplicates())
    notes = []
    if not crm.orders.empty:
        last = pd.to_datetime(crm.orders["ordered_at"], utc=True).max().tz_convert(CHINA_TZ).date()
        data["last_order"] = last.isoformat()
        if last < windows.post[1]:
            notes.append(f"CRM 订单只到 {last}，活动后窗口（至 {windows.post[1]}）尚未结束，活动后的数字偏低。")
    if res.participants == 0:
        data["sentence"] = (
            f"活动期间 {crm.accounts:,} 个账号参与了活动话题，其中没有账号与 CRM 客户关联，无法衡量客户增量"
            "（`yuqing crm links` 查看关联情况）。"
            if crm.accounts
            else "活动期间没有账号发布、转发或评论活动话题的帖子，无法衡量客户增量。"
        )
        data["notes"] = notes
        return data
    sp, od = data["spend"], data["orders"]
    days = (windows.post[1] - windows.post[0]).days + 1
    if sp["lift"] is None or sp["ci95"][0] is None:
        verdict = "，参与客户或对照太少，无法给出区间。"
    else:
        verdict = f"（95% 区间 {_money(sp['ci95'][0])} ~ {_money(sp['ci95'][1])}）" + (
            "，区间不含 0，增量显著。" if sp["significant"] else "，区间包含 0，未见显著增量。"
        )
    data["sentence"] = (
        f"{res.participants} 位客户的社交账号参与了活动；与按 RFM 分群和活动前 180 天消费匹配的 {res.controls} 位"
        f"未参与客户相比，活动期及其后共 {days} 天参与客户人均多消费 {_money(sp['lift'])}{verdict}"
        f"人均订单 {od['lift']:+.2f} 单（95% 区间 {od['ci95'][0]:+.2f} ~ {od['ci95'][1]:+.2f}）。"
        if od["ci95"][0] is not None
        else f"{res.participants} 位客户的社交账号参与了活动，但找不到可比的未参与客户。"
    )
    if res.unmatched:
        notes.append(f"{res.unmatched} 位参与客户所在的分群与消费档没有未参与客户可比，未计入。")
    worst = max((abs(b["smd_after"]) for b in data["balance"] if b["smd_after"] is not None), default=None)
    if worst is not None and res.controls:
        # with few customers an SMD moves by chance alone: its sd is about sqrt(1/n_t + 1/n_c)
        noise = 2 * float(np.sqrt(1 / max(res.matched, 1) + 1 / res.controls))
        bar = max(0.1, noise)
        data["smd_bar"] = round(bar, 3)
        notes.append(
            f"匹配后各协变量的标准化均值差最大为 {worst:.2f}"
            + (
                "（< 0.1，两组可比）。"
                if worst < 0.1
                else f"（在这么少的客户中随机差异可达 ±{noise:.2f}，两组可比）。"
                if worst < bar
                else "（超出随机差异，两组仍有差异，结果需谨慎解读）。"
            )
        )
    if 0 < res.matched < 20:
        notes.append(f"只有 {res.matched} 位参与客户可比，区间较宽。")
    data["notes"] = notes
    return data


_GROUP_NAMES = {"participants": "参与客户", "matched_controls": "匹配对照", "all_non_participants": "全部未参与客户"}


def _crm_lift_charts(data: Any, _ctx: ReportContext) -> dict[str, str]:
    groups = [g for g in data.get("groups", []) if g["group"] != "all_non_participants"]
    if not data.get("participants"):
        return {}
    rows = [
        (window, _GROUP_NAMES[g["group"]], g[f"spend_{key}"])
        for key, window in (("pre", "活动前窗口"), ("post", "活动期及活动后"))
        for g in groups
    ]
    return {
        "crm_spend": group_bars(
            "crm_spend",
            rows,
            title="人均消费：参与客户与匹配对照，活动前后（元）",
            y_title="人均消费（元）",
            empty="两组在两个窗口都没有消费",
        )
    }


def _crm_lift_rows(data: Any) -> pd.DataFrame:
    """Per group: customers, orders and spend per customer pre/post; then the DiD lift rows with intervals."""
    rows = [{"row": g["group"], "name": _GROUP_NAMES[g["group"]], **g} for g in data.get("groups", [])]
    for what in ("orders", "spend"):
        e = data.get(what)
        if e:
            rows.append(
                {
                    "row": f"did_{what}",
                    "name": "双重差分增量（人均订单）" if what == "orders" else "双重差分增量（人均消费，元）",
                    "lift": e["lift"],
                    "ci95_lo": e["ci95"][0],
                    "ci95_hi": e["ci95"][1],
                    "relative": e["relative"],
                    "relative_ci95_lo": e["relative_ci95"][0],
                    "relative_ci95_hi": e["relative_ci95"][1],
                }
            )
    return pd.DataFrame(rows).drop(columns=["group"], errors="ignore")


def _crm_balance(ctx: ReportContext) -> list[dict[str, Any]] | None:
    lift = ctx.figures.get("crm_lift")
    return lift["balance"] if lift and lift.get("participants") else None


def _metric_rows(ctx: ReportContext) -> list[dict[str, Any]]:
    return [{"metric": k, "name": METRIC_NAMES[k], **v} for k, v in ctx.figures["lift"].items()]


def _noop(ctx: ReportContext) -> bool:
    return True


def _section(key: str, title: str, compute: Any = _noop, **kw: Any) -> Section:
    return Section(key, title, compute=compute, template_name=f"campaign/{key}.html.j2", **kw)


register(CAMPAIGN_SECTIONS, _section("conclusion", "结论", _conclusion))
register(CAMPAIGN_SECTIONS, _section("event", "事件研究与预趋势检验", charts=_event_charts))
register(CAMPAIGN_SECTIONS, _section("trend", "趋势", charts=_trend_charts))
register(CAMPAIGN_SECTIONS, _section("metrics", "指标对比（日均）", _metric_rows, rows=pd.DataFrame))
register(CAMPAIGN_SECTIONS, _section("spread", "谁带动了活动", charts=_carrier_charts))
register(
    CAMPAIGN_SECTIONS,
    _section("crm_lift", "CRM 客户增量：参与客户与匹配对照", _crm_lift, charts=_crm_lift_charts, rows=_crm_lift_rows),
)
register(
    CAMPAIGN_SECTIONS, _section("crm_balance", "匹配前后的可比性（标准化均值差）", _crm_balance, rows=pd.DataFrame)
)


def write_campaign_report(figures: dict[str, Any], out_dir: Path, *, pdf: bool = True) -> list[Path]:
    """HTML (self-contained), JSON, daily CSV (+ a CSV per section with rows), and a PDF when Chromium is there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx: ReportContext = figures["_ctx"]
    registry = {s.key: s for s in CAMPAIGN_SECTIONS}
    shown = [registry[k] for k in figures["_sections"] if k in registry]
    blocks = [(s, s.charts(figures[s.key], ctx)) for s in shown]
    slug = "".join(ch if ch.isalnum() else "_" for ch in figures["campaign"])
    html_path = out_dir / f"campaign_{slug}.html"
    html_path.write_text(render("campaign.html.j2", f=figures, blocks=blocks, ctx=ctx), encoding="utf-8")
    json_path = out_dir / f"campaign_{slug}.json"
    json_path.write_text(
        json.dumps({k: v for k, v in figures.items() if not k.startswith("_")}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    e = figures["event_study"]
    csv_path = out_dir / f"campaign_{slug}_daily.csv"
    pd.DataFrame(
        {
            "day": figures["daily"]["days"],
            "day_from_start": e["rel_days"],
            **{f"volume_{b}": v for b, v in figures["daily"]["volume"].items()},
            f"reach_{figures['brand']}": figures["daily"]["reach"],
            "effect_vs_competitors": e["effect"],
            "effect_lo95": e["lo"],
            "effect_hi95": e["hi"],
        }
    ).to_csv(csv_path, index=False)
    paths = [html_path, json_path, csv_path]
    paths += write_extras(shown, figures, html_path, prefix=f"campaign_{slug}", pdf=pdf)
    return paths
