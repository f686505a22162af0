from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import normalized_mutual_info_score
from typer.testing import CliRunner

from yuqing.flows.cli import app
from yuqing.nlp.keywords import rising_keywords
from yuqing.nlp.topics import TopicModel, TopicsUnavailable, align_topics, emerging_topics, fit_topics, topic_share
from yuqing.store.errors import InputError

THEMES = {
    0: ["电池", "鼓包", "发烫", "续航", "充电", "掉电"],
    1: ["物流", "快递", "发货", "配送", "包裹", "签收"],
    2: ["拍照", "镜头", "夜景", "相机", "画质", "人像"],
}


def _corpus(n: int, seed: int) -> tuple[list[list[str]], list[int]]:
    rng = np.random.default_rng(seed)
    docs, labels = [], []
    for i in range(n):
        t = i % 3
        docs.append(list(rng.choice(THEMES[t], size=6)) + list(rng.choice(["今天", "感觉", "真的"], size=1)))
        labels.append(t)
    return docs, labels


def test_planted_topics_are_recovered_and_ids_stay_stable() -> None:
    docs, labels = _corpus(300, 1)
    model = fit_topics(docs, k=3, seed=0)
    ids, probs = model.assign(docs)
    assert normalized_mutual_info_score(labels, ids) > 0.9
    assert (probs > 0.5).mean() > 0.9
    again = fit_topics(_corpus(300, 2)[0], k=3, seed=5)
    aligned = align_topics(again, model)
    new_ids, _ = aligned.assign(docs)
    assert (new_ids == ids).mean() > 0.9 and not aligned.new


def test_automatic_k_and_emerging_topic() -> None:
    docs, _ = _corpus(300, 3)
    assert 3 <= fit_topics(docs, k_candidates=(3, 8, 15), seed=0).k <= 8
    days = pd.date_range("2026-10-01", periods=10, freq="D", tz="Asia/Shanghai")
    rows = [{"created_at": d, "topic": t} for d in days for t in [0, 1] * 5]
    rows += [{"created_at": days[-1], "topic": 2}] * 8 + [{"created_at": days[-2], "topic": 2}] * 6
    share = topic_share(pd.DataFrame(rows))
    hits = emerging_topics(share, window=2)
    assert hits["topic"].tolist() == [2]


def test_topics_command(tmp_path: Path) -> None:
    docs, _ = _corpus(90, 4)
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": ["".join(d) for d in docs], "id": range(90)}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["topics", str(src), "--output", str(out), "--k", "3"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 90 and {"topic", "topic_label", "id"} <= set(frame.columns)
    assert frame["topic"].nunique() == 3


def test_short_posts_use_the_word_network_and_survive_a_save(tmp_path: Path) -> None:
    # three content words per post: too few for LDA on the posts themselves to see co-occurrence
    themes = [*THEMES.values(), ["外卖", "骑手", "送餐", "超时", "餐盒", "洒了"]]
    rng = np.random.default_rng(7)
    labels = [i % 4 for i in range(800)]
    docs = [list(rng.choice(themes[t], size=3, replace=False)) for t in labels]
    model = fit_topics(docs, k=4, seed=0, method="gensim")
    assert model.method == "wntm"
    ids, probs = model.assign(docs)
    assert normalized_mutual_info_score(labels, ids) > 0.8 and probs.min() > 0
    model.save(tmp_path / "m")
    again = TopicModel.load(tmp_path / "m")
    assert again.method == "wntm" and (again.assign(docs)[0] == ids).all()
    long_posts = [[*d, *d, *d, *d, *d, *d, *d] for d in docs]
    assert fit_topics(long_posts, k=4, seed=0, method="gensim").method == "lda"


def test_default_engine_recovers_short_posts_and_survives_a_save(tmp_path: Path) -> None:
    themes = [*THEMES.values(), ["外卖", "骑手", "送餐", "超时", "餐盒", "洒了"]]
    rng = np.random.default_rng(3)
    labels = [i % 4 for i in range(800)]
    docs = [list(rng.choice(themes[t], size=3, replace=False)) for t in labels]
    model = fit_topics(docs, seed=0)  # automatic k
    assert model.method == "kmeans" and model.k >= 4
    ids, probs = model.assign(docs)
    assert normalized_mutual_info_score(labels, ids) > 0.8 and probs.min() > 0
    model.save(tmp_path / "m")
    again = TopicModel.load(tmp_path / "m")
    assert again.method == "kmeans" and (again.assign(docs)[0] == ids).all()
    assert again.labels == model.labels
    assert (model.assign([["没见过的词"], []])[0] == -1).all()


