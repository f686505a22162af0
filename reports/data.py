"""Frames the reports are computed from, read from the warehouse (read-only).

``posts`` columns: platform, id, kind, created_at, author_id, author_name, reposts_count,
comments_count, attitudes_count, topics, followers, sentiment, polarity, complaint,
complaint_category, emotion, keywords, brands (list), brand_sentiment (dict), topic, topic_label —
and ``text`` only when asked for (``load_frames(text=True)``).  Without it a report fetches the texts of
the few posts it shows (:meth:`ReportFrames.texts`): at 250k posts the texts were most of the frame.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from yuqing.store.settings import Campaign

__all__ = ["ReportFrames", "campaign_frames", "load_frames", "names", "period_frames"]
_T = TypeVar("_T")


@dataclass
class ReportFrames:
    posts: pd.DataFrame
    leaders: pd.DataFrame = field(default_factory=pd.DataFrame)
    communities: pd.DataFrame = field(default_factory=pd.DataFrame)
    members: pd.DataFrame = field(default_factory=pd.DataFrame)
    customers: pd.DataFrame = field(default_factory=pd.DataFrame)
    links: pd.DataFrame = field(default_factory=pd.DataFrame)
    tickets: pd.DataFrame = field(default_factory=pd.DataFrame)  # customer_id, opened_at, is_open (store/crm.py)
    orders: pd.DataFrame = field(default_factory=pd.DataFrame)  # customer_id, amount, ordered_at
    # one row per topic of the last topic run (flows.stages.topics → nlp.topics.topic_summary): topic,
    # topic_label, new, posts, share, emerging, recent_share, baseline_share, ratio (emerging topics:
    # ``topics[topics["emerging"]]``, share of the last 3 days ≥ 2× before)
    topics: pd.DataFrame = field(default_factory=pd.DataFrame)
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str | Path | None = None  # the warehouse the frames were read from (texts of shown posts come from it)
    since: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # the period: since <= created_at < until
    until: dt.datetime = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
    _counts: dict[tuple[str, ...], pd.DataFrame] = field(default_factory=dict, repr=False)

    def sql(self, read: Callable[[Any], _T]) -> _T:
        """``read(warehouse)`` on the warehouse the frames come from (read-only): the aggregates and the few rows
        a report shows, computed in SQL (``Warehouse.brand_counts``, ``top_mentions``...)."""
        from yuqing.store.warehouse import Warehouse

        if self.source is None:
            raise ValueError("these report frames were not read from a warehouse")
        with Warehouse.open(self.source, read_only=True) as wh:
            return read(wh)

    def post_count(self) -> int:
        """Posts of the period (``post_counts``)."""
        counts = self.counts([])
        return int(counts.loc[counts["brand"] == "", "posts"].sum())

    def counts(self, brands: list[str]) -> pd.DataFrame:
        """``Warehouse.brand_counts`` of the period for ``brands`` (read once per set of brands)."""
        key = tuple(brands)
        if key not in self._counts:
            self._counts[key] = self.sql(lambda wh: wh.brand_counts(brands, self.since, self.until))
        return self._counts[key]

    def texts(self, rows: pd.DataFrame) -> list[str]:
        """The texts of ``rows`` (a slice of ``posts``): from its ``text`` column when the frame has one,
        else read from the warehouse for just these posts (what a report shows: top posts, examples)."""
        if "text" in rows.columns:
            return [t if isinstance(t, str) else "" for t in rows["text"]]
        if rows.empty or self.source is None:
            return [""] * len(rows)
        from yuqing.store.warehouse import Warehouse

        keys = list(zip(rows["platform"].astype(str), rows["id"].astype(str), strict=True))
        with Warehouse.open(self.source, read_only=True) as wh:
            found = wh.post_texts(keys)
        return [found.get(k, "") for k in keys]


def _decoded_once(values: pd.Series, decode: Callable[[str], Any], empty: Any) -> np.ndarray:
    """Each distinct value decoded once (``pd.factorize`` on the Arrow strings, no Python loop over rows), equal
    values sharing one read-only object; NULL and ``""`` give ``empty``."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    objects = np.empty(len(uniques) + 1, dtype=object)
    objects[:] = [decode(u) if u else empty for u in uniques] + [empty]  # code -1 (NULL) takes the last
    return objects[codes]


def _shared_json(values: pd.Series) -> np.ndarray:
    """brand_sentiment dicts: a post's is one of few values (scores rounded to 4 places), a dict decoded per post
    cost ~180 bytes; a post not analysed yet (NULL) gets ``{}``."""
    return _decoded_once(values, json.loads, {})


