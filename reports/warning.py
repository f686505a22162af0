"""Complaint early warning: spikes against a seasonal baseline, scored by who is affected, tracked as alerts.

Buckets are wall-clock hours/days in the report timezone (``AlertRules.tz``,
Asia/Shanghai by default; ``created_at`` is stored in UTC): a post at 23:30 China
time belongs to that day, one at 00:30 to the next, and the hour-of-day season is
China's.

Detection (per brand and complaint category, per bucket — hour by default): the
baseline of an hourly bucket is the same hour of day over the trailing
``baseline_days`` days (the daily rhythm of posting is the season); the baseline
of a daily bucket is the trailing ``baseline_days`` days.  Counts are compared on
the square-root (Anscombe) scale ``a(x) = 2·sqrt(x + 3/8)``, where Poisson noise
has a standard deviation of about 1 whatever the rate, and the spike score is a
robust z-score

    z = (a(count) - median(a(baseline))) / max(scale_floor, 1.4826 · MAD(a(baseline)), pooled)

where ``pooled`` is 1.4826 · MAD of every bucket's seasonal residual over the trailing
window: a same-hour baseline holds a handful of values and can look steady by chance
while traffic swings from day to day (at 1M posts that gave two alerts on quiet days).

The floor (1.0 by default: the counting noise itself) keeps a MAD of 0 on sparse
or flat series from scoring a couple of posts as a huge spike — two posts over a
baseline of zeros score 1.9, three 2.5, eight 4.6 — and the square root keeps the
ordinary noise of a low-rate series (8 complaints in an hour whose median is 2)
from reading as a 4-sigma event, which a raw-count z does.  A bucket fires when
``z ≥ threshold`` and ``count ≥ min_count``.

Warm-up: a bucket is only scored once the trailing window holds ``warmup_days``
days of history counted from the first bucket of the data (``start``), so the
first days of a series — where the baseline is a handful of night-time hours —
never raise alerts.  :func:`warmup_end` says when scoring starts.

Scoring: affected customers' value (CLV of linked customers among the authors)
and the authors' influence lift the severity of a spike.

Incidents: the complaint classifier often files one real burst under several
categories (battery-bulging posts under 质量/故障, 安全 and 其他), and each category
spikes on its own.  Every spike therefore carries its *burst terms* — the keywords
its posts share far more often than the brand's complaints outside spike buckets
(document-frequency lift, ``p·log(p/q)``).  A spike joins an open alert of the same
brand within the alert gap when its category is already part of the alert, or when
the cosine similarity of its burst terms and the alert's is at least
``merge_similarity``.  Simultaneous bursts about different things (a battery fault and
late deliveries of another product) share only the brand and generic complaint words,
which have no lift, and stay separate alerts.  An alert's ``category`` is its dominant
category (most complaints); ``categories`` holds every category with its complaints;
``keywords`` its burst terms.

State: an alert goes ``new`` → ``ongoing`` (it keeps firing in a later bucket) →
``resolved`` (``resolve_after`` quiet buckets).  Spikes of other categories merged into
an alert in the same bucket change no state.  Every alert keeps its evidence (post ids,
masked texts).  Re-running detection over buckets already seen dispatches nothing.

Dispatch: :func:`update_alerts` returns the state-change events; the alerts stage queues each one per
channel in the outbox (:mod:`reports.delivery`), which sends, retries and records it — detection never
sends anything itself.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from yuqing.store.schema import CHINA_TZ
from yuqing.store.tables import TABLES

if TYPE_CHECKING:
    from yuqing.store.settings import AlertSettings
    from yuqing.store.warehouse import Warehouse

__all__ = [
    "ALERT_COLUMNS",
    "AlertRules",
    "anscombe",
    "burst_similarity",
    "complaint_counts",
    "detect_spikes",
    "score_spikes",
    "update_alerts",
    "warmup_end",
    "warmup_message",
]

MAD_SCALE = 1.4826
BURST_TERMS = 20  # burst terms kept per spike / alert
BACKGROUND_SAMPLE = 20_000  # background complaints per brand used for term lift

ALERT_COLUMNS = TABLES["alerts"].names  # the alert table as the warehouse contract declares it


@dataclass(frozen=True)
class AlertRules:
    threshold: float = 3.0
    min_count: int = 5
    bucket: str = "hour"
    baseline_days: int = 14
    resolve_after: int = 3
    scale_floor: float = 1.0
    warmup_days: int = 7
    tz: tzinfo = CHINA_TZ
    merge_similarity: float = 0.1

    def __post_init__(self) -> None:
        if self.bucket not in ("hour", "day"):
            raise ValueError(f"bucket must be 'hour' or 'day', got {self.bucket!r}")
        if not 1 <= self.warmup_days <= self.baseline_days:
            raise ValueError(
                f"warmup_days ({self.warmup_days}) must be between 1 and baseline_days ({self.baseline_days})"
            )
        if self.scale_floor <= 0:
            raise ValueError(f"scale_floor must be positive, got {self.scale_floor}")
        if not 0 < self.merge_similarity <= 1:
            raise ValueError(f"merge_similarity must be in (0, 1], got {self.merge_similarity}")

    @classmethod
    def from_settings(cls, a: AlertSettings) -> AlertRules:
        return cls(
            threshold=a.threshold,
            min_count=a.min_count,
            bucket=a.bucket,
            baseline_days=a.baseline_days,
            resolve_after=a.resolve_after,
            warmup_days=a.warmup_days,
        )

    @property
    def freq(self) -> str:
        return "h" if self.bucket == "hour" else "D"

    @property
    def per_day(self) -> int:
        """Buckets per day."""
        return 24 if self.bucket == "hour" else 1

    @property
    def width(self) -> pd.Timedelta:
        return pd.Timedelta(hours=1) if self.bucket == "hour" else pd.Timedelta(days=1)

    @property
    def gap(self) -> pd.Timedelta:
        """Spikes closer than this belong to the same alert; an alert this long quiet is resolved."""
        return self.width * (self.resolve_after + 1)

    def local(self, ts: Any) -> pd.Timestamp:
        """A time in the report timezone (naive times are UTC, as stored)."""
        t = pd.Timestamp(ts)
        return (t.tz_localize("UTC") if t.tzinfo is None else t).tz_convert(self.tz)

    def local_series(self, values: Any) -> pd.Series:
        return pd.Series(pd.to_datetime(values, utc=True)).dt.tz_convert(self.tz)

    def buckets(self, created_at: Any) -> pd.Series:
        """The bucket of each time: wall-clock hour/day in the report timezone."""
        return self.local_series(created_at).dt.floor(self.freq)


def complaint_counts(posts: pd.DataFrame | Warehouse, brands: list[str], rules: AlertRules) -> pd.DataFrame:
    """Complaints per (bucket, brand, category): from the warehouse's ``post_counts`` (what the alerts stage
    reads) or counted from a frame of posts (the reference it is tested against)."""
    if not isinstance(posts, pd.DataFrame):
        counts = posts.complaint_counts(brands, bucket=rules.bucket)
        start = pd.to_datetime(counts["bucket_start"])  # China wall clock, as stored (PostgreSQL's reads as UTC)
        start = (start.dt.tz_localize(None) if start.dt.tz is not None else start).dt.tz_localize(rules.tz)
        return counts.assign(bucket_start=start)[["bucket_start", "category", "complaints", "brand"]]
    rows = []
    for brand in brands:
        # a boolean array, not a list: an empty list would select no columns instead of no rows
        m = posts[np.fromiter((brand in b for b in posts["brands"]), bool, len(posts))]
        c = m[m["complaint"]]
        if c.empty:
            continue
        bucket = rules.buckets(c["created_at"]).set_axis(c.index)
        g = c.groupby([bucket, c["complaint_category"]]).size().rename("complaints").reset_index()
        g.columns = ["bucket_start", "category", "complaints"]
        g["brand"] = brand
        rows.append(g)
    if not rows:
        return pd.DataFrame(columns=["bucket_start", "category", "complaints", "brand"])
    return pd.concat(rows, ignore_index=True)


def anscombe(x: Any) -> Any:
    """Variance-stabilising transform of counts: Poisson noise has a standard deviation of ~1 on this scale."""
    return 2.0 * np.sqrt(np.asarray(x, dtype=float) + 0.375)


def warmup_end(start: pd.Timestamp, rules: AlertRules) -> pd.Timestamp:
    """First bucket that can raise an alert for data beginning at ``start``."""
    return rules.local(start).floor(rules.freq) + pd.Timedelta(days=rules.warmup_days)


def warmup_message(start: Any, end: Any, rules: AlertRules) -> str | None:
    """What to tell the user while the data ``start``..``end`` is still in warm-up (None once alerting is on)."""
    starts = warmup_end(start, rules)
    if rules.local(end) >= starts:
        return None
    return (
        f"warm-up: complaint alerts start at {starts:%Y-%m-%d %H:%M} ({rules.tz}), "
        f"{rules.warmup_days} days after the first post ({rules.local(start):%Y-%m-%d %H:%M}); "
        f"the data reaches {rules.local(end):%Y-%m-%d %H:%M}, so no bucket has been scored yet"
    )


def _baseline(series: np.ndarray, i: int, rules: AlertRules) -> np.ndarray:
    """The trailing baseline of bucket ``i``: same hour of day (hourly buckets) or every day (daily buckets)."""
    if rules.bucket == "hour":
        return series[i - 24 :: -24][: rules.baseline_days] if i >= 24 else series[:0]
    return series[max(0, i - rules.baseline_days) : i]


def _seasonal_residuals(series: np.ndarray, rules: AlertRules) -> np.ndarray:
    """Each bucket's distance (square-root scale) from the median of its own seasonal baseline; NaN without one."""
    out = np.full(len(series), np.nan)
    root = anscombe(series)
    for j in range(len(series)):
        base = _baseline(series, j, rules)
        if len(base):
            out[j] = root[j] - float(np.median(anscombe(base)))
    return out