@pytest.mark.parametrize("method", ["kmeans", "gensim"])
def test_a_corpus_without_topics_raises_a_documented_reason(method: str) -> None:
    # 60 copies of one post: every word is in every post, nothing tells topics apart (a bare ValueError before)
    with pytest.raises(TopicsUnavailable, match="too uniform"):
        fit_topics([["电池", "鼓包", "发烫", "售后"]] * 60, method=method)  # type: ignore[arg-type]
    with pytest.raises(TopicsUnavailable, match="too few posts"):
        fit_topics([["电池", "鼓包"], ["拍照", "夜景"], []] * 2, method=method)  # type: ignore[arg-type]


def test_topics_command_explains_a_corpus_without_topics(tmp_path: Path) -> None:
    src = tmp_path / "same.csv"
    pd.DataFrame({"text": ["星阅手机电池鼓包发烫，售后不管"] * 60}).to_csv(src, index=False)
    result = CliRunner().invoke(app, ["topics", str(src), "--output", str(tmp_path / "out.csv")])
    # an InputError: yuqing's main() prints it as one line "error: FILE [text]: why" and exits 1
    assert result.exit_code != 0 and isinstance(result.exception, InputError)
    assert "too uniform to tell topics apart" in str(result.exception)
    assert not (tmp_path / "out.csv").exists()


def test_labels_name_the_subject_not_the_brand_the_time_or_filler() -> None:
    rng = np.random.default_rng(5)
    filler = ["星阅", "七点", "晚上", "听说", "隔壁家", "下班", "十一点", "周一"]
    labels = [i % 3 for i in range(600)]
    # every post carries the brand and some filler: the most frequent words of every topic
    docs = [[*rng.choice(THEMES[t], size=4, replace=False), "星阅", *rng.choice(filler[1:], size=2)] for t in labels]
    for method in ("kmeans", "gensim"):
        model = fit_topics(docs, k=3, seed=0, method=method, label_exclude=["星阅"])  # type: ignore[arg-type]
        for label in model.labels.values():
            words = label.split(" / ")
            assert len(words) == 3, label
            assert not set(words) & set(filler), label
            assert len({t for t, theme in THEMES.items() if set(words) <= set(theme)}) == 1, label


def test_rising_keywords_need_a_lift_over_the_baseline_and_the_background() -> None:
    base = [["电池", "续航"], ["拍照", "听说"], ["物流", "下班"], ["拍照", "夜景"]] * 10
    # 下班 wobbles from 10/40 to 12/40 posts, 听说 is common everywhere (background), 鼓包 is news
    current = [["电池", "鼓包"]] * 8 + [["下班", "拍照"]] * 12 + [["听说", "物流"]] * 20
    rising = rising_keywords(current, base, k=10, background={"听说": 0.6})
    assert rising["keyword"].tolist()[0] == "鼓包"
    assert "下班" not in rising["keyword"].tolist() and "听说" not in rising["keyword"].tolist()
    assert (rising["lift"] >= 2.0).all()


