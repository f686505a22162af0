"""Graph speed and memory on a warehouse, and community quality on synthetic graphs.

1. Speed and memory: a directed interaction graph with planted communities (numpy generator, ~edges/5
   authors) is written to a throw-away DuckDB warehouse, then two child processes each read it (peak RSS
   measured per process from ``VmHWM`` after resetting it, so the data generation is not counted):

   * **stage** — what the graph stage runs: ``Warehouse.interaction_edge_codes`` (edges aggregated per author
     pair and kind in SQL, authors as integer codes), ``edge_graph_codes`` (factorize + bincount of integers, no
     object per edge), ``rank_leaders`` (sparse
     PageRank), ``community_ids`` (igraph C Leiden); then plain ``networkx.pagerank`` on the same graph, in
     the same process, for the ratio.
   * **networkx** — the stage before: every interaction row into pandas, ``build_graph`` → ``nx.DiGraph``
     with a dict per edge, ``rank_leaders`` and ``detect_communities`` on it (``--skip-networkx`` skips it).

   Prints interaction rows/s, seconds per step, rows fetched from the warehouse and peak RSS.
2. Quality: NMI against the planted truth on networkx ``LFR_benchmark_graph`` graphs
   (a few mixing parameters mu, 1-3k nodes), ours vs networkx ``louvain_communities``.

3. ``--world POSTS``: the graph stage itself (``flows.stages.graph``: edges, cascades, community profiles,
   CRM links, customer view) on a simulated world loaded and analysed as ``bench_e2e.py`` does.

    nice -n 10 .venv/bin/python benchmarks/bench_graph.py [--edges 250000] [--skip-networkx] [--skip-lfr]
    nice -n 10 .venv/bin/python benchmarks/bench_graph.py --world 20000 --skip-speed --skip-lfr
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

from yuqing.graph.build import build_graph, edge_graph_codes
from yuqing.graph.communities import community_ids, detect_communities
from yuqing.graph.leaders import pagerank_array, rank_leaders
from yuqing.store.warehouse import Warehouse

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


def _reset_peak() -> float:
    """Reset this process's peak RSS (Linux: ``clear_refs`` 5), so what was used before is not counted; the RSS
    then (MB: the libraries imported)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return _status_mb("VmHWM")