def detect_spikes(counts: pd.DataFrame, rules: AlertRules, *, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Buckets whose count is a spike against the seasonal baseline; zero buckets are filled in.

    ``start`` is the beginning of the data (not of this series): buckets before
    :func:`warmup_end` are never scored, whatever their count.
    """
    out = []
    index = pd.date_range(rules.local(start).floor(rules.freq), rules.local(end).floor(rules.freq), freq=rules.freq)
    first = rules.warmup_days * rules.per_day  # the first bucket whose baseline holds warmup_days of history
    for (brand, category), g in counts.groupby(["brand", "category"]):
        at = pd.DatetimeIndex(rules.local_series(g["bucket_start"]))
        series = pd.Series(g["complaints"].to_numpy(), index=at).reindex(index, fill_value=0).to_numpy(dtype=float)
        candidates = [int(i) for i in np.flatnonzero(series >= rules.min_count) if i >= first]
        if not candidates:
            continue
        resid = _seasonal_residuals(series, rules)
        span = rules.per_day * rules.baseline_days
        for i in candidates:
            raw = _baseline(series, i, rules)
            base = anscombe(raw)
            med = float(np.median(base))
            # the scale is the largest of: the counting-noise floor, the spread of this bucket's own season
            # (a handful of values), and the spread of every bucket's seasonal residual over the trailing
            # window (hundreds of values: day-to-day swings the same-hour MAD misses by chance)
            window = resid[max(0, i - span) : i]
            window = window[~np.isnan(window)]
            pooled = MAD_SCALE * float(np.median(np.abs(window - np.median(window)))) if len(window) else 0.0
            scale = max(rules.scale_floor, MAD_SCALE * float(np.median(np.abs(base - med))), pooled)
            z = (float(anscombe(series[i])) - med) / scale
            if z >= rules.threshold:
                out.append(
                    {
                        "bucket_start": index[i],
                        "brand": brand,
                        "category": category,
                        "complaints": int(series[i]),
                        "baseline": float(np.median(raw)),
                        "z": round(float(z), 2),
                    }
                )
    return pd.DataFrame(out, columns=["bucket_start", "brand", "category", "complaints", "baseline", "z"])


_WORD = re.compile(r"[\u4e00-\u9fff]+|[A-Za-z0-9]+")


def _post_terms(keywords: Any, text: Any) -> set[str]:
    """A post's terms: its keywords from the text stage, else character bigrams of its text."""
    if isinstance(keywords, str) and keywords.strip():
        return set(keywords.split())
    terms: set[str] = set()
    for run in _WORD.findall(str(text)):
        if run.isascii():
            terms.add(run.lower())
        else:
            terms.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return terms


def _doc_freq(frame: pd.DataFrame) -> Counter[str]:
    keywords = frame["keywords"] if "keywords" in frame else [None] * len(frame)
    df: Counter[str] = Counter()
    for k, t in zip(keywords, frame["text"], strict=True):
        df.update(_post_terms(k, t))
    return df


def _burst_terms(df: Counter[str], n: int, background: Counter[str], n_bg: int) -> dict[str, float]:
    """Terms much more frequent in a spike's posts than in the brand's other complaints: ``p·log(p/q)``."""
    weights: dict[str, float] = {}
    for term, c in df.items():
        if c < min(2, n):  # a term of one post says nothing about the burst
            continue
        p, q = c / n, (background.get(term, 0) + 1) / (n_bg + 2)
        if p > q:
            weights[term] = p * math.log(p / q)
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:BURST_TERMS]
    return {t: round(w, 4) for t, w in top}


