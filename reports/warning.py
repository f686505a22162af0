"""Complaint early warning: spikes against a seasonal baseline, scored by who is affected, tracked as alerts.

Detection (per brand and complaint category, per bucket — hour by default): the
baseline is the same hour-of-day over the trailing ``baseline_days`` days; the
spike score is a robust z-score ``(count - median) / (1.4826 · MAD)`` with a floor
on the scale (sparse series have MAD 0).  A bucket fires when ``z ≥ threshold``
and ``count ≥ min_count``.

Scoring: affected customers' value (CLV of linked customers among the authors)
and the authors' influence lift the severity of a spike.

State: spikes for the same (brand, category) within a gap of a few buckets are one
alert; an alert goes ``new`` → ``ongoing`` (it keeps firing) → ``resolved``
(``resolve_after`` quiet buckets).  Every alert keeps its evidence (post ids, masked texts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["AlertRules", "complaint_counts", "detect_spikes", "score_spikes", "update_alerts"]

MAD_SCALE = 1.4826


@dataclass(frozen=True)
class AlertRules:
    threshold: float = 3.0
    min_count: int = 5
    bucket: str = "hour"
    baseline_days: int = 14
    resolve_after: int = 3
    scale_floor: float = 1.0

    @property
    def freq(self) -> str:
        return "h" if self.bucket == "hour" else "D"


def complaint_counts(posts: pd.DataFrame, brands: list[str], rules: AlertRules) -> pd.DataFrame:
    """Counts per (bucket, brand, category): complaints, plus negatives for context."""
    rows = []
    for brand in brands:
        m = posts[[brand in b for b in posts["brands"]]]
        c = m[m["complaint"]]
        if c.empty:
            continue
        bucket = c["created_at"].dt.floor(rules.freq)
        g = c.groupby([bucket, c["complaint_category"]]).size().rename("complaints").reset_index()
        g.columns = ["bucket_start", "category", "complaints"]
        g["brand"] = brand
        rows.append(g)
    if not rows:
        return pd.DataFrame(columns=["bucket_start", "category", "complaints", "brand"])
    return pd.concat(rows, ignore_index=True)


def detect_spikes(counts: pd.DataFrame, rules: AlertRules, *, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Buckets whose count is a spike against the seasonal baseline; zero buckets are filled in."""
    out = []
    index = pd.date_range(start.floor(rules.freq), end.floor(rules.freq), freq=rules.freq)
    period = 24 if rules.bucket == "hour" else 7
    window = rules.baseline_days * (24 if rules.bucket == "hour" else 1) // period
    for (brand, category), g in counts.groupby(["brand", "category"]):
        series = g.set_index("bucket_start")["complaints"].reindex(index, fill_value=0).to_numpy(dtype=float)
        for i in range(len(series)):
            same_phase = series[i - period :: -period][:window] if i >= period else np.array([])
            if len(same_phase) < 3:
                same_phase = series[max(0, i - 3 * period) : i]
            if len(same_phase) < 3:
                continue
            med = float(np.median(same_phase))
            scale = max(rules.scale_floor, MAD_SCALE * float(np.median(np.abs(same_phase - med))))
            z = (series[i] - med) / scale
            if z >= rules.threshold and series[i] >= rules.min_count:
                out.append(
                    {
                        "bucket_start": index[i],
                        "brand": brand,
                        "category": category,
                        "complaints": int(series[i]),
                        "baseline": med,
                        "z": round(float(z), 2),
                    }
                )
    return pd.DataFrame(out, columns=["bucket_start", "brand", "category", "complaints", "baseline", "z"])


