"""Topics with Gensim LDA: automatic topic count, readable labels, stable ids, share over time, emerging topics.

* Topic count: candidate counts are fitted on a sample and scored by NPMI coherence of
  each topic's top words (document co-occurrence in the sample, computed with sparse
  matrices); the best count is then fitted on up to ``max_docs`` documents.
* Scale: the model is fitted on a uniform sample of at most ``max_docs`` documents
  (LDA's word distributions are stable well before that) and every document is then
  assigned in batches with the model's vectorised E-step, so 1M posts cost one
  inference pass, not 1M ``get_document_topics`` calls.  :func:`build_dictionary`
  takes an iterable, so callers can stream documents from disk.
* Short texts: LDA needs words to co-occur inside documents, and a Weibo post or a
  product review has a handful of content words.  For short documents (mean ≤
  ``SHORT_DOC_TOKENS`` content words, ``method="auto"``) the model is the word-network
  topic model (WNTM, Zuo et al. 2016): gensim ``LdaModel`` is fitted on one
  pseudo-document per word — the words it co-occurs with across the corpus — and a
  post's topic is ``argmax_z Σ_w n(w, post) · p(z | w)``.  On TNEWS headlines (6
  content words) this triples NMI against the category (``benchmarks/eval_topics.py``);
  longer documents use LDA on the documents themselves.
* Labels: the top words of each topic ("电池 / 鼓包 / 发烫").
* Stable ids: :func:`align_topics` matches a new model's topics to the previous
  model's by Hungarian assignment on the cosine similarity of their word
  distributions; unmatched topics get fresh ids and are flagged new.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "TopicModel",
    "align_topics",
    "build_dictionary",
    "content_tokens",
    "emerging_topics",
    "fit_topics",
    "fit_topics_streamed",
    "npmi_coherence",
    "topic_share",
    "word_network",
]

logging.getLogger("gensim").setLevel(logging.ERROR)
K_CANDIDATES = (5, 8, 10, 12, 15)
SAMPLE_DOCS = 8000
MAX_FIT_DOCS = 50_000
ASSIGN_BATCH = 20_000
SHORT_DOC_TOKENS = 20.0


@dataclass
class TopicModel:
    lda: object
    dictionary: object
    ids: list[int]  # stable id of each internal topic
    new: set[int] = field(default_factory=set)
    method: str = "lda"  # "lda": documents inferred by the model; "wntm": Σ_w n(w, d) · p(z | w)
    topic_prior: list[float] = field(default_factory=list)  # p(z) over the word network (wntm)

    @property
    def k(self) -> int:
        return len(self.ids)

    @property
    def labels(self) -> dict[int, str]:
        out = {}
        for internal, stable in enumerate(self.ids):
            words = [w for w, _ in self.lda.show_topic(internal, topn=4)]  # type: ignore[attr-defined]
            out[stable] = " / ".join(words)
        return out

    def word_matrix(self) -> tuple[list[str], np.ndarray]:
        topics = self.lda.get_topics()  # type: ignore[attr-defined]
        vocab = [self.dictionary[i] for i in range(topics.shape[1])]  # type: ignore[index]
        return vocab, topics

    def assign(self, token_lists: Iterable[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Stable topic id and its probability for each document (-1 and 0 for a document with no known word)."""
        ids_out: list[np.ndarray] = []
        probs_out: list[np.ndarray] = []
        batch: list[list[tuple[int, int]]] = []
        stable = np.asarray(self.ids)

        def flush() -> None:
            ids = np.full(len(batch), -1, dtype=int)
            probs = np.zeros(len(batch))
            known = np.fromiter((bool(b) for b in batch), dtype=bool, count=len(batch))
            if known.any():
                theta = self._doc_topics([b for b in batch if b])
                best = theta.argmax(axis=1)
                ids[known] = stable[best]
                probs[known] = theta[np.arange(len(best)), best]
            ids_out.append(ids)
            probs_out.append(probs)
            batch.clear()

        for tokens in token_lists:
            batch.append(self.dictionary.doc2bow(content_tokens(tokens)))  # type: ignore[attr-defined]
            if len(batch) >= ASSIGN_BATCH:
                flush()
        if batch or not ids_out:
            flush()
        return np.concatenate(ids_out), np.concatenate(probs_out)

    def _doc_topics(self, bows: list[list[tuple[int, int]]]) -> np.ndarray:
        """Topic distribution of each (non-empty) bag of words."""
        if self.method == "wntm":
            x = _bow_matrix(bows, len(self.dictionary))  # type: ignore[arg-type]
            scores = np.asarray(x @ self._word_topics().T) + 1e-12
            return scores / scores.sum(axis=1, keepdims=True)
        gamma, _ = self.lda.inference(bows)  # type: ignore[attr-defined]
        return np.asarray(gamma / gamma.sum(axis=1, keepdims=True))

    def _word_topics(self) -> np.ndarray:
        """p(z | w) for every word (k × V), from the topics' word distributions and the topic prior."""
        cached = getattr(self, "_pzw", None)
        if cached is None:
            phi = self.lda.get_topics()  # type: ignore[attr-defined]
            prior = np.asarray(self.topic_prior or [1.0] * phi.shape[0])
            joint = phi * prior[:, None]
            cached = joint / (joint.sum(axis=0, keepdims=True) + 1e-12)
            self._pzw = cached
        return np.asarray(cached)

    def topics_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "topic": self.ids,
                "topic_label": [self.labels[i] for i in self.ids],
                "new": [i in self.new for i in self.ids],
            }
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.lda.save(str(directory / "lda"))  # type: ignore[attr-defined]
        self.dictionary.save(str(directory / "dictionary"))  # type: ignore[attr-defined]
        meta = {"ids": self.ids, "new": sorted(self.new), "method": self.method, "topic_prior": self.topic_prior}
        (directory / "model.json").write_text(json.dumps(meta), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> TopicModel:
        from gensim.corpora import Dictionary
        from gensim.models import LdaModel

        meta = json.loads((directory / "model.json").read_text("utf-8"))
        return cls(
            LdaModel.load(str(directory / "lda")),
            Dictionary.load(str(directory / "dictionary")),
            meta["ids"],
            set(meta["new"]),
            meta.get("method", "lda"),
            meta.get("topic_prior", []),
        )


def _load_topic_stopwords() -> frozenset[str]:
    text = resources.files("nlp").joinpath("lexicon/topic_stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


TOPIC_STOPWORDS = _load_topic_stopwords()


def content_tokens(tokens: Sequence[str]) -> list[str]:
    """The tokens topics are made of: no single characters, emoticon codes, bare numbers, or
    intensifiers/evaluations/boilerplate (``lexicon/topic_stopwords.txt``) that say how good, not what about."""
    stop = TOPIC_STOPWORDS
    return [t for t in tokens if len(t) > 1 and t[0] != "[" and not t.isdigit() and t not in stop]


def build_dictionary(token_lists: Iterable[Sequence[str]], *, keep_n: int = 50_000) -> Any:
    """A gensim ``Dictionary`` of content tokens, rare and near-ubiquitous words removed (one pass, streamable)."""
    from gensim.corpora import Dictionary

    dictionary = Dictionary()
    batch: list[list[str]] = []
    for tokens in token_lists:
        batch.append(content_tokens(tokens))
        if len(batch) >= ASSIGN_BATCH:
            dictionary.add_documents(batch, prune_at=2_000_000)
            batch = []
    if batch:
        dictionary.add_documents(batch, prune_at=2_000_000)
    n = dictionary.num_docs
    dictionary.filter_extremes(no_below=max(2, n // 5000), no_above=0.3, keep_n=keep_n)
    return dictionary


def _fit(corpus: Sequence[Sequence[tuple[int, float]]], dictionary: Any, k: int, seed: int, passes: int) -> Any:
    from gensim.models import LdaModel

    return LdaModel(
        corpus=corpus,
        id2word=dictionary,
        num_topics=k,
        random_state=seed,
        passes=passes,
        alpha="auto",
        eta="auto",
        chunksize=4000,
        iterations=100,
        eval_every=None,
    )


def npmi_coherence(lda: Any, corpus: list[list[tuple[int, int]]], n_terms: int, topn: int = 10) -> float:
    """Mean NPMI of each topic's top-``topn`` word pairs, by document co-occurrence in ``corpus``."""
    occurs = _bow_matrix(corpus, n_terms)
    occurs.data[:] = 1.0  # presence, not counts
    occurs = occurs.tocsc()
    n_docs = max(1, len(corpus))
    eps = 1e-12
    scores = []
    for t in range(lda.num_topics):
        top = [w for w, _ in lda.get_topic_terms(t, topn=topn)]
        sub = occurs[:, top]
        co = (sub.T @ sub).toarray() / n_docs
        p = np.diag(co).copy()
        iu = np.triu_indices(len(top), k=1)
        joint = co[iu]
        pmi = np.log((joint + eps) / (p[iu[0]] * p[iu[1]] + eps))
        npmi = np.where(joint > 0, pmi / -np.log(joint + eps), -1.0)
        scores.append(float(npmi.mean()) if len(npmi) else 0.0)
    return float(np.mean(scores))


def _bow_matrix(bows: Sequence[Sequence[tuple[int, int]]], n_terms: int) -> Any:
    from scipy import sparse

    rows = np.repeat(np.arange(len(bows)), [len(b) for b in bows])
    cols = np.fromiter((w for b in bows for w, _ in b), dtype=np.int64, count=len(rows))
    vals = np.fromiter((c for b in bows for _, c in b), dtype=np.float64, count=len(rows))
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(bows), n_terms))


def word_network(corpus: Sequence[Sequence[tuple[int, int]]], n_terms: int) -> list[list[tuple[int, float]]]:
    """One pseudo-document per word: the words it shares documents with, weighted by positive PMI.

    Raw co-occurrence counts (or their square root) put the most frequent words into every
    pseudo-document, so on real Weibo posts every topic read "没有 / 不是 / 中国" and one topic took
    most posts; PPMI keeps the neighbours a word meets more often than chance, scaled by the log
    of how many documents they share so one chance meeting of two rare words weighs little.
    """
    from scipy import sparse

    present = _bow_matrix(corpus, n_terms)
    present.data[:] = 1.0
    co = (present.T @ present).tocoo()
    df = np.asarray(present.sum(axis=0)).ravel()
    keep = co.row != co.col
    rows, cols, joint = co.row[keep], co.col[keep], co.data[keep]
    pmi = np.log(joint * max(1, present.shape[0]) / (df[rows] * df[cols]))
    weight = np.maximum(pmi, 0.0) * np.log1p(joint)
    keep = weight > 0
    net = sparse.csr_matrix((weight[keep], (rows[keep], cols[keep])), shape=(n_terms, n_terms))
    out = []
    for w in range(n_terms):
        lo, hi = net.indptr[w], net.indptr[w + 1]
        if hi > lo:
            out.append(list(zip(net.indices[lo:hi].tolist(), net.data[lo:hi].tolist(), strict=True)))
    return out


def _fit_model(
    corpus: list[list[tuple[int, int]]],
    dictionary: Any,
    k: int,
    seed: int,
    passes: int,
    method: str,
    *,
    settle: bool = True,
) -> TopicModel:
    if method == "wntm":
        pseudo = word_network(corpus, len(dictionary))
        # a small word network is cheap to pass over, needs more passes to settle and is prone to local
        # optima (two themes in one topic): spend a fixed budget of passes × restarts × entries on it and
        # keep the restart with the best variational bound (trial fits for choosing k get one short fit)
        nnz = sum(len(d) for d in pseudo)
        n_passes = int(np.clip(400_000 // max(1, nnz), passes, 50)) if settle else passes
        restarts = int(np.clip(800_000 // max(1, nnz * n_passes), 1, 5)) if settle else 1
        fits = [_fit(pseudo, dictionary, k, seed + 7919 * r, n_passes) for r in range(restarts)]
        lda = max(fits, key=lambda m: float(m.bound(pseudo))) if restarts > 1 else fits[0]
        # p(z): the word mass the fit assigned to each topic (its sufficient statistics; no extra pass)
        mass = np.asarray(lda.state.sstats).sum(axis=1)
        prior = mass / mass.sum()
        return TopicModel(lda, dictionary, list(range(k)), method="wntm", topic_prior=prior.tolist())
    return TopicModel(_fit(corpus, dictionary, k, seed, passes), dictionary, list(range(k)))


def fit_topics(
    token_lists: Sequence[Sequence[str]],
    *,
    k: int | None = None,
    k_candidates: Sequence[int] = K_CANDIDATES,
    seed: int = 0,
    passes: int = 4,
    max_docs: int = MAX_FIT_DOCS,
    dictionary: Any = None,
    method: Literal["auto", "lda", "wntm"] = "auto",
) -> TopicModel:
    """Fit topics on (a uniform sample of at most ``max_docs`` of) ``token_lists``.

    ``method="auto"`` fits the word-network model on short documents (mean ≤ ``SHORT_DOC_TOKENS``
    content words) and LDA on the documents otherwise.  Without ``k`` the candidate count with the
    best NPMI coherence on a smaller sample is chosen.  ``dictionary`` (from :func:`build_dictionary`)
    lets a caller that streams a large file pass the vocabulary of the whole file while handing over
    only the sample as ``token_lists``.
    """
    rng = np.random.default_rng(seed)
    if dictionary is None:
        dictionary = build_dictionary(token_lists)
    nonempty = [i for i, t in enumerate(token_lists) if t]
    if len(nonempty) > max_docs:
        nonempty = sorted(rng.choice(nonempty, size=max_docs, replace=False).tolist())
    corpus = [dictionary.doc2bow(content_tokens(token_lists[i])) for i in nonempty]
    corpus = [d for d in corpus if d]
    if len(corpus) < 10:
        raise ValueError(f"too few documents with topic words ({len(corpus)})")
    if method == "auto":
        mean_words = float(np.mean([sum(c for _, c in d) for d in corpus]))
        method = "wntm" if mean_words <= SHORT_DOC_TOKENS else "lda"
    if k is None:
        pick = rng.choice(len(corpus), size=min(SAMPLE_DOCS, len(corpus)), replace=False)
        sample = [corpus[i] for i in pick]
        scored = []
        for cand in k_candidates:
            trial = _fit_model(sample, dictionary, cand, seed, 2, method, settle=False)
            scored.append((npmi_coherence(trial.lda, sample, len(dictionary)), cand))
        k = max(scored)[1]
    return _fit_model(corpus, dictionary, k, seed, passes, method)


def fit_topics_streamed(
    documents: Callable[[], Iterable[Sequence[str]]],
    n_docs: int,
    *,
    k: int | None = None,
    seed: int = 0,
    max_docs: int = MAX_FIT_DOCS,
) -> TopicModel:
    """:func:`fit_topics` over a corpus too large to hold as token lists (a file, a column of strings).

    ``documents()`` yields the ``n_docs`` documents in a fixed order and is called twice: once for the
    vocabulary, once to pick a uniform sample of at most ``max_docs`` of them to fit on.
    """
    dictionary = build_dictionary(documents())
    rng = np.random.default_rng(seed)
    wanted = set(rng.choice(n_docs, size=min(max_docs, n_docs), replace=False).tolist()) if n_docs else set()
    sample = [tokens for i, tokens in enumerate(documents()) if i in wanted]
    return fit_topics(sample, k=k, seed=seed, dictionary=dictionary, max_docs=max_docs)


def align_topics(new: TopicModel, old: TopicModel, *, min_similarity: float = 0.3) -> TopicModel:
    """Give ``new``'s topics the ids of the most similar ``old`` topics; unmatched ones get fresh ids."""
    from scipy.optimize import linear_sum_assignment

    v_new, m_new = new.word_matrix()
    v_old, m_old = old.word_matrix()
    vocab = sorted(set(v_new) | set(v_old))
    index = {w: i for i, w in enumerate(vocab)}

    def project(words: list[str], m: np.ndarray) -> np.ndarray:
        out = np.zeros((m.shape[0], len(vocab)))
        out[:, [index[w] for w in words]] = m
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    sim = project(v_new, m_new) @ project(v_old, m_old).T
    rows, cols = linear_sum_assignment(-sim)
    ids = [-1] * new.k
    for r, c in zip(rows, cols, strict=True):
        if sim[r, c] >= min_similarity:
            ids[r] = old.ids[c]
    next_id = max(old.ids, default=-1) + 1
    fresh = set()
    for i in range(new.k):
        if ids[i] == -1:
            ids[i] = next_id
            fresh.add(next_id)
            next_id += 1
    return TopicModel(new.lda, new.dictionary, ids, fresh, new.method, new.topic_prior)


def topic_share(frame: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Share of posts per topic per period (rows: period, columns: topic)."""
    f = frame[frame["topic"] >= 0]
    counts = f.groupby([pd.Grouper(key="created_at", freq=freq), "topic"]).size().unstack(fill_value=0)
    return counts.div(counts.sum(axis=1).replace(0, 1), axis=0)


def emerging_topics(
    share: pd.DataFrame, *, window: int = 3, min_share: float = 0.05, ratio: float = 2.0
) -> pd.DataFrame:
    """Topics whose share over the last ``window`` periods is ``ratio``× their earlier share (and ≥ ``min_share``)."""
    if len(share) <= window:
        return pd.DataFrame(columns=["topic", "recent_share", "baseline_share", "ratio"])
    recent = share.iloc[-window:].mean()
    base = share.iloc[:-window].mean()
    frame = pd.DataFrame({"topic": share.columns, "recent_share": recent.values, "baseline_share": base.values})
    frame["ratio"] = frame["recent_share"] / frame["baseline_share"].clip(lower=1e-3)
    hits = frame[(frame["recent_share"] >= min_share) & (frame["ratio"] >= ratio)]
    return hits.sort_values("ratio", ascending=False).reset_index(drop=True)
