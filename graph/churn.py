"""Churn warning (客户流失预警): a risk score per customer from the CRM and, for linked customers, the social side.

Pure code (pandas/numpy only).  Every signal is in [0, 1] and comes with its reason:

CRM side
    ``overdue``   recency slipping against the customer's *own* rhythm: days since the last order divided by
                  the median gap between their orders (customers with one order: the median gap of all
                  customers, at half weight, and no trend below); 0 up to 1.5 gaps, 1 at 4 gaps.
    ``fewer``     frequency trend: orders in the last window against the window before (1 − recent/previous,
                  only when there were orders before); the window is three usual gaps, 30 to ``window_days``.
    ``less``      spend trend: the same on the amount spent.

Social side (linked customers only)
    ``negative``  turned negative: mean sentiment of the last ``social_days`` below 0.4 and at least 0.15 below
                  the customer's earlier mean (or all recent posts negative when there is no earlier post).
    ``unresolved`` complained about the brand (naming it, or naming no brand) with no ticket closed after it.
    ``competitor`` wrote about a competitor in the last ``social_days`` without a positive word about the brand.

Score = Σ weight × signal (weights in :data:`WEIGHTS`, summing to 1); ``clv_at_risk`` = score × CLV.  A customer
with no order for more than :data:`LOST_DAYS` is marked ``lost`` (already gone; the warning is about the others).  The
RFM-only baseline (:func:`rfm_risk`) ranks by the RFM recency score alone (then frequency, monetary) — what a
CRM without the rhythm and the social side would say.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = ["LOST_DAYS", "WEIGHTS", "churn_risk", "rfm_risk"]

WEIGHTS = {"overdue": 0.35, "fewer": 0.1, "less": 0.1, "negative": 0.15, "unresolved": 0.2, "competitor": 0.1}
REASONS = {  # Chinese, like the reports they appear in
    "overdue": "距上次下单已 {gaps:.1f} 个购买周期（平时约 {gap:.0f} 天一单）",
    "fewer": "订单数较前 {window:.0f} 天下降 {fewer:.0%}",
    "less": "消费额较前 {window:.0f} 天下降 {less:.0%}",
    "negative": "情感转负（近期 {recent:.2f}，此前 {before:.2f}）",
    "unresolved": "公开投诉 {complaints} 次，之后没有已结工单",
    "competitor": "近期谈论竞品：{competitors}",
}
_COLUMNS = ["customer_id", "risk", "clv", "clv_at_risk", "reasons", *WEIGHTS, "recency_days", "usual_gap_days", "lost"]
LOST_DAYS = 365


def _crm_signals(orders: pd.DataFrame, now: pd.Timestamp, window_days: int) -> pd.DataFrame:
    o = orders.assign(
        amount=orders["amount"].astype(float), ordered_at=pd.to_datetime(orders["ordered_at"], utc=True)
    ).sort_values(["customer_id", "ordered_at"])
    gaps = o.groupby("customer_id")["ordered_at"].diff().dt.total_seconds() / 86400
    usual = gaps.groupby(o["customer_id"]).median()
    overall = float(np.nanmedian(usual.to_numpy())) if usual.notna().any() else 90.0
    g = o.groupby("customer_id").agg(last=("ordered_at", "max"), orders=("amount", "size"))
    g["recency_days"] = (now - g["last"]).dt.total_seconds() / 86400
    g["usual_gap_days"] = usual.reindex(g.index).fillna(overall).clip(lower=7.0)
    g["gaps"] = g["recency_days"] / g["usual_gap_days"]
    g["overdue"] = ((g["gaps"] - 1.5) / 2.5).clip(0.0, 1.0)
    one = g["orders"] < 2  # a one-off buyer has no rhythm of their own: half the weight, no trend
    g.loc[one, "overdue"] = g.loc[one, "overdue"] * 0.5
    # the trend window follows the customer's rhythm: three usual gaps, at least 30 and at most window_days
    window = o["customer_id"].map(g["usual_gap_days"] * 3).clip(30.0, float(window_days))
    g["window_days"] = (g["usual_gap_days"] * 3).clip(30.0, float(window_days))
    age = (now - o["ordered_at"]).dt.total_seconds() / 86400
    recent = o[age <= window].groupby("customer_id").agg(n=("amount", "size"), spend=("amount", "sum"))
    before = o[(age > window) & (age <= 2 * window)].groupby("customer_id")
    before_agg = before.agg(n=("amount", "size"), spend=("amount", "sum"))
    n_now = recent["n"].reindex(g.index).fillna(0.0)
    n_before = before_agg["n"].reindex(g.index).fillna(0.0)
    s_now = recent["spend"].reindex(g.index).fillna(0.0)
    s_before = before_agg["spend"].reindex(g.index).fillna(0.0)
    g["fewer"] = np.where(n_before > 0, (1 - n_now / n_before.where(n_before > 0, 1)).clip(0, 1), 0.0)
    g["less"] = np.where(s_before > 0, (1 - s_now / s_before.where(s_before > 0, 1)).clip(0, 1), 0.0)
    g.loc[one, ["fewer", "less"]] = 0.0
    return g.drop(columns=["last", "orders"])


def _social_signals(
    posts: pd.DataFrame,
    links: pd.DataFrame,
    tickets: pd.DataFrame,
    brand: str,
    competitors: list[str],
    now: pd.Timestamp,
    social_days: int,
) -> pd.DataFrame:
    cols = ["negative", "unresolved", "competitor", "recent", "before", "complaints", "competitors"]
    if posts.empty or links.empty:
        return pd.DataFrame(columns=cols)
    p = posts.merge(links[["customer_id", "platform", "author_id"]], on=["platform", "author_id"])
    if p.empty:
        return pd.DataFrame(columns=cols)
    p = p.assign(created_at=pd.to_datetime(p["created_at"], utc=True))
    recent_mask = p["created_at"] >= now - pd.Timedelta(days=social_days)
    sent = p.dropna(subset=["sentiment"])
    rec = sent[recent_mask.loc[sent.index]].groupby("customer_id")["sentiment"].mean()
    old = sent[~recent_mask.loc[sent.index]].groupby("customer_id")["sentiment"].mean()
    out = pd.DataFrame(index=pd.Index(sorted(set(p["customer_id"])), name="customer_id"))
    out["recent"], out["before"] = rec.reindex(out.index), old.reindex(out.index)
    dropped = (out["recent"] < 0.4) & ((out["before"] - out["recent"] >= 0.15) | out["before"].isna())
    out["negative"] = dropped.astype(float)
    # about the brand: names it, or names no brand at all (a customer's own complaint rarely names the maker)
    mentions = [
        brand in list(b) or not len(b) if b is not None and not isinstance(b, float) else True for b in p["brands"]
    ]
    about = p[np.array(mentions, dtype=bool) & p["complaint"].fillna(False).astype(bool)]
    first_complaint = about.groupby("customer_id")["created_at"].min()
    out["complaints"] = about.groupby("customer_id").size().reindex(out.index).fillna(0).astype(int)
    closed_after = pd.Series(False, index=out.index)
    if not tickets.empty:
        t = tickets[~tickets["is_open"].astype(bool)].assign(opened_at=pd.to_datetime(tickets["opened_at"], utc=True))
        last_closed = t.groupby("customer_id")["opened_at"].max()
        closed_after = (last_closed.reindex(out.index) >= first_complaint.reindex(out.index)).fillna(False)
    out["unresolved"] = ((out["complaints"] > 0) & ~closed_after.astype(bool)).astype(float)
    rp = p[recent_mask]
    names: dict[str, set[str]] = {}
    praised: set[str] = set()
    for cid, b, s in zip(rp["customer_id"], rp["brands"], rp["sentiment"], strict=True):
        found = list(b) if b is not None and not isinstance(b, float) else []
        names.setdefault(cid, set()).update(c for c in competitors if c in found)
        if brand in found and s == s and float(s) >= 0.6:
            praised.add(cid)
    out["competitors"] = ["、".join(sorted(names.get(c, set()))) for c in out.index]
    out["competitor"] = [float(bool(names.get(c)) and c not in praised) for c in out.index]
    return out[cols]


def churn_risk(
    orders: pd.DataFrame,
    clv: pd.DataFrame,
    *,
    posts: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    tickets: pd.DataFrame | None = None,
    brand: str = "",
    competitors: list[str] | None = None,
    now: dt.datetime | pd.Timestamp | None = None,
    window_days: int = 180,
    social_days: int = 30,
) -> pd.DataFrame:
    """Churn risk per customer with orders, highest CLV at risk first.

    ``orders``: customer_id, amount, ordered_at; ``clv``: customer_id, clv (graph.customers.rfm);
    ``posts``: platform, author_id, created_at, sentiment, complaint, brands (list); ``links``: customer_id,
    platform, author_id; ``tickets``: customer_id, opened_at, is_open.  ``reasons`` is a list of sentences.
    """
    if orders.empty:
        return pd.DataFrame(columns=_COLUMNS)
    now_ts = pd.Timestamp(now) if now is not None else pd.Timestamp(dt.datetime.now(dt.UTC))
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts
    out = _crm_signals(orders, now_ts, window_days)
    social = _social_signals(
        posts if posts is not None else pd.DataFrame(),
        links if links is not None else pd.DataFrame(),
        tickets if tickets is not None else pd.DataFrame(),
        brand,
        competitors or [],
        now_ts,
        social_days,
    )
    out = out.join(social, how="left")
    for col in ("negative", "unresolved", "competitor"):
        out[col] = out[col].astype(float).fillna(0.0)
    out["risk"] = sum(w * out[k] for k, w in WEIGHTS.items()).round(3)
    value = clv.set_index("customer_id")["clv"].astype(float) if not clv.empty else pd.Series(dtype=float)
    out["clv"] = value.reindex(out.index).fillna(0.0)
    out["clv_at_risk"] = (out["risk"] * out["clv"]).round(2)
    out["reasons"] = [_reasons(r) for r in out.itertuples()]
    out["lost"] = out["recency_days"] > LOST_DAYS  # no order for a year: already lost (流失), not a warning
    out = out.reset_index().sort_values(["clv_at_risk", "risk", "customer_id"], ascending=[False, False, True])
    return out[_COLUMNS].reset_index(drop=True)


def _reasons(r: object) -> list[str]:
    get = r.__getattribute__
    out = []
    if get("overdue") > 0:
        out.append(REASONS["overdue"].format(gaps=get("gaps"), gap=get("usual_gap_days")))
    if get("fewer") > 0:
        out.append(REASONS["fewer"].format(fewer=get("fewer"), window=get("window_days")))
    if get("less") > 0:
        out.append(REASONS["less"].format(less=get("less"), window=get("window_days")))
    if get("negative") > 0:
        before = get("before")
        out.append(REASONS["negative"].format(recent=get("recent"), before=before if before == before else 0.5))
    if get("unresolved") > 0:
        out.append(REASONS["unresolved"].format(complaints=int(get("complaints"))))
    if get("competitor") > 0:
        out.append(REASONS["competitor"].format(competitors=get("competitors")))
    return out


def rfm_risk(rfm_frame: pd.DataFrame) -> pd.DataFrame:
    """The RFM-only baseline: risk = (5 − R) / 4 (long since the last order), ties by F and M (low first)."""
    out = rfm_frame[["customer_id", "r", "f", "m", "clv"]].copy()
    out["risk"] = (5 - out["r"].astype(float)) / 4
    return out.sort_values(["risk", "f", "m", "customer_id"], ascending=[False, True, True, True]).reset_index(
        drop=True
    )