def score_spikes(spikes: pd.DataFrame, posts: pd.DataFrame, customers: pd.DataFrame, rules: AlertRules) -> pd.DataFrame:
    """Add evidence and severity: affected customers (by CLV) and the authors' reach."""
    if spikes.empty:
        return spikes.assign(severity=[], evidence=[], affected_customers=[], affected_clv=[], reach=[])
    clv = customers.set_index("author_id")["clv"] if not customers.empty and "author_id" in customers else pd.Series()
    cid = (
        customers.set_index("author_id")["customer_id"]
        if not customers.empty and "author_id" in customers
        else pd.Series()
    )
    width = pd.Timedelta(hours=1) if rules.bucket == "hour" else pd.Timedelta(days=1)
    sev, ev, aff, aff_clv, reach = [], [], [], [], []
    from store.pii import redact_text

    for s in spikes.itertuples():
        p = posts[
            (posts["created_at"] >= s.bucket_start)
            & (posts["created_at"] < s.bucket_start + width)
            & posts["complaint"]
            & (posts["complaint_category"] == s.category)
            & np.array([s.brand in b for b in posts["brands"]], dtype=bool)
        ]
        authors = p["author_id"].unique()
        customers_hit = sorted({str(cid[a]) for a in authors if a in cid.index})
        value = float(sum(float(clv[a]) for a in authors if a in clv.index and clv[a] == clv[a]))
        r = int(p["followers"].sum()) if "followers" in p else 0
        aff.append(customers_hit)
        aff_clv.append(round(value, 2))
        reach.append(r)
        sev.append(round(float(s.z) * (1 + np.log1p(value) / 10 + np.log1p(r) / 20), 2))
        top = p.sort_values("followers", ascending=False).head(5) if "followers" in p else p.head(5)
        ev.append([{"id": str(x.id), "text": redact_text(str(x.text))[:140]} for x in top.itertuples()])
    return spikes.assign(severity=sev, evidence=ev, affected_customers=aff, affected_clv=aff_clv, reach=reach)


def _alert_id(brand: str, category: str, start: pd.Timestamp) -> str:
    return hashlib.sha1(f"{brand}|{category}|{start.isoformat()}".encode()).hexdigest()[:12]  # noqa: S324


def update_alerts(
    alerts: pd.DataFrame, spikes: pd.DataFrame, now: pd.Timestamp, rules: AlertRules
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Merge new spikes into the alert table; returns the table and the state-change events to dispatch."""
    cols = [
        "alert_id",
        "brand",
        "category",
        "status",
        "started_at",
        "last_spike_at",
        "peak_z",
        "complaints",
        "severity",
        "affected_customers",
        "affected_clv",
        "reach",
        "evidence",
        "updated_at",
    ]
    table = alerts.copy() if not alerts.empty else pd.DataFrame(columns=cols)
    events: list[dict[str, Any]] = []
    width = pd.Timedelta(hours=1) if rules.bucket == "hour" else pd.Timedelta(days=1)
    gap = width * (rules.resolve_after + 1)
    for s in spikes.sort_values("bucket_start").itertuples():
        open_ = table[
            (table["brand"] == s.brand)
            & (table["category"] == s.category)
            & (table["status"] != "resolved")
            & (pd.to_datetime(table["last_spike_at"], utc=True) >= s.bucket_start - gap)
        ]
        if open_.empty:
            row = {
                "alert_id": _alert_id(s.brand, s.category, s.bucket_start),
                "brand": s.brand,
                "category": s.category,
                "status": "new",
                "started_at": s.bucket_start,
                "last_spike_at": s.bucket_start,
                "peak_z": s.z,
                "complaints": s.complaints,
                "severity": s.severity,
                "affected_customers": list(s.affected_customers),
                "affected_clv": s.affected_clv,
                "reach": s.reach,
                "evidence": list(s.evidence),
                "updated_at": now,
            }
            if (table["alert_id"] == row["alert_id"]).any():
                continue  # already known: re-running detection is idempotent
            table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
            events.append({**row, "event": "new"})
        else:
            i = open_.index[0]
            if pd.Timestamp(table.at[i, "last_spike_at"]) >= s.bucket_start:
                continue
            table.at[i, "last_spike_at"] = s.bucket_start
            table.at[i, "peak_z"] = max(float(table.at[i, "peak_z"]), s.z)
            table.at[i, "complaints"] = int(table.at[i, "complaints"]) + s.complaints
            table.at[i, "severity"] = max(float(table.at[i, "severity"]), s.severity)
            table.at[i, "affected_customers"] = sorted(
                set(table.at[i, "affected_customers"]) | set(s.affected_customers)
            )
            table.at[i, "evidence"] = (list(table.at[i, "evidence"]) + list(s.evidence))[:10]
            if table.at[i, "status"] == "new":
                table.at[i, "status"] = "ongoing"
                events.append({**table.loc[i].to_dict(), "event": "ongoing"})
            table.at[i, "updated_at"] = now
    for i in table.index:
        if table.at[i, "status"] != "resolved" and pd.Timestamp(table.at[i, "last_spike_at"]) + gap <= now:
            table.at[i, "status"] = "resolved"
            table.at[i, "updated_at"] = now
            events.append({**table.loc[i].to_dict(), "event": "resolved"})
    return table[cols], events
