"""The brand reputation report: every figure computed once into ``figures`` → HTML, PDF, JSON and CSV.

The HTML renders exactly the ``figures`` dict that is also exported as JSON, so the
numbers people read are the numbers BI tools load (and a test recomputes them
from the warehouse with SQL).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from reports.charts import bar_chart, donut_chart, line_chart
from reports.data import ReportFrames
from reports.html import render
from store.pii import redact_text

__all__ = ["brand_figures", "write_brand_report"]


def _mentions(posts: pd.DataFrame, brand: str) -> pd.DataFrame:
    return posts[[brand in b for b in posts["brands"]]]


def _brand_sent(p: pd.DataFrame, brand: str) -> pd.Series:
    return pd.Series(
        [d.get(brand) if isinstance(d, dict) else None for d in p["brand_sentiment"]], index=p.index, dtype=float
    )


def brand_figures(
    frames: ReportFrames, brand: str, competitors: list[str], start: dt.date, end: dt.date
) -> dict[str, Any]:
    posts = frames.posts
    days = pd.date_range(start, end, freq="D")
    day_labels = [d.strftime("%m-%d") for d in days]
    all_brands = [brand, *competitors]
    volume: dict[str, list[int]] = {}
    totals: dict[str, dict[str, Any]] = {}
    for b in all_brands:
        m = _mentions(posts, b)
        per_day = m.groupby(m["created_at"].dt.date).size()
        volume[b] = [int(per_day.get(d.date(), 0)) for d in days]
        s = _brand_sent(m, b)
        totals[b] = {
            "mentions": len(m),
            "sentiment": round(float(s.mean()), 3) if len(m) else None,
            "negative_share": round(float((s < 0.4).mean()), 3) if len(m) else None,
            "complaints": int(m["complaint"].sum()),
        }
    total_mentions = sum(t["mentions"] for t in totals.values()) or 1
    for b in all_brands:
        totals[b]["share_of_voice"] = round(totals[b]["mentions"] / total_mentions, 3)
    mine = _mentions(posts, brand)
    sent_day = _brand_sent(mine, brand).groupby(mine["created_at"].dt.date).mean()
    complaints_day = mine[mine["complaint"]].groupby(mine["created_at"].dt.date).size()
    cats = mine[mine["complaint"]]["complaint_category"].value_counts()
    topics = pd.DataFrame(columns=["topic", "topic_label", "posts", "sentiment"])
    if "topic" in mine.columns and mine["topic"].notna().any():
        t = mine.dropna(subset=["topic"])
        topics = (
            t.groupby(["topic", "topic_label"])
            .agg(posts=("id", "size"), sentiment=("sentiment", "mean"))
            .reset_index()
            .sort_values("posts", ascending=False)
            .head(10)
        )
    split = pd.Timestamp(end - dt.timedelta(days=6))
    recent_kw = [str(k).split() for k in mine[mine["created_at"].dt.tz_localize(None) >= split]["keywords"].fillna("")]
    base_kw = [str(k).split() for k in mine[mine["created_at"].dt.tz_localize(None) < split]["keywords"].fillna("")]
    from nlp.keywords import rising_keywords

    rising = rising_keywords(recent_kw, base_kw, k=12, min_count=3)
    by_platform = {
        str(plat): {
            "posts": len(group),
            "mentions": len(_mentions(group, brand)),
            "complaints": int(_mentions(group, brand)["complaint"].sum()),
        }
        for plat, group in posts.groupby("platform", sort=True)
    }
    engagement = mine["reposts_count"] + mine["comments_count"] + mine["attitudes_count"]
    top_posts = mine.assign(engagement=engagement).sort_values("engagement", ascending=False).head(10)
    leaders = frames.leaders.head(10) if not frames.leaders.empty else pd.DataFrame()
    figures: dict[str, Any] = {
        "brand": brand,
        "competitors": competitors,
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "totals": totals,
        "platforms": by_platform,
        "daily": {
            "days": [d.date().isoformat() for d in days],
            "volume": volume,
            "sentiment": [
                None if pd.isna(sent_day.get(d.date())) else round(float(sent_day.get(d.date())), 3) for d in days
            ],
            "complaints": [int(complaints_day.get(d.date(), 0)) for d in days],
        },
        "complaint_categories": {str(k): int(v) for k, v in cats.items()},
        "topics": topics.to_dict("records"),
        "rising_keywords": rising.to_dict("records"),
        "top_posts": [
            {
                "id": r.id,
                "author": r.author_name,
                "text": redact_text(str(r.text))[:140],  # no phone or e-mail in clear in a report
                "created_at": r.created_at.isoformat(),
                "engagement": int(r.engagement),
                "sentiment": None if pd.isna(r.sentiment) else round(float(r.sentiment), 3),
            }
            for r in top_posts.itertuples()
        ],
        "leaders": [
            {
                "rank": int(r["rank"]),
                "name": r.get("screen_name") or r["author_id"],
                "score": float(r["score"]),
                "reasons": r["reasons"],
            }
            for r in leaders.to_dict("records")
        ],
        "communities": frames.communities.head(10).to_dict("records") if not frames.communities.empty else [],
        "customers": _customer_lists(frames.customers),
        "_day_labels": day_labels,
    }
    return figures


def _customer_lists(view: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    if view.empty:
        return {"call_first": [], "advocates": []}
    from graph.customers import customer_actions

    actions = customer_actions(view, top=10)
    keep = ["customer_id", "name", "phone", "rfm_segment", "clv", "open_complaints", "influence", "sentiment"]

    def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
        out = frame[[c for c in keep if c in frame.columns]].copy()
        return json.loads(out.to_json(orient="records", force_ascii=False))

    return {"call_first": rows(actions["call_first"]), "advocates": rows(actions["advocates"])}


def write_brand_report(figures: dict[str, Any], out_dir: Path, *, pdf: bool = True) -> list[Path]:
    """HTML (self-contained), JSON and CSV exports, and a PDF when Chromium is available."""
    out_dir.mkdir(parents=True, exist_ok=True)
    brand = figures["brand"]
    d = figures["daily"]
    labels = figures["_day_labels"]
    charts = {
        "volume": line_chart(labels, d["volume"], title="提及量（每日）"),
        "sentiment": line_chart(
            labels,
            {f"{brand} 情感": [s if s is not None else float("nan") for s in d["sentiment"]]},
            title="品牌情感（每日均值，1=正面）",
            y_min=0,
            y_max=1,
            y_format="{:.2f}",
        ),
        "complaints": line_chart(
            labels,
            {"投诉": d["complaints"]},
            title="投诉量（每日）",
            highlight=[i for i, v in enumerate(d["complaints"]) if v and v >= max(d["complaints"]) * 0.6],
        ),
        "sov": donut_chart(
            list(figures["totals"]), [t["mentions"] for t in figures["totals"].values()], title="声量份额"
        ),
        "categories": bar_chart(
            list(figures["complaint_categories"]),
            list(figures["complaint_categories"].values()),
            title="投诉类别",
            color="#dc2626",
        ),
    }
    if figures["topics"]:
        charts["topics"] = bar_chart(
            [t["topic_label"] for t in figures["topics"]],
            [t["posts"] for t in figures["topics"]],
            title="热门话题（帖子数）",
        )
    html_path = out_dir / "brand_report.html"
    html_path.write_text(render("brand.html.j2", f=figures, charts=charts), encoding="utf-8")
    public = {k: v for k, v in figures.items() if not k.startswith("_")}
    json_path = out_dir / "brand_report.json"
    json_path.write_text(json.dumps(public, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    csv_path = out_dir / "brand_daily.csv"
    daily = pd.DataFrame(
        {
            "day": d["days"],
            **{f"volume_{b}": v for b, v in d["volume"].items()},
            "sentiment": d["sentiment"],
            "complaints": d["complaints"],
        }
    )
    daily.to_csv(csv_path, index=False)
    paths = [html_path, json_path, csv_path]
    if pdf:
        from reports.pdf import html_to_pdf

        pdf_path = html_to_pdf(html_path, out_dir / "brand_report.pdf")
        if pdf_path is not None:
            paths.append(pdf_path)
    return paths
