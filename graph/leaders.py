"""Opinion leaders: who moves the conversation, with the reasons shown.

Score = weighted mix of percentile ranks of PageRank on the interaction graph,
weighted in-degree, repost-cascade reach (size and depth) and followers (log
prior).  PageRank runs on a SciPy sparse matrix behind the NetworkX graph, so a
1M-edge graph takes seconds.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from yuqing.graph.build import EdgeGraph, edge_arrays, index_arrays

__all__ = ["advocates_detractors", "cascades", "pagerank", "pagerank_array", "rank_leaders"]

WEIGHTS = {"pagerank": 0.35, "in_weight": 0.2, "cascade_size": 0.25, "cascade_depth": 0.05, "followers": 0.15}


def pagerank(g: nx.Graph | EdgeGraph, alpha: float = 0.85, tol: float = 1e-8, max_iter: int = 200) -> dict[Any, float]:
    """Weighted PageRank by power iteration on a sparse matrix (same definition as ``nx.pagerank``)."""
    labels, *_ = edge_arrays(g)
    return dict(zip(labels, pagerank_array(g, alpha, tol, max_iter).tolist(), strict=True))


def pagerank_array(g: nx.Graph | EdgeGraph, alpha: float = 0.85, tol: float = 1e-8, max_iter: int = 200) -> np.ndarray:
    """:func:`pagerank` as an array in the node order of :func:`edge_arrays`."""
    n, src, dst, w = index_arrays(g)
    if n == 0:
        return np.zeros(0)
    if not g.is_directed():  # an undirected edge carries rank both ways, as in nx.pagerank
        src, dst, w = np.concatenate([src, dst]), np.concatenate([dst, src]), np.concatenate([w, w])
    m = sp.csr_matrix((w, (src, dst)), shape=(n, n))
    out = np.asarray(m.sum(axis=1)).ravel()
    dangling = out == 0
    out[dangling] = 1.0
    p = sp.diags(1.0 / out) @ m
    x = np.full(n, 1.0 / n)
    pt = p.T.tocsr()
    for _ in range(max_iter):
        prev = x
        x = alpha * (pt @ x + prev[dangling].sum() / n) + (1 - alpha) / n
        if np.abs(x - prev).sum() < n * tol:
            break
    return x


def cascades(posts: pd.DataFrame) -> pd.DataFrame:
    """Per original author: reposts received across their posts' cascades and the deepest chain."""
    cols = ["author_id", "cascade_size", "cascade_depth"]
    if posts.empty:
        return pd.DataFrame(columns=cols)
    reposts = posts[posts["kind"] == "repost"]
    roots = posts[posts["kind"] == "post"].set_index("id")["author_id"]
    size = reposts.groupby("root_id").size()
    parent = dict(zip(reposts["id"], reposts["parent_id"], strict=True))
    depth: dict[str, int] = {}

    def d(pid: str) -> int:
        chain = []
        while pid in parent and pid not in depth:
            chain.append(pid)
            pid = parent[pid]
        base = depth.get(pid, 0)
        for i, c in enumerate(reversed(chain), start=1):
            depth[c] = base + i
        return depth.get(chain[0], base) if chain else base

    for rid in reposts["id"]:
        d(rid)
    reposts = reposts.assign(depth=reposts["id"].map(depth))
    max_depth = reposts.groupby("root_id")["depth"].max()
    frame = pd.DataFrame({"cascade_size": size, "cascade_depth": max_depth})
    frame["author_id"] = frame.index.map(roots.to_dict())
    frame = frame.dropna(subset=["author_id"])
    return (
        frame.groupby("author_id")
        .agg(cascade_size=("cascade_size", "sum"), cascade_depth=("cascade_depth", "max"))
        .reset_index()[cols]
    )


def _fmt(n: float) -> str:
    return f"{n / 10_000:.1f}万" if n >= 10_000 else f"{int(n):,}"


def _node_frame(g: nx.DiGraph | EdgeGraph) -> pd.DataFrame:
    """The nodes' key columns in :func:`edge_arrays` order: ``platform, author_id`` for an :class:`EdgeGraph`
    of authors, ``author_id`` for a NetworkX graph."""
    if isinstance(g, EdgeGraph):
        return g.nodes.reset_index(drop=True).copy()
    return pd.DataFrame({"author_id": edge_arrays(g)[0]})


