"""Sentiment: P(positive) in [0, 1], a polarity with a neutral band, and sentiment toward each brand.

Two engines, both fed jieba tokens (never SnowNLP's slow segmenter):

* ``bayes`` (``nlp.sentiment_engine = "snownlp"``) — SnowNLP's own classifier
  (``snownlp.classification.bayes.Bayes``), retrained on labelled data.  Scoring uses
  the exact same naive-Bayes arithmetic, vectorised over a vocabulary (tested
  against ``Bayes.classify``).
* ``linear`` — logistic regression over hashed word + character n-gram features
  (:mod:`nlp.features`).  Shipped as the default because it measurably beats
  the Bayes engine (see docs/benchmarks.md).  The shipped file is a
  :class:`GatedLinearModel`: a few linear experts over the same features and a
  linear gate that reads which kind of text a post is (an emoticon-rich Weibo post,
  a human-annotated SMP2020 post, a review) and weighs the experts accordingly
  (:func:`train_gated`); scoring stays one sparse product.

Either engine's raw score goes through a :class:`Calibration` stored in the model
file: a logistic map fitted on held-out data with both classes weighted equally, so
0.7 means "70 % of posts scored 0.7 are positive" when positive and negative posts
are equally common, whatever the mix of the training data.  The file also carries
the neutral band chosen from data (``benchmarks/train_models.py``).

``yuqing train sentiment DATA.csv --out MODEL`` retrains either engine on a user's own labelled data
(:func:`fit_sentiment`): the same kind of model as the shipped one, calibrated and measured on slices
of that data it did not train on.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp

from yuqing.nlp.features import N_FEATURES, featurize, sparse_dense

__all__ = [
    "BayesSentiment",
    "Calibration",
    "Evaluation",
    "GatedLinearModel",
    "LinearModel",
    "SentimentModel",
    "brand_clauses",
    "calibration_error",
    "default_experts",
    "fit_sentiment",
    "polarity",
    "text_bucket",
    "train_bayes",
    "train_gated",
    "train_linear",
]

_CLAUSE = re.compile(r"[。！？!?；;，,\n]+|//")
RIDGE = 1e-6  # on the per-domain offsets of :meth:`GatedLinearModel.shift_domains`: numerical only


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
        return sparse_dense(x, self._coef_t) + self.intercept  # x @ coef.T, the same floats, faster

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
        """A saved model; a file written by :class:`GatedLinearModel` loads as one (whichever class is asked)."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"])) if "meta" in data else {}
            kind = GatedLinearModel if meta.get("engine") == GatedLinearModel.ENGINE else LinearModel
            model = kind(
                classes=[str(c) for c in data["classes"]],
                coef=data["coef"].astype(np.float32),
                intercept=data["intercept"].astype(np.float32),
                meta=meta,
            )
        if model.coef.shape[1] != N_FEATURES:
            raise ValueError(
                f"{path}: a model over {model.coef.shape[1]:,} features, this version uses {N_FEATURES:,}; "
                "retrain it with `yuqing train sentiment`"
            )
        return model