def burst_similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two burst-term weightings (0 when either is empty)."""
    dot = sum(w * b[t] for t, w in a.items() if t in b)
    na, nb = math.sqrt(sum(w * w for w in a.values())), math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0


@dataclass(frozen=True)
class _SpikeFacts:
    """What scoring reads of one spike's complaints: how many, the authors' followers, the authors, the terms of
    at least two posts (document frequencies) and the evidence posts (id, text) of the most followed authors."""

    posts: int
    reach: int
    authors: list[str]
    terms: Counter[str]
    evidence: list[tuple[str, str]]


def _frame_facts(
    spikes: pd.DataFrame, posts: pd.DataFrame, rules: AlertRules
) -> tuple[list[_SpikeFacts], dict[str, tuple[Counter[str], int]]]:
    """Spike facts from a frame of posts (``reports.data.load_frames(complaints_only=True, text=True)``): the
    reference the warehouse's SQL (:func:`_warehouse_facts`) is tested against."""
    # complaints only, brand masks once per brand, plain dicts for lookups: one pass per spike over a
    # small frame (scanning every post per spike took minutes at 1M posts)
    complaints = posts[posts["complaint"].to_numpy(dtype=bool)]
    bucket = pd.DatetimeIndex(rules.buckets(complaints["created_at"])).as_unit("ns").asi8
    category = complaints["complaint_category"].to_numpy()
    by_brand: dict[str, np.ndarray] = {}
    background: dict[str, tuple[Counter[str], int]] = {}
    for brand, g in spikes.groupby("brand"):
        mask = np.fromiter((brand in b for b in complaints["brands"]), bool, len(complaints))
        by_brand[str(brand)] = mask
        spiking = pd.DatetimeIndex(rules.local_series(g["bucket_start"])).as_unit("ns").asi8
        quiet = complaints[mask & ~np.isin(bucket, spiking)]
        if len(quiet) > BACKGROUND_SAMPLE:  # evenly spaced over time: the term rates, not every post
            quiet = quiet.iloc[np.linspace(0, len(quiet) - 1, BACKGROUND_SAMPLE).astype(int)]
        background[str(brand)] = (_doc_freq(quiet), len(quiet))
    facts = []
    for s in spikes.itertuples():
        at = rules.local(s.bucket_start).as_unit("ns").value
        p = complaints[(bucket == at) & (category == s.category) & by_brand[s.brand]]
        df = _doc_freq(p)
        top = p.sort_values("followers", ascending=False).head(5) if "followers" in p else p.head(5)
        facts.append(
            _SpikeFacts(
                posts=len(p),
                reach=int(p["followers"].sum()) if "followers" in p else 0,
                authors=[str(a) for a in p["author_id"].unique()],
                terms=Counter({t: c for t, c in df.items() if c >= min(2, len(p))}),
                evidence=[(str(x.id), str(x.text)) for x in top.itertuples()],
            )
        )
    return facts, background