def rank_leaders(
    g: nx.DiGraph | EdgeGraph,
    authors: pd.DataFrame | None = None,
    cascade: pd.DataFrame | None = None,
    *,
    top: int | None = 50,
) -> pd.DataFrame:
    """Accounts ranked by influence, with a ``reasons`` column in Chinese.

    ``authors`` (``id, screen_name, followers_count, verified``) and ``cascade`` (``author_id, cascade_size,
    cascade_depth``) are matched on the node key: ``(platform, id)`` when both carry ``platform``, so two
    accounts with the same (masked) name stay two rows and only show the same name."""
    frame = _node_frame(g)
    frame["pagerank"] = pagerank_array(g)
    _n, src, dst, w = index_arrays(g)
    in_w = np.bincount(dst, weights=w, minlength=len(frame))
    if not g.is_directed():  # undirected: every edge counts for both ends
        in_w = in_w + np.bincount(src, weights=w, minlength=len(frame))
    frame["in_weight"] = in_w  # pagerank_array() keeps the node order of edge_arrays()
    if cascade is not None and not cascade.empty:
        on = [c for c in ("platform", "author_id") if c in frame.columns and c in cascade.columns]
        frame = frame.merge(cascade[[*on, "cascade_size", "cascade_depth"]], on=on, how="left")
    for col in ("cascade_size", "cascade_depth"):
        if col not in frame.columns:
            frame[col] = 0
        frame[col] = frame[col].fillna(0).astype(int)
    if authors is not None and not authors.empty:
        on = [c for c in ("platform",) if c in frame.columns and c in authors.columns]
        info = authors.drop_duplicates([*on, "id"])[[*on, "id", "screen_name", "followers_count", "verified"]]
        frame = frame.merge(info.rename(columns={"id": "author_id"}), on=[*on, "author_id"], how="left")
        frame["screen_name"] = frame["screen_name"].fillna("")
        frame["followers"] = frame.pop("followers_count").fillna(0).astype(int)
        frame["verified"] = frame["verified"].astype("boolean").fillna(False).astype(bool)
    else:
        frame["screen_name"], frame["followers"], frame["verified"] = "", 0, False
    score = np.zeros(len(frame))
    for col, weight in WEIGHTS.items():
        values = np.log1p(frame[col]) if col == "followers" else frame[col]
        score += weight * pd.Series(values).rank(pct=True).to_numpy()
    frame["score"] = np.round(score, 4)
    key = [c for c in ("platform", "author_id") if c in frame.columns]
    frame = frame.sort_values(
        ["score", "pagerank", *key], ascending=[False, False, *[True] * len(key)], kind="stable"
    ).reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    pr_rank = frame["pagerank"].rank(ascending=False, method="min").astype(int)
    frame["reasons"] = [
        f"PageRank 第{r}; 被互动 {iw:.0f} 次; 被转发 {cs:,} 次; 最大转发深度 {cd}; 粉丝 {_fmt(f)}"
        + ("; 认证" if v else "")
        for r, iw, cs, cd, f, v in zip(
            pr_rank,
            frame["in_weight"],
            frame["cascade_size"],
            frame["cascade_depth"],
            frame["followers"],
            frame["verified"],
            strict=True,
        )
    ]
    return frame.head(top) if top else frame


def advocates_detractors(
    leaders: pd.DataFrame, brand_mentions: pd.DataFrame, brand: str, *, min_posts: int = 2, top: int = 10
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leaders who speak well (advocates) or badly (detractors) of ``brand``.

    ``brand_mentions``: one row per (post, brand) with ``author_id`` and ``brand_sentiment``.
    """
    m = brand_mentions[brand_mentions["brand"] == brand]
    stance = (
        m.groupby("author_id")["brand_sentiment"]
        .agg(["mean", "size"])
        .rename(columns={"mean": "brand_sentiment", "size": "brand_posts"})
    )
    joined = leaders.merge(stance, left_on="author_id", right_index=True, how="inner")
    joined = joined[joined["brand_posts"] >= min_posts]
    advocates = joined[joined["brand_sentiment"] >= 0.6].sort_values("score", ascending=False).head(top)
    detractors = joined[joined["brand_sentiment"] <= 0.4].sort_values("score", ascending=False).head(top)
    return advocates.reset_index(drop=True), detractors.reset_index(drop=True)
