"""Campaign effect evaluation: pre/during/post windows, lift vs the pre-period and vs competitors (DiD).

Daily series per brand: volume (posts naming the brand), reach (followers of the
authors), engagement (reposts + comments + likes), sentiment toward the brand.
Lift = during mean / pre mean − 1.  Difference-in-differences on log volume:
(brand during − brand pre) − (competitors during − competitors pre), with a 95 %
interval from a day-block bootstrap.  Carriers: the authors and communities of the
campaign-hashtag posts, ranked by the reach they brought.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.charts import bar_chart, line_chart
from reports.data import ReportFrames
from reports.html import render
from store.settings import Campaign

__all__ = ["campaign_figures", "write_campaign_report"]

METRICS = ("volume", "reach", "engagement", "sentiment")


def _daily(posts: pd.DataFrame, brand: str, days: pd.DatetimeIndex) -> pd.DataFrame:
    m = posts[[brand in b for b in posts["brands"]]]
    key = m["created_at"].dt.date
    sent = pd.Series([d.get(brand) if isinstance(d, dict) else np.nan for d in m["brand_sentiment"]], index=m.index)
    g = pd.DataFrame(
        {
            "volume": m.groupby(key).size(),
            "reach": m.groupby(key)["followers"].sum(),
            "engagement": (m["reposts_count"] + m["comments_count"] + m["attitudes_count"]).groupby(key).sum(),
            "sentiment": sent.groupby(key).mean(),
        }
    )
    return g.reindex([d.date() for d in days]).fillna({"volume": 0, "reach": 0, "engagement": 0})


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


def campaign_figures(
    frames: ReportFrames, campaign: Campaign, brand: str, competitors: list[str], *, seed: int = 0
) -> dict[str, Any]:
    posts = frames.posts
    start = campaign.start - dt.timedelta(days=campaign.pre_days)
    end = campaign.end + dt.timedelta(days=campaign.post_days)
    days = pd.date_range(start, end, freq="D")
    dates = np.array([d.date() for d in days])
    pre = dates < campaign.start
    during = (dates >= campaign.start) & (dates <= campaign.end)
    post = dates > campaign.end
    series = {b: _daily(posts, b, days) for b in [brand, *competitors]}
    rng = np.random.default_rng(seed)
    lift: dict[str, Any] = {}
    for metric in METRICS:
        s = series[brand][metric].to_numpy(dtype=float)
        pre_mean, dur_mean = np.nanmean(s[pre]), np.nanmean(s[during])
        post_mean = float(np.nanmean(s[post])) if post.any() else None
        lift[metric] = {
            "pre": round(float(pre_mean), 3),
            "during": round(float(dur_mean), 3),
            "post": None if post_mean is None else round(post_mean, 3),
            "lift": None if not pre_mean else round(float(dur_mean / pre_mean - 1), 3),
        }
    ctrl = sum((series[c]["volume"].to_numpy(dtype=float) for c in competitors), np.zeros(len(days)))
    did, lo, hi = _did(series[brand]["volume"].to_numpy(dtype=float), ctrl, pre, during, rng)
    total = series[brand]["volume"].to_numpy() + ctrl
    sov = series[brand]["volume"].to_numpy() / np.where(total == 0, 1, total)
    topic_lists = [list(t) if t is not None and not isinstance(t, float) else [] for t in posts["topics"]]
    tag_posts = posts[
        [
            any(h in t or f"#{h}#" in (x or "") for h in campaign.hashtags)
            for t, x in zip(topic_lists, posts["text"], strict=True)
        ]
    ]
    tag_posts = tag_posts[
        (tag_posts["created_at"].dt.date >= campaign.start) & (tag_posts["created_at"].dt.date <= campaign.end)
    ]
    carriers = (
        tag_posts.groupby(["author_id", "author_name"])
        .agg(posts=("id", "size"), reach=("followers", "sum"), engagement=("reposts_count", "sum"))
        .reset_index()
        .sort_values("reach", ascending=False)
        .head(10)
    )
    member = frames.members.set_index("author_id")["community"] if not frames.members.empty else pd.Series(dtype=int)
    comm = (
        tag_posts.assign(community=tag_posts["author_id"].map(member))
        .dropna(subset=["community"])
        .groupby("community")
        .size()
        .sort_values(ascending=False)
        .head(5)
    )
    new_customers = 0
    if not frames.links.empty and not tag_posts.empty:
        new_customers = int(
            frames.links[frames.links["author_id"].isin(tag_posts["author_id"])]["customer_id"].nunique()
        )
    return {
        "campaign": campaign.name,
        "hashtags": campaign.hashtags,
        "brand": brand,
        "competitors": competitors,
        "windows": {
            "pre": [start.isoformat(), (campaign.start - dt.timedelta(days=1)).isoformat()],
            "during": [campaign.start.isoformat(), campaign.end.isoformat()],
            "post": [(campaign.end + dt.timedelta(days=1)).isoformat(), end.isoformat()],
        },
        "lift": lift,
        "did_volume": {"lift": round(did, 3), "ci95": [round(lo, 3), round(hi, 3)]},
        "share_of_voice": {"pre": round(float(sov[pre].mean()), 3), "during": round(float(sov[during].mean()), 3)},
        "hashtag_posts": len(tag_posts),
        "linked_customers_in_campaign": new_customers,
        "carriers": json.loads(carriers.to_json(orient="records", force_ascii=False)),
        "communities": {str(int(k)): int(v) for k, v in comm.items()},
        "daily": {
            "days": [d.isoformat() for d in dates],
            "volume": {b: series[b]["volume"].astype(int).tolist() for b in series},
        },
        "_during_idx": np.flatnonzero(during).tolist(),
    }


def write_campaign_report(figures: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = [d[5:] for d in figures["daily"]["days"]]
    charts = {
        "volume": line_chart(
            labels, figures["daily"]["volume"], title="活动前后提及量（高亮为活动期）", highlight=figures["_during_idx"]
        ),
        "carriers": bar_chart(
            [c["author_name"] or c["author_id"] for c in figures["carriers"]],
            [c["reach"] for c in figures["carriers"]],
            title="活动传播者（触达粉丝数）",
        ),
    }
    slug = "".join(ch if ch.isalnum() else "_" for ch in figures["campaign"])
    html_path = out_dir / f"campaign_{slug}.html"
    html_path.write_text(render("campaign.html.j2", f=figures, charts=charts), encoding="utf-8")
    json_path = out_dir / f"campaign_{slug}.json"
    json_path.write_text(
        json.dumps({k: v for k, v in figures.items() if not k.startswith("_")}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    return [html_path, json_path]
