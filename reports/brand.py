"""The brand reputation report: core figures + registered sections → HTML, PDF, JSON and CSV.

The HTML renders exactly the ``figures`` dict that is also exported as JSON, so the numbers people
read are the numbers BI tools load (a test recomputes them from the warehouse with SQL).  Each part
of the report is a :class:`reports.sections.Section` in ``BRAND_SECTIONS``; the order of that list
is the order of the report.  Every KPI carries its change against the previous period of the same
length (环比).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from yuqing.reports.charts import PALETTE, bar_chart, line_chart, share_chart
from yuqing.reports.data import ReportFrames, load_frames, period_frames
from yuqing.reports.html import render
from yuqing.reports.sections import BRAND_SECTIONS, ReportContext, Section, compute_sections, register, write_extras
from yuqing.store.pii import redact_text

__all__ = ["NoMentions", "brand_figures", "brand_report", "write_brand_report"]

POSITIVE, NEGATIVE = 0.6, 0.4  # brand sentiment at/above → 正面, below → 负面 (as graph.leaders' stance)
STANCE = {"advocate": "拥护", "detractor": "批评", "neutral": "中立"}
POLARITY = {"positive": "正面", "negative": "负面", "neutral": "中性", "": "—"}
ALERT_STATUS = {"new": "新预警", "ongoing": "持续中", "resolved": "已解除"}


_NO_TOTALS: dict[str, Any] = {
    "mentions": 0, "sentiment": None, "positive_share": None, "negative_share": None, "net_sentiment": None,
    "complaints": 0, "engagement": 0, "authors": 0,
}  # fmt: skip


class NoMentions(Exception):
    """The period holds no post mentioning the brand: the report says so instead of drawing zeros."""


def _totals(frames: ReportFrames, brands: list[str]) -> dict[str, dict[str, Any]]:
    """Per brand: mentions, sentiment toward it, complaints, engagement (``post_counts``) and distinct authors
    (counted in SQL: not additive)."""
    counts = frames.counts(brands)
    authors = frames.sql(lambda wh: wh.brand_authors(brands, frames.since, frames.until))
    totals: dict[str, dict[str, Any]] = {}
    for b in brands:
        m = counts[counts["brand"] == b]
        n, pos, neg = int(m["sentiment_n"].sum()), int(m["positive"].sum()), int(m["negative"].sum())
        totals[b] = {
            "mentions": int(m["posts"].sum()),
            "sentiment": round(float(m["sentiment_sum"].sum()) / n, 3) if n else None,
            "positive_share": round(pos / n, 3) if n else None,
            "negative_share": round(neg / n, 3) if n else None,
            "net_sentiment": round(pos / n - neg / n, 3) if n else None,
            "complaints": int(m.loc[m["complaint"], "posts"].sum()),
            "engagement": int(m["engagement"].sum()),
            "authors": authors.get(b, 0),
        }
    total = sum(t["mentions"] for t in totals.values())
    for b in brands:
        totals[b]["share_of_voice"] = round(totals[b]["mentions"] / total, 3) if total else None
    return totals


def _change(now: float | None, before: float | None, *, points: bool) -> float | None:
    """Relative change (环比) for counts; difference in points for shares and scores."""
    if now is None or before is None:
        return None
    if points:
        return round(now - before, 3)
    return None if before == 0 else round(now / before - 1, 3)


def _shown(text: str, n: int = 140) -> str:
    """Post text as shown in a report: phone numbers and e-mail addresses masked, cut to ``n`` characters."""
    t = redact_text(str(text or ""))
    return t if len(t) <= n else t[: n - 1] + "…"


def _post_rows(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The posts a report shows (``Warehouse.top_mentions``: the few rows read with their texts)."""
    from yuqing.store.schema import CHINA_TZ

    created = pd.to_datetime(rows["created_at"], utc=True).dt.tz_convert(CHINA_TZ)
    return [
        {
            "id": r.id,
            "platform": r.platform,
            "author": r.author_name or r.author_id,
            "text": _shown(r.text),
            "created_at": at.isoformat(),
            "engagement": int(r.engagement),
            "sentiment": None if r.bs is None or pd.isna(r.bs) else round(float(r.bs), 3),
        }
        for r, at in zip(rows.itertuples(), created, strict=True)
    ]