class GatedLinearModel(LinearModel):
    """A mixture of linear experts over the same features, weighed per post by a linear gate.

    ``coef`` holds the ``D`` experts' rows, then the gate's ``D`` rows (one per kind of training text,
    ``meta["domains"]``); for features ``x``::

        gate   = softmax(temperature · (G x + g))             # how much the post looks like each domain
        margin = Σ_d gate_d · (W_d x + b_d)                   # the experts, weighed by the gate
        P(positive) = sigmoid(margin)

    One sparse product gives all ``2D`` columns.  Classes are ``["0", "1"]`` as for a binary
    :class:`LinearModel`, so the same calibration and callers apply.  Trained by :func:`train_gated`.
    """

    ENGINE = "gated-linear"

    @property
    def domains(self) -> list[str]:
        return [str(d) for d in self.meta.get("domains", [])]  # type: ignore[attr-defined]

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))  # type: ignore[arg-type]

    def gate(self, x: sp.csr_matrix) -> np.ndarray:
        """Each post's weight on each domain's expert (rows sum to 1)."""
        return self._split(self.decision(x))[1]

    def _split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = z.shape[1] // 2
        return z[:, :d], _softmax(z[:, d:], self.temperature)

    def save(self, path: Path, **meta: object) -> None:
        super().save(path, **{**meta, "engine": self.ENGINE})

    def shift_domains(self, x: sp.csr_matrix, labels: Sequence[int], domains: Sequence[str]) -> dict[str, float]:
        """Correct each domain's class prior on held-out rows: an offset per domain added to its expert.

        The offsets ``c`` minimise the log-loss of ``sigmoid(margin + gate · c)`` with every domain and,
        within it, both classes weighing the same (a tiny ridge keeps the solve stable).
        A post's margin moves by its gate-weighted offset, so the model stays one sparse product.
        Offsets add up over calls (on overlapping classes a second call on the same rows finds ~0);
        ``meta["domain_offsets"]`` keeps the total.  Domains absent from ``domains`` keep an offset of 0.
        """
        from scipy.special import expit

        experts, gate = self._split(self.decision(x))
        margin = (experts * gate).sum(axis=1).astype(np.float64)
        gate = gate.astype(np.float64)
        y = np.asarray(labels).astype(int)
        dom = np.asarray(domains).astype(str)
        w = np.zeros(len(y))
        for d in set(dom.tolist()):
            for c in (0, 1):
                m = (dom == d) & (y == c)
                if m.any():
                    w[m] = 1.0 / m.sum()
        w /= max(w.sum(), 1e-12)
        offsets = np.zeros(gate.shape[1])
        for _ in range(50):  # Newton's method on a convex loss of a handful of parameters
            p = expit(margin + gate @ offsets)
            grad = gate.T @ (w * (p - y)) + 2 * RIDGE * offsets
            hess = (gate * (w * p * (1 - p))[:, None]).T @ gate + 2 * RIDGE * np.eye(len(offsets))
            step = np.clip(np.linalg.solve(hess, grad), -1.0, 1.0)  # damped: no leap on separable rows
            offsets -= step
            if np.abs(step).max() < 1e-6:
                break
        self.intercept = (self.intercept + np.r_[offsets, np.zeros(len(offsets))]).astype(np.float32)
        before = self.meta.get("domain_offsets")
        before = before if isinstance(before, dict) else {}
        total = {d: float(before.get(d, 0.0)) + float(o) for d, o in zip(self.domains, offsets, strict=True)}
        self.meta["domain_offsets"] = total
        return {d: float(o) for d, o in zip(self.domains, offsets, strict=True)}

    def proba(self, x: sp.csr_matrix) -> np.ndarray:
        experts, gate = self._split(self.decision(x))
        p = 1.0 / (1.0 + np.exp(-(experts * gate).sum(axis=1)))
        return np.column_stack([1 - p, p])


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
    w = _balanced(y, np.ones(len(y)) if sample_weight is None else sample_weight)
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


