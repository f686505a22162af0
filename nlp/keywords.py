"""Keywords: per post and per group (period, brand, topic), and rising keywords against a baseline.

* TF-IDF with an IDF fitted on the warehouse's own corpus (:class:`KeywordExtractor`);
  before fitting, jieba's bundled IDF table is used.
* TextRank as an option (jieba's implementation over our tokens' text).
* Rising keywords: weighted log-odds with a Dirichlet prior (Monroe, Colaresi & Quinn 2008),
  current period vs baseline, with a minimum count and a minimum lift against both the baseline and a
  background corpus (``lexicon/background.txt.gz``: the share of posts containing each common word in
  ~150k public Weibo posts, reviews and headlines), so words common everywhere ("听说", "下班") that
  wobble between periods do not read as news.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

try:
    from yuqing.nlp import _speedups as _compiled
except ImportError:  # not built: keywords_joined runs keywords_many (same words, same order)
    _compiled = None  # type: ignore[assignment]

__all__ = [
    "KeywordExtractor",
    "load_background",
    "rising_keywords",
    "rising_keywords_counted",
    "textrank_keywords",
    "top_keywords",
]

_MIN_LEN = 2


def _is_content(t: str) -> bool:
    return len(t) >= _MIN_LEN and not (t.startswith("[") and t.endswith("]")) and not t.isdigit()


def _content(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if _is_content(t)]


class KeywordExtractor:
    def __init__(self, idf: dict[str, float] | None = None, default_idf: float | None = None) -> None:
        if idf is None:
            idf, default_idf = _jieba_idf()
        self.idf = idf
        self.default_idf = default_idf if default_idf is not None else (max(idf.values()) if idf else 10.0)

    def fit(self, token_lists: Iterable[Sequence[str]]) -> KeywordExtractor:
        df: Counter[str] = Counter()
        n = 0
        for tokens in token_lists:
            n += 1
            df.update(set(_content(tokens)))
        self.idf = {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}
        self.default_idf = math.log(1 + n) + 1.0
        return self

    def keywords(self, tokens: Sequence[str], k: int = 5) -> list[str]:
        tf = Counter(_content(tokens))
        if not tf:
            return []
        idf, default = self.idf, self.default_idf
        scored = sorted(tf.items(), key=lambda kv: (-kv[1] * idf.get(kv[0], default), kv[0]))
        return [w for w, _ in scored[:k]]

    def keywords_many(self, token_lists: Iterable[Sequence[str]], k: int = 5) -> list[list[str]]:
        """:meth:`keywords` of every list, column-wise: the same words in the same order.

        Each distinct word gets an id (``pandas.factorize``; its content test and IDF looked up once per
        batch); term counts
        come from one ``np.unique`` over (post, word) pairs and the order from one ``np.lexsort`` by post,
        descending score (count × IDF, the same float product) and the word itself (its rank among the
        batch's sorted words), as :meth:`keywords` sorts.
        """
        lists = token_lists if isinstance(token_lists, list) else list(token_lists)
        flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=object)
        if not len(flat):
            return [[] for _ in lists]
        wid, uniques = pd.factorize(flat)  # hashing in C: an id per distinct word
        words: list[str] = uniques.tolist()
        n_words = len(words)
        idf, default = self.idf, self.default_idf
        content = np.fromiter(map(_is_content, words), dtype=bool, count=n_words)
        weight = np.fromiter((idf.get(w, default) for w in words), dtype=np.float64, count=n_words)
        rank = np.empty(n_words, dtype=np.int64)
        rank[sorted(range(n_words), key=words.__getitem__)] = np.arange(n_words)
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        doc = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
        keep = content[wid]
        pairs, tf = np.unique(doc[keep] * n_words + wid[keep], return_counts=True)
        pdoc, pword = pairs // n_words, pairs % n_words
        score = tf * weight[pword]  # int × float in float64: the product keywords() sorts by
        sel = np.lexsort((rank[pword], -score, pdoc))
        pdoc, pword = pdoc[sel], pword[sel]
        top = (np.arange(len(pdoc)) - np.searchsorted(pdoc, pdoc, side="left")) < k  # the first k of each post
        chosen = uniques[pword[top]].tolist()
        ends = np.cumsum(np.bincount(pdoc[top], minlength=len(lists))).tolist()
        return [chosen[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    def keywords_joined(self, token_lists: Sequence[Sequence[str]], k: int = 5, sep: str = " ") -> list[str]:
        """The :meth:`keywords` of every list joined by ``sep`` (one compiled pass per post when built).

        The compiled pass looks each distinct word of the batch up in ``idf`` once and keeps its weight, with
        the word's characters, in a table of the call (small enough to stay in the cache).
        """
        if _compiled is not None and isinstance(self.idf, dict) and k >= 0:
            return _compiled.keywords_joined(token_lists, self.idf, float(self.default_idf), k, sep)
        return [sep.join(words) for words in self.keywords_many(token_lists, k)]

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps({"idf": self.idf, "default": self.default_idf}, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, path: Path) -> KeywordExtractor:
        data = json.loads(Path(path).read_text("utf-8"))
        return cls(data["idf"], data["default"])


_JIEBA_IDF: tuple[dict[str, float], float] | None = None


def _jieba_idf() -> tuple[dict[str, float], float]:
    """jieba's bundled IDF table, read directly (importing ``jieba.analyse`` leaks open files)."""
    global _JIEBA_IDF
    if _JIEBA_IDF is None:
        import statistics
        from importlib import resources

        idf: dict[str, float] = {}
        text = resources.files("jieba").joinpath("analyse/idf.txt").read_text(encoding="utf-8")
        for line in text.splitlines():
            word, _, value = line.strip().partition(" ")
            if value:
                idf[word] = float(value)
        _JIEBA_IDF = (idf, statistics.median(idf.values()))
    return _JIEBA_IDF


def textrank_keywords(tokens: Sequence[str], k: int = 5, window: int = 5) -> list[str]:
    """TextRank over the token co-occurrence graph of one document (or a pooled group)."""
    import networkx as nx

    words = _content(tokens)
    if len(words) < 2:
        return words[:k]
    g = nx.Graph()
    for i, w in enumerate(words):
        for v in words[i + 1 : i + window]:
            if v != w:
                g.add_edge(w, v, weight=g.get_edge_data(w, v, {"weight": 0})["weight"] + 1)
    ranks = nx.pagerank(g, weight="weight")
    return [w for w, _ in sorted(ranks.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def top_keywords(
    token_lists: Iterable[Sequence[str]], k: int = 20, extractor: KeywordExtractor | None = None
) -> pd.DataFrame:
    """Top keywords of a group of posts: document frequency weighted by IDF."""
    extractor = extractor or KeywordExtractor()
    df: Counter[str] = Counter()
    for tokens in token_lists:
        df.update(set(_content(tokens)))
    rows = [(w, c, c * extractor.idf.get(w, extractor.default_idf)) for w, c in df.items()]
    frame = pd.DataFrame(rows, columns=["keyword", "posts", "score"])
    return frame.sort_values(["score", "keyword"], ascending=[False, True]).head(k).reset_index(drop=True)


_BACKGROUND: dict[str, float] | None = None


def load_background(path: Path | None = None) -> dict[str, float]:
    """Share of posts containing each common word in the background corpus (``word<TAB>per-million`` lines).

    The shipped table (``lexicon/background.txt.gz``, built by ``benchmarks/build_background.py``) is
    read once; ``path`` reads another table of the same format.
    """
    global _BACKGROUND
    if path is None and _BACKGROUND is not None:
        return _BACKGROUND
    if path is None:
        raw = resources.files("yuqing.nlp").joinpath("lexicon/background.txt.gz").read_bytes()
    else:
        raw = Path(path).read_bytes()
    table: dict[str, float] = {}
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        word, _, value = line.partition("\t")
        if value and not word.startswith("#"):
            table[word] = float(value) / 1e6
    if path is None:
        _BACKGROUND = table
    return table


def rising_keywords(
    current: Iterable[Sequence[str]],
    baseline: Iterable[Sequence[str]],
    k: int = 20,
    *,
    min_count: int = 3,
    prior: float = 0.01,
    min_lift: float = 2.0,
    background: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Keywords over-represented in ``current`` vs ``baseline``: z-scored log-odds with a Dirichlet prior.

    A keyword must be in at least ``min_count`` current posts, and its share of current posts must be at
    least ``min_lift`` × the larger of its share of baseline posts (smoothed by half a post) and its share
    of posts in ``background`` (default: the shipped table of :func:`load_background`; pass ``{}`` for
    none).  ``lift`` is that ratio.
    """
    cur: Counter[str] = Counter()
    base: Counter[str] = Counter()
    docs_cur = docs_base = 0
    for tokens in current:
        cur.update(set(tokens))
        docs_cur += 1
    for tokens in baseline:
        base.update(set(tokens))
        docs_base += 1
    return rising_keywords_counted(
        cur, docs_cur, base, docs_base, k, min_count=min_count, prior=prior, min_lift=min_lift, background=background
    )


def rising_keywords_counted(
    current: Mapping[str, int],
    docs_current: int,
    baseline: Mapping[str, int],
    docs_baseline: int,
    k: int = 20,
    *,
    min_count: int = 3,
    prior: float = 0.01,
    min_lift: float = 2.0,
    background: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """:func:`rising_keywords` from document frequencies (posts holding each keyword, e.g. counted in SQL) and the
    number of posts on each side."""
    bg = load_background() if background is None else background
    cur = Counter({w: c for w, c in current.items() if _is_content(w)})
    base = Counter({w: c for w, c in baseline.items() if _is_content(w)})
    docs_cur, docs_base = docs_current, docs_baseline
    n_cur, n_base = sum(cur.values()) or 1, sum(base.values()) or 1
    vocab = set(cur) | set(base)
    alpha0 = prior * len(vocab) or 1.0
    rows = []
    for w in vocab:
        c, b = cur.get(w, 0), base.get(w, 0)
        if c < min_count:
            continue
        expected = max((b + 0.5) / (docs_base + 1), bg.get(w, 0.0))
        lift = (c / max(1, docs_cur)) / expected
        if lift < min_lift:
            continue
        a = prior
        lo = math.log((c + a) / (n_cur + alpha0 - c - a)) - math.log((b + a) / (n_base + alpha0 - b - a))
        var = 1.0 / (c + a) + 1.0 / (b + a)
        rows.append((w, c, b, lo / math.sqrt(var), lift))
    frame = pd.DataFrame(rows, columns=["keyword", "current", "baseline", "z", "lift"])
    return frame.sort_values(["z", "keyword"], ascending=[False, True]).head(k).reset_index(drop=True)