def _dated_posts(seed: int) -> pd.DataFrame:
    """Three themes over ten days; the delivery theme only appears in the last two days (emerging)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-10-01 09:00", tz="Asia/Shanghai")
    rows = []
    for day in range(10):
        themes = [0, 2] * 15 + ([1] * 30 if day >= 8 else [])
        for j, t in enumerate(themes):
            words = rng.choice(THEMES[t], size=4, replace=False)
            rows.append({"text": "，".join(words), "created_at": start + pd.Timedelta(days=day, minutes=j), "theme": t})
    return pd.DataFrame(rows)


def test_topics_command_keeps_ids_with_previous_and_reports_emerging_topics(tmp_path: Path) -> None:
    first, second = _dated_posts(1), _dated_posts(2)
    first.to_csv(tmp_path / "a.csv", index=False)
    second.to_csv(tmp_path / "b.csv", index=False)
    model_dir = tmp_path / "model"
    runner = CliRunner()
    run = runner.invoke(
        app,
        [
            "topics",
            str(tmp_path / "a.csv"),
            "-o",
            str(tmp_path / "a_out.csv"),
            "--k",
            "3",
            "--save-model",
            str(model_dir),
        ],
    )
    assert run.exit_code == 0, run.output
    out_a = pd.read_csv(tmp_path / "a_out.csv")
    delivery = out_a.loc[out_a["theme"] == 1, "topic"].mode()[0]
    emerging = [line for line in run.output.splitlines() if "emerging" in line]
    assert len(emerging) == 1 and emerging[0].split()[0] == str(delivery), run.output
    # a refit on other posts with another seed: the same themes keep the same ids
    args = ["topics", str(tmp_path / "b.csv"), "-o", str(tmp_path / "b_out.csv"), "--k", "3", "--seed", "9"]
    run = runner.invoke(app, [*args, "--previous", str(model_dir)])
    assert run.exit_code == 0, run.output
    out_b = pd.read_csv(tmp_path / "b_out.csv")
    for theme in range(3):
        assert (
            out_b.loc[out_b["theme"] == theme, "topic"].mode()[0]
            == out_a.loc[out_a["theme"] == theme, "topic"].mode()[0]
        )
    # the declared gensim engine stays selectable; a typo is a one-line error
    run = runner.invoke(app, [*args, "--method", "gensim"])
    assert run.exit_code == 0 and "(wntm)" in run.output, run.output
    run = runner.invoke(app, [*args, "--method", "nmf"])
    assert run.exit_code == 2 and "Invalid value for '--method'" in run.output, run.output


def test_topic_stage_stores_emerging_topics_for_the_report(tmp_path: Path) -> None:
    from yuqing.flows import stages
    from yuqing.reports.data import load_frames
    from yuqing.store.schema import Platform, Post
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(f'[brand]\nname = "星阅"\n[warehouse]\npath = "{tmp_path / "w.duckdb"}"\n', encoding="utf-8")
    settings = load_settings(cfg)
    posts = _dated_posts(3)
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.upsert_posts(
            [
                Post(platform=Platform.WEIBO, id=str(i), text="星阅" + r.text, created_at=r.created_at.to_pydatetime())
                for i, r in enumerate(posts.itertuples())
            ]
        )
    stages.store_analysis(settings, [stages.analyse_chunk(stages.load_unanalysed(settings), settings)])
    assert stages.topics(settings) >= 3
    topics = load_frames(settings.warehouse.path).topics
    assert {"topic", "topic_label", "posts", "share", "emerging", "ratio", "new"} <= set(topics.columns)
    assert topics["posts"].sum() == len(posts)
    hot = topics[topics["emerging"]]
    assert len(hot) >= 1 and set(hot["topic_label"].iloc[0].split(" / ")) <= set(THEMES[1])
    assert not topics["topic_label"].str.contains("星阅").any()


def test_topic_stage_reads_in_windows_what_it_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage reads the corpus a window at a time (memory follows the window): the model, every post's topic
    and the topic table equal those of one window holding the whole corpus."""
    import shutil

    from yuqing.flows import stages
    from yuqing.store.schema import Platform, Post
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(f'[brand]\nname = "星阅"\n[warehouse]\npath = "{tmp_path / "w.duckdb"}"\n', encoding="utf-8")
    settings = load_settings(cfg)
    posts = _dated_posts(3)
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.upsert_posts(
            Post(platform=p, id=f"{i:04d}", text=r.text, created_at=r.created_at.to_pydatetime())
            for i, r in enumerate(posts.itertuples())
            for p in (Platform.WEIBO, Platform.DOUYIN)
        )
    stages.store_analysis(settings, [stages.analyse_chunk(stages.load_unanalysed(settings), settings)])

    def run(window: int) -> tuple[object, pd.DataFrame, pd.DataFrame]:
        shutil.rmtree(tmp_path / "models", ignore_errors=True)  # a fresh fit each time, no alignment to the last
        monkeypatch.setattr(stages, "TOPIC_WINDOW", window)
        k = stages.topics(settings)
        with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
            assigned = wh.read_table("post_topics").sort_values(["platform", "id"], ignore_index=True)
            table = wh.read_table("topics").sort_values("topic", ignore_index=True)
        return k, assigned, table

    k, assigned, table = run(10**9)
    assert k >= 3 and len(assigned) == 2 * len(posts) and table["posts"].sum() == len(assigned)
    k37, assigned37, table37 = run(37)
    assert k37 == k
    pd.testing.assert_frame_equal(assigned37, assigned)
    pd.testing.assert_frame_equal(table37, table)

    # what DuckDB sorts with the tokens follows the window too: a window read was ORDER BY ... LIMIT, which DuckDB
    # ran as a full sort of every remaining post with its tokens (its estimate of the corpus was below the window;
    # 250k posts: 268k token strings sorted for each window, at 1M a million) — here two windows of half the corpus
    reads: list[tuple[str, object]] = []
    query = Warehouse.query

    def recording(self: Warehouse, sql: str, params: object = None) -> pd.DataFrame:
        reads.append((sql, params))
        return query(self, sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(Warehouse, "query", recording)
    half = len(posts) + 1
    k_half, assigned_half, _ = run(half)
    assert k_half == k
    pd.testing.assert_frame_equal(assigned_half, assigned)
    windows = [(sql, params) for sql, params in reads if sql.startswith("SELECT a.platform, a.id, a.tokens")]
    assert len(windows) == 4  # two windows, read by the vocabulary-and-sample pass and by the assignment
    # the windows' bounds (a sort of every key of the corpus) are read once, before either pass: read again on the
    # assignment's connection, which writes in one transaction, DuckDB held that sort's memory until the commit
    assert sum("row_number() OVER (ORDER BY a.platform, a.id)" in sql for sql, _ in reads) == 1
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        sorted_rows = [
            _sorted_rows(wh.con.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)) for sql, params in windows
        ]
    assert 0 < max(sorted_rows) <= half, sorted_rows