def _warehouse_facts(
    spikes: pd.DataFrame, wh: Warehouse, rules: AlertRules
) -> tuple[list[_SpikeFacts], dict[str, tuple[Counter[str], int]]]:
    """Spike facts computed in the warehouse's SQL: rows fetched grow with spikes, their terms and the linked
    customers, never with posts (the brand's background is a sample of at most ``BACKGROUND_SAMPLE`` posts
    whose terms are counted in SQL too)."""
    lo = rules.local_series(spikes["bucket_start"])
    bounds = pd.DataFrame(
        {
            "idx": np.arange(len(spikes), dtype="int64"),
            "brand": spikes["brand"].astype(str).to_numpy(),
            "category": spikes["category"].astype(str).to_numpy(),
            "lo": lo.dt.tz_convert("UTC").reset_index(drop=True),
            "hi": (lo + rules.width).dt.tz_convert("UTC").reset_index(drop=True),
        }
    )
    got = wh.spike_posts(bounds)
    summary = got["summary"].set_index("idx")
    authors = got["customers"].groupby("idx")["author_id"].agg(list).to_dict()
    evidence = {
        int(i): list(zip(g["id"].astype(str), g["text"].astype(str), strict=True))
        for i, g in got["evidence"].groupby("idx")
    }
    terms = {
        int(i): Counter(dict(zip(g["term"], g["df"].astype(int), strict=True))) for i, g in got["terms"].groupby("idx")
    }
    facts = [
        _SpikeFacts(
            posts=int(summary["posts"].get(i, 0)),
            reach=int(summary["reach"].get(i, 0) or 0),
            authors=[str(a) for a in authors.get(i, [])],
            terms=terms.get(i, Counter()),
            evidence=evidence.get(i, []),
        )
        for i in range(len(spikes))
    ]
    background: dict[str, tuple[Counter[str], int]] = {}
    for brand, g in bounds.groupby("brand"):
        spiking = g[["lo", "hi"]].drop_duplicates()
        n = wh.quiet_complaints(str(brand), spiking)
        vocab = sorted({t for i in g["idx"] for t in facts[int(i)].terms})
        found = wh.quiet_terms(str(brand), spiking, n, BACKGROUND_SAMPLE, vocab)
        counted = Counter(dict(zip(found["term"], found["df"].astype(int), strict=True)))
        background[str(brand)] = (counted, min(n, BACKGROUND_SAMPLE))
    return facts, background


