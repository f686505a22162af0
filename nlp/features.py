"""Hashed bag-of-words features over jieba tokens (shared by sentiment, emotion and complaint models).

Features are token unigrams plus adjacent-token bigrams (so ``不 好`` differs
from ``好``), hashed into a fixed space, sublinear TF, L2-normalised.  No
vocabulary to ship: a model is a weight matrix over the hashed space.

Negation: the few tokens after a negator (不, 没有, 毫无…) are emitted marked
(``!卡`` instead of ``卡``), so "一点都不卡" no longer carries the weight of "卡".
A marked word that is in the shipped polarity lexicon (``lexicon/polarity.txt``)
also emits a shared ``!+`` / ``!-`` feature, and unmarked polar words emit ``~+`` /
``~-``: the model learns what a negated positive or negative word means once,
from every negation in its training data, and applies it to negations it never saw.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from importlib import resources

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher

__all__ = ["NEGATORS", "N_FEATURES", "POLARITY", "featurize", "strip_emoticons"]

N_FEATURES = 2**18
_HASHER = FeatureHasher(n_features=N_FEATURES, input_type="string", alternate_sign=False)


NEGATORS = frozenset(
    [
        "不",
        "没",
        "没有",
        "无",
        "别",
        "未",
        "非",
        "不是",
        "不太",
        "不会",
        "不能",
        "不要",
        "不用",
        "不必",
        "无需",
        "并不",
        "并没有",
        "从不",
        "从没",
        "从来不",
        "毫无",
        "绝不",
        "决不",
        "不再",
        "不怎么",
        "没什么",
        "一点也不",
        "一点都不",
    ]
)
NEGATION_SCOPE = 3  # tokens after a negator that it can reach (punctuation is already gone from tokens)


def _load_polarity() -> dict[str, str]:
    text = resources.files("nlp").joinpath("lexicon/polarity.txt").read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return {line[1:]: line[0] for line in lines if len(line) > 1 and line[0] in "+-"}


POLARITY = _load_polarity()


def _terms(tokens: Sequence[str]) -> list[str]:
    seq: list[str] = []  # tokens with negated ones marked; bigrams are taken over this sequence
    shared: list[str] = []  # polarity features
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        if tok in NEGATORS:
            reach = tokens[i + 1 : i + 1 + NEGATION_SCOPE]
            polar = next((k for k, t in enumerate(reach) if t in POLARITY), None)
            if polar is not None:
                # "不 卡" → "!卡" and "!-": the negator's own weight (it mostly occurs in negative text) is
                # not added on top of the negated word it reverses
                seq.extend("!" + t for t in reach[: polar + 1])
                shared.append("!" + POLARITY[reach[polar]])
                i += polar + 2
                continue
            seq.append(tok)
            seq.extend("!" + t for t in reach if t[0] != "[")
            i += 1 + len(reach)
            continue
        pol = POLARITY.get(tok)
        if pol is not None:
            shared.append("~" + pol)
        seq.append(tok)
        i += 1
    return seq + shared + [f"{a}_{b}" for a, b in itertools.pairwise(seq)]


def featurize(token_lists: Sequence[Sequence[str]]) -> sp.csr_matrix:
    """One sparse row per document."""
    matrix = _HASHER.transform(_terms(t) for t in token_lists).tocsr()
    matrix.data = np.log1p(matrix.data)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


def strip_emoticons(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if not (t.startswith("[") and t.endswith("]"))]
