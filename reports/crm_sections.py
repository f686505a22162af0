"""Brand report sections from the CRM side: complaints without a ticket, and the churn warning (docs/crm.md).

Names are the customer view's masked ones; a section is left out when its input is missing (no tickets
imported, no orders).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from yuqing.reports.data import names
from yuqing.reports.sections import BRAND_SECTIONS, ReportContext, Section, register

__all__: list[str] = []
_TOP = 15


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(json.loads(frame.to_json(orient="records", force_ascii=False, date_format="iso")))


def _no_ticket(ctx: ReportContext) -> dict[str, Any] | None:
    from yuqing.graph.customers import complaints_without_ticket

    f = ctx.frames
    if f.customers.empty or f.tickets.empty:
        return None
    about = names(f.posts["brands"], ctx.brand)
    posts = f.posts[f.posts["complaint"].astype(bool) & about]
    view = f.customers[["customer_id", "clv", "rfm_segment"]]
    rows = complaints_without_ticket(posts, f.links, view, f.tickets)
    rows["name"] = rows["customer_id"].map(f.customers.set_index("customer_id")["name"]).fillna("")
    rows["last_complaint"] = [f"{t:%Y-%m-%d %H:%M}" for t in rows["last_complaint"]]
    keep = ["customer_id", "name", "rfm_segment", "clv", "complaints", "last_complaint", "categories", "closed_tickets"]
    return {"customers": len(rows), "clv": round(float(rows["clv"].sum()), 2), "rows": _records(rows[keep].head(_TOP))}


def _churn(ctx: ReportContext) -> dict[str, Any] | None:
    from yuqing.graph.churn import churn_risk

    f = ctx.frames
    if f.customers.empty or f.orders.empty:
        return None
    end = pd.Timestamp(dt.datetime.combine(ctx.end + dt.timedelta(days=1), dt.time()), tz="Asia/Shanghai")
    risk = churn_risk(
        f.orders[pd.to_datetime(f.orders["ordered_at"], utc=True) < end],
        f.customers[["customer_id", "clv"]].dropna(),
        posts=f.posts,
        links=f.links,
        tickets=f.tickets,
        brand=ctx.brand,
        competitors=ctx.competitors,
        now=end,
    )
    risk = risk[(risk["risk"] >= 0.3) & ~risk["lost"].astype(bool)]
    view = f.customers.set_index("customer_id")
    risk = risk.assign(
        name=risk["customer_id"].map(view["name"]).fillna(""),
        rfm_segment=risk["customer_id"].map(view["rfm_segment"]).fillna(""),
        reasons=["；".join(r) for r in risk["reasons"]],
    )
    keep = ["customer_id", "name", "rfm_segment", "risk", "clv", "clv_at_risk", "reasons"]
    return {
        "customers": len(risk),
        "clv_at_risk": round(float(risk["clv_at_risk"].sum()), 2),
        "rows": _records(risk[keep].head(_TOP)),
    }


def _rows(data: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(data["rows"])


register(
    BRAND_SECTIONS, Section("no_ticket", "公开投诉但无工单的客户", compute=_no_ticket, rows=_rows), after="customers"
)
register(BRAND_SECTIONS, Section("churn", "客户流失预警", compute=_churn, rows=_rows), after="no_ticket")
