"""The gated sentiment model: experts weighed per post by a domain gate, folded into one weight matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from yuqing.nlp.features import featurize
from yuqing.nlp.pipeline import TextModels
from yuqing.nlp.sentiment import GatedLinearModel, LinearModel, train_gated, train_linear

FILLER = ["今天", "出门", "看到", "这个", "东西", "感觉", "真的", "有点", "我们", "大家", "觉得", "还是"]


def _posts(rng: np.random.Generator, n: int) -> tuple[list[list[str]], list[str], list[int], list[str]]:
    """Two kinds of text where the same word means opposite things: in 影评 (film talk) "燃" and "虐"
    are praise and "平淡" is the complaint; in 客服 (service chats) "平淡"/"按时" is praise and "虐"/"燃"
    (a burnt part) the complaint.  Each kind carries its own filler markers far from the telling word."""
    tokens, texts, labels, domains = [], [], [], []
    for i in range(n):
        domain = "影评" if i % 2 else "客服"
        label = int(rng.integers(0, 2))
        if domain == "影评":
            word = rng.choice(["燃", "虐"]) if label else "平淡"
            marker = ["剧情", "导演", "演员"]
        else:
            word = rng.choice(["平淡", "按时"]) if label else rng.choice(["虐", "燃"])
            marker = ["客服", "订单", "售后"]
        toks = [*rng.choice(marker, 2), *rng.choice(FILLER, 4), str(word), *rng.choice(FILLER, 3)]
        tokens.append(toks)
        texts.append("".join(toks))
        labels.append(label)
        domains.append(domain)
    return tokens, texts, labels, domains


@pytest.fixture(scope="module")
def data() -> tuple[object, ...]:
    rng = np.random.default_rng(7)
    train = _posts(rng, 1200)
    test = _posts(rng, 600)
    return train, test


def _accuracy(model: LinearModel, tokens: list[list[str]], texts: list[str], labels: list[int]) -> float:
    p = model.proba(featurize(tokens, texts))[:, model.classes.index("1")]
    return float(((p > 0.5).astype(int) == np.array(labels)).mean())


def test_the_gate_learns_what_one_linear_model_cannot(data: tuple[object, ...], tmp_path: Path) -> None:
    (tokens, texts, labels, domains), (t_tokens, t_texts, t_labels, t_domains) = data  # type: ignore[misc]
    x = featurize(tokens, texts)
    plain = train_linear(tokens, labels, features=x)
    gated = train_gated(
        x, labels, domains, {"all": {"影评": 1.0, "客服": 1.0}, "影评": {"影评": 1.0}, "客服": {"客服": 1.0}}
    )
    # the same words flip meaning between the two kinds of text: one weight per word cannot say that
    assert _accuracy(plain, t_tokens, t_texts, t_labels) < 0.8
    assert _accuracy(gated, t_tokens, t_texts, t_labels) > 0.95
    gate = gated.gate(featurize(t_tokens, t_texts))
    assert gate.shape == (600, 2) and np.allclose(gate.sum(axis=1), 1.0)
    picked = np.array(gated.domains)[gate.argmax(axis=1)]
    assert (picked == np.array(t_domains)).mean() > 0.95
    assert gated.coef.shape[0] == 4  # two folded experts + two gate rows, whatever the number of experts

    # saved and loaded as the same kind of model, scoring the same (float16 weights)
    path = tmp_path / "gated.npz"
    gated.save(path, trained_on="synthetic", engine="linear")
    loaded = LinearModel.load(path)
    assert isinstance(loaded, GatedLinearModel) and loaded.domains == ["客服", "影评"]
    x_test = featurize(t_tokens, t_texts)
    assert np.allclose(loaded.proba(x_test), gated.proba(x_test), atol=2e-3)
    # the command's model path reads it as the linear engine, calibrated P(positive) as for any model
    models = TextModels.load(path)
    assert models.sentiment.kind == "linear"
    p = models.sentiment.score(t_tokens, texts=t_texts)
    assert ((p > 0.5).astype(int) == np.array(t_labels)).mean() > 0.95


def test_the_shipped_sentiment_model_is_gated_over_the_training_domains() -> None:
    engine = TextModels.load().sentiment.engine
    assert isinstance(engine, GatedLinearModel)
    assert engine.domains == ["reviews", "usual", "virus", "waimai", "weibo"]