def score_spikes(
    spikes: pd.DataFrame, posts: pd.DataFrame | Warehouse, customers: pd.DataFrame, rules: AlertRules
) -> pd.DataFrame:
    """Add evidence, burst terms and severity: affected customers (by CLV) and the authors' reach.

    ``posts``: the warehouse (what the alerts stage passes: the spikes' posts are aggregated in SQL) or a frame of
    complaint posts with texts (``load_frames(complaints_only=True, text=True)``)."""
    added = ["severity", "evidence", "affected_customers", "affected_clv", "customer_clv", "reach", "terms"]
    if spikes.empty:
        return spikes.assign(**{c: [] for c in added})
    linked = not customers.empty and "author_id" in customers
    cid_of = customers.set_index("author_id")["customer_id"].to_dict() if linked else {}
    clv_of = customers.set_index("author_id")["clv"].to_dict() if linked else {}
    from yuqing.store.pii import redact_text

    if isinstance(posts, pd.DataFrame):
        facts, background = _frame_facts(spikes, posts, rules)
    else:
        facts, background = _warehouse_facts(spikes, posts, rules)
    rows: dict[str, list[Any]] = {c: [] for c in added}
    for s, f in zip(spikes.itertuples(), facts, strict=True):
        values = {str(cid_of[a]): float(clv_of[a]) for a in f.authors if a in cid_of and clv_of[a] == clv_of[a]}
        customers_hit = sorted({str(cid_of[a]) for a in f.authors if a in cid_of})
        value = float(sum(values.values()))
        bg, n_bg = background[s.brand]
        rows["terms"].append(_burst_terms(f.terms, f.posts, bg, n_bg))
        rows["affected_customers"].append(customers_hit)
        rows["affected_clv"].append(round(value, 2))
        rows["customer_clv"].append(values)
        rows["reach"].append(f.reach)
        rows["severity"].append(round(float(s.z) * (1 + np.log1p(value) / 10 + np.log1p(f.reach) / 20), 2))
        rows["evidence"].append([{"id": i, "text": redact_text(t)[:140]} for i, t in f.evidence])
    return spikes.assign(**rows)


