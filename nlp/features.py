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

Speed: the compiled module ``nlp/_speedups.c`` (built by ``pip install``, setup.py) counts both blocks in one
pass per post (MurmurHash3 as sklearn's FeatureHasher hashes a string; the character hash of
:func:`char_ngrams`), and the weighting runs on flat arrays with the floats and the order scipy's sparse
operations produce: the matrix is the same, array for array and bit for bit, as the pure Python + scipy
definition (:func:`featurize_reference`), which runs when the module is not built and which the tests
compare it with.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from sklearn.feature_extraction import FeatureHasher

try:
    from yuqing.nlp import _speedups as _compiled
except ImportError:  # not built (no C compiler when installed): the pure code below gives the same matrix
    _compiled = None  # type: ignore[assignment]

__all__ = [
    "CHAR_FEATURES",
    "NEGATORS",
    "N_FEATURES",
    "POLARITY",
    "WORD_FEATURES",
    "compiled",
    "featurize",
    "featurize_reference",
    "sparse_dense",
    "strip_emoticons",
]

WORD_FEATURES = 2**19
CHAR_FEATURES = 2**19
N_FEATURES = WORD_FEATURES + CHAR_FEATURES
CHAR_WEIGHT = 0.7  # share of a row's length given to the character block (words get the rest)


@lru_cache(maxsize=1)
def _hasher() -> FeatureHasher:
    """sklearn's hasher, the reference's word hash; imported on first use: the compiled pass does not need it, and
    importing sklearn was 41 % of a text-stage worker's import (each analyse worker process pays it)."""
    from sklearn.feature_extraction import FeatureHasher

    return FeatureHasher(n_features=WORD_FEATURES, input_type="string", alternate_sign=False)


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


def _char_text(texts: Sequence[str]) -> list[str]:
    """The text the character n-grams are taken from: URLs, mentions, ``//`` and spaces dropped, lowered."""
    return [_clean_one(t) for t in texts]


def _clean_one(text: str) -> str:
    return _CHAR_DROP.sub("", text).lower()


def char_ngrams(texts: Sequence[str], n_max: int = 3) -> sp.csr_matrix:
    """Counts of hashed character 1..``n_max``-grams, one row per text (URLs, mentions, spaces dropped)."""
    cleaned = _char_text(texts)
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


def compiled() -> bool:
    """Whether :func:`featurize` runs the compiled single pass (``nlp/_speedups.c``)."""
    return _compiled is not None


def featurize(token_lists: Sequence[Sequence[str]], texts: Sequence[str] | None = None) -> sp.csr_matrix:
    """One sparse row per document: the word block, and the character block of ``texts`` when given.

    Without ``texts`` the character block stays empty and the word block takes the whole row, so a
    model trained on both blocks still reads token lists alone (slightly less well).
    """
    if _compiled is None:
        return featurize_reference(token_lists, texts)
    if texts is not None and len(texts) != len(token_lists):
        raise ValueError(f"{len(texts)} texts for {len(token_lists)} token lists")
    n = len(token_lists)
    words = _counts(_compiled.word_counts(token_lists, NEGATORS, POLARITY, NEGATION_SCOPE, WORD_FEATURES))
    if texts is None:
        chars = (np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0))
        w_scale, c_scale = _row_scales(words, 1.0), np.zeros(n)
    else:
        chars = _counts(_compiled.char_counts(texts, 3, CHAR_FEATURES, _clean_one))
        w_scale = _row_scales(words, float(np.sqrt(1.0 - CHAR_WEIGHT**2)))
        c_scale = _row_scales(chars, CHAR_WEIGHT)
    ip, ix, data = _counts(_compiled.weighted_rows(*words, w_scale, *chars, c_scale, WORD_FEATURES))
    return sp.csr_matrix((data, ix, ip), shape=(n, N_FEATURES))


def _counts(raw: tuple[bytearray, bytearray, bytearray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The compiled module's (indptr, indices, counts) buffers as arrays (canonical CSR: sorted, summed)."""
    ip, ix, counts = raw
    return np.frombuffer(ip, dtype=np.int64), np.frombuffer(ix, dtype=np.int32), np.frombuffer(counts, np.float64)


def _row_scales(block: tuple[np.ndarray, np.ndarray, np.ndarray], weight: float) -> np.ndarray:
    """:func:`_unit_rows` on a canonical CSR block's arrays: its counts become ``log1p`` in place, and the scale
    of each row is returned -- the floats scipy computes (row sums by ``np.add.reduceat``, as ``csr.sum(axis=1)``
    does)."""
    indptr, _, data = block
    np.log1p(data, out=data)
    lengths = np.diff(indptr)
    sums = np.zeros(len(lengths), dtype=np.float64)
    rows = np.flatnonzero(lengths)
    if len(rows):
        sums[rows] = np.add.reduceat(data * data, indptr[:-1][rows])
    norms = np.sqrt(sums)
    norms[norms == 0] = 1.0
    return weight / norms


def featurize_reference(token_lists: Sequence[Sequence[str]], texts: Sequence[str] | None = None) -> sp.csr_matrix:
    """:func:`featurize` in pure Python + scipy (the definition; used when the compiled module is absent)."""
    words = _hasher().transform(_terms(t) for t in token_lists).tocsr()
    if texts is None:
        return sp.hstack([_unit_rows(words, 1.0), sp.csr_matrix((words.shape[0], CHAR_FEATURES))], format="csr")
    if len(texts) != len(token_lists):
        raise ValueError(f"{len(texts)} texts for {len(token_lists)} token lists")
    chars = char_ngrams(texts)
    word_w = float(np.sqrt(1.0 - CHAR_WEIGHT**2))
    return sp.hstack([_unit_rows(words, word_w), _unit_rows(chars, CHAR_WEIGHT)], format="csr")


def sparse_dense(x: sp.csr_matrix, dense: np.ndarray) -> np.ndarray:
    """``x @ dense`` as a float64 array: the same floats as scipy's product, without the float64 copy of a float32
    ``dense`` scipy makes on every call (a model's weights: 2^20 rows), when the compiled module is built."""
    if (
        _compiled is not None
        and isinstance(x, sp.csr_matrix)
        and x.dtype == np.float64
        and x.indices.dtype == np.int32
        and x.indptr.dtype == np.int32
        and isinstance(dense, np.ndarray)
        and dense.dtype == np.float32
        and dense.ndim == 2
        and dense.flags.c_contiguous
        and dense.shape[0] == x.shape[1]
        and dense.shape[1] > 0
    ):
        out = _compiled.csr_dense(x.indptr, x.indices, np.ascontiguousarray(x.data), dense, *dense.shape)
        return np.frombuffer(out, dtype=np.float64).reshape(x.shape[0], dense.shape[1])
    return np.asarray(x @ dense)


def strip_emoticons(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if not (t.startswith("[") and t.endswith("]"))]