# --- sections -----------------------------------------------------------------------------------------


def _kpis(ctx: ReportContext) -> list[dict[str, Any]]:
    now = ctx.figures["totals"][ctx.brand]
    before = ctx.figures["previous"]["totals"][ctx.brand]
    spec = [
        ("mentions", "提及量", "num", False),
        ("share_of_voice", "声量份额", "pct", True),
        ("net_sentiment", "净情感值", "signed_pct", True),
        ("negative_share", "负面占比", "pct", True),
        ("complaints", "投诉数", "num", False),
        ("engagement", "互动量", "num", False),
        ("authors", "发声用户", "num", False),
    ]
    worse_when_up = {"negative_share", "complaints"}
    return [
        {
            "key": key,
            "label": label,
            "value": now[key],
            "previous": before[key],
            "change": _change(now[key], before[key], points=points),
            "points": points,
            "format": fmt,
            "bad_when_up": key in worse_when_up,
        }
        for key, label, fmt, points in spec
    ]


def _kpi_rows(data: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(data)[["key", "label", "value", "previous", "change"]]


def _trend(ctx: ReportContext) -> dict[str, Any]:
    d = ctx.figures["daily"]
    vol = d["volume"][ctx.brand]
    peak = max(range(len(vol)), key=lambda i: vol[i]) if vol else 0
    return {"peak_day": d["days"][peak] if vol else None, "peak_volume": vol[peak] if vol else 0}


def _trend_charts(_data: Any, ctx: ReportContext) -> dict[str, str]:
    d = ctx.figures["daily"]
    return {
        "volume": line_chart("volume", d["days"], d["volume"], title="每日提及量", empty="本期没有提及"),
        "sentiment": line_chart(
            "sentiment",
            d["days"],
            {f"{ctx.brand} 情感": d["sentiment"]},
            title="品牌情感（每日均值，阴影为 95% 区间；1 = 正面）",
            integer=False,
            band=(d["sentiment_lo"], d["sentiment_hi"]),
            y_domain=(0.0, 1.0),
            empty="本期没有可评分的提及",
        ),
    }


def _sov(ctx: ReportContext) -> dict[str, Any]:
    now, before = ctx.figures["totals"], ctx.figures["previous"]["totals"]
    return {
        b: {
            "share": now[b]["share_of_voice"],
            "previous": before[b]["share_of_voice"],
            "change": _change(now[b]["share_of_voice"], before[b]["share_of_voice"], points=True),
            "mentions": now[b]["mentions"],
            "net_sentiment": now[b]["net_sentiment"],
            "complaints": now[b]["complaints"],
        }
        for b in now
    }


def _sov_charts(_data: Any, ctx: ReportContext) -> dict[str, str]:
    d = ctx.figures["daily"]
    return {"share": share_chart("sov", d["days"], d["volume"], title="声量份额（每日）", empty="本期没有提及")}


def _counts(ctx: ReportContext) -> pd.DataFrame:
    return ctx.frames.counts([ctx.brand, *ctx.competitors])


def _platforms(ctx: ReportContext) -> dict[str, dict[str, int]]:
    counts = _counts(ctx)
    every = counts[counts["brand"] == ""].groupby("platform")["posts"].sum()
    mine = counts[counts["brand"] == ctx.brand]
    mentions = mine.groupby("platform")["posts"].sum()
    complaints = mine[mine["complaint"]].groupby("platform")["posts"].sum()
    return {
        str(plat): {
            "posts": int(n),
            "mentions": int(mentions.get(plat, 0)),
            "complaints": int(complaints.get(plat, 0)),
        }
        for plat, n in every.sort_index().items()
    }


def _complaints(ctx: ReportContext) -> list[dict[str, Any]]:
    """Complaints per category (NULL and '' as 其他; counts from ``post_counts``, ordered by count then by first
    complaint) against the previous period, each with its three most engaging complaints."""
    counts = _counts(ctx)
    mine = counts[(counts["brand"] == ctx.brand) & counts["complaint"]]
    per = mine.groupby(mine["complaint_category"].replace("", "其他"))["posts"].sum()
    before = pd.Series(dtype=int)
    if ctx.previous is not None:
        prev = ctx.previous.counts([ctx.brand, *ctx.competitors])
        prev = prev[(prev["brand"] == ctx.brand) & prev["complaint"]]
        before = prev.groupby("complaint_category")["posts"].sum()
    if per.empty:
        return []
    f = ctx.frames
    examples = f.sql(lambda wh: wh.top_mentions(ctx.brand, f.since, f.until, n=3, per_category=True))
    first = examples.groupby("category")["first"].min()
    order = sorted(per.index, key=lambda c: (-int(per[c]), first.get(c, pd.NaT), c))
    out = []
    for cat in order:
        n, b = int(per[cat]), int(before.get(cat, 0))
        out.append(
            {
                "category": str(cat),
                "posts": n,
                "previous": b,
                "change": _change(n, b, points=False),
                "examples": _post_rows(examples[examples["category"] == cat]),
            }
        )
    return out


def _complaint_rows(data: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{k: c[k] for k in ("category", "posts", "previous", "change")} for c in data],
        columns=["category", "posts", "previous", "change"],
    )


