"""Hashed bag-of-words features over jieba tokens (shared by sentiment, emotion and complaint models).

Features are token unigrams plus adjacent-token bigrams (so ``不 好`` differs
from ``好``), hashed into a fixed space, sublinear TF, L2-normalised.  No
vocabulary to ship: a model is a weight matrix over the hashed space.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher

__all__ = ["N_FEATURES", "featurize", "strip_emoticons"]

N_FEATURES = 2**18
_HASHER = FeatureHasher(n_features=N_FEATURES, input_type="string", alternate_sign=False)


def _terms(tokens: Sequence[str]) -> list[str]:
    terms = list(tokens)
    terms.extend(f"{a}_{b}" for a, b in itertools.pairwise(tokens))
    return terms


def featurize(token_lists: Sequence[Sequence[str]]) -> sp.csr_matrix:
    """One sparse row per document."""
    matrix = _HASHER.transform(_terms(t) for t in token_lists).tocsr()
    matrix.data = np.log1p(matrix.data)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


def strip_emoticons(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if not (t.startswith("[") and t.endswith("]"))]
