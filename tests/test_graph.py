"""Interaction graph, opinion leaders, communities and the ``yuqing graph`` command."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
import typer
from sklearn.metrics import normalized_mutual_info_score
from typer.testing import CliRunner

from tests.conftest import make_author, make_post
from yuqing.collectors.fake.world import generate_world, load_world
from yuqing.graph.build import EdgeGraph, aggregate_edges, build_graph, edge_graph
from yuqing.graph.communities import community_ids, describe_communities, detect_communities, label_communities
from yuqing.graph.leaders import advocates_detractors, cascades, pagerank, rank_leaders
from yuqing.store.schema import Author, Interaction, Platform, Post
from yuqing.store.settings import Settings, load_settings
from yuqing.store.warehouse import Warehouse

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
    part = detect_communities(g, method=method)
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
    # the array graph the pipeline builds (no NetworkX, no dict per edge) gives the same ranking and partition
    arrays = edge_graph(aggregate_edges(world.interactions), key=["author_id"])
    assert isinstance(arrays, EdgeGraph) and arrays.number_of_edges() == g.number_of_edges()
    ranked = rank_leaders(arrays, world.authors, cascades(world.posts), top=None)
    assert list(ranked["author_id"]) == list(leaders["author_id"])
    assert ranked["pagerank"].to_numpy() == pytest.approx(leaders["pagerank"].to_numpy(), abs=1e-12)
    for method in ("louvain", "leiden"):
        assert detect_communities(arrays, method=method, seed=0) == detect_communities(g, method=method, seed=0)


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


# ---------------------------------------------------------------------------- graph stage on a warehouse


def _settings(tmp_path: Path) -> Settings:
    return load_settings(None, warehouse={"path": str(tmp_path / "w.duckdb")})


def _fill(path: Path, posts: list[Post], authors: list[Author], interactions: Sequence[Interaction] = ()) -> None:
    with Warehouse.open(path) as wh:
        wh.ingest(posts=posts, authors=authors, interactions=interactions)


def _edge(src: str, dst: str, kind: str, pid: str, platform: Platform = Platform.WEIBO) -> Interaction:
    return Interaction(
        platform=platform, kind=kind, source_author_id=src, target_author_id=dst, post_id=pid, created_at=T0
    )


def test_stage_keys_authors_by_stored_id_not_by_masked_name(tmp_path: Path) -> None:
    from yuqing.flows import stages

    # two accounts shown as "张**" (masked nicknames from an export) and one id used on two platforms
    authors = [
        make_author(1, screen_name="张**"),
        make_author(2, screen_name="张**"),
        make_author(3, screen_name="李四"),
        make_author(4, screen_name="王五"),
        make_author(1, platform=Platform.DOUYIN, screen_name="抖音一号"),
    ]
    posts = [
        make_post(1, author_id="4", at_users=["张**", "李四", "不认识"]),  # 张** is ambiguous: no edge
        make_post(2, author_id="3", at_users=["王五"]),
        make_post(3, author_id="4"),
    ]
    edges = [
        _edge("4", "1", "repost", "1001"),
        _edge("4", "2", "comment", "1001"),
        _edge("3", "1", "comment", "1002"),
        _edge("9", "1", "repost", "x1", Platform.DOUYIN),
    ]
    settings = _settings(tmp_path)
    _fill(settings.warehouse.path, posts, authors, edges)
    assert stages.graph(settings)["leaders"] == 6
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        leaders = wh.read_table("leaders").set_index(["platform", "author_id"])
        members = wh.read_table("community_members")
        mentions = wh.interaction_edges(kinds=["mention"])
    assert leaders.loc[("weibo", "1"), "screen_name"] == leaders.loc[("weibo", "2"), "screen_name"] == "张**"
    assert leaders.loc[("weibo", "1"), "in_weight"] == pytest.approx(1.0 + 0.6)  # repost + comment
    assert leaders.loc[("weibo", "2"), "in_weight"] == pytest.approx(0.6)
    assert leaders.loc[("douyin", "1"), "screen_name"] == "抖音一号"
    assert leaders.loc[("douyin", "1"), "in_weight"] == pytest.approx(1.0)
    assert len(members) == 6 and not members.duplicated(["platform", "author_id"]).any()
    # mention edges: @李四 and @王五 resolve to their ids; the ambiguous and the unknown name make none
    assert set(zip(mentions["source_author_id"], mentions["target_author_id"], strict=True)) == {("4", "3"), ("3", "4")}
    assert leaders.loc[("weibo", "3"), "in_weight"] == pytest.approx(0.4)


def test_mentions_are_not_counted_twice_with_stored_mentions(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    authors = [make_author(1, screen_name="甲"), make_author(2, screen_name="乙")]
    posts = [make_post(1, author_id="1", at_users=["乙", "乙", "甲"]), make_post(2, author_id="1", at_users=["乙"])]
    _fill(path, posts, authors, [_edge("1", "2", "mention", "1001")])  # stored by an importer for post 1001
    with Warehouse.open(path, read_only=True) as wh:
        edges = wh.interaction_edges()
        assert wh.rows_fetched == 1
    assert edges[["source_author_id", "target_author_id", "kind"]].values.tolist() == [["1", "2", "mention"]]
    assert edges["n"].tolist() == [2] and edges["weight"].tolist() == [2.0]  # posts 1001 and 1002, self-mention none
    with Warehouse.open(path, read_only=True) as wh:  # the period applies to stored and resolved edges alike
        assert wh.interaction_edges(since=posts[1].created_at + dt.timedelta(days=1)).empty
        late = wh.interaction_edges(since=posts[1].created_at)
        early = wh.interaction_edges(until=posts[1].created_at)
    assert late["n"].tolist() == [1] and early["n"].tolist() == [1]


def test_sql_cascades_and_community_counts_equal_the_pandas_ones(small_world: Path, tmp_path: Path) -> None:
    from yuqing.flows import stages

    world = load_world(small_world)
    settings = load_settings(small_world / "yuqing.toml", warehouse={"path": str(tmp_path / "w.duckdb")})
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.upsert_posts_frame(world.posts)
        wh.upsert_authors(Author.model_validate(r) for r in world.authors.to_dict("records"))
        wh.add_interactions(Interaction.model_validate(r) for r in world.interactions.to_dict("records"))
    frames = [stages.analyse_chunk(c, settings) for c in stages.split(stages.load_unanalysed(settings), 5000)]
    stages.store_analysis(settings, frames)
    with Warehouse.open(settings.warehouse.path) as wh:
        sql_cascades = wh.repost_cascades()
        edges = wh.interaction_edges()
        posts = wh.query(
            "SELECT p.platform, p.id, p.kind, p.author_id, p.parent_id, p.root_id, a.keywords, a.polarity "
            "FROM posts p LEFT JOIN post_analysis a USING (platform, id)"
        )
        g = edge_graph(edges)
        members = g.nodes.assign(community=community_ids(g, seed=0))
        words, polarity = wh.community_profiles(members)
    expected = cascades(posts).sort_values("author_id").reset_index(drop=True)
    assert len(expected) > 10 and expected["cascade_depth"].max() >= 2
    got = sql_cascades[["author_id", "cascade_size", "cascade_depth"]].sort_values("author_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    partition = dict(zip(members["author_id"], members["community"], strict=True))  # one platform in this world
    expected_labels = label_communities(partition, posts)
    got_labels = describe_communities(members["community"].value_counts(), words, polarity)
    assert (expected_labels["label"] != "").sum() > 3
    pd.testing.assert_frame_equal(got_labels, expected_labels, check_dtype=False)


def _corpus(copies: int) -> tuple[list[Post], list[Author], list[Interaction]]:
    """A fixed set of 40 authors in 4 groups; every copy adds the same interactions again on new posts."""
    authors = [make_author(i, screen_name=f"用户{i}") for i in range(40)]
    posts, edges = [], []
    for c in range(copies):
        for i in range(40):
            pid = f"{c}-{i}"
            friend = (i // 10) * 10 + (i + 1 + c % 3) % 10
            posts.append(make_post(c * 40 + i, id=pid, author_id=str(i), at_users=[f"用户{(i + 2) % 40}"]))
            edges.append(_edge(str(friend), str(i), ["repost", "comment"][c % 2], pid))
    return posts, authors, edges


def test_graph_stage_rows_read_do_not_grow_with_posts(tmp_path: Path) -> None:
    from yuqing.flows import stages

    results = []
    for copies in (6, 60):
        settings = _settings(tmp_path / str(copies))
        (tmp_path / str(copies)).mkdir()
        _fill(settings.warehouse.path, *_corpus(copies))
        with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
            assert wh.table_counts()["posts"] == 40 * copies
        results.append(stages.graph(settings))
    small, large = results
    assert small["leaders"] == large["leaders"] == 40
    # 10x the posts over the same authors: the same rows fetched (edges per author pair, profiles per author)
    assert large["rows_read"] == small["rows_read"] < 40 * 10


def test_edge_graph_from_batches_equals_the_graph_of_all_edges(small_world: Path, tmp_path: Path) -> None:
    """Edges numbered batch by batch (never one frame of them: the path of a backend without temporary tables)
    give the graph of the whole frame: nodes, their order, edges and weights; the KOLs' customer reach read from
    it equals the one from every edge."""
    from yuqing.graph.build import edge_graph_codes
    from yuqing.graph.customers import audience_edges, kol_customer_reach

    world = load_world(small_world)
    settings = load_settings(small_world / "yuqing.toml", warehouse={"path": str(tmp_path / "w.duckdb")})
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.upsert_authors(Author.model_validate(r) for r in world.authors.to_dict("records"))
        wh.add_interactions(Interaction.model_validate(r) for r in world.interactions.to_dict("records"))
        edges = wh.interaction_edges()
        batched = pd.concat(list(wh.interaction_edge_batches(batch_rows=1)), ignore_index=True)
    pd.testing.assert_frame_equal(batched, edges)
    # a second platform holding the same author ids: other nodes
    edges = pd.concat([edges, edges.iloc[::3].assign(platform="douyin")], ignore_index=True)
    whole = edge_graph(edges)
    parts = edge_graph_codes(
        *Warehouse.edge_codes_from_batches(edges.iloc[i : i + 37] for i in range(0, len(edges), 37))
    )
    assert len(edges) > 200 and len(parts.nodes) > len(set(parts.nodes["author_id"]))
    pd.testing.assert_frame_equal(parts.nodes, whole.nodes, check_dtype=False)
    for a, b in ((parts.src, whole.src), (parts.dst, whole.dst), (parts.weight, whole.weight)):
        assert (a == b).all()
    authors = whole.nodes.drop_duplicates("author_id").iloc[::4]
    links = authors.assign(customer_id=[f"c{i % 50}" for i in range(len(authors))])
    values = pd.DataFrame({"customer_id": [f"c{i}" for i in range(50)], "clv": [float(i) for i in range(50)]})
    got = kol_customer_reach(audience_edges(parts, links), links, values)
    expected = kol_customer_reach(edges, links, values)
    assert len(expected) > 20
    pd.testing.assert_frame_equal(got, expected)


def test_saving_the_graph_again_replaces_its_rows_and_keeps_the_declared_tables(tmp_path: Path) -> None:
    """save_graph swaps the graph tables (dropped and created again from their declarations on DuckDB): a second
    save holds only its own rows, the tables keep their declared columns and keys, and a save that fails leaves
    the previous graph in place."""
    from tests.test_contract import _declared, _shape

    path = tmp_path / "w.duckdb"

    def frames(n: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        ids = [str(i) for i in range(n)]
        leaders = pd.DataFrame({"platform": "weibo", "author_id": ids, "score": [1.0 / (i + 1) for i in range(n)]})
        leaders["rank"] = range(1, n + 1)
        members = pd.DataFrame({"platform": "weibo", "author_id": ids, "community": [i % 3 for i in range(n)]})
        communities = pd.DataFrame({"community": [0, 1, 2], "size": [n // 3] * 3, "label": ["a", "b", "c"]})
        view = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n // 2)], "name": "张*"})
        return leaders, communities, members, view

    with Warehouse.open(path) as wh:
        wh.save_graph(*frames(30))
        wh.save_graph(*frames(12))
        assert wh.table_counts()["leaders"] == wh.table_counts()["community_members"] == 12
        assert wh.table_counts()["customer_view"] == 6
        leaders, communities, members, view = frames(9)
        with pytest.raises(Exception, match="nope"):
            wh.save_graph(leaders, communities, members.assign(nope=1), view)
        assert wh.table_counts()["leaders"] == wh.table_counts()["community_members"] == 12
        assert wh.query("SELECT max(rank) AS r FROM leaders")["r"].iat[0] == 12
        with pytest.raises(Exception, match=r"(?i)primary key|duplicate"):
            wh.con.execute("INSERT INTO leaders (platform, author_id) VALUES ('weibo', '0')")
    assert _shape(path) == _declared()


def test_edge_codes_give_the_graph_of_the_string_keyed_edges(small_world: Path, tmp_path: Path) -> None:
    """The stage reads its edges with authors as integers (``interaction_edge_codes``): the graph built from them
    has the same nodes in the same order, edges and weights as the one built from the string-keyed rows, on two
    platforms sharing author ids and with mentions resolved; the path for a backend without temporary tables (rows
    numbered batch by batch) gives the same graph too."""
    from yuqing.graph.build import edge_graph_codes

    world = load_world(small_world)
    settings = load_settings(small_world / "yuqing.toml", warehouse={"path": str(tmp_path / "w.duckdb")})
    rows = world.interactions.to_dict("records")
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.upsert_posts_frame(world.posts)
        wh.upsert_authors(Author.model_validate(r) for r in world.authors.to_dict("records"))
        wh.add_interactions(Interaction.model_validate(r) for r in rows)
        wh.add_interactions(Interaction.model_validate({**r, "platform": "douyin"}) for r in rows[::3])
        edges = wh.interaction_edges()
        nodes, codes = wh.interaction_edge_codes()
        fallback = wh.edge_codes_from_batches(wh.interaction_edge_batches(batch_rows=1))
        assert not wh.query("SELECT * FROM duckdb_tables() WHERE temporary").shape[0]  # its scratch tables dropped
    assert (edges["kind"] == "mention").any() and edges["platform"].nunique() >= 2
    assert len(codes) == len(edges) and len(nodes) > nodes["author_id"].nunique()
    whole = edge_graph(edges)
    for got in (edge_graph_codes(nodes, codes), edge_graph_codes(*fallback)):
        pd.testing.assert_frame_equal(got.nodes.astype(object), whole.nodes.astype(object))
        for a, b in ((got.src, whole.src), (got.dst, whole.dst), (got.weight, whole.weight)):
            assert a.dtype == b.dtype and (a == b).all()
    weights = {"repost": 2.0, "comment": 0.0}  # other kinds: the unknown-kind weight
    assert (
        edge_graph_codes(nodes, codes, kind_weight=weights).weight == edge_graph(edges, kind_weight=weights).weight
    ).all()