def _complaint_charts(data: list[dict[str, Any]], ctx: ReportContext) -> dict[str, str]:
    d = ctx.figures["daily"]
    return {
        "daily": line_chart(
            "complaints", d["days"], {"投诉": d["complaints"]}, title="每日投诉量", empty="本期没有投诉"
        ),
        "categories": bar_chart(
            "categories",
            [c["category"] for c in data],
            [c["posts"] for c in data],
            title="投诉类别（帖子数）",
            color=PALETTE[1],
            empty="本期没有投诉",
        ),
    }


def _alerts(ctx: ReportContext) -> list[dict[str, Any]]:
    frame = ctx.frames.alerts
    if frame.empty:
        return []
    from yuqing.store.schema import CHINA_TZ

    lo = pd.Timestamp(ctx.start, tz=CHINA_TZ)
    hi = pd.Timestamp(ctx.end + dt.timedelta(days=1), tz=CHINA_TZ)
    started = pd.to_datetime(frame["started_at"], utc=True).dt.tz_convert(CHINA_TZ)
    last = pd.to_datetime(frame.get("last_spike_at", frame["started_at"]), utc=True).dt.tz_convert(CHINA_TZ)
    keep = frame[(frame["brand"] == ctx.brand) & (started < hi) & (last.fillna(started) >= lo)]
    shown = sorted(
        {str(e.get("id")) for v in keep.get("evidence", []) for e in _json(v, [])[:3] if isinstance(e, dict)}
    )
    f = ctx.frames
    authors = f.sql(lambda wh: wh.post_authors(shown, f.since, f.until)) if shown else {}
    out = []
    for r in keep.assign(_started=started[keep.index]).sort_values("_started").to_dict("records"):
        evidence = _json(r.get("evidence"), [])
        keywords = _json(r.get("keywords"), {})
        if isinstance(keywords, dict):  # keyword → weight
            keywords = sorted(keywords, key=lambda k: -float(keywords[k]))
        out.append(
            {
                "alert_id": r["alert_id"],
                "status": ALERT_STATUS.get(str(r["status"]), str(r["status"])),
                "category": r["category"],
                "started_at": r["_started"].strftime("%Y-%m-%d %H:%M"),
                "complaints": int(r["complaints"]),
                "peak_z": round(float(r["peak_z"]), 1),
                "severity": round(float(r["severity"]), 1),
                "keywords": [str(k) for k in keywords][:8],
                "evidence": [
                    {"author": authors.get(str(e.get("id")), ""), "text": _shown(e.get("text", ""))}
                    for e in evidence[:3]
                    if isinstance(e, dict)
                ],
            }
        )
    return out