def _balanced(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``w`` rescaled so each class carries the same total weight (the prior is not learnt from the mix)."""
    w = np.array(w, dtype=np.float64)
    classes = sorted(set(y.tolist()))
    for cls in classes:
        w[y == cls] *= w.sum() / (len(classes) * w[y == cls].sum())
    return w


def _softmax(z: np.ndarray, temperature: float) -> np.ndarray:
    g = temperature * z
    g = np.exp(g - g.max(axis=1, keepdims=True))
    return np.asarray(g / g.sum(axis=1, keepdims=True))


def _two_sided(z: np.ndarray) -> np.ndarray:
    """A binary classifier's one column ``f`` as two, ``[-f/2, f/2]`` (their softmax is ``sigmoid(f)``)."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    return np.column_stack([-z / 2, z / 2]) if z.shape[1] == 1 else z


def train_gated(
    x: sp.csr_matrix,
    labels: Sequence[int],
    domains: Sequence[str],
    experts: dict[str, dict[str, float]],
    *,
    folds: np.ndarray | None = None,
    c: float = 4.0,
    gate_c: float = 0.5,
    stack_c: float = 0.1,
    temperature: float = 2.0,
) -> GatedLinearModel:
    """Stack linear experts with a domain gate, then fold the stack into a :class:`GatedLinearModel`.

    ``experts`` maps a name to the domains it trains on and their weights (``{"weibo": 1}``, or every
    domain with its weight).  Each expert is a logistic regression (``c``, classes weighted equally);
    the gate a linear SVM that tells the ``domains`` apart.  A second-stage logistic regression
    (``stack_c``) reads the experts' margins ``m``, the gate's softmax ``s`` and their products
    ``m_i · s_d`` — out of fold (``folds``: one fold id per row; default 3 folds), every domain and
    class weighted equally.  Because ``Σ_d s_d = 1`` that second stage equals
    ``Σ_d s_d · (Σ_i a_id · m_i + b_d)``: each domain's expert is one combined weight vector, so the
    shipped model is the ``D`` combined experts and the gate, scored by one sparse product.  With one
    domain there is nothing to gate: the gate is a row of zeros and the second stage weighs the experts.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    y = np.asarray(labels).astype(int)
    dom = np.asarray(domains).astype(str)
    names = sorted(set(dom.tolist()))
    fold = np.arange(len(y)) % 3 if folds is None else np.asarray(folds)

    def fit(rows: np.ndarray) -> tuple[list[object], object]:
        fitted = []
        for weights in experts.values():
            w = np.array([weights.get(d, 0.0) for d in dom], dtype=np.float64)
            m = rows & (w > 0)
            clf = LogisticRegression(C=c, max_iter=1000, solver="liblinear")
            fitted.append(clf.fit(x[m], y[m], sample_weight=_balanced(y[m], w[m])))
        return fitted, (LinearSVC(C=gate_c).fit(x[rows], dom[rows]) if len(names) > 1 else None)

    def stack_features(fitted: list[object], gate: object, rows: sp.csr_matrix) -> np.ndarray:
        m = np.column_stack([f.decision_function(rows) for f in fitted])  # type: ignore[attr-defined]
        if gate is None:  # one domain: its expert takes every post
            s = np.ones((rows.shape[0], 1))
        else:
            s = _softmax(_two_sided(np.asarray(gate.decision_function(rows))), temperature)  # type: ignore[attr-defined]
        return np.column_stack([m, s, (m[:, :, None] * s[:, None, :]).reshape(len(m), -1)])

    oof = np.zeros((len(y), len(experts) + len(names) + len(experts) * len(names)))
    for k in np.unique(fold):
        fitted, gate = fit(fold != k)
        oof[fold == k] = stack_features(fitted, gate, x[fold == k])
    w = np.ones(len(y))
    for d in names:  # every domain the same total weight, rows weighing 1 on average (``stack_c`` keeps its scale)
        w[dom == d] = len(y) / (len(names) * (dom == d).sum())
    stack = LogisticRegression(C=stack_c, max_iter=5000).fit(oof, y, sample_weight=_balanced(y, w))
    fitted, gate = fit(np.ones(len(y), dtype=bool))

    n_e, n_d = len(experts), len(names)
    beta = stack.coef_[0]
    a = beta[:n_e, None] + beta[n_e + n_d :].reshape(n_e, n_d)  # (experts, domains): weight of expert i in domain d
    w_experts = np.vstack([f.coef_[0] for f in fitted])  # type: ignore[attr-defined]
    b_experts = np.array([f.intercept_[0] for f in fitted])  # type: ignore[attr-defined]
    if gate is None:  # a gate of one row of zeros: softmax gives its domain weight 1
        gate_coef, gate_intercept = np.zeros((1, x.shape[1])), np.zeros(1)
    else:
        gate_coef = _two_sided(gate.coef_.T).T  # type: ignore[attr-defined]
        gate_intercept = _two_sided(gate.intercept_[None, :])[0]  # type: ignore[attr-defined]
        assert list(gate.classes_) == names  # type: ignore[attr-defined]
    coef = np.vstack([a.T @ w_experts, gate_coef]).astype(np.float32)
    intercept = np.r_[stack.intercept_[0] + beta[n_e : n_e + n_d] + a.T @ b_experts, gate_intercept]
    return GatedLinearModel(
        classes=["0", "1"],
        coef=coef,
        intercept=intercept.astype(np.float32),
        meta={
            "engine": GatedLinearModel.ENGINE,
            "domains": names,
            "temperature": temperature,
            "experts": {k: dict(v) for k, v in experts.items()},
        },
    )


def text_bucket(text: str) -> int:
    """A stable bucket 0-19 of a text (md5): splits never depend on row order or on the run."""
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 20  # noqa: S324 - a split, not security


def calibration_error(p: object, y: object, bins: int = 10, *, balanced: bool = True) -> float:
    """Expected calibration error of P(positive) ``p`` against 0/1 labels ``y``, in equal-width bins.

    ``balanced`` weights the two classes equally (the prior the scores are calibrated for), so a set's
    own class mix does not show up as miscalibration.
    """
    prob = np.asarray(p, dtype=np.float64)
    truth = np.asarray(y).astype(int)
    w = np.ones(len(truth))
    if balanced:
        for c in (0, 1):
            n = (truth == c).sum()
            if n:
                w[truth == c] = len(truth) / (2 * n)
    idx = np.minimum((prob * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += w[m].sum() * abs(np.average(truth[m], weights=w[m]) - np.average(prob[m], weights=w[m]))
    return float(total / w.sum())


@dataclass(frozen=True)
class Evaluation:
    """How a trained model scores texts it never saw: one domain, or ``"all"`` of them pooled."""

    domain: str
    n: int
    positives: int
    balanced_accuracy: float  # of calibrated P(positive) > 0.5; the mean recall of the classes present
    ece: float  # calibration error, classes weighted equally


ALL_DOMAINS = "(all domains)"
MIN_PER_CLASS = 10  # training rows of each label each domain needs (an expert per domain is trained on it)


def default_experts(domains: Sequence[str]) -> dict[str, dict[str, float]]:
    """The experts :func:`fit_sentiment` trains, as the shipped recipe does for its five domains.

    Every row alike; with several domains also every domain weighing the same in total, and one
    expert per domain — the gate then learns which expert to trust for which kind of text.
    """
    names, counts = np.unique(np.asarray(domains).astype(str), return_counts=True)
    experts = {"all": dict.fromkeys(names.tolist(), 1.0)}
    if len(names) > 1:
        total = float(counts.sum())
        experts["domains-equal"] = {str(d): total / (len(names) * n) for d, n in zip(names, counts, strict=True)}
        experts.update({f"only:{d}": {str(d): 1.0} for d in names})
    return experts


def fit_sentiment(
    texts: Sequence[str],
    token_lists: Sequence[Sequence[str]],
    labels: Sequence[int],
    domains: Sequence[str] | None = None,
    *,
    engine: Literal["linear", "bayes"] = "linear",
    neutral_band: tuple[float, float] | None = None,
) -> tuple[SentimentModel, list[Evaluation]]:
    """Train a sentiment model on labelled texts the way the shipped one is trained, and measure it.

    ``texts`` are normalised texts (the character features and the split read them), ``domains`` an
    optional kind of text per row (``weibo``, ``reviews``, ...).  A stable hash of each text (as in
    ``benchmarks/accuracy_sets.py``) keeps 10 % aside for measurement and 5 % to fit the calibration;
    the model is trained on the other 85 %.  ``linear``: the gated mixture of logistic regressions
    (:func:`train_gated`, experts :func:`default_experts`, out-of-fold second stage on 3 folds of the
    same hash); ``bayes``: SnowNLP's classifier.  With several domains, each domain's class prior is
    corrected on its tuning rows (:meth:`GatedLinearModel.shift_domains`).  Calibration:
    :meth:`Calibration.fit` with domains weighted equally (left as the identity when the tuning slice
    has fewer than 10 texts of a label).
    Returns the calibrated model and its held-out figures per domain (and pooled when several; none
    when no text fell in the measured slice).
    Raises ``ValueError`` when a domain has too few texts of a label to train on.
    """
    y = np.asarray(labels).astype(int)
    dom = np.asarray(["all"] * len(y) if domains is None else list(domains)).astype(str)
    if not (len(texts) == len(token_lists) == len(y) == len(dom)):
        raise ValueError("texts, tokens, labels and domains differ in length")
    bucket = np.array([text_bucket(t) for t in texts], dtype=np.int64)
    held, tune = bucket % 10 == 0, bucket == 5
    train = ~held & ~tune
    fold = bucket % 3
    for d in sorted(set(dom.tolist())):
        for c in (0, 1):
            n = int((train & (dom == d) & (y == c)).sum())
            short = n < MIN_PER_CLASS or any(
                ((train & (fold != k)) & (dom == d) & (y == c)).sum() == 0 for k in range(3)
            )
            if short:
                where = "" if domains is None else f"domain {d!r}: "
                raise ValueError(
                    f"{where}{n} texts labelled {c} to train on (85 % of the rows, by a hash of the text); "
                    f"at least {MIN_PER_CLASS} needed"
                )
    tokens = [list(token_lists[i]) for i in np.flatnonzero(train).tolist()]
    if engine == "linear":
        x = featurize(token_lists, texts)
        fitted: LinearModel | BayesSentiment = train_gated(
            x[train], y[train], dom[train], default_experts(dom[train]), folds=fold[train]
        )
    elif engine == "bayes":
        fitted = train_bayes(tokens, y[train].tolist())
    else:
        raise ValueError(f"unknown engine {engine!r} (linear or bayes)")
    model = SentimentModel(fitted)

    def texts_of(rows: np.ndarray) -> tuple[list[Sequence[str]], list[str]]:
        idx = np.flatnonzero(rows).tolist()
        return [token_lists[i] for i in idx], [texts[i] for i in idx]

    if isinstance(fitted, GatedLinearModel) and len(set(dom.tolist())) > 1:
        # each domain's class prior corrected on its tuning rows (domains with too few of a label keep 0)
        ok = [
            d
            for d in set(dom[tune].tolist())
            if all(((dom == d) & tune & (y == c)).sum() >= MIN_PER_CLASS for c in (0, 1))
        ]
        rows = tune & np.isin(dom, ok)
        if rows.any():
            idx = np.flatnonzero(rows).tolist()
            fitted.shift_domains(featurize([token_lists[i] for i in idx], [texts[i] for i in idx]), y[rows], dom[rows])
    if min(int((tune & (y == c)).sum()) for c in (0, 1)) >= MIN_PER_CLASS:
        counts = dict(zip(*np.unique(dom[tune], return_counts=True), strict=True))
        weight = np.array([1.0 / counts[d] for d in dom[tune]])  # every domain weighs the same
        tune_tokens, tune_texts = texts_of(tune)
        model.calibration = Calibration.fit(model.raw(tune_tokens, texts=tune_texts), y[tune], weight)
    fitted.meta["calibration"] = [model.calibration.slope, model.calibration.offset]
    if neutral_band is not None:
        fitted.meta["neutral_band"] = list(neutral_band)
        model.neutral_band = neutral_band

    if not held.any():  # a small file: no text fell in the measured 10 %
        return model, []
    held_tokens, held_texts = texts_of(held)
    p, y_held, d_held = model.score(held_tokens, texts=held_texts), y[held], dom[held]
    groups = [(d, d_held == d) for d in sorted(set(d_held.tolist()))]
    if len(set(dom.tolist())) > 1:
        groups.append((ALL_DOMAINS, np.ones(len(y_held), dtype=bool)))
    evaluations = []
    for name, m in groups:
        recalls = [float(((p[m] > 0.5) == c)[y_held[m] == c].mean()) for c in (0, 1) if (y_held[m] == c).any()]
        balanced = float(np.mean(recalls))
        evaluations.append(
            Evaluation(name, int(m.sum()), int(y_held[m].sum()), balanced, calibration_error(p[m], y_held[m]))
        )
    return model, evaluations
