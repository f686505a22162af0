"""Communities: modularity communities with resolution control, labelled and led.

NetworkX is the model and the API.  Small graphs run ``nx.community.louvain_communities``;
large ones are converted to igraph and run Leiden (igraph's C implementation,
``community_leiden`` with the modularity objective and the same resolution) behind the
same function — two orders of magnitude faster on 1M edges (see docs/benchmarks.md,
"Graph").  ``leidenalg`` gives the same partitions but was 10-20x slower here.
"""

from __future__ import annotations

from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd

from yuqing.graph.build import EdgeGraph, edge_arrays, index_arrays

__all__ = [
    "LARGE_GRAPH_EDGES",
    "LEIDEN_ITERATIONS",
    "community_ids",
    "describe_communities",
    "detect_communities",
    "label_communities",
]

LARGE_GRAPH_EDGES = 20_000
LEIDEN_ITERATIONS = 10
"""Leiden passes on graphs of ``LEIDEN_CONVERGE_EDGES`` undirected edges or more; smaller graphs iterate to
convergence.  Modularity is a poor guide to when to stop: on a simulated 150k-post world (205k edges, planted
communities) 2 passes reach modularity within 0.017 of convergence but NMI 0.33 against 0.53 converged (10
passes 0.46, 30 passes 0.50), and convergence took 7 s there (``benchmarks/bench_graph.py --world``); on the
1M-post world convergence took ~170 s more than 2 passes, so large graphs stop after 10."""
LEIDEN_CONVERGE_EDGES = 300_000


def _undirected_weights(g: nx.Graph | EdgeGraph) -> tuple[int, np.ndarray, np.ndarray]:
    """Node count, undirected index pairs (``(k, 2)``, a < b, self-loops dropped) and summed weights."""
    n, src, dst, w = index_arrays(g)
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    keep = a != b
    key = a[keep] * max(n, 1) + b[keep]
    uniq, inverse = np.unique(key, return_inverse=True)
    summed = np.bincount(inverse, weights=w[keep], minlength=len(uniq))
    return n, np.column_stack([uniq // max(n, 1), uniq % max(n, 1)]), summed


def community_ids(
    g: nx.Graph | EdgeGraph,
    *,
    resolution: float = 1.0,
    method: Literal["auto", "louvain", "leiden"] = "auto",
    seed: int = 0,
) -> np.ndarray:
    """Community id per node in :func:`edge_arrays` order (0 = largest; equal sizes by smallest label).
    Directed graphs are read as undirected, weights summed."""
    n, pairs, weights = _undirected_weights(g)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if method == "auto":
        method = "leiden" if g.number_of_edges() >= LARGE_GRAPH_EDGES else "louvain"
    membership = np.empty(n, dtype=np.int64)
    if method == "louvain":
        if isinstance(g, nx.Graph) and not g.is_directed():
            index = {v: i for i, v in enumerate(edge_arrays(g)[0])}
            parts = nx.community.louvain_communities(g, weight="weight", resolution=resolution, seed=seed)
            for cid, members in enumerate(parts):
                membership[[index[v] for v in members]] = cid
        else:
            und = nx.Graph()
            und.add_nodes_from(range(n))  # node order as in the labelled graph: same partition for a seed
            und.add_weighted_edges_from(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), weights.tolist(), strict=True))
            parts = nx.community.louvain_communities(und, weight="weight", resolution=resolution, seed=seed)
            for cid, members in enumerate(parts):
                membership[list(members)] = cid
    else:
        import random

        import igraph as ig

        # the edges as the array itself (igraph 1.0 takes it in one piece) and the weights passed to the call, not
        # stored as an edge attribute (a Python float per edge): on a random 1.3M-edge graph the peak fell 441 ->
        # 391 MB against lists and an attribute, the same partition; the 1M-post graph's partition is unchanged too
        ig_graph = ig.Graph(n=n, edges=pairs)
        # igraph's C Leiden, modularity objective with the same resolution as Louvain; seeded
        # through igraph's RNG hook (restored afterwards so global random state is untouched)
        iterations = LEIDEN_ITERATIONS if len(pairs) >= LEIDEN_CONVERGE_EDGES else -1
        ig.set_random_number_generator(random.Random(seed))
        try:
            clustering = ig_graph.community_leiden(
                objective_function="modularity", weights=weights, resolution=resolution, n_iterations=iterations
            )
        finally:
            ig.set_random_number_generator(random)
        membership[:] = clustering.membership
    # renumber: largest first, equal sizes by their smallest label (as text)
    text = _label_text(g)
    order = (
        pd.DataFrame({"c": membership, "t": text})
        .groupby("c")
        .agg(size=("t", "size"), first=("t", "min"))
        .sort_values(["size", "first"], ascending=[False, True], kind="stable")
    )
    renumber = np.empty(int(membership.max()) + 1, dtype=np.int64)
    renumber[order.index.to_numpy()] = np.arange(len(order))
    return renumber[membership]


