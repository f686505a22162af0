"""Community quality on the real email-Eu-core network (ground truth: 42 departments).

Reports NMI (and ARI) of ``graph.communities.detect_communities`` — each method, several
seeds — against networkx ``louvain_communities`` run in the same process on the same
undirected weighted graph.  Reads ../shared/data/graphs relative to the repository.

    /work/venv/bin/python benchmarks/eval_graph.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import networkx as nx
import pandas as pd
from accuracy_sets import DATA as ACCURACY_DATA  # this script's folder is on sys.path
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from yuqing.graph.build import aggregate_edges, build_graph, edge_graph
from yuqing.graph.communities import detect_communities

DATA = ACCURACY_DATA / "graphs"  # ../shared/data beside the checkout or its main checkout; YUQING_DATA overrides


def _scores(truth: dict[str, int], part: dict[str, int]) -> tuple[float, float]:
    nodes = [n for n in truth if n in part]
    t, p = [truth[n] for n in nodes], [part[n] for n in nodes]
    return float(normalized_mutual_info_score(t, p)), float(adjusted_rand_score(t, p))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--resolution", type=float, default=1.0)
    args = ap.parse_args()
    edges_path, labels_path = DATA / "email_eu_core_edges.csv", DATA / "email_eu_core_department_labels.csv"
    if not edges_path.exists() or not labels_path.exists():
        print(f"no data at {DATA}; nothing to evaluate")
        return 0
    edges = pd.read_csv(edges_path, dtype=str)
    labels = pd.read_csv(labels_path, dtype=str)
    truth = dict(zip(labels["node"], labels["label"].astype(int), strict=True))
    inter = pd.DataFrame(
        {
            "source_author_id": edges["source"],
            "target_author_id": edges["target"],
            "kind": "repost",
            "post_id": "",
            "created_at": pd.Timestamp("2000-01-01", tz="UTC"),
        }
    )
    g = build_graph(inter)
    arrays = edge_graph(aggregate_edges(inter), key=["author_id"])  # what the graph stage builds: no NetworkX
    # networkx reference on the same graph: directed edges folded to undirected with weights summed
    und = nx.Graph()
    und.add_nodes_from(g.nodes)
    for u, v, d in g.edges(data=True):
        if u == v:
            continue
        w = und[u][v]["weight"] + d["weight"] if und.has_edge(u, v) else d["weight"]
        und.add_edge(u, v, weight=w)
    print(f"email-Eu-core: {g.number_of_nodes():,} nodes, {g.number_of_edges():,} directed edges, 42 departments")
    print(f"resolution {args.resolution}, seeds 0..{args.seeds - 1}; NMI / ARI mean (min-max)")
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seed in range(args.seeds):
        t = time.perf_counter()
        parts = nx.community.louvain_communities(und, weight="weight", resolution=args.resolution, seed=seed)
        ref = {n: i for i, members in enumerate(parts) for n in members}
        rows.setdefault("networkx louvain_communities", []).append((*_scores(truth, ref), time.perf_counter() - t))
        for method in ("auto", "louvain", "leiden"):
            t = time.perf_counter()
            part = detect_communities(g, resolution=args.resolution, method=method, seed=seed)
            rows.setdefault(f"detect_communities(method={method!r})", []).append(
                (*_scores(truth, part), time.perf_counter() - t)
            )
            t = time.perf_counter()
            part = detect_communities(arrays, resolution=args.resolution, method=method, seed=seed)
            rows.setdefault(f"  same on the stage's EdgeGraph ({method})", []).append(
                (*_scores(truth, part), time.perf_counter() - t)
            )
    for name, vals in rows.items():
        nmi = [v[0] for v in vals]
        ari = [v[1] for v in vals]
        secs = statistics.mean(v[2] for v in vals)
        print(
            f"  {name:42s} NMI {statistics.mean(nmi):.3f} ({min(nmi):.3f}-{max(nmi):.3f})  "
            f"ARI {statistics.mean(ari):.3f}  {secs:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
