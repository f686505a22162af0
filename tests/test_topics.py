from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score
from typer.testing import CliRunner

from flows.cli import app
from nlp.topics import TopicModel, align_topics, emerging_topics, fit_topics, topic_share

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
    model = fit_topics(docs, k=4, seed=0)
    assert model.method == "wntm"
    ids, probs = model.assign(docs)
    assert normalized_mutual_info_score(labels, ids) > 0.8 and probs.min() > 0
    model.save(tmp_path / "m")
    again = TopicModel.load(tmp_path / "m")
    assert again.method == "wntm" and (again.assign(docs)[0] == ids).all()
    assert fit_topics([[*d, *d, *d, *d, *d, *d, *d] for d in docs], k=4, seed=0).method == "lda"  # long posts
