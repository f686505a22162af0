"""Communities: modularity communities with resolution control, labelled and led.

NetworkX is the model and the API.  Small graphs run ``nx.community.louvain_communities``;
large ones are converted to igraph and run Leiden (``leidenalg``, modularity with the
same resolution) behind the same function — two orders of magnitude faster on 1M edges.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal, cast

import networkx as nx
import pandas as pd

__all__ = ["LARGE_GRAPH_EDGES", "detect_communities", "label_communities"]

LARGE_GRAPH_EDGES = 20_000


def _undirected_weights(g: nx.Graph) -> tuple[list[str], list[tuple[int, int]], list[float]]:
    nodes = list(g.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    merged: dict[tuple[int, int], float] = {}
    for u, v, d in g.edges(data=True):
        a, b = index[u], index[v]
        if a == b:
            continue
        key = (a, b) if a < b else (b, a)
        merged[key] = merged.get(key, 0.0) + float(d.get("weight", 1.0))
    return nodes, list(merged), list(merged.values())


def detect_communities(
    g: nx.Graph,
    *,
    resolution: float = 1.0,
    method: Literal["auto", "louvain", "leiden"] = "auto",
    seed: int = 0,
) -> dict[str, int]:
    """Node → community id (0 = largest).  Directed graphs are read as undirected, weights summed."""
    if g.number_of_nodes() == 0:
        return {}
    if method == "auto":
        method = "leiden" if g.number_of_edges() >= LARGE_GRAPH_EDGES else "louvain"
    if method == "louvain":
        und = g.to_undirected() if g.is_directed() else g
        if g.is_directed():
            und = nx.Graph()
            und.add_nodes_from(g.nodes)
            for u, v, d in g.edges(data=True):
                w = float(d.get("weight", 1.0))
                if und.has_edge(u, v):
                    und[u][v]["weight"] += w
                else:
                    und.add_edge(u, v, weight=w)
        parts = nx.community.louvain_communities(und, weight="weight", resolution=resolution, seed=seed)
    else:
        import igraph as ig
        import leidenalg

        nodes, edges, weights = _undirected_weights(g)
        ig_graph = ig.Graph(n=len(nodes), edges=edges)
        ig_graph.es["weight"] = weights
        partition = leidenalg.find_partition(
            ig_graph,
            leidenalg.RBConfigurationVertexPartition,
            weights="weight",
            resolution_parameter=resolution,
            seed=seed,
            n_iterations=-1,
        )
        parts = [{nodes[i] for i in members} for members in partition]
    parts = sorted(parts, key=lambda p: (-len(p), min(map(str, p))))
    return {node: cid for cid, members in enumerate(parts) for node in members}


def label_communities(
    partition: dict[str, int],
    posts: pd.DataFrame,
    leaders: pd.DataFrame | None = None,
    *,
    top_words: int = 5,
    top_leaders: int = 3,
) -> pd.DataFrame:
    """Per community: size, top keywords, dominant sentiment and its leaders.

    ``posts`` needs ``author_id`` and may carry ``keywords`` (space-separated) and ``polarity``.
    """
    member = pd.Series(partition, name="community")
    frame = posts.assign(community=posts["author_id"].map(member)).dropna(subset=["community"])
    rows = []
    sizes = member.value_counts()
    for cid, size in sizes.items():
        p = frame[frame["community"] == cid]
        words: Counter[str] = Counter()
        if "keywords" in p.columns:
            for kw in p["keywords"].dropna():
                words.update(str(kw).split())
        polarity = p["polarity"].value_counts(normalize=True) if "polarity" in p.columns and len(p) else pd.Series()
        lead = []
        if leaders is not None and not leaders.empty:
            lp = leaders[leaders["author_id"].map(member) == cid].nsmallest(top_leaders, "rank")
            lead = [str(n or a) for n, a in zip(lp.get("screen_name", lp["author_id"]), lp["author_id"], strict=True)]
        rows.append(
            {
                "community": int(cast(int, cid)),
                "size": int(size),
                "posts": len(p),
                "label": " / ".join(w for w, _ in words.most_common(top_words)),
                "dominant_sentiment": str(polarity.idxmax()) if len(polarity) else "",
                "negative_share": round(float(polarity.get("negative", 0.0)), 3) if len(polarity) else 0.0,
                "leaders": "、".join(lead),
            }
        )
    return pd.DataFrame(rows).sort_values("size", ascending=False).reset_index(drop=True)
