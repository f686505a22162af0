"""Graph speed and community quality on synthetic graphs.

1. Speed: a 1M-edge directed interaction graph with planted communities (numpy generator,
   ~200k nodes).  Stages are timed separately: building the weighted ``nx.DiGraph`` from
   interaction rows, ``rank_leaders`` (sparse PageRank + in-degree + score + reasons) and
   ``detect_communities`` (auto → igraph/leidenalg on graphs this size).  networkx
   ``louvain_communities`` is *not* run on the full graph (~350 s); it is timed on a
   100k-edge subgraph and extrapolated linearly — an estimate, said so in the output.
2. Quality: NMI against the planted truth on networkx ``LFR_benchmark_graph`` graphs
   (a few mixing parameters mu, 1-3k nodes), ours vs networkx ``louvain_communities``.

    /work/venv/bin/python benchmarks/bench_graph.py [--edges 1000000] [--skip-speed] [--skip-lfr]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

from yuqing.graph.build import build_graph
from yuqing.graph.communities import detect_communities
from yuqing.graph.leaders import rank_leaders

LFR_SETTINGS = [
    # (n, tau1, tau2, mu, average_degree, min_community, max_degree, seed)
    (1000, 3.0, 1.5, 0.1, 10, 20, 50, 1),
    (1000, 3.0, 1.5, 0.3, 10, 20, 50, 2),
    (2000, 2.5, 1.5, 0.4, 15, 30, 80, 3),
    (3000, 2.5, 1.5, 0.5, 20, 40, 100, 4),
]


def _nmi(truth: dict[Any, int], part: dict[Any, int]) -> float:
    nodes = list(truth)
    return float(normalized_mutual_info_score([truth[n] for n in nodes], [part[n] for n in nodes]))


def planted_interactions(
    edges: int, nodes: int, communities: int, p_in: float, seed: int
) -> tuple[pd.DataFrame, pd.Series]:
    """Interaction rows: each source picks a target in its own community with probability ``p_in``.

    Targets are drawn with a heavy-tailed popularity so there are leaders to find.
    """
    rng = np.random.default_rng(seed)
    comm = rng.integers(0, communities, size=nodes)
    order = np.argsort(comm, kind="stable")
    starts = np.searchsorted(comm[order], np.arange(communities))
    sizes = np.bincount(comm, minlength=communities)
    src = rng.integers(0, nodes, size=edges)
    inside = rng.random(edges) < p_in
    pop = rng.pareto(1.5, size=edges)  # heavy tail: a few very popular targets per community
    frac = np.minimum(pop / 50.0, 0.999)
    c = comm[src]
    tgt_in = order[starts[c] + (frac * sizes[c]).astype(np.int64)]
    tgt_out = order[(frac * nodes).astype(np.int64)]
    tgt = np.where(inside, tgt_in, tgt_out)
    keep = src != tgt
    kinds = np.array(["repost", "comment", "reply", "mention"])[rng.integers(0, 4, size=edges)]
    t0 = pd.Timestamp("2026-09-01", tz="UTC")
    return pd.DataFrame(
        {
            "source_author_id": src[keep].astype(str),
            "target_author_id": tgt[keep].astype(str),
            "kind": kinds[keep],
            "post_id": "",
            "created_at": t0 + pd.to_timedelta(rng.integers(0, 86400 * 30, size=int(keep.sum())), unit="s"),
        }
    ), pd.Series(comm, index=np.arange(nodes).astype(str))


def speed(edges: int) -> None:
    t = time.perf_counter()
    inter, truth = planted_interactions(edges, nodes=edges // 5, communities=max(10, edges // 2000), p_in=0.8, seed=0)
    print(f"generated {len(inter):,} interaction rows in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    g = build_graph(inter)
    t_build = time.perf_counter() - t
    print(f"build_graph: {g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges in {t_build:.1f} s")
    t = time.perf_counter()
    leaders = rank_leaders(g, top=50)
    t_leaders = time.perf_counter() - t
    t = time.perf_counter()
    part = detect_communities(g, seed=0)
    t_comm = time.perf_counter() - t
    nodes = [n for n in part if n in truth.index]
    nmi = float(normalized_mutual_info_score(truth[nodes].to_numpy(), [part[n] for n in nodes]))
    print(f"rank_leaders (top {len(leaders)}): {t_leaders:.1f} s")
    print(
        f"detect_communities(auto): {len(set(part.values())):,} communities in {t_comm:.1f} s; NMI vs planted {nmi:.3f}"
    )
    print(f"leaders + communities: {t_leaders + t_comm:.1f} s (graph build separately: {t_build:.1f} s)")

    # networkx louvain on a 100k-edge subgraph (the first 100k aggregated edges), extrapolated
    sub_edges = list(g.edges(data="weight"))[:100_000]
    und = nx.Graph()
    for u, v, w in sub_edges:
        und.add_edge(u, v, weight=(und[u][v]["weight"] + w) if und.has_edge(u, v) else w)
    t = time.perf_counter()
    nx.community.louvain_communities(und, weight="weight", seed=0)
    t_nx = time.perf_counter() - t
    t = time.perf_counter()
    detect_communities(und, method="leiden", seed=0)
    t_ours_sub = time.perf_counter() - t
    scale = g.number_of_edges() / und.number_of_edges()
    print(
        f"networkx louvain_communities on a {und.number_of_edges():,}-edge subgraph: {t_nx:.1f} s "
        f"(ours {t_ours_sub:.1f} s) -> ESTIMATE for the full graph by linear scaling x{scale:.1f}: "
        f"~{t_nx * scale:.0f} s (not run)"
    )


def lfr() -> None:
    print("LFR benchmark graphs: NMI vs planted communities (networkx louvain vs ours; same seed)")
    for n, tau1, tau2, mu, deg, cmin, dmax, seed in LFR_SETTINGS:
        try:
            g = nx.LFR_benchmark_graph(
                n, tau1, tau2, mu, average_degree=deg, min_community=cmin, max_degree=dmax, seed=seed
            )
        except nx.ExceededMaxIterations:
            print(f"  n={n} mu={mu}: generator did not converge, skipped")
            continue
        g.remove_edges_from(list(nx.selfloop_edges(g)))
        comms = {frozenset(g.nodes[v]["community"]) for v in g}
        truth = {v: i for i, c in enumerate(comms) for v in c}
        ref_parts = nx.community.louvain_communities(g, seed=seed)
        ref = {v: i for i, c in enumerate(ref_parts) for v in c}
        row = [f"  n={n} mu={mu} deg={deg} edges={g.number_of_edges():,} true={len(comms)}:"]
        row.append(f"networkx louvain {_nmi(truth, ref):.3f} ({len(ref_parts)})")
        for method in ("auto", "leiden"):
            part = detect_communities(g, method=method, seed=seed)
            row.append(f"ours {method} {_nmi(truth, part):.3f} ({len(set(part.values()))})")
        print("  ".join(row))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-lfr", action="store_true")
    args = ap.parse_args()
    if not args.skip_speed:
        speed(args.edges)
    if not args.skip_lfr:
        lfr()
    return 0


if __name__ == "__main__":
    sys.exit(main())