def _shared_lists(values: pd.Series) -> np.ndarray:
    """Lists (brands, hashtags) from their U+001F-joined text (Warehouse.report_posts)."""
    return _decoded_once(values, lambda v: v.split("\x1f"), [])


def names(brands: pd.Series, brand: str) -> np.ndarray:
    """Boolean mask of the posts whose ``brands`` list holds ``brand``: tested once per distinct list object
    (``load_frames`` shares equal lists), not once per post."""
    values = brands.to_numpy(dtype=object)
    ids = np.fromiter(map(id, values), dtype=np.int64, count=len(values))
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    hit = np.fromiter((brand in values[i] for i in first), dtype=bool, count=len(first))
    return hit[inverse]


def load_frames(
    warehouse_path: str | Path,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    complaints_only: bool = False,
    text: bool = False,
    linked_only: bool = False,
) -> ReportFrames:
    """Posts of the period joined to their analysis and topic, plus leaders, communities and the customer view.

    ``complaints_only`` keeps only posts classified as complaints (what the alert stage reads: at 1M
    posts the full frame with texts cost the process several GB it did not need).  ``text`` adds the
    posts' texts (the alert evidence, the campaign's hashtag match); reports fetch the few they show.
    ``linked_only`` keeps only posts of accounts linked to a customer, with the columns the CRM sections read
    (``Warehouse.report_posts``), and reads no graph table (the brand report: its other figures are computed in
    SQL through :meth:`ReportFrames.sql`, the frame grows with customers, not with posts).
    """
    from yuqing.store.schema import CHINA_TZ
    from yuqing.store.warehouse import Warehouse

    def day(d: dt.date | None) -> dt.datetime | None:
        return None if d is None else dt.datetime.combine(d, dt.time(), tzinfo=CHINA_TZ)

    with Warehouse.open(warehouse_path, read_only=True) as wh:
        posts = wh.report_posts(
            since=day(start),
            until=day(end + dt.timedelta(days=1)) if end is not None else None,
            complaints_only=complaints_only,
            text=text,
            linked_only=linked_only,
        )
        frames = ReportFrames(posts=posts, source=warehouse_path)
        if start is not None:
            frames.since = day(start)  # type: ignore[assignment]
        if end is not None:
            frames.until = day(end + dt.timedelta(days=1))  # type: ignore[assignment]
        if not linked_only:
            frames.leaders = wh.read_table("leaders")
            frames.members = wh.read_table("community_members")
        frames.communities = wh.read_table("communities")
        frames.customers = wh.read_table("customer_view")
        frames.links = wh.customer_links_current()
        frames.tickets = wh.tickets()
        frames.orders = wh.orders()[["customer_id", "amount", "ordered_at"]]
        frames.topics = wh.read_table("topics")
        frames.alerts = wh.alerts()
    posts["created_at"] = pd.to_datetime(posts["created_at"], utc=True).dt.tz_convert(CHINA_TZ)
    posts["brands"] = _shared_lists(posts["brands"])
    if not linked_only:  # the customers' posts come with the columns the CRM sections read only
        posts["topics"] = _shared_lists(posts["topics"])
        posts["brand_sentiment"] = _shared_json(posts["brand_sentiment"])
    posts["complaint"] = posts["complaint"].fillna(False).astype(bool)
    return frames


def campaign_frames(warehouse_path: str | Path, campaign: Campaign) -> ReportFrames:
    """What a campaign report reads: its window (pre-period, campaign, post-period) of the warehouse; every figure
    is computed in SQL (``reports.campaign``)."""
    start = campaign.start - dt.timedelta(days=campaign.pre_days)
    return period_frames(warehouse_path, start, campaign.end + dt.timedelta(days=campaign.post_days))


def period_frames(warehouse_path: str | Path, start: dt.date, end: dt.date) -> ReportFrames:
    """A period of the warehouse whose figures are all computed in SQL (:meth:`ReportFrames.sql`,
    :meth:`ReportFrames.counts`): no table is read here, the frame of posts stays empty (a campaign's window, the
    brand report's previous period)."""
    from yuqing.store.schema import CHINA_TZ

    return ReportFrames(
        posts=pd.DataFrame(),
        source=warehouse_path,
        since=dt.datetime.combine(start, dt.time(), tzinfo=CHINA_TZ),
        until=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ),
    )