def _label_text(g: nx.Graph | EdgeGraph) -> np.ndarray:
    if isinstance(g, EdgeGraph):
        cols = [g.nodes[c].astype(str) for c in g.nodes.columns]
        text = cols[0] if len(cols) == 1 else cols[0].str.cat(cols[1:], sep="\x1f")
        return text.to_numpy(dtype=object)
    return np.array([str(v) for v in edge_arrays(g)[0]], dtype=object)


def detect_communities(
    g: nx.Graph | EdgeGraph,
    *,
    resolution: float = 1.0,
    method: Literal["auto", "louvain", "leiden"] = "auto",
    seed: int = 0,
) -> dict[Any, int]:
    """Node → community id (0 = largest).  Directed graphs are read as undirected, weights summed."""
    ids = community_ids(g, resolution=resolution, method=method, seed=seed)
    return dict(zip(edge_arrays(g)[0], ids.tolist(), strict=True))


def label_communities(
    partition: dict[Any, int],
    posts: pd.DataFrame,
    leaders: pd.DataFrame | None = None,
    *,
    top_words: int = 5,
    top_leaders: int = 3,
) -> pd.DataFrame:
    """Per community: size, top keywords, dominant sentiment and its leaders, from the members' posts.

    ``posts`` needs ``author_id`` and may carry ``keywords`` (space-separated) and ``polarity``.  The pipeline
    counts in SQL instead (:meth:`Warehouse.community_profiles`) and calls :func:`describe_communities`.
    """
    member = pd.Series(partition, name="community")
    frame = posts.assign(community=posts["author_id"].map(member)).dropna(subset=["community"])
    frame = frame.astype({"community": np.int64})
    if "keywords" in frame.columns:
        said = frame[["community", "keywords"]].dropna()
        words = said.assign(word=said["keywords"].astype(str).str.split()).explode("word").dropna(subset=["word"])
        words = words.groupby(["community", "word"]).size().rename("n").reset_index()
    else:
        words = pd.DataFrame(columns=["community", "word", "n"])
    pol = frame["polarity"] if "polarity" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    polarity = (
        frame.assign(polarity=pol).groupby(["community", "polarity"], dropna=False).size().rename("n").reset_index()
    )
    if leaders is not None and not leaders.empty:
        leaders = leaders.assign(community=leaders["author_id"].map(member))
    return describe_communities(
        member.value_counts(), words, polarity, leaders, top_words=top_words, top_leaders=top_leaders
    )


def describe_communities(
    sizes: pd.Series,
    words: pd.DataFrame,
    polarity: pd.DataFrame,
    leaders: pd.DataFrame | None = None,
    *,
    top_words: int = 5,
    top_leaders: int = 3,
) -> pd.DataFrame:
    """Community rows from counts: ``sizes`` (community → members), ``words`` (``community, word, n``),
    ``polarity`` (``community, polarity, n``; polarity missing for posts not analysed: counted as posts, not
    in the shares) and ``leaders`` with ``community, rank`` and ``screen_name`` or ``author_id``.

    Columns: community, size, posts, label (top words, ties by the word itself), dominant_sentiment (ties by
    label), negative_share, leaders (best-ranked first)."""
    top = (
        words.astype({"n": np.int64})
        .sort_values(["community", "n", "word"], ascending=[True, False, True], kind="stable")
        .groupby("community", sort=False)
        .head(top_words)
    )
    labels = top.groupby("community", sort=False)["word"].agg(" / ".join)
    posts = polarity.groupby("community")["n"].sum()
    shares = polarity.dropna(subset=["polarity"])
    shares = shares.assign(share=shares["n"] / shares.groupby("community")["n"].transform("sum"))
    dominant = (
        shares.sort_values(["community", "share", "polarity"], ascending=[True, False, True], kind="stable")
        .groupby("community", sort=False)["polarity"]
        .first()
    )
    negative = shares[shares["polarity"] == "negative"].set_index("community")["share"]
    leads: dict[Any, str] = {}
    if leaders is not None and not leaders.empty:
        ranked = leaders.dropna(subset=["community"]).sort_values("rank", kind="stable")
        ranked = ranked.groupby("community", sort=False).head(top_leaders)
        names = ranked["screen_name"] if "screen_name" in ranked.columns else ranked["author_id"]
        names = names.where(names.astype(bool) & names.notna(), ranked["author_id"]).astype(str)
        leads = names.groupby(ranked["community"], sort=False).agg("、".join).to_dict()
    frame = pd.DataFrame({"community": sizes.index.astype(np.int64), "size": sizes.to_numpy(dtype=np.int64)})
    cid = frame["community"]
    frame["posts"] = cid.map(posts).fillna(0).astype(np.int64)
    labels_of, dominant_of, negative_of = labels.to_dict(), dominant.to_dict(), negative.to_dict()
    frame["label"] = [labels_of.get(c, "") for c in cid]  # one value per community
    frame["dominant_sentiment"] = [str(dominant_of.get(c, "")) for c in cid]
    frame["negative_share"] = [round(float(negative_of.get(c, 0.0)), 3) for c in cid]
    frame["leaders"] = [leads.get(c, "") for c in cid]
    return frame.sort_values(["size", "community"], ascending=[False, True], kind="stable").reset_index(drop=True)
