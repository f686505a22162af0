"""Interaction graph, opinion leaders, communities and the ``yuqing graph`` command."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
import typer
from sklearn.metrics import normalized_mutual_info_score
from typer.testing import CliRunner

from yuqing.collectors.fake.world import generate_world, load_world
from yuqing.graph.build import build_graph
from yuqing.graph.communities import detect_communities, label_communities
from yuqing.graph.leaders import advocates_detractors, cascades, pagerank, rank_leaders

T0 = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


def _interactions(rows: list[tuple[str, str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "platform": "weibo",
                "kind": kind,
                "source_author_id": s,
                "target_author_id": t,
                "post_id": pid,
                "created_at": T0 + dt.timedelta(hours=h),
            }
            for s, t, kind, pid, h in rows
        ]
    )


def _nmi(truth: dict[str, int], found: dict[str, int]) -> float:
    nodes = [n for n in truth if n in found]
    return float(normalized_mutual_info_score([truth[n] for n in nodes], [found[n] for n in nodes]))


def _planted(groups: int = 6, size: int = 40, p_in: float = 0.3, p_out: float = 0.01) -> tuple[nx.DiGraph, dict]:
    und = nx.planted_partition_graph(groups, size, p_in, p_out, seed=3)
    g = nx.DiGraph()
    for u, v in und.edges:
        g.add_edge(str(u), str(v), weight=1.0)
    return g, {str(n): n // size for n in und.nodes}


# ---------------------------------------------------------------------------- build


def test_build_graph_sums_weights_per_kind_and_keeps_counts_and_times() -> None:
    inter = _interactions(
        [
            ("a", "b", "repost", "p1", 0),
            ("a", "b", "repost", "p1", 5),
            ("a", "b", "comment", "p2", 2),
            ("c", "b", "mention", "p3", 1),
            ("b", "a", "reply", "p2", 3),
        ]
    )
    g = build_graph(inter)
    e = g["a"]["b"]
    assert e["weight"] == pytest.approx(1.0 + 1.0 + 0.6)
    assert (e["repost"], e["comment"], e["n"]) == (2, 1, 3)
    assert e["first"] == pd.Timestamp(T0) and e["last"] == pd.Timestamp(T0 + dt.timedelta(hours=5))
    assert g["c"]["b"]["weight"] == pytest.approx(0.4)
    assert g["b"]["a"]["weight"] == pytest.approx(0.5)
    assert not g.has_edge("b", "c")


def test_build_graph_filters_period_kind_and_posts() -> None:
    inter = _interactions(
        [("a", "b", "repost", "p1", 0), ("a", "b", "comment", "p2", 10), ("c", "d", "repost", "p3", 20)]
    )
    g = build_graph(inter, since=T0 + dt.timedelta(hours=5))
    assert g["a"]["b"]["n"] == 1 and g["a"]["b"]["comment"] == 1 and g.has_edge("c", "d")
    g = build_graph(inter, until=T0 + dt.timedelta(hours=15))
    assert set(g.edges) == {("a", "b")} and g["a"]["b"]["n"] == 2
    assert set(build_graph(inter, kinds=["comment"]).edges) == {("a", "b")}
    assert set(build_graph(inter, post_filter={"p3"}).edges) == {("c", "d")}
    assert set(build_graph(inter, post_filter=lambda ids: ids.str.endswith("1")).edges) == {("a", "b")}


# ---------------------------------------------------------------------------- leaders


def test_sparse_pagerank_matches_networkx() -> None:
    g = nx.gnp_random_graph(200, 0.03, seed=1, directed=True)
    for i, (u, v) in enumerate(g.edges):
        g[u][v]["weight"] = 1.0 + (i % 4)
    ours = pagerank(g)
    ref = nx.pagerank(g, weight="weight")
    assert max(abs(ours[n] - ref[n]) for n in g) < 1e-6


def test_cascades_size_and_depth_per_original_author() -> None:
    posts = pd.DataFrame(
        {
            "id": ["P1", "R1", "R2", "R3", "P2", "R4"],
            "kind": ["post", "repost", "repost", "repost", "post", "repost"],
            "author_id": ["kol", "x", "y", "z", "kol", "w"],
            "parent_id": [None, "P1", "R1", "R2", None, "P2"],
            "root_id": [None, "P1", "P1", "P1", None, "P2"],
        }
    )
    c = cascades(posts).set_index("author_id")
    assert c.loc["kol", "cascade_size"] == 4
    assert c.loc["kol", "cascade_depth"] == 3


def test_rank_leaders_puts_the_hub_first_with_reasons() -> None:
    rows = [(f"u{i}", "hub", "repost", f"p{i}", i) for i in range(30)]
    rows += [(f"u{i}", "mid", "comment", f"q{i}", i) for i in range(5)]
    rows += [("hub", "u1", "reply", "r1", 1)]
    g = build_graph(_interactions(rows))
    authors = pd.DataFrame(
        {
            "id": ["hub", "mid", "u1"],
            "screen_name": ["大V", "中V", "路人"],
            "followers_count": [1_200_000, 5_000, 10],
            "verified": [True, False, False],
        }
    )
    casc = pd.DataFrame({"author_id": ["hub"], "cascade_size": [1234], "cascade_depth": [5]})
    leaders = rank_leaders(g, authors, casc, top=10)
    assert len(leaders) == 10
    first = leaders.iloc[0]
    assert (first["author_id"], first["rank"], first["screen_name"]) == ("hub", 1, "大V")
    ranks = dict(zip(leaders["author_id"], leaders["rank"], strict=True))
    assert ranks["mid"] <= 3  # behind at most u1, whom the hub alone replies to
    assert "PageRank 第1" in first["reasons"]
    assert "被转发 1,234 次" in first["reasons"] and "最大转发深度 5" in first["reasons"]
    assert "粉丝 120.0万" in first["reasons"] and "认证" in first["reasons"]
    assert list(leaders["rank"]) == list(range(1, 11))


def test_advocates_and_detractors_split_by_brand_stance() -> None:
    leaders = pd.DataFrame({"author_id": ["a", "b", "c", "d"], "score": [0.9, 0.8, 0.7, 0.6], "rank": [1, 2, 3, 4]})
    mentions = pd.DataFrame(
        {
            "author_id": ["a", "a", "b", "b", "c", "c", "d"],
            "brand": ["X", "X", "X", "X", "Y", "Y", "X"],
            "brand_sentiment": [0.9, 0.8, 0.1, 0.2, 0.1, 0.1, 0.9],
        }
    )
    adv, det = advocates_detractors(leaders, mentions, "X")
    assert list(adv["author_id"]) == ["a"]  # d has a single post: below min_posts
    assert list(det["author_id"]) == ["b"]


# ---------------------------------------------------------------------------- communities


@pytest.mark.parametrize("method", ["louvain", "leiden"])
def test_planted_partition_is_recovered(method: str) -> None:
    g, truth = _planted()
    part = detect_communities(g, method=method)  # type: ignore[arg-type]
    assert set(part) == set(g.nodes)
    assert _nmi(truth, part) > 0.95
    assert sorted(set(part.values())) == list(range(len(set(part.values()))))


def test_resolution_controls_community_size() -> None:
    g, _ = _planted(groups=4, size=50, p_in=0.2, p_out=0.02)
    coarse = len(set(detect_communities(g, resolution=0.2, method="leiden").values()))
    fine = len(set(detect_communities(g, resolution=3.0, method="leiden").values()))
    assert coarse < 4 <= fine or coarse < fine


def test_label_communities_gives_keywords_sentiment_and_leaders() -> None:
    partition = {"a": 0, "b": 0, "c": 0, "x": 1, "y": 1}
    posts = pd.DataFrame(
        {
            "author_id": ["a", "b", "c", "x", "y", "y"],
            "keywords": ["续航 电池", "电池 充电", "电池", "客服 退款", "退款", "退款 投诉"],
            "polarity": ["positive", "positive", "negative", "negative", "negative", "negative"],
        }
    )
    leaders = pd.DataFrame({"author_id": ["b", "a", "y"], "screen_name": ["B", "A", "Y"], "rank": [1, 2, 3]})
    lab = label_communities(partition, posts, leaders).set_index("community")
    assert lab.loc[0, "size"] == 3 and lab.loc[1, "size"] == 2
    assert str(lab.loc[0, "label"]).split(" / ")[0] == "电池"
    assert str(lab.loc[1, "label"]).split(" / ")[0] == "退款"
    assert lab.loc[0, "dominant_sentiment"] == "positive" and lab.loc[1, "dominant_sentiment"] == "negative"
    assert lab.loc[1, "negative_share"] == 1.0
    assert lab.loc[0, "leaders"] == "B、A" and lab.loc[1, "leaders"] == "Y"


# ---------------------------------------------------------------------------- simulated world


def test_simulated_world_kols_lead_and_communities_are_recovered(tmp_path: Path) -> None:
    generate_world(tmp_path, posts=3000, seed=11)
    world = load_world(tmp_path)
    g = build_graph(world.interactions)
    leaders = rank_leaders(g, world.authors, cascades(world.posts), top=None)
    kols = world.truth["kols"]
    assert set(leaders.head(len(kols))["author_id"]) == set(kols)
    part = detect_communities(g, seed=0)
    truth = {str(k): int(v) for k, v in world.truth["communities"].items()}
    assert _nmi(truth, part) > 0.8


# ---------------------------------------------------------------------------- CLI


def _app() -> typer.Typer:
    from yuqing.flows.commands.graph import register

    app = typer.Typer()
    register(app)
    return app


def test_graph_command_writes_one_row_per_node(tmp_path: Path) -> None:
    g, truth = _planted(groups=3, size=30)
    edges = tmp_path / "edges.csv"
    pd.DataFrame({"source": [u for u, _ in g.edges], "target": [v for _, v in g.edges], "weight": 2}).to_csv(
        edges, index=False
    )
    out = tmp_path / "nodes.csv"
    result = CliRunner().invoke(_app(), ["graph", str(edges), "--output", str(out), "--resolution", "1.0"])
    assert result.exit_code == 0, result.output
    nodes = pd.read_csv(out, dtype={"node": str})
    assert list(nodes.columns) == ["node", "community", "influence", "rank"]
    assert set(nodes["node"]) == set(g.nodes) and nodes["node"].is_unique
    assert sorted(nodes["rank"]) == list(range(1, len(nodes) + 1))
    assert _nmi(truth, dict(zip(nodes["node"], nodes["community"], strict=True))) > 0.95


def test_graph_command_names_the_missing_column(tmp_path: Path) -> None:
    edges = tmp_path / "edges.csv"
    edges.write_text("from,to\na,b\n", encoding="utf-8")
    result = CliRunner().invoke(_app(), ["graph", str(edges), "--output", str(tmp_path / "n.csv")])
    assert result.exit_code != 0
    assert "source" in str(result.exception) and "edges.csv" in str(result.exception)


def test_leiden_is_reproducible_per_seed_and_leaves_global_random_alone() -> None:
    import random

    g, _ = _planted(groups=5, size=30, p_in=0.2, p_out=0.03)
    random.seed(123)
    expected_next = random.random()
    random.seed(123)
    a = detect_communities(g, method="leiden", seed=4)
    assert random.random() == expected_next
    assert detect_communities(g, method="leiden", seed=4) == a


def test_pagerank_and_in_weight_on_undirected_and_hand_built_graphs() -> None:
    und = nx.karate_club_graph()
    ref = nx.pagerank(und, weight="weight", tol=1e-12)
    ours = pagerank(und)
    assert max(abs(ours[n] - ref[n]) for n in und) < 1e-6
    g = nx.DiGraph()
    g.add_weighted_edges_from([("a", "b", 2.0), ("c", "b", 3.0), ("b", "a", 1.0)])
    leaders = rank_leaders(g, top=None).set_index("author_id")
    assert leaders["in_weight"].to_dict() == {"a": 1.0, "b": 5.0, "c": 0.0}