def _sorted_rows(result: object) -> int:
    """The most rows a full sort (ORDER_BY) of a DuckDB ``EXPLAIN (ANALYZE, FORMAT JSON)`` plan sorted."""
    import json

    def walk(node: dict[str, object]) -> int:
        here = int(node.get("intermediate_rows", 0)) if node.get("type") in ("ORDER_BY", "TOP_N") else 0  # type: ignore[call-overload]
        children = [*node.get("children", []), *node.get("operator", [])]  # type: ignore[misc]
        return max([here, *(walk(c) for c in children)])

    return walk(json.loads(result.fetchall()[0][1]))  # type: ignore[attr-defined]


@pytest.mark.parametrize("method", ["kmeans", "wntm", "lda"])
def test_degenerate_corpora_fit_and_assign_without_floating_point_errors(method: str) -> None:
    # the suspects of the RuntimeWarning seen at 1M posts (issue 15): more topics than themes (topics left
    # with no mass), posts left empty once rare words are filtered out, posts with no word of the model;
    # every floating-point error raises here instead of warning
    rng = np.random.default_rng(5)
    docs = [list(rng.choice(THEMES[i % 2], size=3)) for i in range(300)]
    docs += [[f"罕见{i}"] for i in range(40)] + [[], ["今天"]]
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        model = fit_topics(docs, k=8, method=method, seed=1)  # type: ignore[arg-type]
        ids, probs = model.assign(docs)
        labels = model.labels
    assert np.isfinite(probs).all() and (probs[ids >= 0] > 0).all()
    assert (ids[300:] == -1).all() and (ids[:300] >= 0).all()
    assert np.isfinite(model.word_matrix()[1]).all() and len(labels) == model.k


def _zipf_docs(n: int, seed: int) -> list[list[str]]:
    """Documents of words drawn by a Zipf law, with the filler, numbers, dates and emoticons topics drop."""
    rng = np.random.default_rng(seed)
    words = [f"词{i}" for i in range(800)] + ["今天", "真的", "的", "3号", "12", "[哈哈]", "很好", "周一"]
    p = 1 / np.arange(1, len(words) + 1)
    return [list(rng.choice(words, size=int(rng.integers(0, 12)), p=p / p.sum())) for _ in range(n)]


