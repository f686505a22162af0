"""Topics with Gensim LDA: automatic topic count, readable labels, stable ids, share over time, emerging topics.

* Topic count: candidate counts are fitted on a sample and scored by NPMI coherence
  (``c_npmi`` over the sample's documents); the best count is refitted on all posts.
* Labels: the top words of each topic ("电池 / 鼓包 / 发烫").
* Stable ids: :func:`align_topics` matches a new model's topics to the previous
  model's by Hungarian assignment on the cosine similarity of their word
  distributions; unmatched topics get fresh ids and are flagged new.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["TopicModel", "align_topics", "emerging_topics", "fit_topics", "topic_share"]

logging.getLogger("gensim").setLevel(logging.ERROR)
K_CANDIDATES = (5, 8, 10, 12, 15)
SAMPLE_DOCS = 8000


@dataclass
class TopicModel:
    lda: object
    dictionary: object
    ids: list[int]  # stable id of each internal topic
    new: set[int] = field(default_factory=set)

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

    def assign(self, token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Stable topic id and its probability for each document (-1 for an empty document)."""
        ids = np.full(len(token_lists), -1, dtype=int)
        probs = np.zeros(len(token_lists))
        for i, tokens in enumerate(token_lists):
            bow = self.dictionary.doc2bow(list(tokens))  # type: ignore[attr-defined]
            if not bow:
                continue
            dist = self.lda.get_document_topics(bow, minimum_probability=0.0)  # type: ignore[attr-defined]
            best, p = max(dist, key=lambda tp: tp[1])
            ids[i], probs[i] = self.ids[best], p
        return ids, probs

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
        (directory / "model.json").write_text(json.dumps({"ids": self.ids, "new": sorted(self.new)}), "utf-8")

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
        )


def _content(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if len(t) > 1 and not t.startswith("[") and not t.isdigit()]


def _fit(docs: list[list[str]], dictionary: object, k: int, seed: int, passes: int) -> object:
    from gensim.models import LdaModel

    corpus = [dictionary.doc2bow(d) for d in docs]  # type: ignore[attr-defined]
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


def fit_topics(
    token_lists: Sequence[Sequence[str]],
    *,
    k: int | None = None,
    k_candidates: Sequence[int] = K_CANDIDATES,
    seed: int = 0,
    passes: int = 4,
) -> TopicModel:
    """Fit LDA; without ``k`` the count with the best NPMI coherence on a sample is chosen."""
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel

    docs = [_content(t) for t in token_lists]
    docs = [d for d in docs if d]
    if len(docs) < 10:
        raise ValueError(f"too few non-empty documents for topics ({len(docs)})")
    dictionary = Dictionary(docs)
    dictionary.filter_extremes(no_below=max(2, len(docs) // 5000), no_above=0.3, keep_n=50_000)
    if k is None:
        rng = np.random.default_rng(seed)
        sample = [docs[i] for i in rng.choice(len(docs), size=min(SAMPLE_DOCS, len(docs)), replace=False)]
        best, best_score = k_candidates[0], -np.inf
        for cand in k_candidates:
            lda = _fit(sample, dictionary, cand, seed, passes=2)
            topics = [[w for w, _ in lda.show_topic(t, topn=10)] for t in range(cand)]  # type: ignore[attr-defined]
            score = CoherenceModel(
                topics=topics, texts=sample, dictionary=dictionary, coherence="c_npmi", processes=1
            ).get_coherence()
            if score > best_score:
                best, best_score = cand, score
        k = best
    lda = _fit(docs, dictionary, k, seed, passes)
    return TopicModel(lda, dictionary, list(range(k)))


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
    return TopicModel(new.lda, new.dictionary, ids, fresh)


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