def _alert_id(brand: str, category: str, start: pd.Timestamp) -> str:
    return hashlib.sha1(f"{brand}|{category}|{start.isoformat()}".encode()).hexdigest()[:12]  # noqa: S324


def _merge_terms(a: Mapping[str, float], na: int, b: Mapping[str, float], nb: int) -> dict[str, float]:
    """Burst terms of two parts weighted by their complaints."""
    total = max(1, na + nb)
    merged: dict[str, float] = {}
    for terms, n in ((a, na), (b, nb)):
        for t, w in terms.items():
            merged[t] = merged.get(t, 0.0) + w * n / total
    return {t: round(w, 4) for t, w in sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:BURST_TERMS]}


def _records(alerts: pd.DataFrame, rules: AlertRules) -> list[dict[str, Any]]:
    """Stored alerts as dicts; alerts stored before incidents get their one category and no burst terms."""
    out = []
    for row in alerts.to_dict("records"):
        rec = {c: row.get(c) for c in ALERT_COLUMNS}
        if not isinstance(rec["categories"], dict) or not rec["categories"]:
            rec["categories"] = {str(rec["category"]): int(rec["complaints"])}
        if not isinstance(rec["keywords"], dict):
            rec["keywords"] = {}
        for col in ("affected_customers", "evidence"):
            rec[col] = list(rec[col]) if isinstance(rec[col], Iterable) and not isinstance(rec[col], str) else []
        for col in ("started_at", "last_spike_at", "updated_at"):
            rec[col] = rules.local(rec[col])
        rec["reach"] = int(rec["reach"]) if rec["reach"] == rec["reach"] and rec["reach"] is not None else 0
        out.append(rec)
    return out


def _match(alerts: list[dict[str, Any]], s: Any, rules: AlertRules) -> dict[str, Any] | None:
    """The open alert this spike belongs to: same brand, within the gap, same category or the same burst."""
    best, best_score = None, 0.0
    for a in alerts:
        if a["brand"] != s.brand or a["status"] == "resolved" or a["last_spike_at"] < s.bucket_start - rules.gap:
            continue
        score = 2.0 if s.category in a["categories"] else burst_similarity(s.terms, a["keywords"])
        if score >= rules.merge_similarity and score > best_score:
            best, best_score = a, score
    return best


