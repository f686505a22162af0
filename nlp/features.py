"""Hashed features over jieba tokens and raw characters (shared by the sentiment and emotion models).

Two blocks side by side, each hashed into a fixed space, sublinear TF, L2-normalised:

* words — token unigrams plus adjacent-token bigrams (so ``不 好`` differs from
  ``好``), with negation scope and emoticon codes as tokens (below);
* characters — 1- to 3-grams of the text itself, hashed with numpy over the whole
  batch at once (no Python loop per n-gram).  They do not depend on where jieba
  cuts, so new product names, slang and a new domain's words still carry weight.

No vocabulary to ship: a model is a weight matrix over the hashed space.

Negation: the few tokens after a negator (不, 没有, 毫无…) are emitted marked
(``!卡`` instead of ``卡``), so "一点都不卡" no longer carries the weight of "卡".
A marked word that is in the shipped polarity lexicon (``lexicon/polarity.txt``)
also emits a shared ``!+`` / ``!-`` feature, and unmarked polar words emit ``~+`` /
``~-``: the model learns what a negated positive or negative word means once,
from every negation in its training data, and applies it to negations it never saw.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from importlib import resources

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher

__all__ = ["CHAR_FEATURES", "NEGATORS", "N_FEATURES", "POLARITY", "WORD_FEATURES", "featurize", "strip_emoticons"]

WORD_FEATURES = 2**19
CHAR_FEATURES = 2**19
N_FEATURES = WORD_FEATURES + CHAR_FEATURES
CHAR_WEIGHT = 0.7  # share of a row's length given to the character block (words get the rest)
_HASHER = FeatureHasher(n_features=WORD_FEATURES, input_type="string", alternate_sign=False)
_CHAR_DROP = re.compile(r"https?://\S+|@[\w\-\u4e00-\u9fff]{1,30}|//|\s+")


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
    text = resources.files("yuqing.nlp").joinpath("lexicon/polarity.txt").read_text(encoding="utf-8")
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


def _unit_rows(matrix: sp.csr_matrix, weight: float) -> sp.csr_matrix:
    matrix.data = np.log1p(matrix.data)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(weight / norms) @ matrix)


_MIX = np.uint64(0x9E3779B97F4A7C15)


def char_ngrams(texts: Sequence[str], n_max: int = 3) -> sp.csr_matrix:
    """Counts of hashed character 1..``n_max``-grams, one row per text (URLs, mentions, spaces dropped)."""
    cleaned = [_CHAR_DROP.sub("", t).lower() for t in texts]
    lengths = np.fromiter(map(len, cleaned), dtype=np.int64, count=len(cleaned))
    codes = np.frombuffer(("\x00".join(cleaned) + "\x00").encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    doc = np.repeat(np.arange(len(cleaned), dtype=np.int64), lengths + 1)  # each separator goes with the text before
    valid = codes != 0
    h, ok = codes.copy(), valid.copy()
    rows, cols = [], []
    for n in range(1, n_max + 1):
        if n > 1:  # extend every window by one character: windows crossing a separator stay invalid
            h = h[:-1] * np.uint64(1_000_003) + codes[n - 1 :]
            ok = ok[:-1] & valid[n - 1 :]
        mixed = (h + np.uint64(n)) * _MIX
        cols.append(((mixed >> np.uint64(40)) % np.uint64(CHAR_FEATURES)).astype(np.int64)[ok])
        rows.append(doc[: len(ok)][ok])
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(len(r), dtype=np.float64), (r, c)), shape=(len(cleaned), CHAR_FEATURES))


def featurize(token_lists: Sequence[Sequence[str]], texts: Sequence[str] | None = None) -> sp.csr_matrix:
    """One sparse row per document: the word block, and the character block of ``texts`` when given.

    Without ``texts`` the character block stays empty and the word block takes the whole row, so a
    model trained on both blocks still reads token lists alone (slightly less well).
    """
    words = _HASHER.transform(_terms(t) for t in token_lists).tocsr()
    if texts is None:
        return sp.hstack([_unit_rows(words, 1.0), sp.csr_matrix((words.shape[0], CHAR_FEATURES))], format="csr")
    if len(texts) != len(token_lists):
        raise ValueError(f"{len(texts)} texts for {len(token_lists)} token lists")
    chars = char_ngrams(texts)
    word_w = float(np.sqrt(1.0 - CHAR_WEIGHT**2))
    return sp.hstack([_unit_rows(words, word_w), _unit_rows(chars, CHAR_WEIGHT)], format="csr")


def strip_emoticons(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if not (t.startswith("[") and t.endswith("]"))]
