"""Sentiment: P(positive) in [0, 1], a polarity with a neutral band, and sentiment toward each brand.

Two engines, both fed jieba tokens (never SnowNLP's slow segmenter):

* ``bayes`` (``nlp.sentiment_engine = "snownlp"``) — SnowNLP's own classifier
  (``snownlp.classification.bayes.Bayes``), retrained on labelled data.  Scoring uses
  the exact same naive-Bayes arithmetic, vectorised over a vocabulary (tested
  against ``Bayes.classify``).
* ``linear`` — logistic regression over hashed word + character n-gram features
  (:mod:`nlp.features`).  Shipped as the default because it measurably beats
  the Bayes engine (see docs/benchmarks.md).

Either engine's raw score goes through a :class:`Calibration` stored in the model
file: a logistic map fitted on held-out data with both classes weighted equally, so
0.7 means "70 % of posts scored 0.7 are positive" when positive and negative posts
are equally common, whatever the mix of the training data.  The file also carries
the neutral band chosen from data (``benchmarks/train_models.py``).

``yuqing train sentiment DATA.csv --out MODEL`` retrains either engine.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp

from yuqing.nlp.features import N_FEATURES, featurize

__all__ = [
    "BayesSentiment",
    "Calibration",
    "LinearModel",
    "SentimentModel",
    "brand_clauses",
    "polarity",
    "train_bayes",
    "train_linear",
]

_CLAUSE = re.compile(r"[。！？!?；;，,\n]+|//")


@dataclass(frozen=True)
class Calibration:
    """``P = sigmoid(slope · logit(raw) + offset)``: a logistic map from an engine's raw score."""

    slope: float = 1.0
    offset: float = 0.0

    def apply(self, raw: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(raw, dtype=np.float64), 1e-9, 1 - 1e-9)
        return np.asarray(1.0 / (1.0 + np.exp(-(self.slope * np.log(p / (1 - p)) + self.offset))))

    @classmethod
    def fit(cls, raw: np.ndarray, labels: np.ndarray, weight: np.ndarray | None = None) -> Calibration:
        """Fit on held-out scores with the two classes weighted equally (the class prior corrected to 1:1)."""
        from sklearn.linear_model import LogisticRegression

        p = np.clip(np.asarray(raw, dtype=np.float64), 1e-9, 1 - 1e-9)
        z = np.log(p / (1 - p)).reshape(-1, 1)
        y = np.asarray(labels).astype(int)
        w = np.ones(len(y)) if weight is None else np.array(weight, dtype=np.float64)
        for c in (0, 1):
            w[y == c] *= w.sum() / (2 * w[y == c].sum())
        clf = LogisticRegression(C=100.0).fit(z, y, sample_weight=w)
        return cls(float(clf.coef_[0, 0]), float(clf.intercept_[0]))


@dataclass
class LinearModel:
    """Multinomial/binary logistic regression over hashed features."""

    classes: list[str]
    coef: np.ndarray  # (n_classes or 1, N_FEATURES) float32
    intercept: np.ndarray
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # (features, classes), C-contiguous: sparse @ dense would copy a transposed view on every call
        self._coef_t = np.ascontiguousarray(self.coef.T)

    def decision(self, x: sp.csr_matrix) -> np.ndarray:
        return np.asarray(x @ self._coef_t) + self.intercept

    def proba(self, x: sp.csr_matrix) -> np.ndarray:
        z = self.decision(x)
        if z.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1 - p, p])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, path: Path, **meta: object) -> None:
        np.savez_compressed(
            path,
            coef=self.coef.astype(np.float16),
            intercept=self.intercept.astype(np.float32),
            classes=np.array(self.classes),
            meta=np.array(json.dumps({**self.meta, **meta}, ensure_ascii=False)),
        )

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as data:
            model = cls(
                classes=[str(c) for c in data["classes"]],
                coef=data["coef"].astype(np.float32),
                intercept=data["intercept"].astype(np.float32),
                meta=json.loads(str(data["meta"])) if "meta" in data else {},
            )
        if model.coef.shape[1] != N_FEATURES:
            raise ValueError(
                f"{path}: a model over {model.coef.shape[1]:,} features, this version uses {N_FEATURES:,}; "
                "retrain it with `yuqing train sentiment`"
            )
        return model