def _json(value: Any, default: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return default if value is None else value


def _topics(ctx: ReportContext) -> dict[str, Any]:
    from yuqing.nlp.keywords import rising_keywords_counted
    from yuqing.store.schema import CHINA_TZ

    f = ctx.frames
    agg = f.sql(lambda wh: wh.brand_topics(ctx.brand, f.since, f.until))
    top = [
        {
            "topic": int(r.topic),
            "label": str(r.topic_label),
            "posts": int(r.posts),
            "sentiment": None if pd.isna(r.sentiment) else round(float(r.sentiment), 3),
            "complaints": int(r.complaints),
        }
        for r in agg.itertuples()
    ]
    emerging: list[dict[str, Any]] = []
    # emerging topics of the last topic run (flows.stages.topics: share of the last 3 days ≥ 2× before)
    table = ctx.frames.topics
    if not table.empty and "emerging" in table.columns:
        for r in table[table["emerging"].astype(bool)].sort_values("ratio", ascending=False).head(5).itertuples():
            emerging.append(
                {
                    "topic": int(r.topic),
                    "label": str(r.topic_label),
                    "recent_share": round(float(r.recent_share), 3),
                    "baseline_share": round(float(r.baseline_share), 3),
                    "ratio": round(float(r.ratio), 1),
                    "new": bool(getattr(r, "new", False)),
                }
            )
    split = dt.datetime.combine(ctx.end - dt.timedelta(days=6), dt.time(), tzinfo=CHINA_TZ)
    words, docs = f.sql(lambda wh: wh.brand_keyword_counts(ctx.brand, f.since, split, f.until))
    side = {
        recent: dict(zip(g["keyword"], g["posts"].astype(int), strict=True)) for recent, g in words.groupby("recent")
    }
    rising = rising_keywords_counted(
        side.get(True, {}), docs.get(True, 0), side.get(False, {}), docs.get(False, 0), k=12, min_count=3
    )
    return {"top": top, "emerging": emerging, "rising_keywords": json.loads(rising.to_json(orient="records"))}


def _topic_charts(data: dict[str, Any], _ctx: ReportContext) -> dict[str, str]:
    return {
        "topics": bar_chart(
            "topics",
            [t["label"] for t in data["top"]],
            [t["posts"] for t in data["top"]],
            title="热门话题（提及帖子数）",
            empty="本期没有可归类的话题",
        )
    }


def _top_posts(ctx: ReportContext) -> list[dict[str, Any]]:
    f = ctx.frames
    return _post_rows(f.sql(lambda wh: wh.top_mentions(ctx.brand, f.since, f.until, n=10)))


def _kols(ctx: ReportContext) -> dict[str, Any]:
    """Leaders who spoke about the brand in the period, with their stance toward it."""
    f = ctx.frames
    rows = f.sql(lambda wh: wh.brand_leaders(ctx.brand, f.since, f.until, top=15))
    if rows.empty:
        return {"leaders": [], "advocates": 0, "detractors": 0}

    def stance(mean: float) -> str:
        return "advocate" if mean >= POSITIVE else "detractor" if mean <= NEGATIVE else "neutral"

    out = [
        {
            "rank": int(r["rank"]),
            "name": r.get("screen_name") or r["author_id"],
            "score": round(float(r["score"]), 3),
            "followers": int(r.get("followers", 0) or 0) if pd.notna(r.get("followers", 0)) else 0,
            "brand_posts": int(r["brand_posts"]),
            "brand_sentiment": round(float(r["brand_sentiment"]), 3),
            "stance": STANCE[stance(float(r["brand_sentiment"]))],
            "reasons": r.get("reasons") or "",
        }
        for r in rows.to_dict("records")
    ]
    return {"leaders": out, "advocates": int(rows["advocates"].iat[0]), "detractors": int(rows["detractors"].iat[0])}


def _kol_rows(data: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(data["leaders"])


def _communities(ctx: ReportContext) -> list[dict[str, Any]]:
    """Communities whose members spoke about the brand in the period: their topics and members' stance."""
    f = ctx.frames
    rows, words = f.sql(lambda wh: wh.brand_communities(ctx.brand, ctx.competitors, f.since, f.until))
    said = {(int(c), str(k)): [str(w) for w in g["word"]] for (c, k), g in words.groupby(["community", "kind"])}
    out: list[dict[str, Any]] = []
    for r in rows.to_dict("records"):
        cid = int(r["community"])
        described = bool(r["described"])
        out.append(
            {
                "community": cid,
                "members": int(r["size"]) if described else int(r["speakers"]),
                "speakers": int(r["speakers"]),
                "posts": int(r["posts"]),
                "topics": said.get((cid, "topic"), [])[:2],
                # what they say about it, not which brand they name: brand-bearing words left out
                "keywords": said.get((cid, "keyword"), []),
                "advocates": int(r["advocates"]),
                "detractors": int(r["detractors"]),
                "neutral": int(r["neutral"]),
                "complaints": int(r["complaints"]),
                "leaders": str(r["leaders"]) if described and isinstance(r["leaders"], str) else "",
            }
        )
    return out


def _customers(ctx: ReportContext) -> dict[str, list[dict[str, Any]]] | None:
    view = ctx.frames.customers
    if view.empty:
        return None
    from yuqing.graph.customers import customer_actions

    actions = customer_actions(view, top=10)
    keep = ["customer_id", "name", "phone", "rfm_segment", "clv", "open_complaints", "influence", "sentiment"]

    def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
        out = frame[[c for c in keep if c in frame.columns]].copy()
        return json.loads(out.to_json(orient="records", force_ascii=False))

    return {"call_first": rows(actions["call_first"]), "advocates": rows(actions["advocates"])}


def _pct(v: float | None, signed: bool = False) -> str:
    return "—" if v is None else (f"{v:+.1%}" if signed else f"{v:.1%}")


def _points(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:+.1f} 个百分点"


def _summary(ctx: ReportContext) -> dict[str, Any]:
    """The executive summary: what changed, why (top drivers), what to do, in Chinese sentences."""
    f, b = ctx.figures, ctx.brand
    t, p = f["totals"][b], f["previous"]["totals"][b]
    changed = [
        f"{ctx.start:%m月%d日}至{ctx.end:%m月%d日}，{b} 共被提及 {t['mentions']:,} 次"
        + (f"，环比 {_pct(_change(t['mentions'], p['mentions'], points=False), True)}" if p["mentions"] else "")
        + f"；声量份额 {_pct(t['share_of_voice'])}"
        + (f"（{_points(_change(t['share_of_voice'], p['share_of_voice'], points=True))}）" if p["mentions"] else "")
        + "。",
        f"净情感值 {_pct(t['net_sentiment'], True)}"
        + (f"（{_points(_change(t['net_sentiment'], p['net_sentiment'], points=True))}）" if p["mentions"] else "")
        + f"，负面占比 {_pct(t['negative_share'])}；投诉 {t['complaints']:,} 条"
        + (f"，环比 {_pct(_change(t['complaints'], p['complaints'], points=False), True)}" if p["complaints"] else "")
        + "。",
    ]
    why: list[str] = []
    cats = sorted(f.get("complaints") or [], key=lambda c: -(c["posts"] - c["previous"]))
    if cats and cats[0]["posts"]:
        c = cats[0]
        ex = c["examples"][0]["text"][:40] if c["examples"] else ""
        why.append(
            f"投诉主要来自「{c['category']}」（{c['posts']} 条，上期 {c['previous']} 条）"
            + (f"，例如：“{ex}”" if ex else "")
            + "。"
        )
    alerts = f.get("alerts") or []
    if alerts:
        a = alerts[-1]
        why.append(
            f"本期触发 {len(alerts)} 次投诉预警，最近一次为 {a['started_at']}「{a['category']}」"
            f"（{a['complaints']} 条，状态：{a['status']}）。"
        )
    topics = f.get("topics") or {}
    if topics.get("emerging"):
        e = topics["emerging"][0]
        why.append(f"新兴话题「{e['label']}」占比升至 {_pct(e['recent_share'])}（此前 {_pct(e['baseline_share'])}）。")
    elif topics.get("top"):
        why.append(f"讨论最多的话题是「{topics['top'][0]['label']}」（{topics['top'][0]['posts']} 条）。")
    posts = f.get("top_posts") or []
    if posts:
        why.append(
            f"互动最高的帖子来自 {posts[0]['author']}（互动 {posts[0]['engagement']:,}）：“{posts[0]['text'][:40]}”。"
        )
    kols = (f.get("kols") or {}).get("leaders") or []
    det = [k for k in kols if k["stance"] == STANCE["detractor"]]
    adv = [k for k in kols if k["stance"] == STANCE["advocate"]]
    if det:
        why.append(f"持批评立场的意见领袖：{'、'.join(k['name'] for k in det[:3])}。")
    if adv:
        why.append(f"持拥护立场的意见领袖：{'、'.join(k['name'] for k in adv[:3])}。")
    todo: list[str] = []
    if alerts and any(a["status"] != ALERT_STATUS["resolved"] for a in alerts):
        open_ = [a for a in alerts if a["status"] != ALERT_STATUS["resolved"]]
        todo.append(f"跟进未解除的预警「{open_[-1]['category']}」：核实证据帖子中的问题并统一对外回应。")
    if cats and cats[0]["posts"]:
        todo.append(f"优先处理「{cats[0]['category']}」类投诉，安排客服主动联系发帖用户。")
    if det:
        todo.append(f"联系批评型意见领袖 {det[0]['name']}，了解其不满并提供解决方案。")
    if adv:
        todo.append(f"邀请拥护型意见领袖 {adv[0]['name']} 参与内容合作，放大正面声量。")
    sov_change = _change(t["share_of_voice"], p["share_of_voice"], points=True)
    if sov_change is not None and sov_change < -0.02:
        todo.append("声量份额下降：对比竞品近期活动，评估是否需要加大投放或话题运营。")
    if not todo:
        todo.append("舆情平稳：保持日常监测，关注新兴话题的走向。")
    return {"changed": changed, "why": why, "todo": todo}


register(BRAND_SECTIONS, Section("summary", "执行摘要", compute=_summary, late=True))
register(BRAND_SECTIONS, Section("kpis", "核心指标（环比）", compute=_kpis, rows=_kpi_rows))
register(BRAND_SECTIONS, Section("trend", "声量与情感趋势", compute=_trend, charts=_trend_charts))
register(BRAND_SECTIONS, Section("sov", "声量份额", compute=_sov, charts=_sov_charts))
register(BRAND_SECTIONS, Section("platforms", "平台分布", compute=_platforms))
register(
    BRAND_SECTIONS,
    Section("complaints", "投诉类别与例帖", compute=_complaints, charts=_complaint_charts, rows=_complaint_rows),
)
register(BRAND_SECTIONS, Section("alerts", "本期预警", compute=_alerts))
register(BRAND_SECTIONS, Section("topics", "话题与新兴话题", compute=_topics, charts=_topic_charts))
register(BRAND_SECTIONS, Section("top_posts", "热门帖子", compute=_top_posts))
register(BRAND_SECTIONS, Section("kols", "品牌相关意见领袖（KOL）与立场", compute=_kols, rows=_kol_rows))
register(BRAND_SECTIONS, Section("communities", "社群", compute=_communities))
register(BRAND_SECTIONS, Section("customers", "客户视角", compute=_customers))
import yuqing.reports.crm_sections  # noqa: E402, F401  (complaints without a ticket, churn warning: after "customers")

# --- figures and files --------------------------------------------------------------------------------


def _daily(counts: pd.DataFrame, brand: str, brands: list[str], days: pd.DatetimeIndex) -> dict[str, Any]:
    """Daily mentions per brand, the brand's daily sentiment (mean and 95% interval from the count, sum and sum of
    squares of ``post_counts``) and complaints."""
    by_day = counts.assign(day=pd.to_datetime(counts["day"]).dt.date)
    volume: dict[str, list[int]] = {}
    for b in brands:
        per_day = by_day[by_day["brand"] == b].groupby("day")["posts"].sum()
        volume[b] = [int(per_day.get(d.date(), 0)) for d in days]
    mine = by_day[by_day["brand"] == brand]
    g = mine.groupby("day")[["sentiment_n", "sentiment_sum", "sentiment_sumsq"]].sum()
    complaints_day = mine[mine["complaint"]].groupby("day")["posts"].sum()

    def stats(day: dt.date) -> tuple[float | None, float | None, float | None]:
        n = int(g["sentiment_n"].get(day, 0))
        if not n:
            return None, None, None
        total, squares = float(g["sentiment_sum"][day]), float(g["sentiment_sumsq"][day])
        sd = math.sqrt(max(0.0, (squares - total * total / n) / (n - 1))) if n > 1 else None
        return total / n, sd, float(n)

    mean, lo, hi = [], [], []
    for d in days:
        m_, sd, n = stats(d.date())
        mean.append(None if m_ is None else round(m_, 3))
        half = None if m_ is None or sd is None or not n or n < 2 else 1.96 * sd / n**0.5
        lo.append(None if half is None or m_ is None else round(max(0.0, m_ - half), 3))
        hi.append(None if half is None or m_ is None else round(min(1.0, m_ + half), 3))
    return {
        "days": [d.date().isoformat() for d in days],
        "volume": volume,
        "sentiment": mean,
        "sentiment_lo": lo,
        "sentiment_hi": hi,
        "complaints": [int(complaints_day.get(d.date(), 0)) for d in days],
    }


def brand_figures(
    frames: ReportFrames,
    brand: str,
    competitors: list[str],
    start: dt.date,
    end: dt.date,
    *,
    previous: ReportFrames | None = None,
    sections: list[Section] | None = None,
) -> dict[str, Any]:
    """Every figure of the report: core totals and daily series, then each registered section's data."""
    all_brands = [brand, *competitors]
    ctx = ReportContext(frames, brand, competitors, start, end, previous=previous)
    days = ctx.days
    prev_start, prev_end = ctx.previous_period
    ctx.figures.update(
        {
            "brand": brand,
            "competitors": competitors,
            "period": {"from": start.isoformat(), "to": end.isoformat()},
            "totals": _totals(frames, all_brands),
            "previous": {
                "period": {"from": prev_start.isoformat(), "to": prev_end.isoformat()},
                "totals": _totals(previous, all_brands)
                if previous is not None
                else {b: {**_NO_TOTALS, "share_of_voice": None} for b in all_brands},
            },
            "daily": _daily(frames.counts(all_brands), brand, all_brands, days),
        }
    )
    shown = compute_sections(BRAND_SECTIONS if sections is None else sections, ctx)
    ctx.figures["_sections"] = [s.key for s in shown]
    ctx.figures["_ctx"] = ctx
    return ctx.figures


def brand_report(
    warehouse: str | Path, brand: str, competitors: list[str], start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Compute the figures of the period and the previous period of the same length: counts and the rows shown
    read in SQL, the posts of customers' accounts (CRM sections) as a frame."""
    n = (end - start).days + 1
    frames = load_frames(warehouse, start, end, linked_only=True)
    previous = period_frames(warehouse, start - dt.timedelta(days=n), start - dt.timedelta(days=1))  # counts only
    return brand_figures(frames, brand, competitors, start, end, previous=previous)


def no_mentions_message(figures: dict[str, Any]) -> str | None:
    """The one line the CLI and the report show when the brand has no mention in the period."""
    if figures["totals"][figures["brand"]]["mentions"]:
        return None
    p = figures["period"]
    return (
        f"no mentions of brand {figures['brand']} from {p['from']} to {p['to']} — "
        "check `brand` (name, aliases, query) and `competitors` in yuqing.toml"
    )


def public_figures(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if not k.startswith("_")}


def write_brand_report(figures: dict[str, Any], out_dir: Path, *, pdf: bool = True) -> list[Path]:
    """HTML (self-contained), JSON and CSV exports, and a PDF when Chromium is available."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx: ReportContext = figures["_ctx"]
    registry = {s.key: s for s in BRAND_SECTIONS}
    empty = no_mentions_message(figures)
    shown = [] if empty else [registry[k] for k in figures["_sections"] if k in registry]
    blocks = [(s, s.charts(figures[s.key], ctx)) for s in shown]
    html_path = out_dir / "brand_report.html"
    html_path.write_text(render("brand.html.j2", f=figures, blocks=blocks, empty=empty, ctx=ctx), encoding="utf-8")
    json_path = out_dir / "brand_report.json"
    json_path.write_text(
        json.dumps(public_figures(figures), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    d = figures["daily"]
    csv_path = out_dir / "brand_daily.csv"
    pd.DataFrame(
        {
            "day": d["days"],
            **{f"volume_{b}": v for b, v in d["volume"].items()},
            "sentiment": d["sentiment"],
            "sentiment_lo": d["sentiment_lo"],
            "sentiment_hi": d["sentiment_hi"],
            "complaints": d["complaints"],
        }
    ).to_csv(csv_path, index=False)
    paths = [html_path, json_path, csv_path]
    paths += write_extras(shown, figures, html_path, prefix="brand", pdf=pdf)
    return paths
