"""The interaction graph: directed, weighted author → author edges (repost, comment, reply, mention).

An edge ``a → b`` means *a* reposted/commented on/replied to/mentioned *b*:
attention, and so influence, flows towards *b*.

Two forms of the same graph:

* :class:`EdgeGraph` — node keys in a frame and edges as NumPy arrays, built without a Python object per
  edge from edges already aggregated per (source, target, kind) (:meth:`Warehouse.interaction_edges` does
  that in SQL).  The pipeline's graph stage uses it: its memory grows with authors and edges, not posts.
* ``nx.DiGraph`` from :func:`build_graph` — the NetworkX model and API, with per-edge attributes
  (counts per kind, first/last time), for exploring and for small graphs.

:func:`edge_arrays` gives either as ``(labels, src, dst, weight)``, which leaders and communities run on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import networkx as nx
import numpy as np
import pandas as pd

__all__ = [
    "KIND_WEIGHT",
    "EdgeGraph",
    "aggregate_edges",
    "build_graph",
    "edge_arrays",
    "edge_graph",
    "edge_graph_codes",
    "index_arrays",
]

EdgeArrays = tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]

KIND_WEIGHT = {"repost": 1.0, "comment": 0.6, "reply": 0.5, "mention": 0.4}
UNKNOWN_KIND_WEIGHT = 0.5
AUTHOR_KEY = ["platform", "author_id"]


@dataclass(frozen=True, eq=False)
class EdgeGraph:
    """A weighted graph as arrays: node ``i`` is row ``i`` of ``nodes`` (its key columns, e.g. ``platform,
    author_id``); edge ``k`` goes ``src[k] → dst[k]`` with ``weight[k]``, one edge per ordered pair."""

    nodes: pd.DataFrame
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    directed: bool = True

    def number_of_nodes(self) -> int:
        return len(self.nodes)

    def number_of_edges(self) -> int:
        return len(self.src)

    def is_directed(self) -> bool:
        return self.directed

    def labels(self) -> list[Any]:
        """One label per node: the key value, or a tuple of them when the key has several columns."""
        cols = [self.nodes[c].tolist() for c in self.nodes.columns]
        return cols[0] if len(cols) == 1 else list(zip(*cols, strict=True))

    def to_networkx(self) -> nx.DiGraph:
        """The same graph as NetworkX (one dict per edge: for small graphs)."""
        g: nx.DiGraph = nx.DiGraph() if self.directed else nx.Graph()
        labels = self.labels()
        g.add_nodes_from(labels)
        g.add_weighted_edges_from(
            zip([labels[i] for i in self.src], [labels[i] for i in self.dst], self.weight.tolist(), strict=True)
        )
        return g


def aggregate_edges(
    interactions: pd.DataFrame,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    kinds: Sequence[str] | None = None,
    post_ids: Collection[str] | None = None,
    post_filter: Collection[str] | Callable[[pd.Series], pd.Series] | None = None,
    times: bool = False,
) -> pd.DataFrame:
    """Interaction rows → one row per (platform, source, target, kind): ``n`` rows and ``weight`` (summed stored
    weights, 1 each when the frame has none) — what :meth:`Warehouse.interaction_edges` returns, in pandas.

    ``post_ids`` / ``post_filter`` restrict to interactions on some posts (a brand, a topic, a sentiment): a
    collection of post ids, or a function from the ``post_id`` column to a boolean mask.  ``times`` adds
    ``first``/``last`` (``created_at``).  Rows keep the order in which their edge first appears."""
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
    weight = frame["weight"].fillna(1.0) if "weight" in frame.columns else pd.Series(1.0, index=frame.index)
    frame = frame.assign(_w=weight.astype(np.float64), _p=frame["platform"] if "platform" in frame.columns else "")
    extra = {"first": ("created_at", "min"), "last": ("created_at", "max")} if times else {}
    out = frame.groupby(["_p", "source_author_id", "target_author_id", "kind"], sort=False, dropna=False).agg(
        n=("_w", "size"), weight=("_w", "sum"), **extra
    )
    return out.reset_index().rename(columns={"_p": "platform"})


def _kind_weights(kind: pd.Series, kind_weight: dict[str, float] | None) -> np.ndarray:
    weights = kind_weight or KIND_WEIGHT
    return kind.map(weights).fillna(UNKNOWN_KIND_WEIGHT).to_numpy(dtype=np.float64)


def edge_graph(
    edges: pd.DataFrame, *, kind_weight: dict[str, float] | None = None, key: Sequence[str] = AUTHOR_KEY
) -> EdgeGraph:
    """An :class:`EdgeGraph` from aggregated edges (``source_author_id, target_author_id, kind, weight`` and the
    other ``key`` columns, e.g. ``platform``): one node per distinct key, one edge per ordered pair with
    weight Σ kind weight × stored weight.  Vectorised (factorize, bincount); nodes in order of first appearance,
    source before target, as :func:`build_graph` adds them."""
    shared = [c for c in key if c != "author_id" and c in edges.columns]
    m = len(edges)
    # codes of every key column over sources then targets (Arrow-backed strings factorize without Python
    # objects), combined into one int per node key
    ids, id_values = pd.factorize(pd.concat([edges["source_author_id"], edges["target_author_id"]], ignore_index=True))
    parts = [(*pd.factorize(edges[c]), c) for c in shared]
    combined = np.zeros(2 * m, dtype=np.int64)
    for codes, values, _name in parts:
        combined = combined * (len(values) + 1) + np.concatenate([codes, codes])
    combined = combined * (len(id_values) + 1) + ids
    # interleave (source, target) of every edge so node order is that of first appearance, as build_graph adds
    node_of, node_keys = pd.factorize(np.column_stack([combined[:m], combined[m:]]).ravel())
    src, dst = node_of[0::2].astype(np.int64), node_of[1::2].astype(np.int64)
    keys = np.asarray(node_keys, dtype=np.int64)
    columns: dict[str, Any] = {"author_id": id_values.take(keys % (len(id_values) + 1))}
    keys = keys // (len(id_values) + 1)
    for _codes, values, name in reversed(parts):
        columns[name] = values.take(keys % (len(values) + 1))
        keys = keys // (len(values) + 1)
    nodes = pd.DataFrame({c: columns[c] for c in [*shared, "author_id"]})
    w = _kind_weights(edges["kind"], kind_weight) * edges["weight"].to_numpy(dtype=np.float64)
    return _pair_graph(nodes, src, dst, w)


def _pair_graph(nodes: pd.DataFrame, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> EdgeGraph:
    """One edge per ordered (source, target) node pair, in order of first appearance, weights summed."""
    n = max(len(nodes), 1)
    pair, first = pd.factorize(src * n + dst)
    first = np.asarray(first, dtype=np.int64)
    return EdgeGraph(
        nodes=nodes,
        src=first // n,
        dst=first % n,
        weight=np.bincount(pair, weights=w, minlength=len(first)).astype(np.float64),
    )


def edge_graph_codes(
    nodes: pd.DataFrame, edges: pd.DataFrame, *, kind_weight: dict[str, float] | None = None
) -> EdgeGraph:
    """:func:`edge_graph` from aggregated edges whose authors are integer codes (``Warehouse.interaction_edge_codes``:
    ``nodes`` holds the key columns of code ``i`` in row ``i``; ``edges`` has ``src, dst, kind, weight``): the same
    graph as from the rows with their string keys in the same order — nodes in order of first appearance, source
    before target, one edge per ordered pair, weights summed in row order — built from integers only."""
    m = len(edges)
    ends = np.empty(2 * m, dtype=np.int64)
    ends[0::2] = edges["src"].to_numpy(dtype=np.int64)
    ends[1::2] = edges["dst"].to_numpy(dtype=np.int64)
    node_of, codes = pd.factorize(ends)  # integers: hashed, in order of first appearance
    kind = edges["kind"]
    if isinstance(kind.dtype, pd.CategoricalDtype):  # weight per category, then per row by its code
        per_kind = _kind_weights(pd.Series(kind.cat.categories, dtype=object), kind_weight)
        kind_w = per_kind[kind.cat.codes.to_numpy()] if len(per_kind) else np.zeros(m)
    else:
        kind_w = _kind_weights(kind.astype(object), kind_weight)
    w = kind_w * edges["weight"].to_numpy(dtype=np.float64)
    graph_nodes = nodes.take(np.asarray(codes, dtype=np.int64)).reset_index(drop=True)
    return _pair_graph(graph_nodes, node_of[0::2].astype(np.int64), node_of[1::2].astype(np.int64), w)


class EdgeFilters(TypedDict, total=False):
    """The filters of :func:`aggregate_edges`, passed on by :func:`build_graph`."""

    since: dt.datetime | None
    until: dt.datetime | None
    kinds: Sequence[str] | None
    post_ids: Collection[str] | None
    post_filter: Collection[str] | Callable[[pd.Series], pd.Series] | None


def build_graph(
    interactions: pd.DataFrame, *, kind_weight: dict[str, float] | None = None, **filters: Unpack[EdgeFilters]
) -> nx.DiGraph:
    """Aggregate interaction rows into a weighted NetworkX DiGraph keyed by author id.

    Filters as :func:`aggregate_edges`.  Edge attributes: ``weight`` (kind-weighted count), ``n``, one count
    per kind, ``first``/``last`` time.  One dict per edge: for exploring; the pipeline uses :func:`edge_graph`.
    """
    agg = aggregate_edges(interactions, times=True, **filters)
    agg = agg.assign(w=_kind_weights(agg["kind"].astype(object), kind_weight) * agg["weight"].to_numpy())
    kind_names = sorted(str(k) for k in agg["kind"].dropna().unique())
    per_kind = {k: np.where(agg["kind"] == k, agg["n"], 0) for k in kind_names}
    grouped = (
        agg.assign(**{f"_k_{k}": v for k, v in per_kind.items()})
        .groupby(["source_author_id", "target_author_id"], sort=False)
        .agg(
            weight=("w", "sum"),
            first=("first", "min"),
            last=("last", "max"),
            n=("n", "sum"),
            **{k: (f"_k_{k}", "sum") for k in kind_names},
        )
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


def index_arrays(g: nx.Graph | EdgeGraph) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Node count and the edge arrays of :func:`edge_arrays`, without making the labels of an EdgeGraph."""
    if isinstance(g, EdgeGraph):
        return g.number_of_nodes(), g.src, g.dst, g.weight
    labels, src, dst, w = edge_arrays(g)
    return len(labels), src, dst, w


def edge_arrays(g: nx.Graph | EdgeGraph) -> EdgeArrays:
    """Node labels and edge (source index, target index, weight) arrays, for the sparse/igraph engines.

    An :class:`EdgeGraph` is arrays already.  For a NetworkX graph they are computed once and cached in
    ``g.graph`` (``build_graph`` fills it without a Python loop); the cache is keyed by node and edge counts:
    treat a built graph as read-only, or ``g.graph.pop("_edge_arrays")`` after changing weights in place.
    """
    if isinstance(g, EdgeGraph):
        return g.labels(), g.src, g.dst, g.weight
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