class BayesSentiment:
    """SnowNLP's naive Bayes, vectorised: log P(c) + Σ_w log freq_c(w), exactly as ``Bayes.classify``."""

    def __init__(
        self,
        vocab: dict[str, int],
        logfreq: np.ndarray,
        unknown: np.ndarray,
        prior: np.ndarray,
        meta: dict[str, object] | None = None,
    ) -> None:
        self.vocab = vocab  # word -> column
        self.logfreq = logfreq  # (2, V): classes [neg, pos]
        self.unknown = unknown  # (2,) log freq of an unseen word
        self.prior = prior  # (2,)
        self.meta: dict[str, object] = meta or {}

    @classmethod
    def from_snownlp(cls, bayes: object) -> BayesSentiment:
        d = bayes.d  # type: ignore[attr-defined]
        total = bayes.total  # type: ignore[attr-defined]
        words = sorted(set(d.get("neg").d) | set(d.get("pos").d))
        vocab = {w: i for i, w in enumerate(words)}
        logfreq = np.zeros((2, len(words)), dtype=np.float64)
        unknown = np.zeros(2)
        prior = np.zeros(2)
        for ci, c in enumerate(("neg", "pos")):
            prob = d[c]
            counts = np.array([prob.d.get(w, 0) for w in words], dtype=np.float64)
            counts[counts == 0] = 1.0  # AddOneProb.get(): unseen → 1
            logfreq[ci] = np.log(counts) - math.log(prob.total)
            unknown[ci] = -math.log(prob.total)
            prior[ci] = math.log(prob.getsum()) - math.log(total)
        return cls(vocab, logfreq, unknown, prior)

    def score(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        rows, cols, n_unknown = [], [], np.zeros(len(token_lists))
        for i, tokens in enumerate(token_lists):
            for w in tokens:
                j = self.vocab.get(w)
                if j is None:
                    n_unknown[i] += 1
                else:
                    rows.append(i)
                    cols.append(j)
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(token_lists), len(self.vocab)))
        logp = np.asarray(counts @ self.logfreq.T) + np.outer(n_unknown, self.unknown) + self.prior
        # P(pos) = 1 / (1 + exp(neg - pos))
        return np.asarray(1.0 / (1.0 + np.exp(np.clip(logp[:, 0] - logp[:, 1], -700, 700))))

    def save(self, path: Path, **meta: object) -> None:
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            json.dump(
                {
                    "words": words,
                    "logfreq": self.logfreq.round(5).tolist(),
                    "unknown": self.unknown.tolist(),
                    "prior": self.prior.tolist(),
                    "meta": {**self.meta, **meta},
                },
                fh,
                ensure_ascii=False,
            )

    @classmethod
    def load(cls, path: Path) -> BayesSentiment:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        vocab = {w: i for i, w in enumerate(data["words"])}
        return cls(
            vocab,
            np.array(data["logfreq"]),
            np.array(data["unknown"]),
            np.array(data["prior"]),
            data.get("meta", {}),
        )


DEFAULT_BAND = (0.4, 0.6)


class SentimentModel:
    """Calibrated P(positive) for token lists, with either engine behind the same call."""

    def __init__(self, engine: LinearModel | BayesSentiment) -> None:
        self.engine = engine
        cal = engine.meta.get("calibration")
        self.calibration = Calibration(*map(float, cal)) if isinstance(cal, list | tuple) else Calibration()
        band = engine.meta.get("neutral_band")
        self.neutral_band: tuple[float, float] = (
            (float(band[0]), float(band[1])) if isinstance(band, list | tuple) else DEFAULT_BAND
        )

    @property
    def kind(self) -> Literal["linear", "bayes"]:
        return "linear" if isinstance(self.engine, LinearModel) else "bayes"

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        path = Path(path)
        if path.suffix == ".npz":
            return cls(LinearModel.load(path))
        return cls(BayesSentiment.load(path))

    def raw(
        self,
        token_lists: Sequence[Sequence[str]],
        features: sp.csr_matrix | None = None,
        texts: Sequence[str] | None = None,
    ) -> np.ndarray:
        """The engine's own score, before calibration."""
        if isinstance(self.engine, LinearModel):
            x = features if features is not None else featurize(token_lists, texts)
            return np.asarray(self.engine.proba(x)[:, self.engine.classes.index("1")])
        return self.engine.score(token_lists)

    def score(
        self,
        token_lists: Sequence[Sequence[str]],
        features: sp.csr_matrix | None = None,
        texts: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Calibrated P(positive); ``texts`` (the normalised texts) add the character features."""
        return self.calibration.apply(self.raw(token_lists, features, texts))


def polarity(scores: np.ndarray, band: tuple[float, float] = (0.4, 0.6)) -> np.ndarray:
    """``negative`` below the band, ``positive`` above, ``neutral`` inside."""
    low, high = band
    return np.where(scores < low, "negative", np.where(scores > high, "positive", "neutral"))


def brand_clauses(text: str, terms: Sequence[str]) -> str:
    """The clauses of ``text`` that mention any of ``terms`` (aspect-level sentiment is scored on these).

    Case-insensitive, as mention detection is (``nlp/query.py``): a post naming "XINGYUE" mentions the
    brand whose alias is "XingYue", so its clauses are that brand's.
    """
    lowered = [t.lower() for t in terms if t]
    parts = [p for p in _CLAUSE.split(text) if p and any(t in p.lower() for t in lowered)]
    return "，".join(parts)


def train_linear(
    token_lists: Sequence[Sequence[str]],
    labels: Sequence[str],
    *,
    texts: Sequence[str] | None = None,
    features: sp.csr_matrix | None = None,
    sample_weight: np.ndarray | None = None,
    c: float = 4.0,
) -> LinearModel:
    """Logistic regression over :func:`nlp.features.featurize` (classes weighted equally)."""
    from sklearn.linear_model import LogisticRegression

    x = features if features is not None else featurize(token_lists, texts)
    y = np.asarray([str(v) for v in labels])
    w = np.ones(len(y)) if sample_weight is None else np.array(sample_weight, dtype=np.float64)
    for cls in set(y.tolist()):  # each class carries the same total weight: the prior is not learnt from the mix
        w[y == cls] *= w.sum() / (len(set(y.tolist())) * w[y == cls].sum())
    clf = LogisticRegression(C=c, max_iter=1000, solver="saga" if len(set(y)) > 2 else "liblinear")
    clf.fit(x, y, sample_weight=w)
    coef = clf.coef_.astype(np.float32)
    assert coef.shape[1] == N_FEATURES
    return LinearModel(classes=[str(k) for k in clf.classes_], coef=coef, intercept=clf.intercept_.astype(np.float32))


def train_bayes(token_lists: Sequence[Sequence[str]], labels: Sequence[int]) -> BayesSentiment:
    """Train SnowNLP's own Bayes classifier on jieba tokens and vectorise it."""
    from snownlp.classification.bayes import Bayes

    bayes = Bayes()
    bayes.train([(list(t), "pos" if int(y) == 1 else "neg") for t, y in zip(token_lists, labels, strict=True)])
    return BayesSentiment.from_snownlp(bayes)