def write_warehouse(path: Path, edges: int) -> pd.Series:
    """Planted interactions (platform weibo, one post id per row) into a new warehouse; the planted truth."""
    inter, truth = planted_interactions(edges, nodes=edges // 5, communities=max(10, edges // 2000), p_in=0.8, seed=0)
    inter = inter.assign(platform="weibo", post_id=np.arange(len(inter)).astype(str), weight=1.0)
    with Warehouse.open(path) as wh:
        wh.con.register("_rows", inter)
        wh.con.execute(
            "INSERT INTO interactions SELECT platform, kind, source_author_id, target_author_id, post_id, "
            "created_at, weight FROM _rows"
        )
        wh.con.unregister("_rows")
    return truth


def run_stage(path: Path, truth_path: Path) -> dict[str, Any]:
    base = _reset_peak()
    t = {"start": time.perf_counter()}
    with Warehouse.open(path, read_only=True) as wh:
        rows_in = int(wh.con.execute("SELECT count(*) FROM interactions").fetchall()[0][0])
        nodes, codes = wh.interaction_edge_codes()
        fetched = wh.rows_fetched
    t["read"] = time.perf_counter()
    g = edge_graph_codes(nodes, codes)
    t["build"] = time.perf_counter()
    rank_leaders(g, top=None)
    t["leaders"] = time.perf_counter()
    ids = community_ids(g, seed=0)
    t["communities"] = time.perf_counter()
    peak = _peak_mb()
    t0 = time.perf_counter()
    pagerank_array(g)
    ours_pr = time.perf_counter() - t0
    nxg = g.to_networkx()
    t0 = time.perf_counter()
    nx.pagerank(nxg, weight="weight")
    nx_pr = time.perf_counter() - t0
    truth = pd.read_csv(truth_path, dtype={"node": str}).set_index("node")["community"]
    nmi = float(normalized_mutual_info_score(truth.reindex(g.nodes["author_id"]).to_numpy(), ids))
    return {
        "rows": rows_in,
        "rows_fetched": fetched,
        "nodes": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "read": t["read"] - t["start"],
        "build": t["build"] - t["read"],
        "leaders": t["leaders"] - t["build"],
        "communities": t["communities"] - t["leaders"],
        "total": t["communities"] - t["start"],
        "peak_mb": peak,
        "base_mb": base,
        "pagerank_ours": ours_pr,
        "pagerank_networkx": nx_pr,
        "nmi": nmi,
        "n_communities": int(ids.max()) + 1,
    }


def run_networkx(path: Path) -> dict[str, Any]:
    base = _reset_peak()
    t0 = time.perf_counter()
    with Warehouse.open(path, read_only=True) as wh:
        interactions = wh.query("SELECT * FROM interactions")
    t1 = time.perf_counter()
    g = build_graph(interactions)
    t2 = time.perf_counter()
    rank_leaders(g, top=None)
    detect_communities(g, seed=0)
    t3 = time.perf_counter()
    return {
        "rows_fetched": len(interactions),
        "read": t1 - t0,
        "build": t2 - t1,
        "leaders_communities": t3 - t2,
        "total": t3 - t0,
        "peak_mb": _peak_mb(),
        "base_mb": base,
    }


def _child(phase: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - this script in our own interpreter
        [sys.executable, __file__, "--phase", phase, *args], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def prepare_world(work: Path, posts: int) -> None:
    """A simulated world loaded as ``bench_e2e.py`` loads it (posts, authors, interactions, CRM), then analysed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_e2e import prepare

    from yuqing.flows import stages
    from yuqing.store.settings import load_settings

    class _Out:
        def put(self, item: Any) -> None:
            print(f"simulate/load/crm seconds: {item[0]}, {item[1]:,} post rows")

    prepare(work, posts, 1, _Out())
    settings = load_settings(work / "world" / "yuqing.toml", warehouse={"path": str(work / "w.duckdb")})
    todo = stages.load_unanalysed(settings)
    stages.store_analysis(settings, [stages.analyse_chunk(c, settings) for c in stages.split(todo, 20_000)])


def run_world(work: Path) -> dict[str, Any]:
    """The graph stage itself (``flows.stages.graph``) on a prepared world: seconds, rows read, peak RSS."""
    from yuqing.flows import stages
    from yuqing.store.settings import load_settings

    settings = load_settings(work / "world" / "yuqing.toml", warehouse={"path": str(work / "w.duckdb")})
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        counts = wh.table_counts()
    base = _reset_peak()
    t = time.perf_counter()
    result = stages.graph(settings)
    seconds = time.perf_counter() - t
    # communities against the ones the world planted (authors' community in truth.json)
    planted = json.loads((work / "world" / "truth.json").read_text(encoding="utf-8")).get("communities", {})
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        members = wh.read_table("community_members")
    known = members[members["author_id"].astype(str).isin(planted.keys())]
    nmi = float(
        normalized_mutual_info_score([planted[str(a)] for a in known["author_id"]], known["community"].to_numpy())
    )
    return {
        **result,
        "nmi": nmi,
        "planted_authors": len(known),
        "seconds": seconds,
        "posts": counts["posts"],
        "interactions": counts["interactions"],
        "authors": counts["authors"],
        "peak_mb": _peak_mb(),
        "base_mb": base,
    }


def world(posts: int) -> None:
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", "bench-key-0123456789abcdef0123456789")  # bench_e2e's key
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run(  # noqa: S603 - this script in our own interpreter
            [sys.executable, __file__, "--phase", "prepare-world", tmp, str(posts)], check=True
        )
        print(f"world of {posts:,} top-level posts simulated, loaded and analysed in {time.perf_counter() - t:.0f} s")
        r = _child("world", tmp)
        print(
            f"graph stage: {r['posts']:,} posts, {r['interactions']:,} interactions, {r['authors']:,} authors -> "
            f"{r['rows_read']:,} rows read from the warehouse; {r['leaders']:,} leaders, {r['communities']:,} "
            f"communities in {r['seconds']:.1f} s; peak RSS {r['peak_mb']:,.0f} MB ({r['base_mb']:,.0f} MB before); "
            f"communities vs the planted ones: NMI {r['nmi']:.3f} over {r['planted_authors']:,} authors"
        )


def speed(edges: int, *, with_networkx: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, truth_path = Path(tmp) / "w.duckdb", Path(tmp) / "truth.csv"
        t = time.perf_counter()
        truth = write_warehouse(path, edges)
        truth.rename_axis("node").rename("community").to_csv(truth_path)
        print(f"warehouse with {edges:,} generated interaction rows written in {time.perf_counter() - t:.1f} s")
        s = _child("stage", str(path), str(truth_path))
        print(
            f"stage path: {s['rows']:,} interaction rows -> {s['rows_fetched']:,} rows fetched (edges per pair and "
            f"kind) -> {s['nodes']:,} nodes, {s['edges']:,} weighted edges"
        )
        print(
            f"  read {s['read']:.1f} s, build {s['build']:.1f} s, leaders {s['leaders']:.1f} s, communities "
            f"{s['communities']:.1f} s ({s['n_communities']:,}, NMI vs planted {s['nmi']:.3f}); "
            f"total {s['total']:.1f} s = {s['rows'] / s['total']:,.0f} interaction rows/s; "
            f"peak RSS {s['peak_mb']:,.0f} MB ({s['base_mb']:,.0f} MB before reading: the libraries)"
        )
        print(
            f"  PageRank on the same graph: ours {s['pagerank_ours']:.2f} s, networkx.pagerank "
            f"{s['pagerank_networkx']:.2f} s (ratio {s['pagerank_networkx'] / s['pagerank_ours']:.0f}x)"
        )
        if with_networkx:
            n = _child("networkx", str(path))
            print(
                f"networkx path (the stage before): {n['rows_fetched']:,} rows fetched; read {n['read']:.1f} s, "
                f"build_graph {n['build']:.1f} s, leaders + communities {n['leaders_communities']:.1f} s; total "
                f"{n['total']:.1f} s = {s['rows'] / n['total']:,.0f} rows/s; peak RSS {n['peak_mb']:,.0f} MB "
                f"({n['base_mb']:,.0f} before); stage path {n['total'] / s['total']:.1f}x faster, growth above the "
                f"libraries {(n['peak_mb'] - n['base_mb']) / (s['peak_mb'] - s['base_mb']):.1f}x smaller"
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
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--edges", type=int, default=250_000)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-networkx", action="store_true")
    ap.add_argument("--skip-lfr", action="store_true")
    ap.add_argument("--world", type=int, default=0, metavar="POSTS", help="the graph stage on a simulated world")
    ap.add_argument("--phase", choices=["stage", "networkx", "prepare-world", "world"], help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase == "stage":
        print(json.dumps(run_stage(Path(args.paths[0]), Path(args.paths[1]))))
        return 0
    if args.phase == "networkx":
        print(json.dumps(run_networkx(Path(args.paths[0]))))
        return 0
    if args.phase == "prepare-world":
        prepare_world(Path(args.paths[0]), int(args.paths[1]))
        return 0
    if args.phase == "world":
        print(json.dumps(run_world(Path(args.paths[0]))))
        return 0
    if args.world:
        world(args.world)
    if not args.skip_speed:
        speed(args.edges, with_networkx=not args.skip_networkx)
    if not args.skip_lfr:
        lfr()
    return 0


if __name__ == "__main__":
    sys.exit(main())
