"""The interaction graph: directed, weighted author → author edges (repost, comment, reply, mention).

An edge ``a → b`` means *a* reposted/commented on/replied to/mentioned *b*:
attention, and so influence, flows towards *b*.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence

import networkx as nx
import numpy as np
import pandas as pd

__all__ = ["build_graph", "edge_arrays", "mention_edges"]

EdgeArrays = tuple[list[str], np.ndarray, np.ndarray, np.ndarray]

KIND_WEIGHT = {"repost": 1.0, "comment": 0.6, "reply": 0.5, "mention": 0.4}


def mention_edges(posts: pd.DataFrame, authors: pd.DataFrame) -> pd.DataFrame:
    """Mentions (``@name`` in ``at_users``) resolved to author ids by screen name, as interaction rows."""
    if posts.empty or "at_users" not in posts.columns:
        return pd.DataFrame(
            columns=["platform", "kind", "source_author_id", "target_author_id", "post_id", "created_at"]
        )
    by_name = {(p, n): i for p, n, i in authors[["platform", "screen_name", "id"]].itertuples(index=False) if n}
    rows = []
    for platform, pid, author, created, names in posts[
        ["platform", "id", "author_id", "created_at", "at_users"]
    ].itertuples(index=False):
        for name in list(names) if names is not None else []:
            target = by_name.get((platform, name))
            if target and target != author:
                rows.append((platform, "mention", author, target, pid, created))
    return pd.DataFrame(
        rows, columns=["platform", "kind", "source_author_id", "target_author_id", "post_id", "created_at"]
    )


def build_graph(
    interactions: pd.DataFrame,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    kinds: Sequence[str] | None = None,
    post_ids: Collection[str] | None = None,
    post_filter: Collection[str] | Callable[[pd.Series], pd.Series] | None = None,
    kind_weight: dict[str, float] | None = None,
) -> nx.DiGraph:
    """Aggregate interaction rows into a weighted DiGraph.

    ``post_ids`` / ``post_filter`` restrict to interactions on some posts (a brand, a topic,
    a sentiment): a collection of post ids, or a function from the ``post_id`` column to a
    boolean mask.  Edge attributes: ``weight`` (kind-weighted count), one count
    per kind, ``first``/``last`` time.
    """
    frame = interactions
    if since is not None:
        frame = frame[frame["created_at"] >= pd.Timestamp(since)]
    if until is not None:
        frame = frame[frame["created_at"] < pd.Timestamp(until)]
    if kinds:
        frame = frame[frame["kind"].isin(list(kinds))]
    if post_ids is not None:
        frame = frame[frame["post_id"].isin(list(post_ids))]
    if post_filter is not None:
        if callable(post_filter):
            mask = pd.Series(post_filter(frame["post_id"]), index=frame.index).astype(bool)
        else:
            mask = frame["post_id"].isin(list(post_filter))
        frame = frame[mask]
    weights = kind_weight or KIND_WEIGHT
    frame = frame.assign(w=frame["kind"].map(weights).fillna(0.5) * frame.get("weight", 1.0))
    kind_names = sorted(str(k) for k in frame["kind"].dropna().unique())
    onehot = {k: (frame["kind"] == k).astype(np.int64) for k in kind_names}
    frame = frame.assign(**{f"_k_{k}": v for k, v in onehot.items()})
    grouped = frame.groupby(["source_author_id", "target_author_id"], sort=False).agg(
        weight=("w", "sum"),
        first=("created_at", "min"),
        last=("created_at", "max"),
        n=("w", "size"),
        **{k: (f"_k_{k}", "sum") for k in kind_names},
    )
    g = nx.DiGraph()
    cols = list(grouped.columns)
    g.add_edges_from(
        (src, dst, dict(zip(cols, values, strict=True)))
        for (src, dst), values in zip(grouped.index, grouped.itertuples(index=False, name=None), strict=True)
    )
    if len(grouped):
        nodes = list(g.nodes)
        index = pd.Index(nodes)
        arrays: EdgeArrays = (
            nodes,
            index.get_indexer(grouped.index.get_level_values(0)).astype(np.int64),
            index.get_indexer(grouped.index.get_level_values(1)).astype(np.int64),
            grouped["weight"].to_numpy(dtype=np.float64),
        )
        g.graph["_edge_arrays"] = ((g.number_of_nodes(), g.number_of_edges()), arrays)
    return g


def edge_arrays(g: nx.Graph) -> EdgeArrays:
    """Nodes and edge (source index, target index, weight) arrays, for the sparse/igraph engines.

    Computed once per graph and cached in ``g.graph`` (``build_graph`` fills it without a
    Python loop).  The cache is keyed by node and edge counts: treat a built graph as
    read-only, or ``g.graph.pop("_edge_arrays")`` after changing weights in place.
    """
    key = (g.number_of_nodes(), g.number_of_edges())
    cached = g.graph.get("_edge_arrays")
    if cached is not None and cached[0] == key:
        return cached[1]
    nodes = list(g.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    m = g.number_of_edges()
    src = np.empty(m, dtype=np.int64)
    dst = np.empty(m, dtype=np.int64)
    w = np.empty(m, dtype=np.float64)
    for k, (u, v, weight) in enumerate(g.edges(data="weight", default=1.0)):
        src[k], dst[k], w[k] = index[u], index[v], weight
    arrays: EdgeArrays = (nodes, src, dst, w)
    g.graph["_edge_arrays"] = (key, arrays)
    return arrays
