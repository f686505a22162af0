"""Topics: automatic topic count, readable labels, stable ids, share over time, emerging topics.

Two engines (``fit_topics(method=...)``, ``yuqing topics --method``):

* ``"kmeans"`` (the default): word vectors are learnt from the corpus itself — truncated SVD of the
  positive PMI of words sharing a post (:func:`word_vectors`) — a post is the TF-IDF-weighted mean of
  its words' vectors, and KMeans groups the posts.  Short posts and reviews have a handful of content
  words; the vectors let "裤子" and "面料" count as the same subject although they rarely meet in one
  review.  On held-out product reviews NMI against the category is 0.48-0.51 where gensim reaches
  0.29 (``benchmarks/eval_topics.py``, docs/benchmarks.md).
* ``"gensim"`` (the declared engine, kept): gensim ``LdaModel``.  Short documents (mean ≤
  ``SHORT_DOC_TOKENS`` content words) get the word-network topic model (WNTM, Zuo et al. 2016): LDA
  fitted on one pseudo-document per word — the words it co-occurs with — and a post's topic is
  ``argmax_z Σ_w n(w, post) · p(z | w)``; longer documents get LDA on the documents (``"wntm"`` and
  ``"lda"`` force either).

* Topic count: candidate counts are fitted on a sample and scored by NPMI coherence of each topic's
  top words (document co-occurrence in the sample, sparse matrices); the best count is then fitted.
* Scale: the model is fitted on a uniform sample of at most ``max_docs`` documents and every document
  is then assigned in vectorised batches.  :func:`build_dictionary` takes an iterable, so callers can
  stream documents from disk.
* A corpus without topics (too few posts with topic words, or copies of one post) raises
  :class:`TopicsUnavailable` with the reason.
* Labels: the three most distinctive words of a topic by relevance (:func:`distinctive_words`), never
  brand/product names (``label_exclude``), times, dates or filler (``lexicon/topic_stopwords.txt``).
* Stable ids: :func:`align_topics` matches a new model's topics to the previous model's by Hungarian
  assignment on the cosine similarity of their word distributions; unmatched topics get fresh ids and
  are flagged new.  :func:`topic_summary` adds posts, share and emerging topics.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from itertools import chain, islice
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "TopicModel",
    "TopicsUnavailable",
    "align_topics",
    "build_dictionary",
    "content_tokens",
    "daily_counts",
    "emerging_topics",
    "fit_topics",
    "fit_topics_streamed",
    "npmi_coherence",
    "topic_share",
    "topic_summary",
    "word_network",
    "word_vectors",
]

logging.getLogger("gensim").setLevel(logging.ERROR)
K_CANDIDATES = (5, 8, 10, 12, 15)
SAMPLE_DOCS = 8000
KMEANS_TRIAL_DOCS = 20_000  # k trials of the kmeans engine: on an 8k sample NPMI picked 10 or 15 by seed
MAX_FIT_DOCS = 50_000
ASSIGN_BATCH = 20_000
SHORT_DOC_TOKENS = 20.0
EMBED_DIMS = 200
KMEANS_TEMPERATURE = 0.05
Method = Literal["auto", "kmeans", "gensim", "lda", "wntm"]
METHODS: tuple[str, ...] = ("auto", "kmeans", "gensim", "lda", "wntm")
DEFAULT_METHOD = "kmeans"
MIN_TOPIC_DOCS = 10
LABEL_WORDS = 3
RELEVANCE_LAMBDA = 0.6


class TopicsUnavailable(ValueError):
    """The corpus cannot carry topics: too few posts with topic words, or posts too alike to tell apart.

    Raised by :func:`fit_topics` (and :func:`fit_topics_streamed`) instead of fitting a meaningless
    model; ``reason`` says why in one line, for a stage to report "topics skipped: <reason>".
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class TopicModel:
    lda: object
    dictionary: object
    ids: list[int]  # stable id of each internal topic
    new: set[int] = field(default_factory=set)
    method: str = "lda"  # "lda": documents inferred by the model; "wntm": Σ_w n(w, d) · p(z | w)
    topic_prior: list[float] = field(default_factory=list)  # p(z) over the word network (wntm)
    label_exclude: frozenset[str] = frozenset()  # words never shown in a label (brand and product names)
    # "kmeans": idf (V), word vectors (V × d), centroids (k × d), topic-word weights (k × V)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.ids)

    @property
    def labels(self) -> dict[int, str]:
        """The ``LABEL_WORDS`` most distinctive words of each topic (see :func:`distinctive_words`)."""
        vocab, phi = self.word_matrix()
        prior = np.asarray(self.topic_prior) if len(self.topic_prior) == len(self.ids) else self._topic_mass()
        words = distinctive_words(vocab, phi, prior, exclude=self.label_exclude)
        return {stable: " / ".join(words[internal]) for internal, stable in enumerate(self.ids)}

    def _topic_mass(self) -> np.ndarray | None:
        """p(z): the word mass the fit assigned to each topic (gensim's sufficient statistics)."""
        state = getattr(self.lda, "state", None)
        if state is None:
            return None
        mass = np.asarray(state.sstats).sum(axis=1)
        return np.asarray(mass / max(float(mass.sum()), 1e-12))

    def word_matrix(self) -> tuple[list[str], np.ndarray]:
        """The vocabulary and each topic's distribution over it (k × V, rows sum to 1)."""
        topics = self.arrays["phi"] if self.method == "kmeans" else self.lda.get_topics()  # type: ignore[attr-defined]
        vocab = [self.dictionary[i] for i in range(topics.shape[1])]  # type: ignore[index]
        return vocab, topics

    def assign(self, token_lists: Iterable[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Stable topic id and its probability for each document (-1 and 0 for a document with no known word)."""
        ids_out: list[np.ndarray] = []
        probs_out: list[np.ndarray] = []
        stable = np.asarray(self.ids)
        for batch in _batches(token_lists):
            counts = self.bag_of_words(batch)
            ids = np.full(len(batch), -1, dtype=int)
            probs = np.zeros(len(batch))
            known = np.diff(counts.indptr) > 0
            if known.any():
                theta = self._doc_topics(counts[known])
                best = theta.argmax(axis=1)
                top = theta[np.arange(len(best)), best]
                # a post whose words all lack a vector (kmeans) has no topic either
                ids[known] = np.where(top > 0, stable[best], -1)
                probs[known] = top
            ids_out.append(ids)
            probs_out.append(probs)
        if not ids_out:
            return np.zeros(0, dtype=int), np.zeros(0)
        return np.concatenate(ids_out), np.concatenate(probs_out)

    def bag_of_words(self, token_lists: Sequence[Sequence[str]]) -> Any:
        """Documents × dictionary counts of their content tokens (CSR): ``dictionary.doc2bow(content_tokens(d))``
        of each document, looked up a batch at a time (tested equal)."""
        from scipy import sparse

        index = getattr(self, "_index", None)
        if index is None:
            vocab = [self.dictionary[i] for i in range(len(self.dictionary))]  # type: ignore[arg-type, index]
            content = set(content_tokens(vocab))
            index = (pd.Index(vocab), np.array([w in content for w in vocab], dtype=bool))
            self._index = index
        words, usable = index
        flat, lengths = _flat(token_lists)
        found = words.get_indexer(flat) if len(flat) else np.zeros(0, dtype=np.int64)
        doc = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
        hit = found >= 0
        hit[hit] = usable[found[hit]]
        n_terms = len(words)
        pairs, counts = np.unique(doc[hit] * max(1, n_terms) + found[hit], return_counts=True)
        return sparse.csr_matrix(
            (counts.astype(np.float64), (pairs // max(1, n_terms), pairs % max(1, n_terms))),
            shape=(len(token_lists), n_terms),
        )

    def _doc_topics(self, counts: Any) -> np.ndarray:
        """Topic distribution of each (non-empty) row of a documents × dictionary count matrix."""
        if self.method == "kmeans":
            vectors = _doc_vectors(counts, self.arrays["idf"], self.arrays["words"])
            return _membership(vectors @ self.arrays["centroids"].T)
        if self.method == "wntm":
            scores = np.asarray(counts @ self._word_topics().T) + 1e-12
            return scores / scores.sum(axis=1, keepdims=True)
        bows = [
            list(zip(counts.indices[lo:hi].tolist(), counts.data[lo:hi].astype(int).tolist(), strict=True))
            for lo, hi in zip(counts.indptr[:-1], counts.indptr[1:], strict=True)
        ]
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
        if self.method == "kmeans":
            stored: dict[str, Any] = {n: a.astype(np.float32) for n, a in self.arrays.items()}
            np.savez_compressed(directory / "kmeans.npz", **stored)
        else:
            self.lda.save(str(directory / "lda"))  # type: ignore[attr-defined]
        self.dictionary.save(str(directory / "dictionary"))  # type: ignore[attr-defined]
        meta = {
            "ids": self.ids,
            "new": sorted(self.new),
            "method": self.method,
            "topic_prior": self.topic_prior,
            "label_exclude": sorted(self.label_exclude),
        }
        (directory / "model.json").write_text(json.dumps(meta), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> TopicModel:
        from gensim.corpora import Dictionary
        from gensim.models import LdaModel

        meta = json.loads((directory / "model.json").read_text("utf-8"))
        method = meta.get("method", "lda")
        arrays: dict[str, np.ndarray] = {}
        if method == "kmeans":
            with np.load(directory / "kmeans.npz") as stored:
                arrays = {n: np.asarray(stored[n]) for n in stored.files}
        return cls(
            LdaModel.load(str(directory / "lda")) if method != "kmeans" else None,
            Dictionary.load(str(directory / "dictionary")),
            meta["ids"],
            set(meta["new"]),
            method,
            meta.get("topic_prior", []),
            frozenset(meta.get("label_exclude", [])),
            arrays,
        )


def _load_topic_stopwords() -> frozenset[str]:
    text = resources.files("yuqing.nlp").joinpath("lexicon/topic_stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


TOPIC_STOPWORDS = _load_topic_stopwords()
# clock times, dates, weekdays and durations ("七点", "十一点半", "3号", "周一", "两个小时", "5分钟"): when, not what
_WHEN = re.compile(
    r"^(?:[\d零〇一二三四五六七八九十百两几半]+(?:个)?(?:点钟?半?|点多|号|日|月份?|分钟|秒|小时|天|周|星期|年|岁)"
    r"|(?:周|星期|礼拜)[一二三四五六七日天末]|[\d.:：]+[ap]?m?)$"
)


def content_tokens(tokens: Sequence[str]) -> list[str]:
    """The tokens topics are made of: no single characters, emoticon codes, numbers, clock times or dates,
    or intensifiers/evaluations/boilerplate/time words (``lexicon/topic_stopwords.txt``) that say how good
    or when, not what about."""
    stop, when = TOPIC_STOPWORDS, _WHEN.match
    return [t for t in tokens if len(t) > 1 and t[0] != "[" and t not in stop and not t.isdigit() and not when(t)]


def distinctive_words(
    vocab: Sequence[str],
    phi: np.ndarray,
    prior: np.ndarray | None = None,
    *,
    n: int = LABEL_WORDS,
    exclude: Iterable[str] = (),
    lam: float = RELEVANCE_LAMBDA,
) -> list[list[str]]:
    """The ``n`` words that best say what each topic is about, by relevance (Sievert & Shirley 2014).

    ``relevance = λ·log p(w|z) + (1-λ)·log(p(w|z) / p(w))`` with ``p(w) = Σ_z p(z)·p(w|z)``: a topic's
    most probable words are often words frequent in every topic ("质量", "东西"), its highest-lift words
    are often rare oddities; λ = 0.6 is the value users preferred in the paper's study.  Words in
    ``exclude`` (brand and product names, and any word containing one: a label should name the
    subject, not whose it is) are skipped.
    """
    phi = np.asarray(phi, dtype=np.float64)
    k = phi.shape[0]
    if k == 0 or phi.shape[1] == 0:
        return [[] for _ in range(k)]
    p_z = (
        np.full(k, 1.0 / k)
        if prior is None or len(prior) != k
        else np.asarray(prior) / max(float(np.sum(prior)), 1e-12)
    )
    p_w = p_z @ phi + 1e-12
    rel = lam * np.log(phi + 1e-12) + (1.0 - lam) * np.log((phi + 1e-12) / p_w)
    banned = {w.lower() for w in exclude if w}
    ok = np.array([not any(b in w.lower() for b in banned) for w in vocab]) if banned else np.ones(len(vocab), bool)
    out = []
    for z in range(k):
        order = np.argsort(-rel[z])
        words: list[str] = []
        for i in order[: 50 + n]:
            if ok[i] and phi[z, i] > 0:
                words.append(vocab[i])
                if len(words) == n:
                    break
        out.append(words)
    return out


def _flat(token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Every token of a batch of documents in one object array, and each document's token count."""
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    flat = np.fromiter(chain.from_iterable(token_lists), dtype=object, count=int(lengths.sum()))
    return flat, lengths


def _batches(token_lists: Iterable[Sequence[str]], size: int = ASSIGN_BATCH) -> Iterator[list[Sequence[str]]]:
    it = iter(token_lists)
    while batch := list(islice(it, size)):
        yield batch


class _VocabularyCount:
    """What gensim's ``Dictionary.add_documents(content_tokens(d) for d in docs)`` counts — ids in order of first
    appearance (a document's new words in string order), document and collection frequencies, documents,
    positions and non-zeros — counted a batch at a time with array operations instead of a dict update per
    token (the topics stage's vocabulary pass over 1M posts)."""

    def __init__(self) -> None:
        self.token2id: dict[str, int] = {}
        self.dfs = np.zeros(0, dtype=np.int64)
        self.cfs = np.zeros(0, dtype=np.int64)
        self.num_docs = self.num_pos = self.num_nnz = 0

    def add(self, token_lists: Sequence[Sequence[str]]) -> None:
        flat, lengths = _flat(token_lists)
        self.num_docs += len(token_lists)
        if not len(flat):
            return
        codes, uniques = pd.factorize(flat)
        content = set(content_tokens(uniques.tolist()))
        keep = np.fromiter((u in content for u in uniques), dtype=bool, count=len(uniques))
        doc = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)[keep[codes]]
        codes = codes[keep[codes]]
        if not len(codes):
            return
        first = np.full(len(uniques), len(token_lists), dtype=np.int64)
        np.minimum.at(first, codes, doc)
        # new words take ids as gensim gives them: by the first document that holds them, then by the word
        new = sorted((int(first[u]), uniques[u]) for u in np.flatnonzero(keep) if uniques[u] not in self.token2id)
        for _doc, word in new:
            self.token2id[word] = len(self.token2id)
        ids = np.fromiter((self.token2id.get(u, -1) for u in uniques), dtype=np.int64, count=len(uniques))
        grow = len(self.token2id) - len(self.dfs)
        if grow > 0:
            self.dfs = np.concatenate([self.dfs, np.zeros(grow, dtype=np.int64)])
            self.cfs = np.concatenate([self.cfs, np.zeros(grow, dtype=np.int64)])
        pairs = np.unique(doc * len(uniques) + codes)  # one per (document, word)
        self.dfs += np.bincount(ids[pairs % len(uniques)], minlength=len(self.dfs))
        self.cfs += np.bincount(ids[codes], minlength=len(self.cfs))
        self.num_pos += len(codes)
        self.num_nnz += len(pairs)

    def dictionary(self) -> Any:
        from gensim.corpora import Dictionary

        d = Dictionary()
        d.token2id = self.token2id
        d.dfs = dict(enumerate(self.dfs.tolist()))
        d.cfs = dict(enumerate(self.cfs.tolist()))
        d.num_docs, d.num_pos, d.num_nnz = self.num_docs, self.num_pos, self.num_nnz
        return d


def _filtered(dictionary: Any, keep_n: int) -> Any:
    n = dictionary.num_docs
    dictionary.filter_extremes(no_below=max(2, n // 5000), no_above=0.3, keep_n=keep_n)
    return dictionary


def build_dictionary(token_lists: Iterable[Sequence[str]], *, keep_n: int = 50_000) -> Any:
    """A gensim ``Dictionary`` of content tokens, rare and near-ubiquitous words removed (one pass, streamable).

    The same dictionary as ``Dictionary.add_documents`` over ``content_tokens`` of every document (tested),
    counted a batch at a time with array operations."""
    counter = _VocabularyCount()
    for batch in _batches(token_lists):
        counter.add(batch)
    return _filtered(counter.dictionary(), keep_n)


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


def npmi_coherence(
    top_words: Sequence[Sequence[int]], corpus: Sequence[Sequence[tuple[int, int]]], n_terms: int
) -> float:
    """Mean NPMI of each topic's top word pairs (word ids), by document co-occurrence in ``corpus``."""
    occurs = _bow_matrix(corpus, n_terms)
    occurs.data[:] = 1.0  # presence, not counts
    occurs = occurs.tocsc()
    n_docs = max(1, len(corpus))
    eps = 1e-12
    scores = []
    for top in top_words:
        top = list(top)
        sub = occurs[:, top]
        co = (sub.T @ sub).toarray() / n_docs
        p = np.diag(co).copy()
        iu = np.triu_indices(len(top), k=1)
        joint = co[iu]
        pmi = np.log((joint + eps) / (p[iu[0]] * p[iu[1]] + eps))
        npmi = np.where(joint > 0, pmi / -np.log(joint + eps), -1.0)
        scores.append(float(npmi.mean()) if len(npmi) else 0.0)
    return float(np.mean(scores))


def _top_ids(phi: np.ndarray, topn: int = 10) -> list[list[int]]:
    return [np.argsort(-row)[:topn].tolist() for row in phi]


def _bow_matrix(bows: Sequence[Sequence[tuple[int, int]]], n_terms: int) -> Any:
    from scipy import sparse

    rows = np.repeat(np.arange(len(bows)), [len(b) for b in bows])
    pairs = np.fromiter(chain.from_iterable(chain.from_iterable(bows)), dtype=np.float64, count=2 * len(rows))
    cols, vals = pairs[0::2].astype(np.int64), pairs[1::2]
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


def _tfidf(counts: Any, idf: np.ndarray) -> Any:
    """Sublinear TF × IDF, rows scaled to unit length (sparse in, sparse out)."""
    from sklearn.preprocessing import normalize as unit_rows

    x = counts.astype(np.float64, copy=True)
    x.data = 1.0 + np.log(x.data)
    return unit_rows(x.multiply(idf[None, :]).tocsr())


def _doc_vectors(counts: Any, idf: np.ndarray, words: np.ndarray) -> np.ndarray:
    """A post's vector: the TF-IDF-weighted sum of its words' vectors, unit length (zero without any)."""
    from sklearn.preprocessing import normalize as unit_rows

    return np.asarray(unit_rows(np.asarray(_tfidf(counts, idf) @ words)), dtype=np.float32)


def _membership(similarity: np.ndarray) -> np.ndarray:
    """Cosine similarities to the centroids → a distribution over topics (softmax, temperature 0.05);
    rows of a zero vector (no word with a vector) stay all zero."""
    z = (similarity - similarity.max(axis=1, keepdims=True)) / KMEANS_TEMPERATURE
    out = np.exp(z)
    out /= out.sum(axis=1, keepdims=True)
    out[~np.any(similarity != 0, axis=1)] = 0.0
    return np.asarray(out)


def word_vectors(presence: Any, dims: int = EMBED_DIMS, seed: int = 0) -> np.ndarray:
    """Word vectors from the corpus itself: truncated SVD of the positive PMI of words sharing a post.

    Context counts are smoothed (exponent 0.75, Levy, Goldberg & Dagan 2015) so rare words do not get
    inflated PMI; vectors are ``U·√S``, unit length.  Two words used in the same kind of post ("裤子",
    "面料") get close vectors even when they rarely meet in one short review, which is what lets
    clustering see a subject that a handful of words per post cannot show on their own.
    """
    from scipy import sparse
    from sklearn.preprocessing import normalize as unit_rows
    from sklearn.utils.extmath import randomized_svd

    co = (presence.T @ presence).tocoo()
    df = np.asarray(presence.sum(axis=0)).ravel() + 1e-12
    n = max(1, presence.shape[0])
    keep = co.row != co.col
    rows, cols, joint = co.row[keep], co.col[keep], co.data[keep]
    context = df**0.75
    context /= context.sum()
    pmi = np.log(joint / n / ((df[rows] / n) * context[cols]))
    pos = pmi > 0
    ppmi = sparse.csr_matrix((pmi[pos], (rows[pos], cols[pos])), shape=(len(df), len(df)))
    dims = max(1, min(dims, len(df) - 1))
    if ppmi.nnz == 0:
        return np.zeros((len(df), dims))
    u, sigma, _ = randomized_svd(ppmi.astype(np.float32), dims, n_iter=3, random_state=seed)
    return np.asarray(unit_rows(u * np.sqrt(sigma)), dtype=np.float32)


def _kmeans(vectors: np.ndarray, k: int, seed: int, n_init: int = 3) -> Any:
    from sklearn.cluster import KMeans

    return KMeans(k, init=_plus_plus, n_init=n_init, random_state=seed).fit(vectors)


def _plus_plus(x: np.ndarray, k: int, random_state: Any) -> np.ndarray:
    """scikit-learn's k-means++ seeding (same draws) on a float64 copy of the float32 vectors: on float32 input it
    computes each candidate's distances in upcast chunks, thousands of small products that were most of the fit's
    time; Lloyd's iterations stay on float32."""
    from sklearn.cluster import kmeans_plusplus

    centers, _ = kmeans_plusplus(np.asarray(x, dtype=np.float64), k, random_state=random_state)
    return np.asarray(centers, dtype=x.dtype)


def _phi(x: Any, labels: np.ndarray, k: int) -> np.ndarray:
    """Each cluster's mean TF-IDF row, as a distribution over the vocabulary."""
    from scipy import sparse

    member = sparse.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    phi = np.asarray((member @ x).todense()) + 1e-9
    return np.asarray(phi / phi.sum(axis=1, keepdims=True))


def _fit_kmeans(
    corpus: list[list[tuple[int, int]]],
    dictionary: Any,
    k: int | None,
    k_candidates: Sequence[int],
    seed: int,
) -> TopicModel:
    """KMeans on word-vector document embeddings; ``k`` by NPMI coherence of the clusters' top words."""
    counts = _bow_matrix(corpus, len(dictionary))
    presence = counts.copy()
    presence.data[:] = 1.0
    df = np.asarray(presence.sum(axis=0)).ravel()
    idf = np.log((1.0 + len(corpus)) / (1.0 + df)) + 1.0
    words = word_vectors(presence, seed=seed)
    x = _tfidf(counts, idf)
    vectors = _doc_vectors(counts, idf, words)
    has_vector = np.any(vectors != 0, axis=1)
    distinct = len(np.unique(vectors[has_vector].round(5), axis=0)) if has_vector.any() else 0
    if distinct < 2:
        raise TopicsUnavailable(f"the posts are too uniform to tell topics apart ({distinct} distinct post vectors)")
    fit_rows = np.flatnonzero(has_vector)
    if k is None:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(fit_rows, size=min(KMEANS_TRIAL_DOCS, len(fit_rows)), replace=False))
        sample = [corpus[i] for i in pick]
        scored = []
        for cand in sorted({min(c, distinct) for c in k_candidates if c >= 2}):
            labels = _kmeans(vectors[pick], cand, seed, n_init=2).labels_
            top = _top_ids(_phi(x[pick], labels, cand))
            scored.append((npmi_coherence(top, sample, len(dictionary)), cand))
        k = max(scored)[1]
    k = max(2, min(k, distinct))
    km = _kmeans(vectors[fit_rows], k, seed)
    labels = np.asarray(km.labels_)
    centroids = np.asarray(km.cluster_centers_)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
    prior = np.bincount(labels, minlength=k) / len(labels)
    arrays = {"idf": idf, "words": words, "centroids": centroids, "phi": _phi(x[fit_rows], labels, k)}
    arrays = {n: a.astype(np.float32) for n, a in arrays.items()}  # what save() stores: same answers after a load
    return TopicModel(None, dictionary, list(range(k)), method="kmeans", topic_prior=prior.tolist(), arrays=arrays)


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
    method: Method = "auto",
    label_exclude: Iterable[str] = (),
) -> TopicModel:
    """Fit topics on (a uniform sample of at most ``max_docs`` of) ``token_lists``.

    ``method``: ``"kmeans"`` (the default, ``"auto"``): KMeans on document vectors built from word vectors
    of the corpus itself (:func:`word_vectors`); ``"gensim"``: gensim ``LdaModel``, as the word-network
    model on short documents (mean ≤ ``SHORT_DOC_TOKENS`` content words) and on the documents otherwise;
    ``"wntm"`` / ``"lda"``: either gensim model, whatever the length.  Without ``k`` the candidate count with the
    best NPMI coherence on a smaller sample is chosen.  ``dictionary`` (from :func:`build_dictionary`)
    lets a caller that streams a large file pass the vocabulary of the whole file while handing over
    only the sample as ``token_lists``.  ``label_exclude``: words (brand and product names) never shown
    in a topic label.

    Raises :class:`TopicsUnavailable` when fewer than ``MIN_TOPIC_DOCS`` posts have topic words left
    after rare and near-ubiquitous words are dropped (a handful of posts, or many copies of one post).
    """
    rng = np.random.default_rng(seed)
    if dictionary is None:
        dictionary = build_dictionary(token_lists)
    nonempty = [i for i, t in enumerate(token_lists) if t]
    if len(nonempty) > max_docs:
        nonempty = sorted(rng.choice(nonempty, size=max_docs, replace=False).tolist())
    corpus = [dictionary.doc2bow(content_tokens(token_lists[i])) for i in nonempty]
    corpus = [d for d in corpus if d]
    if len(corpus) < MIN_TOPIC_DOCS:
        raise TopicsUnavailable(_why_no_topics(token_lists, dictionary, len(corpus)))
    engine: str = DEFAULT_METHOD if method == "auto" else method
    if engine not in METHODS:
        raise ValueError(f"unknown topic method {method!r} (one of {', '.join(METHODS)})")
    if engine == "kmeans":
        model = _fit_kmeans(corpus, dictionary, k, k_candidates, seed)
        model.label_exclude = frozenset(label_exclude)
        return model
    if engine == "gensim":
        mean_words = float(np.mean([sum(c for _, c in d) for d in corpus]))
        engine = "wntm" if mean_words <= SHORT_DOC_TOKENS else "lda"
    if k is None:
        pick = rng.choice(len(corpus), size=min(SAMPLE_DOCS, len(corpus)), replace=False)
        sample = [corpus[i] for i in pick]
        scored = []
        for cand in k_candidates:
            trial = _fit_model(sample, dictionary, cand, seed, 2, engine, settle=False)
            top = [[w for w, _ in trial.lda.get_topic_terms(t, topn=10)] for t in range(cand)]  # type: ignore[attr-defined]
            scored.append((npmi_coherence(top, sample, len(dictionary)), cand))
        k = max(scored)[1]
    model = _fit_model(corpus, dictionary, k, seed, passes, engine)
    model.label_exclude = frozenset(label_exclude)
    return model


def _why_no_topics(token_lists: Sequence[Sequence[str]], dictionary: Any, usable: int) -> str:
    words = [content_tokens(t) for t in token_lists]
    with_words = sum(1 for w in words if w)
    distinct = len({tuple(sorted(w)) for w in words if w})
    if with_words >= MIN_TOPIC_DOCS and (distinct < MIN_TOPIC_DOCS or len(dictionary) == 0):
        return (
            f"the posts are too uniform to tell topics apart: {with_words:,} posts with topic words, "
            f"{distinct:,} distinct, no word that some share and most do not"
        )
    return f"too few posts with topic words: {usable:,} (of {len(token_lists):,}; at least {MIN_TOPIC_DOCS} needed)"


def fit_topics_streamed(
    documents: Callable[[], Iterable[Sequence[str]]],
    n_docs: int,
    *,
    k: int | None = None,
    seed: int = 0,
    max_docs: int = MAX_FIT_DOCS,
    label_exclude: Iterable[str] = (),
    method: Method = "auto",
) -> TopicModel:
    """:func:`fit_topics` over a corpus too large to hold as token lists (a file, a column of strings).

    ``documents()`` yields the ``n_docs`` documents in a fixed order; one pass over them counts the vocabulary and
    keeps a uniform sample of at most ``max_docs`` of them to fit on (the sample's positions depend only on
    ``n_docs`` and ``seed``).
    """
    rng = np.random.default_rng(seed)
    wanted = np.sort(rng.choice(n_docs, size=min(max_docs, n_docs), replace=False)) if n_docs else np.zeros(0, int)
    counter = _VocabularyCount()
    sample: list[Sequence[str]] = []
    start = 0
    for batch in _batches(documents()):
        counter.add(batch)
        lo, hi = np.searchsorted(wanted, [start, start + len(batch)])
        sample += [batch[i - start] for i in wanted[lo:hi].tolist()]
        start += len(batch)
    return fit_topics(
        sample,
        k=k,
        seed=seed,
        dictionary=_filtered(counter.dictionary(), 50_000),
        max_docs=max_docs,
        label_exclude=label_exclude,
        method=method,
    )


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
    return TopicModel(new.lda, new.dictionary, ids, fresh, new.method, new.topic_prior, new.label_exclude, new.arrays)


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


def daily_counts(times: pd.Series | np.ndarray, topics: np.ndarray) -> pd.DataFrame:
    """Posts per (``day``, ``topic``) for :func:`topic_summary`: ``times`` (timestamps, strings) taken to
    China time and floored to the day; unparseable or missing times count with day NaT."""
    from yuqing.store.schema import CHINA_TZ

    if isinstance(times, pd.Series) and isinstance(times.dtype, pd.DatetimeTZDtype):  # the stage's: no parsing
        stamps = times.reset_index(drop=True).dt.tz_convert("UTC")
    else:
        stamps = pd.to_datetime(pd.Series(np.asarray(times)), errors="coerce", utc=True, format="mixed")
    days = stamps.dt.tz_convert(CHINA_TZ).dt.tz_localize(None).dt.floor("D")
    frame = pd.DataFrame({"day": days.to_numpy(), "topic": np.asarray(topics)})
    return frame.groupby(["day", "topic"], dropna=False).size().rename("posts").reset_index()


def topic_summary(
    model: TopicModel, daily: pd.DataFrame, *, window: int = 3, min_share: float = 0.05, ratio: float = 2.0
) -> pd.DataFrame:
    """One row per topic: id, label, ``new`` (no match in the previous model), ``posts``, ``share`` of posts
    with a topic, and whether it is ``emerging`` (:func:`emerging_topics` over daily shares) with its
    ``recent_share``, ``baseline_share`` and ``ratio``.

    ``daily``: post counts with columns ``day`` (a date, or NaT when unknown), ``topic`` and ``posts``;
    posts without a topic (-1) are left out.  This is the table the flow stores as ``topics`` and
    ``yuqing topics`` prints.
    """
    frame = model.topics_frame()
    counts = daily[daily["topic"] >= 0]
    posts = counts.groupby("topic")["posts"].sum()
    frame["posts"] = frame["topic"].map(posts).fillna(0).astype(int)
    frame["share"] = frame["posts"] / max(1, int(frame["posts"].sum()))
    dated = counts.dropna(subset=["day"])
    by_day = dated.pivot_table(index="day", columns="topic", values="posts", aggfunc="sum", fill_value=0)
    by_day = by_day.reindex(columns=frame["topic"].tolist(), fill_value=0).sort_index()
    share = by_day.div(by_day.sum(axis=1).replace(0, 1), axis=0)
    hits = emerging_topics(share, window=window, min_share=min_share, ratio=ratio).set_index("topic")
    frame["emerging"] = frame["topic"].isin(hits.index)
    for col in ("recent_share", "baseline_share", "ratio"):
        frame[col] = frame["topic"].map(hits[col]) if len(hits) else np.nan
    return frame