def update_alerts(
    alerts: pd.DataFrame, spikes: pd.DataFrame, now: pd.Timestamp, rules: AlertRules
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Merge new spikes into the alert table; returns the table and the state-change events to dispatch.

    Spikes are taken bucket by bucket, the largest first, so an incident's first
    alert carries its dominant category; ``new`` and ``ongoing`` events hold the
    alert as it stands after the whole bucket (every category merged into it).
    """
    table = _records(alerts, rules) if not alerts.empty else []
    events: list[dict[str, Any]] = []
    now = rules.local(now)
    if not spikes.empty:
        spikes = spikes.assign(bucket_start=rules.local_series(spikes["bucket_start"]).to_numpy())
        if "terms" not in spikes:
            spikes = spikes.assign(terms=[{}] * len(spikes))
        if "customer_clv" not in spikes:
            spikes = spikes.assign(customer_clv=[{}] * len(spikes))
    for _, bucket in spikes.groupby("bucket_start", sort=True) if not spikes.empty else []:
        touched: dict[str, str] = {}  # alert_id -> event of this bucket
        # the alerts' spans before this bucket: a bucket inside one was seen by an earlier pass
        seen = [(a["brand"], set(a["categories"]), a["started_at"], a["last_spike_at"]) for a in table]
        for s in bucket.sort_values(["complaints", "z"], ascending=False).itertuples():
            if any(b == s.brand and s.category in cats and lo <= s.bucket_start <= hi for b, cats, lo, hi in seen):
                continue  # already part of a known alert, even a resolved one: re-running detection is idempotent
            a = _match(table, s, rules)
            if a is None:
                alert_id = _alert_id(s.brand, s.category, s.bucket_start)
                if any(x["alert_id"] == alert_id for x in table):
                    continue  # already known: re-running detection is idempotent
                table.append(
                    {
                        "alert_id": alert_id,
                        "brand": s.brand,
                        "category": s.category,
                        "categories": {s.category: int(s.complaints)},
                        "keywords": dict(s.terms),
                        "status": "new",
                        "started_at": s.bucket_start,
                        "last_spike_at": s.bucket_start,
                        "peak_z": s.z,
                        "complaints": int(s.complaints),
                        "severity": s.severity,
                        "affected_customers": list(s.affected_customers),
                        "affected_clv": s.affected_clv,
                        "reach": int(s.reach),
                        "evidence": list(s.evidence),
                        "updated_at": now,
                    }
                )
                touched[alert_id] = "new"
                continue
            if a["last_spike_at"] > s.bucket_start and s.category in a["categories"]:
                continue  # an older bucket of a category already counted
            cats = dict(a["categories"])
            cats[s.category] = cats.get(s.category, 0) + int(s.complaints)
            a["categories"] = dict(sorted(cats.items(), key=lambda kv: (-kv[1], kv[0])))
            a["category"] = next(iter(a["categories"]))  # the dominant category
            a["keywords"] = _merge_terms(a["keywords"], int(a["complaints"]), s.terms, int(s.complaints))
            a["peak_z"] = max(float(a["peak_z"]), s.z)
            a["complaints"] = int(a["complaints"]) + int(s.complaints)
            a["severity"] = max(float(a["severity"]), s.severity)
            known = set(a["affected_customers"])
            extra = {c: v for c, v in dict(s.customer_clv).items() if c not in known}
            a["affected_clv"] = round(float(a["affected_clv"]) + sum(extra.values()), 2)
            a["affected_customers"] = sorted(known | set(s.affected_customers))
            a["reach"] = int(a["reach"]) + int(s.reach)
            a["evidence"] = (list(a["evidence"]) + list(s.evidence))[:10]
            a["updated_at"] = now
            if s.bucket_start > a["last_spike_at"]:
                a["last_spike_at"] = s.bucket_start
                if a["status"] == "new" and a["alert_id"] not in touched:
                    a["status"] = "ongoing"
                    touched[a["alert_id"]] = "ongoing"
        by_id = {a["alert_id"]: a for a in table}
        events += [{**by_id[i], "event": e} for i, e in touched.items()]
    for a in table:
        if a["status"] != "resolved" and a["last_spike_at"] + rules.gap <= now:
            a["status"] = "resolved"
            a["updated_at"] = now
            events.append({**a, "event": "resolved"})
    return pd.DataFrame(table, columns=ALERT_COLUMNS), [dict(e) for e in events]