def test_vocabulary_and_bags_of_words_equal_gensims_per_document_counts() -> None:
    """The column-wise vocabulary pass and bag-of-words lookup give what gensim's per-document dict updates give:
    same ids, frequencies and counts, whatever the batches."""
    from gensim.corpora import Dictionary

    from yuqing.nlp.topics import _bow_matrix, _VocabularyCount, build_dictionary, content_tokens

    docs = [*_zipf_docs(3000, 7), [], ["的", "12"]]
    reference = Dictionary()
    reference.add_documents([content_tokens(d) for d in docs])
    counted = _VocabularyCount()
    for lo in range(0, len(docs), 701):  # batches that split documents' first appearances across calls
        counted.add(docs[lo : lo + 701])
    mine = counted.dictionary()
    assert mine.token2id == reference.token2id
    assert (mine.dfs, mine.cfs) == (reference.dfs, reference.cfs)
    assert (mine.num_docs, mine.num_pos, mine.num_nnz) == (reference.num_docs, reference.num_pos, reference.num_nnz)
    built = build_dictionary(docs)
    reference.filter_extremes(no_below=2, no_above=0.3, keep_n=50_000)
    assert built.token2id == reference.token2id and built.dfs == reference.dfs

    model = fit_topics(docs, k=4, seed=0, dictionary=built)
    bags = model.bag_of_words(docs)
    expected = _bow_matrix([built.doc2bow(content_tokens(d)) for d in docs], len(built))
    assert np.array_equal(bags.indptr, expected.indptr) and np.array_equal(bags.indices, expected.indices)
    assert np.array_equal(bags.data, expected.data)


def test_streamed_fit_equals_the_fit_on_its_sample() -> None:
    """One pass counts the vocabulary and keeps the sample: the model is the one fitted on that sample with the
    whole corpus's vocabulary."""
    from yuqing.nlp.topics import build_dictionary, fit_topics_streamed

    docs = _zipf_docs(2500, 3) + _corpus(600, 9)[0]
    streamed = fit_topics_streamed(lambda: iter(docs), len(docs), k=5, seed=4, max_docs=900)
    pick = np.sort(np.random.default_rng(4).choice(len(docs), size=900, replace=False))
    direct = fit_topics([docs[i] for i in pick], k=5, seed=4, dictionary=build_dictionary(docs), max_docs=900)
    assert streamed.dictionary.token2id == direct.dictionary.token2id
    np.testing.assert_array_equal(streamed.assign(docs)[0], direct.assign(docs)[0])
    assert streamed.labels == direct.labels


def test_daily_counts_of_a_timestamp_column_equal_those_of_parsed_values() -> None:
    from yuqing.nlp.topics import daily_counts

    times = pd.Series(pd.date_range("2026-10-01 15:00", periods=500, freq="37min", tz="UTC")).sample(frac=1.0)
    times.iloc[3] = pd.NaT
    topics = np.arange(500) % 4 - 1
    column = daily_counts(times, topics)
    assert column["posts"].sum() == 500 and column["day"].isna().any()
    pd.testing.assert_frame_equal(column, daily_counts(times.astype(str).to_numpy(), topics))


def test_a_refit_writes_its_assignments_without_holding_the_last_fits_keys(tmp_path: Path) -> None:
    """Every refit replaces every post's topic in one transaction.  Upserting into the emptied table kept the
    previous fit's keys beside the new ones in DuckDB's index until the commit (and checked each new row against
    them: 1M posts, +400 MB and the topics stage's peak); the refit now holds what the first fit held."""
    import duckdb

    from yuqing.store.warehouse import Warehouse

    def windows(shift: int) -> Iterator[pd.DataFrame]:
        for w in range(4):
            ids = np.arange(w * 40_000, (w + 1) * 40_000)
            yield pd.DataFrame(
                {"platform": "weibo", "id": [f"{i:09d}" for i in ids], "topic": (ids + shift) % 7, "topic_label": "x"}
            )

    held: list[int] = []
    with Warehouse.open(tmp_path / "w.duckdb") as wh:

        def index_bytes() -> int:
            sql = "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() WHERE tag = 'ART_INDEX'"
            return int(wh.con.execute(sql).fetchone()[0])  # type: ignore[index]

        def summary() -> pd.DataFrame:  # called inside the transaction, after the last window
            held.append(index_bytes())
            return pd.DataFrame({"topic": [0], "topic_label": ["x"], "posts": [1]})

        assert wh.save_topics(windows(0), summary) == 160_000
        committed = index_bytes()
        assert wh.save_topics(windows(3), summary) == 160_000  # the refit
        stored = wh.read_table("post_topics").sort_values("id", ignore_index=True)
        assert stored["topic"].tolist() == ((np.arange(160_000) + 3) % 7).tolist()
        assert len(wh.read_table("topics")) == 1
        with pytest.raises(duckdb.ConstraintException):  # the declared key is still enforced
            wh.con.execute("INSERT INTO post_topics (platform, id, topic) VALUES ('weibo', '000000001', 1)")
    # the old code's refit held 18.5 MB of index above the committed table's 9.5 MB, the first fit 9.2 MB
    assert held[1] - committed <= 1.25 * held[0], (held, committed)
