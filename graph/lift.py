"""Campaign lift on CRM customers: participants against a matched control group, difference-in-differences.

Who: *participants* are the customers linked to a social account that posted, reposted or commented on the
campaign (the caller decides; ``store.warehouse.Warehouse.campaign_customers`` finds them).  Every other
customer registered before the campaign is a possible *control*: not exposed as far as we can see (a customer
with no linked account may have seen the campaign unseen by us; that pulls the estimate towards 0, never away).

Windows (dates in China time, inclusive): the *post* window runs from the campaign's first day to the end of
its post-period; the *pre* window is as many days right before the start; orders and spend per customer are
counted in both.  The *baseline* (``lookback_days`` before the start, 180 by default) gives the pre-period spend
matched on; it is longer than the pre window because most customers buy a few times a year and a fortnight's
spend is 0 for nearly everyone.

Matching: coarsened exact matching (Iacus, King & Porro 2012) — exact on the RFM segment as of the campaign's
start (``graph.customers.rfm`` over the orders before it; no order yet: ``无购买记录``), and on the baseline
spend coarsened into bins (0, then the quartiles of the positive spends).  A participant whose stratum holds no
control is dropped and counted (``unmatched``); the controls of a stratum share its participants' weight
(ATT weights: each stratum's controls weigh as many as its participants).  Chosen over nearest-neighbour
matching because (1) baseline spend is mostly 0 and heavy-tailed: nearest neighbours on it are ties at 0 and
arbitrary picks among them, bins say plainly what was matched; (2) every control of a stratum is used, not one
per participant, which narrows the interval; (3) the bootstrap is valid for it — it is not for nearest-neighbour
matching with a fixed number of matches (Abadie & Imbens 2008).

Estimate: DiD on the per-customer change, lift = mean over matched participants of (post − pre) minus the
weighted mean over controls of (post − pre), for orders and for spend (元 per customer), and relative to the
participants' counterfactual post value (their post mean minus the lift).  Interval: 95 % percentile bootstrap
over customers, participants and controls resampled apart (the group sizes fixed), the whole matching redone
in each replicate (bin edges kept), so the interval carries the uncertainty of the control weights and assumes
nothing about the shape of spend.  Its coverage is tested on simulated customers (``tests/test_lift.py``).

Balance: standardised mean differences (participants − controls) / the pooled standard deviation before
matching, before and after matching (the same denominator, so the change is the change of the means); |SMD| <
0.1 is the usual bar.

Pure: DataFrames in, :class:`CrmLift` out; no store, no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from yuqing.graph.customers import rfm
from yuqing.store.schema import CHINA_TZ

__all__ = ["NO_PURCHASE", "CrmLift", "Estimate", "LiftWindows", "crm_lift"]

NO_PURCHASE = "无购买记录"
LOOKBACK_DAYS = 180


@dataclass(frozen=True)
class LiftWindows:
    """Inclusive day ranges (China time): outcome pre/post windows and the baseline matched on."""

    pre: tuple[dt.date, dt.date]
    post: tuple[dt.date, dt.date]
    baseline: tuple[dt.date, dt.date]

    @classmethod
    def for_campaign(
        cls, start: dt.date, end: dt.date, post_days: int, *, lookback_days: int = LOOKBACK_DAYS
    ) -> LiftWindows:
        """Post = campaign + post-period; pre = as many days before the start; baseline = ``lookback_days``."""
        post_end = end + dt.timedelta(days=post_days)
        n = (post_end - start).days + 1
        return cls(
            pre=(start - dt.timedelta(days=n), start - dt.timedelta(days=1)),
            post=(start, post_end),
            baseline=(start - dt.timedelta(days=lookback_days), start - dt.timedelta(days=1)),
        )

    @property
    def start(self) -> dt.date:
        return self.post[0]

    def to_dict(self) -> dict[str, list[str]]:
        return {k: [d.isoformat() for d in getattr(self, k)] for k in ("pre", "post", "baseline")}


@dataclass(frozen=True)
class Estimate:
    """A DiD lift per customer with its 95 % bootstrap interval, absolute and relative to the counterfactual."""

    lift: float
    lo: float
    hi: float
    relative: float | None
    relative_lo: float | None
    relative_hi: float | None

    @property
    def significant(self) -> bool:
        return self.lo > 0 or self.hi < 0

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None, nd: int) -> float | None:
            return None if x is None or not np.isfinite(x) else round(float(x), nd)

        return {
            "lift": r(self.lift, 4),
            "ci95": [r(self.lo, 4), r(self.hi, 4)],
            "relative": r(self.relative, 4),
            "relative_ci95": [r(self.relative_lo, 4), r(self.relative_hi, 4)],
            "significant": self.significant,
        }


@dataclass(frozen=True)
class CrmLift:
    windows: LiftWindows
    participants: int  # exposed customers eligible (registered before the start)
    matched: int  # of them, kept: their stratum holds a control
    unmatched: int  # dropped
    controls: int  # controls with a weight > 0
    control_pool: int  # eligible customers not exposed
    registered_late: int  # exposed customers registered after the start: left out (no pre-period)
    groups: pd.DataFrame  # group, customers, orders_pre, orders_post, spend_pre, spend_post (per customer)
    balance: pd.DataFrame  # covariate, participants, controls_before, controls_after, smd_before, smd_after
    orders: Estimate
    spend: Estimate
    bins: list[float]
    n_boot: int
    seed: int
    method: str = "coarsened exact matching (RFM segment × baseline-spend bin), DiD, customer bootstrap"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; aggregates only (no customer id leaves here)."""
        return {
            "method": self.method,
            "windows": self.windows.to_dict(),
            "participants": self.participants,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "controls": self.controls,
            "control_pool": self.control_pool,
            "registered_late": self.registered_late,
            "groups": _records(self.groups),
            "balance": _records(self.balance),
            "orders": self.orders.to_dict(),
            "spend": self.spend.to_dict(),
            "spend_bins": [round(b, 2) for b in self.bins],
            "n_boot": self.n_boot,
            "seed": self.seed,
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        out.append(
            {
                k: (None if isinstance(v, float) and not np.isfinite(v) else round(v, 4) if isinstance(v, float) else v)
                for k, v in row.items()
            }
        )
    return out


def _days(ordered_at: pd.Series) -> np.ndarray:
    """Order days in China time as datetime64[D] (compared with dates without a Python object per order)."""
    local = pd.to_datetime(ordered_at, utc=True).dt.tz_convert(CHINA_TZ).dt.tz_localize(None)
    return local.to_numpy().astype("datetime64[D]")


def _window_sums(
    orders: pd.DataFrame, days: np.ndarray, ids: pd.Index, lo: dt.date, hi: dt.date
) -> tuple[pd.Series, pd.Series]:
    inside = (days >= np.datetime64(lo, "D")) & (days <= np.datetime64(hi, "D"))
    o = orders[inside]
    g = o.groupby("customer_id")["amount"]
    return g.size().reindex(ids, fill_value=0).astype(float), g.sum().reindex(ids, fill_value=0.0).astype(float)


def _customer_table(customers: pd.DataFrame, orders: pd.DataFrame, w: LiftWindows) -> pd.DataFrame:
    """One row per customer: segment, baseline/pre/post orders and spend, history before the start."""
    ids = pd.Index(customers["customer_id"].astype(str).unique(), name="customer_id")
    o = orders.assign(customer_id=orders["customer_id"].astype(str), amount=orders["amount"].astype(float))
    o = o[o["customer_id"].isin(ids)]
    days = _days(o["ordered_at"])
    t = pd.DataFrame(index=ids)
    for name, (lo, hi) in (("baseline", w.baseline), ("pre", w.pre), ("post", w.post)):
        t[f"orders_{name}"], t[f"spend_{name}"] = _window_sums(o, days, ids, lo, hi)
    before = o[days < np.datetime64(w.start, "D")]
    start_ts = dt.datetime.combine(w.start, dt.time(), tzinfo=CHINA_TZ)
    seg = rfm(before[["customer_id", "amount", "ordered_at"]], now=start_ts).set_index("customer_id")
    t["segment"] = seg["rfm_segment"].reindex(ids).fillna(NO_PURCHASE)
    t["orders_history"] = seg["frequency"].reindex(ids).fillna(0).astype(float)
    t["spend_history"] = seg["monetary"].reindex(ids).fillna(0.0).astype(float)
    return t


def _bin_edges(spend: np.ndarray) -> list[float]:
    """Upper edges of the positive-spend bins: the quartiles of positive baseline spend (0 is a bin of its own)."""
    pos = spend[spend > 0]
    if len(pos) < 4:
        return []
    return sorted({float(q) for q in np.quantile(pos, [0.25, 0.5, 0.75])})


def _bins(spend: np.ndarray, edges: list[float]) -> np.ndarray:
    return np.where(spend > 0, 1 + np.searchsorted(np.asarray(edges, dtype=float), spend, side="left"), 0)


_VALUES = ("orders_pre", "orders_post", "spend_pre", "spend_post")


def _att(
    nt: np.ndarray, nc: np.ndarray, st: dict[str, np.ndarray], sc: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-stratum sums (last axis = strata) → matched participants' and weighted controls' means per value.

    Works on one sample (1-D) or on a stack of bootstrap replicates (2-D)."""
    ok = (nt > 0) & (nc > 0)
    n_kept = np.where(ok, nt, 0.0).sum(axis=-1)
    denom = np.where(n_kept > 0, n_kept, np.nan)
    share = np.where(ok, nt, 0.0) / denom[..., None]  # each stratum's weight: its participants' share
    treated = {k: np.where(ok, st[k], 0.0).sum(axis=-1) / denom for k in _VALUES}
    control = {k: (share * np.where(ok, sc[k] / np.where(nc > 0, nc, 1.0), 0.0)).sum(axis=-1) for k in _VALUES}
    return n_kept, treated, control


def _estimates(treated: dict[str, np.ndarray], control: dict[str, np.ndarray], what: str) -> tuple[Any, Any]:
    lift = (treated[f"{what}_post"] - treated[f"{what}_pre"]) - (control[f"{what}_post"] - control[f"{what}_pre"])
    counterfactual = treated[f"{what}_post"] - lift
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(counterfactual > 0, lift / np.where(counterfactual > 0, counterfactual, 1.0), np.nan)
    return lift, rel


def _smd(xt: np.ndarray, xc: np.ndarray, wc: np.ndarray | None, sd: float) -> float:
    mc = float(np.average(xc, weights=wc)) if len(xc) and (wc is None or wc.sum() > 0) else np.nan
    mt = float(xt.mean()) if len(xt) else np.nan
    if sd == 0:
        return 0.0 if mt == mc else np.nan
    return (mt - mc) / sd


def crm_lift(
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    exposed: Iterable[str],
    windows: LiftWindows,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> CrmLift:
    """Orders and spend lift of the ``exposed`` customers against coarsened-exact matched controls.

    ``customers``: customer_id and optionally registered_at (customers registered after the campaign's start
    are left out: no pre-period); ``orders``: customer_id, amount, ordered_at (tz-aware).
    """
    cust = customers.copy()
    cust["customer_id"] = cust["customer_id"].astype(str)
    exposed_set = {str(c) for c in exposed}
    late = pd.Series(False, index=cust.index)
    if "registered_at" in cust:
        reg = pd.to_datetime(cust["registered_at"], utc=True)
        late = reg.notna() & (reg >= pd.Timestamp(dt.datetime.combine(windows.start, dt.time(), tzinfo=CHINA_TZ)))
    registered_late = int(cust.loc[late, "customer_id"].isin(exposed_set).sum())
    table = _customer_table(cust[~late], orders, windows)
    is_t = table.index.isin(list(exposed_set))
    t, c = table[is_t], table[~is_t]
    edges = _bin_edges(table["spend_baseline"].to_numpy())
    strata_names = sorted(set(table["segment"]))
    n_bins = len(edges) + 2
    seg_code = {s: i for i, s in enumerate(strata_names)}
    stratum = np.array([seg_code[s] for s in table["segment"]], dtype=np.int64) * n_bins + _bins(
        table["spend_baseline"].to_numpy(), edges
    )
    n_strata = len(strata_names) * n_bins
    s_t, s_c = stratum[is_t], stratum[~is_t]

    def sums(idx: np.ndarray, frame: pd.DataFrame, weights: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Per-stratum counts and value sums; ``weights`` is (n,) or (B, n)."""
        members = sparse.csr_matrix((np.ones(len(idx)), (idx, np.arange(len(idx)))), shape=(n_strata, len(idx)))

        def per_stratum(w: np.ndarray) -> np.ndarray:
            return np.asarray((members @ w.T).T)

        return per_stratum(weights), {k: per_stratum(weights * frame[k].to_numpy()) for k in _VALUES}

    ones_t, ones_c = np.ones(len(t)), np.ones(len(c))
    nt, st = sums(s_t, t, ones_t)
    nc, sc = sums(s_c, c, ones_c)
    n_kept, treated, control = _att(nt, nc, st, sc)
    point = {what: _estimates(treated, control, what) for what in ("orders", "spend")}

    # bootstrap: participants and controls resampled apart, matching redone per replicate (bin edges kept)
    rng = np.random.default_rng(seed)
    boots: dict[str, list[np.ndarray]] = {"orders": [], "spend": [], "orders_rel": [], "spend_rel": []}
    if len(t) and len(c) and n_boot > 0:
        chunk = max(1, min(n_boot, 4_000_000 // max(1, len(c) + len(t))))
        done = 0
        while done < n_boot:
            b = min(chunk, n_boot - done)
            wt = rng.multinomial(len(t), np.full(len(t), 1 / len(t)), size=b).astype(float)
            wc = rng.multinomial(len(c), np.full(len(c), 1 / len(c)), size=b).astype(float)
            bnt, bst = sums(s_t, t, wt)
            bnc, bsc = sums(s_c, c, wc)
            _, btr, bco = _att(bnt, bnc, bst, bsc)
            for what in ("orders", "spend"):
                lift, rel = _estimates(btr, bco, what)
                boots[what].append(lift)
                boots[f"{what}_rel"].append(rel)
            done += b

    def estimate(what: str) -> Estimate:
        lift, rel = (float(x) for x in point[what])
        if not boots[what]:
            return Estimate(lift, np.nan, np.nan, rel if np.isfinite(rel) else None, None, None)
        draws = np.concatenate(boots[what])
        draws = draws[np.isfinite(draws)]
        lo, hi = np.percentile(draws, [2.5, 97.5]) if len(draws) else (np.nan, np.nan)
        rdraws = np.concatenate(boots[f"{what}_rel"])
        rdraws = rdraws[np.isfinite(rdraws)]
        rlo, rhi = (float(x) for x in np.percentile(rdraws, [2.5, 97.5])) if len(rdraws) else (np.nan, np.nan)
        return Estimate(
            lift,
            float(lo),
            float(hi),
            rel if np.isfinite(rel) else None,
            rlo if np.isfinite(rlo) else None,
            rhi if np.isfinite(rhi) else None,
        )

    # weights of each customer after matching (participants 1 or 0, controls their stratum's share)
    ok = (nt > 0) & (nc > 0)
    w_t = ok[s_t].astype(float)
    per_control = np.where(ok & (nc > 0), nt / np.where(nc > 0, nc, 1.0), 0.0)
    w_c = per_control[s_c]
    groups = pd.DataFrame(
        [
            {"group": "participants", "customers": int(w_t.sum()), **{k: float(treated[k]) for k in _VALUES}},
            {"group": "matched_controls", "customers": int((w_c > 0).sum()), **{k: float(control[k]) for k in _VALUES}},
            {
                "group": "all_non_participants",
                "customers": len(c),
                **{k: float(c[k].mean()) if len(c) else np.nan for k in _VALUES},
            },
        ]
    )
    balance = _balance(t, c, w_t, w_c, strata_names)
    return CrmLift(
        windows=windows,
        participants=len(t),
        matched=int(n_kept),
        unmatched=len(t) - int(n_kept),
        controls=int((w_c > 0).sum()),
        control_pool=len(c),
        registered_late=registered_late,
        groups=groups,
        balance=balance,
        orders=estimate("orders"),
        spend=estimate("spend"),
        bins=edges,
        n_boot=n_boot,
        seed=seed,
    )


BALANCE_COVARIATES = {
    "spend_baseline": "基期消费（活动前 180 天）",
    "orders_baseline": "基期订单数（活动前 180 天）",
    "spend_pre": "前窗口消费",
    "orders_pre": "前窗口订单数",
    "spend_history": "活动前累计消费",
    "orders_history": "活动前累计订单数",
}


def _balance(t: pd.DataFrame, c: pd.DataFrame, w_t: np.ndarray, w_c: np.ndarray, segments: list[str]) -> pd.DataFrame:
    cols: dict[str, tuple[str, np.ndarray, np.ndarray]] = {
        k: (name, t[k].to_numpy(float), c[k].to_numpy(float)) for k, name in BALANCE_COVARIATES.items()
    }
    for s in segments:
        cols[f"segment:{s}"] = (f"分群：{s}", (t["segment"] == s).to_numpy(float), (c["segment"] == s).to_numpy(float))
    rows = []
    for key, (name, xt, xc) in cols.items():
        var_t = float(xt.var(ddof=1)) if len(xt) > 1 else 0.0
        var_c = float(xc.var(ddof=1)) if len(xc) > 1 else 0.0
        sd = float(np.sqrt((var_t + var_c) / 2))
        kept = w_t > 0
        rows.append(
            {
                "covariate": key,
                "name": name,
                "participants": float(xt.mean()) if len(xt) else np.nan,
                "controls_before": float(xc.mean()) if len(xc) else np.nan,
                "participants_matched": float(xt[kept].mean()) if kept.any() else np.nan,
                "controls_after": float(np.average(xc, weights=w_c)) if w_c.sum() > 0 else np.nan,
                "smd_before": _smd(xt, xc, None, sd),
                "smd_after": _smd(xt[kept], xc, w_c if w_c.sum() > 0 else None, sd) if kept.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)
