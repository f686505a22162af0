"""The gated sentiment model: experts weighed per post by a domain gate, folded into one weight matrix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from yuqing.nlp.features import featurize
from yuqing.nlp.pipeline import TextModels
from yuqing.nlp.segment import Segmenter
from yuqing.nlp.sentiment import (
    GatedLinearModel,
    LinearModel,
    fit_sentiment,
    text_bucket,
    train_gated,
    train_linear,
)

YUQING = str(Path(sys.executable).with_name("yuqing"))

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


def _yuqing(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([YUQING, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def _csv(path: Path, posts: tuple[list[list[str]], list[str], list[int], list[str]]) -> Path:
    _, texts, labels, domains = posts
    pd.DataFrame({"content": texts, "kind": domains, "label": labels}).to_csv(path, index=False)
    return path


def test_train_sentiment_trains_the_shipped_kind_of_model_and_score_uses_it(
    data: tuple[object, ...], tmp_path: Path
) -> None:
    """A user retraining on their own labelled texts gets the gated model, its held-out figures printed,
    and `yuqing score` with the file configured scores by it."""
    train, test = data
    src = _csv(tmp_path / "labelled.csv", train)  # type: ignore[arg-type]
    model = tmp_path / "mine.npz"
    done = _yuqing(
        "train",
        "sentiment",
        str(src),
        "--out",
        str(model),
        "--text-col",
        "content",
        "--domain-col",
        "kind",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    # the evaluation: one line per domain and the pooled one, on the 10 % it never trained on
    table = [line for line in done.stdout.splitlines() if line.startswith("  ")]
    assert table[0].split() == ["domain", "texts", "positive", "bal.", "acc.", "ECE"]
    rows = {line[2:26].strip(): line[26:].split() for line in table[1:]}
    assert set(rows) == {"客服", "影评", "(all domains)"}
    held = sum(int(rows[d][0].replace(",", "")) for d in ("客服", "影评"))
    assert 60 <= held <= 200  # about 10 % of 1,200 rows
    assert all(float(r[-2]) > 0.9 for r in rows.values()), done.stdout  # balanced accuracy
    assert "calibration" in done.stdout and "neutral band" in done.stdout
    assert "experts: all, domains-equal, only:客服, only:影评; gate over 2 kind(s) of text" in done.stdout

    engine = TextModels.load(model).sentiment.engine
    assert isinstance(engine, GatedLinearModel) and engine.domains == ["客服", "影评"]
    assert engine.meta["trained_on"] == str(src) and len(engine.meta["calibration"]) == 2  # type: ignore[arg-type]

    # `yuqing score` with nlp.sentiment_model pointing at the file: the domain-dependent words read right
    (tmp_path / "yuqing.toml").write_text(f'[nlp]\nsentiment_model = "{model}"\n', encoding="utf-8")
    _, t_texts, t_labels, _ = test  # type: ignore[misc]
    pd.DataFrame({"text": t_texts}).to_csv(tmp_path / "new.csv", index=False)
    done = _yuqing("score", "new.csv", "--output", "scored.csv", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert ((scored["sentiment"] > 0.5).astype(int) == np.array(t_labels)).mean() > 0.95


def test_train_sentiment_without_domains_is_one_expert_and_bayes_still_trains(tmp_path: Path) -> None:
    tokens, texts, labels, domains = _posts(np.random.default_rng(3), 800)
    films = [i for i, d in enumerate(domains) if d == "影评"]  # one kind of text: 燃/虐 praise, 平淡 the complaint
    src = _csv(
        tmp_path / "one.csv",
        ([tokens[i] for i in films], [texts[i] for i in films], [labels[i] for i in films], ["x"] * len(films)),
    )
    seg = Segmenter()
    for engine, name in (("linear", "m.npz"), ("bayes", "m.json.gz")):
        done = _yuqing(
            "train",
            "sentiment",
            str(src),
            "--out",
            str(tmp_path / name),
            "--text-col",
            "content",
            "--engine",
            engine,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        assert "  all " in done.stdout and "(all domains)" not in done.stdout
        models = TextModels.load(tmp_path / name)
        if engine == "linear":
            assert isinstance(models.sentiment.engine, GatedLinearModel) and models.sentiment.engine.domains == ["all"]
        scores = models.sentiment.score([seg.tokens("剧情太燃了"), seg.tokens("剧情太平淡了")])
        assert scores[0] > 0.5 > scores[1]


def test_train_sentiment_errors_are_one_line_naming_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    _, texts, labels, domains = _posts(rng, 300)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"text": texts, "label": ["1", "2", *map(str, labels[2:])]}).to_csv(bad, index=False)
    done = _yuqing("train", "sentiment", str(bad), "--out", "m.npz", cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {bad}:3 [label]: label must be 0 or 1, got '2'"]

    # a domain with too few texts of a label cannot get its expert: said with the domain's name
    few = tmp_path / "few.csv"
    keep = [i for i, (d, y) in enumerate(zip(domains, labels, strict=True)) if not (d == "客服" and y == 0)][:-1]
    rows = pd.DataFrame({"text": texts, "label": labels, "kind": domains}).iloc[keep]
    rows.to_csv(few, index=False)
    done = _yuqing("train", "sentiment", str(few), "--out", "m.npz", "--domain-col", "kind", cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "domain '客服': 0 texts labelled 0" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.npz").exists()


def test_fit_sentiment_splits_by_text_and_calibrates(data: tuple[object, ...]) -> None:
    (tokens, texts, labels, domains), _ = data  # type: ignore[misc]
    model, evaluations = fit_sentiment(texts, tokens, labels, domains)
    # the split is by a hash of the text: the same text is always on the same side, whatever the row order
    order = np.random.default_rng(1).permutation(len(texts))
    _, evaluations_again = fit_sentiment(
        [texts[i] for i in order], [tokens[i] for i in order], [labels[i] for i in order], [domains[i] for i in order]
    )
    assert [(e.domain, e.n, e.positives) for e in evaluations] == [
        (e.domain, e.n, e.positives) for e in evaluations_again
    ]
    pooled = evaluations[-1]
    assert pooled.domain == "(all domains)" and pooled.n == sum(e.n for e in evaluations[:-1])
    assert pooled.balanced_accuracy > 0.95 and pooled.ece < 0.15
    assert model.calibration.slope > 0 and isinstance(model.engine, GatedLinearModel)


def test_fit_sentiment_on_a_file_too_small_to_measure(data: tuple[object, ...]) -> None:
    """No text in the measured slice: the model still trains, with no figures rather than a crash."""
    (tokens, texts, labels, _), _ = data  # type: ignore[misc]
    keep = [i for i, t in enumerate(texts) if text_bucket(t) % 10 != 0][:150]
    model, evaluations = fit_sentiment([texts[i] for i in keep], [tokens[i] for i in keep], [labels[i] for i in keep])
    assert evaluations == [] and isinstance(model.engine, GatedLinearModel)
    assert model.score([["剧情", "燃"]]).shape == (1,)


def test_shift_domains_corrects_one_domains_prior_and_leaves_the_other(data: tuple[object, ...]) -> None:
    """A domain whose expert leans negative (as SMP2020 usual did) gets its prior back from held-out rows."""
    (tokens, texts, labels, domains), (t_tokens, t_texts, t_labels, t_domains) = data  # type: ignore[misc]
    gated = train_gated(
        featurize(tokens, texts),
        labels,
        domains,
        {"all": {"影评": 1.0, "客服": 1.0}, "影评": {"影评": 1.0}, "客服": {"客服": 1.0}},
    )
    x = featurize(t_tokens, t_texts)
    y, dom = np.array(t_labels), np.array(t_domains)
    leaning = gated.domains.index("影评")
    margin_before = gated.decision(x)
    gated.intercept[leaning] -= 6.0  # the 影评 expert now leans negative
    p = gated.proba(x)[:, 1]
    assert (p > 0.5)[dom == "影评"].mean() < 0.2

    offsets = gated.shift_domains(x, y, dom)
    assert offsets["影评"] > 3 and abs(offsets["客服"]) < 1.0
    p = gated.proba(x)[:, 1]
    for d in ("影评", "客服"):
        assert ((p > 0.5).astype(int) == y)[dom == d].mean() > 0.95
    # only the experts' intercepts move: the gate and the weights are as trained
    assert np.allclose(gated.decision(x)[:, 2:], margin_before[:, 2:], atol=1e-4)
    # a second fit adds to the first (these synthetic domains are separable, so it may push further)
    again = gated.shift_domains(x, y, dom)
    assert ((gated.proba(x)[:, 1] > 0.5).astype(int) == y).mean() > 0.95
    assert gated.meta["domain_offsets"]["影评"] == pytest.approx(offsets["影评"] + again["影评"])  # type: ignore[index]


def test_the_shipped_model_carries_its_domain_offsets() -> None:
    engine = TextModels.load().sentiment.engine
    assert isinstance(engine, GatedLinearModel)
    offsets = engine.meta["domain_offsets"]
    assert sorted(offsets) == engine.domains  # type: ignore[arg-type]
