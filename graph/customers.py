"""The CRM join: link customers to accounts, RFM segments, CLV, and the lists people act on.

Linking order (strongest first), every link with its method and confidence:

1. explicit handle/uid in the CRM (confidence 1.0);
2. keyed hash (HMAC-SHA256) of the E.164 phone or the normalised e-mail, when a platform
   payload carries one (confidence 0.95) — both sides are hashed, nothing is compared in clear;
3. fuzzy name match (screen name contains the customer's name) — only a *candidate*
   (confidence ≤ 0.5), never linked automatically.

RFM: recency (days since the last order), frequency (orders), monetary (sum) scored 1–5
by quintile (rank-based, ties broken by order of customer id); a score ≥ 3 counts as
"high", and the (R, F, M) high/low pattern names one of the eight usual segments.

CLV (documented simple model): average order value × orders per year × expected
lifetime (3 years).  Orders per year are measured over the customer's history since
the first order but over at least one year (so three orders in a fortnight do not
extrapolate to 80 a year); customers silent for longer than a year count half.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd

from yuqing.graph.build import EdgeGraph
from yuqing.store.pii import check_hmac_key, hmac_hex, normalize_email, normalize_phone
from yuqing.store.schema import CustomerAccountLink, LinkMethod, Platform

__all__ = [
    "audience_edges",
    "author_identifier_hashes",
    "complaints_without_ticket",
    "customer_actions",
    "customer_view",
    "kol_customer_reach",
    "link_customers",
    "rfm",
]

RFM_NAMES = {  # (R high, F high, M high) -> the usual eight RFM segments
    (True, True, True): "重要价值客户",
    (True, False, True): "重要发展客户",
    (False, True, True): "重要保持客户",
    (False, False, True): "重要挽留客户",
    (True, True, False): "一般价值客户",
    (True, False, False): "一般发展客户",
    (False, True, False): "一般保持客户",
    (False, False, False): "一般挽留客户",
}
LIFETIME_YEARS = 3.0


def author_identifier_hashes(authors: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """(platform, author_id, kind, value) keyed hashes of contact phones/e-mails found in author payloads."""
    check_hmac_key(key)  # before the loop that skips values raising ValueError
    rows = []
    with_raw = authors[authors["raw"].notna()]  # most accounts carry no payload: nothing to hash
    columns = (with_raw["platform"].tolist(), with_raw["id"].tolist(), with_raw["raw"].tolist())
    for platform, aid, raw in zip(*columns, strict=True):
        data = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(data, dict):
            continue
        for fld, kind, norm in (
            ("contact_phone", "phone_hash", normalize_phone),
            ("phone", "phone_hash", normalize_phone),
            ("contact_email", "email_hash", normalize_email),
            ("email", "email_hash", normalize_email),
        ):
            hashed = data.get(f"{fld}_hash")  # stored pseudonymised (store.pii.pseudonymise_payload)
            if isinstance(hashed, str) and hashed:
                rows.append((platform, aid, kind, hashed))
            value = data.get(fld)
            if value:
                try:
                    rows.append((platform, aid, kind, hmac_hex(key, norm(str(value)))))
                except ValueError:
                    continue
    return pd.DataFrame(rows, columns=["platform", "author_id", "kind", "value"])


def link_customers(
    identifiers: pd.DataFrame,
    authors: pd.DataFrame,
    author_hashes: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    *,
    now: dt.datetime | None = None,
) -> tuple[list[CustomerAccountLink], pd.DataFrame]:
    """Links (explicit, then hashed) and fuzzy-name *candidates* (returned apart, never linked).

    ``identifiers``: customer_identifiers rows (customer_id, kind, value) — handles as ``handle:<platform>``.
    """
    now = now or dt.datetime.now(dt.UTC)
    links: dict[tuple[str, str, str], CustomerAccountLink] = {}
    handles = identifiers[identifiers["kind"].astype(str).str.startswith("handle:")]
    known: set[tuple[Any, str]] = set()
    by_name: dict[tuple[Any, str], str] = {}
    if len(handles):
        # only the accounts some handle spells, by id or by name: a set of every account's key was +200 MB at 1M
        # posts (414k accounts as Python tuples of strings); the filter runs on the columns
        named = handles["value"].astype(str).unique()
        spelt = authors[authors["id"].astype(str).isin(named) | authors["screen_name"].astype(str).isin(named)]
        # column lists, not itertuples: iterating Arrow-backed strings costs ~3 µs a value
        platforms, ids = spelt["platform"].tolist(), [str(a) for a in spelt["id"].tolist()]
        known = set(zip(platforms, ids, strict=True))
        by_name = dict(
            zip(zip(platforms, [str(n) for n in spelt["screen_name"].tolist()], strict=True), ids, strict=True)
        )
    for cid, kind, value in zip(
        handles["customer_id"].tolist(), handles["kind"].tolist(), handles["value"].tolist(), strict=True
    ):
        platform = str(kind).split(":", 1)[1]
        author = value if (platform, value) in known else by_name.get((platform, value))
        if author:
            links[(cid, platform, author)] = CustomerAccountLink(
                customer_id=cid,
                platform=Platform(platform),
                author_id=author,
                method=LinkMethod.UID if str(value).isdigit() else LinkMethod.HANDLE,
                confidence=1.0,
                linked_at=now,
                note=f"CRM {platform} {'uid' if str(value).isdigit() else 'handle'} {value!r} names this account",
            )
    hashed = identifiers[identifiers["kind"].isin(["phone_hash", "email_hash"])]
    matches = hashed.merge(author_hashes, on=["kind", "value"])
    for cid, kind, platform, aid in matches[["customer_id", "kind", "platform", "author_id"]].itertuples(index=False):
        key = (cid, platform, aid)
        if key not in links:
            links[key] = CustomerAccountLink(
                customer_id=cid,
                platform=Platform(platform),
                author_id=aid,
                method=LinkMethod.PHONE_HASH if kind == "phone_hash" else LinkMethod.EMAIL_HASH,
                confidence=0.95,
                linked_at=now,
                note=f"keyed hash (HMAC-SHA256) of the CRM {'phone' if kind == 'phone_hash' else 'e-mail'} "
                "equals the one of the contact in the account's profile",
            )
    candidates = pd.DataFrame(columns=["customer_id", "platform", "author_id", "method", "confidence"])
    if customers is not None and not customers.empty:
        linked_customers = {k[0] for k in links}
        rows = []
        names = customers[~customers["customer_id"].isin(linked_customers)][["customer_id", "name"]]
        screen = authors[["platform", "id", "screen_name"]].astype(str)
        for cid, name in names.itertuples(index=False):
            if len(str(name)) < 2:
                continue
            hit = screen[screen["screen_name"].str.contains(str(name), regex=False)]
            for platform, aid, sn in hit.head(3).itertuples(index=False):
                rows.append((cid, platform, aid, LinkMethod.FUZZY_NAME.value, round(min(0.5, len(name) / len(sn)), 2)))
        candidates = pd.DataFrame(rows, columns=candidates.columns)
    return list(links.values()), candidates


def rfm(orders: pd.DataFrame, *, now: dt.datetime | None = None) -> pd.DataFrame:
    """Per customer: recency (days), frequency, monetary, 1–5 scores, named segment and CLV."""
    if orders.empty:
        return pd.DataFrame(
            columns=["customer_id", "recency_days", "frequency", "monetary", "r", "f", "m", "rfm_segment", "clv"]
        )
    now_ts = pd.Timestamp(now or dt.datetime.now(dt.UTC))
    o = orders.assign(amount=orders["amount"].astype(float), ordered_at=pd.to_datetime(orders["ordered_at"], utc=True))
    g = o.groupby("customer_id").agg(
        last=("ordered_at", "max"),
        first=("ordered_at", "min"),
        frequency=("amount", "size"),
        monetary=("amount", "sum"),
    )
    g["recency_days"] = (now_ts - g["last"]).dt.days.clip(lower=0)

    def score(series: pd.Series, ascending: bool) -> pd.Series:
        ranks = series.rank(method="first", ascending=ascending, pct=True)
        return pd.Series(np.ceil(ranks.to_numpy() * 5).clip(1, 5).astype(int), index=series.index)

    g["r"] = score(g["recency_days"], ascending=False)
    g["f"] = score(g["frequency"], ascending=True)
    g["m"] = score(g["monetary"], ascending=True)
    g["rfm_segment"] = [RFM_NAMES[(r >= 3, f >= 3, m >= 3)] for r, f, m in zip(g["r"], g["f"], g["m"], strict=True)]
    span_years = ((now_ts - g["first"]).dt.days / 365.25).clip(lower=1.0)
    aov = g["monetary"] / g["frequency"]
    per_year = g["frequency"] / span_years
    g["clv"] = (aov * per_year * LIFETIME_YEARS * np.where(g["recency_days"] > 365, 0.5, 1.0)).round(2)
    return g.reset_index()[
        ["customer_id", "recency_days", "frequency", "monetary", "r", "f", "m", "rfm_segment", "clv"]
    ]


def customer_view(
    customers: pd.DataFrame,
    rfm_frame: pd.DataFrame,
    links: pd.DataFrame,
    leaders: pd.DataFrame,
    partition: dict[str, int],
    posts: pd.DataFrame,
) -> pd.DataFrame:
    """Per customer: masked identity, RFM/CLV, linked accounts, influence, community, sentiment, complaints.

    ``posts`` carries ``author_id``, ``created_at``, ``sentiment`` and ``complaint``.
    """
    from yuqing.store.pii import mask_email, mask_name, mask_phone

    view = customers[["customer_id", "name", "phone", "email", "city"]].copy()
    view["name"] = view["name"].map(mask_name)
    view["phone"] = view["phone"].map(lambda p: mask_phone(p) if p else "")
    view["email"] = view["email"].map(lambda e: mask_email(e) if e else "")
    view = view.merge(rfm_frame, on="customer_id", how="left")
    first_link = links.sort_values("confidence", ascending=False).drop_duplicates("customer_id")
    view = view.merge(first_link[["customer_id", "author_id", "method", "confidence"]], on="customer_id", how="left")
    lead = leaders.set_index("author_id")
    view["influence"] = view["author_id"].map(lead["score"]).fillna(0.0)
    view["leader_rank"] = view["author_id"].map(lead["rank"])
    view["community"] = view["author_id"].map(partition)
    p = posts[posts["author_id"].isin(view["author_id"].dropna())]
    if not p.empty:
        p = p.assign(created_at=pd.to_datetime(p["created_at"], utc=True))
        cutoff = p["created_at"].max() - pd.Timedelta(days=14)
        agg = p.groupby("author_id").agg(
            posts=("sentiment", "size"), sentiment=("sentiment", "mean"), complaints=("complaint", "sum")
        )
        recent = p[p["created_at"] >= cutoff].groupby("author_id")["sentiment"].mean()
        view = view.merge(agg, left_on="author_id", right_index=True, how="left")
        view["sentiment_trend"] = view["author_id"].map(recent) - view["sentiment"]
        open_c = p[(p["created_at"] >= cutoff) & p["complaint"].astype(bool)].groupby("author_id").size()
        view["open_complaints"] = view["author_id"].map(open_c).fillna(0).astype(int)
    else:
        view["posts"], view["sentiment"], view["complaints"], view["sentiment_trend"], view["open_complaints"] = (
            0,
            np.nan,
            0,
            np.nan,
            0,
        )
    return view


def customer_actions(view: pd.DataFrame, *, top: int = 20) -> dict[str, Any]:
    """The lists to act on: advocates to reward, complainers to call first, communities by customer value."""
    linked = view.dropna(subset=["author_id"])
    advocates = (
        linked[(linked["influence"] >= 0.8) & (linked["sentiment"].fillna(0) >= 0.55)]
        .sort_values(["influence", "clv"], ascending=False)
        .head(top)
    )
    call_first = (
        linked[linked["open_complaints"] > 0].sort_values(["clv", "open_complaints"], ascending=False).head(top)
    )
    communities = (
        linked.dropna(subset=["community"])
        .groupby("community")
        .agg(customers=("customer_id", "size"), clv=("clv", "sum"), sentiment=("sentiment", "mean"))
        .sort_values("clv", ascending=False)
        .reset_index()
    )
    return {"advocates": advocates, "call_first": call_first, "communities": communities}


def complaints_without_ticket(
    complaints: pd.DataFrame,
    links: pd.DataFrame,
    customers: pd.DataFrame,
    tickets: pd.DataFrame,
    *,
    without_ticket: bool = True,
) -> pd.DataFrame:
    """Linked customers who complained in public and have no open ticket, highest CLV first.

    ``complaints``: complaint posts (platform, id, author_id, created_at, complaint_category, text);
    ``links``: current links (customer_id, platform, author_id); ``customers``: customer_id, name (clear, masked
    here), clv, rfm_segment; ``tickets``: customer_id, is_open.  One row per customer: masked name, value,
    complaints, first/last, categories, the latest complaint's post, and their open and closed tickets.
    ``without_ticket=False`` keeps the customers who have an open ticket too.
    """
    from yuqing.store.pii import mask_name, redact_text

    cols = ["customer_id", "name", "clv", "rfm_segment", "complaints", "first_complaint", "last_complaint",
            "categories", "platform", "post_id", "text", "open_tickets", "closed_tickets"]  # fmt: skip
    if complaints.empty or links.empty:
        return pd.DataFrame(columns=cols)
    posts = complaints.merge(links[["customer_id", "platform", "author_id"]], on=["platform", "author_id"])
    is_open = tickets["is_open"].astype(bool) if not tickets.empty else pd.Series(dtype=bool)
    opened = tickets[is_open].groupby("customer_id").size() if not tickets.empty else pd.Series(dtype=int)
    closed = tickets[~is_open].groupby("customer_id").size() if not tickets.empty else pd.Series(dtype=int)
    if without_ticket:
        posts = posts[~posts["customer_id"].isin(set(opened.index))]
    if posts.empty:
        return pd.DataFrame(columns=cols)
    posts = posts.sort_values("created_at")
    cat = posts["complaint_category"] if "complaint_category" in posts else pd.Series("", index=posts.index)
    posts = posts.assign(complaint_category=cat.fillna("").astype(str))
    g = posts.groupby("customer_id")
    out = g.agg(
        complaints=("id", "size"),
        first_complaint=("created_at", "min"),
        last_complaint=("created_at", "max"),
        platform=("platform", "last"),
        post_id=("id", "last"),
        text=("text", "last") if "text" in posts else ("id", "last"),
    )
    out["text"] = out["text"].astype(str).map(redact_text)  # phones and e-mails inside a post are masked too
    out["categories"] = g["complaint_category"].agg(lambda c: "、".join(sorted({x for x in c if x})))
    info = customers.set_index("customer_id") if not customers.empty else pd.DataFrame()
    out["name"] = [mask_name(str(info["name"].get(c, ""))) if "name" in info else "" for c in out.index]
    out["clv"] = [float(info["clv"].get(c, 0.0)) if "clv" in info else 0.0 for c in out.index]
    out["clv"] = out["clv"].fillna(0.0)
    out["rfm_segment"] = [info["rfm_segment"].get(c, "") if "rfm_segment" in info else "" for c in out.index]
    out["open_tickets"] = [int(opened.get(c, 0)) for c in out.index]
    out["closed_tickets"] = [int(closed.get(c, 0)) for c in out.index]
    out = out.reset_index().sort_values(["clv", "complaints", "customer_id"], ascending=[False, False, True])
    return out[cols].reset_index(drop=True)


def audience_edges(g: EdgeGraph, accounts: pd.DataFrame) -> pd.DataFrame:
    """``platform, source_author_id, target_author_id`` of the graph's edges whose source is one of ``accounts``
    (``platform, author_id``, e.g. the linked customers' accounts): what :func:`kol_customer_reach` reads, without
    turning every edge of the graph back into strings."""
    cols = ["platform", "source_author_id", "target_author_id"]
    if accounts.empty or not g.number_of_edges():
        return pd.DataFrame(columns=cols)
    wanted = pd.MultiIndex.from_frame(accounts[["platform", "author_id"]].astype(str))
    is_account = pd.MultiIndex.from_frame(g.nodes[["platform", "author_id"]].astype(str)).isin(wanted)
    hit = is_account[g.src]
    src, dst = g.src[hit], g.dst[hit]
    platform, author = g.nodes["platform"].to_numpy(), g.nodes["author_id"].to_numpy()
    return pd.DataFrame({"platform": platform[src], "source_author_id": author[src], "target_author_id": author[dst]})


def kol_customer_reach(interactions: pd.DataFrame, links: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """Per account: the linked customers in its audience (accounts that reposted, commented on, replied to or
    mentioned it) and the sum of their CLV — ``author_id, customers_reached, customers_value``."""
    cols = ["author_id", "customers_reached", "customers_value"]
    if interactions.empty or links.empty:
        return pd.DataFrame(columns=cols)
    audience = interactions[["platform", "source_author_id", "target_author_id"]].drop_duplicates()
    hit = audience.merge(
        links[["customer_id", "platform", "author_id"]],
        left_on=["platform", "source_author_id"],
        right_on=["platform", "author_id"],
    )[["target_author_id", "customer_id"]].drop_duplicates()
    if hit.empty:
        return pd.DataFrame(columns=cols)
    clv = values.set_index("customer_id")["clv"] if not values.empty else pd.Series(dtype=float)
    hit = hit.assign(clv=hit["customer_id"].map(clv).fillna(0.0).astype(float))
    out = hit.groupby("target_author_id").agg(customers_reached=("customer_id", "size"), customers_value=("clv", "sum"))
    out["customers_value"] = out["customers_value"].round(2)
    return out.reset_index().rename(columns={"target_author_id": "author_id"})[cols]
