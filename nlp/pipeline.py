"""The text stage: normalise → segment (once) → keywords, sentiment, brand sentiment, complaint, emotion.

Pure: no storage, no network.  ``workers > 1`` fans chunks out to a process pool
whose workers build their segmenter and models once.

Reposts (``说得对//@甲:原文``): the author's own words and the chain are scored together.
Measured on 4,997 held-out Weibo posts (2,310 reposts; ``benchmarks/eval_accuracy.py
--only choices``): own words only 0.873 balanced accuracy, a blend weighted by how much
the author wrote 0.915-0.954, own words + chain 0.963.
A complaint flag does not move the score (:data:`COMPLAINT_CEILING` = 1.0: capping complaints
at 0.35 cost a point on product reviews, where mixed reviews name a small problem and are
positive); a question that reports no problem keeps only :data:`QUESTION_SHRINK` of its
distance from 0.5, so "保修期是多久？" lands in the neutral band.  Numbers in docs/benchmarks.md.
"""

from __future__ import annotations

import gc
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from yuqing.nlp.complaint import detect_complaints, is_question
from yuqing.nlp.features import featurize
from yuqing.nlp.keywords import KeywordExtractor
from yuqing.nlp.normalize import normalize_texts
from yuqing.nlp.query import And, Doc, FieldFilter, Hashtag, Near, Node, Not, Or, Term, evaluate, walk
from yuqing.nlp.segment import Segmenter
from yuqing.nlp.sentiment import LinearModel, SentimentModel, brand_clauses, polarity

if TYPE_CHECKING:
    from yuqing.store.settings import Brand, NlpSettings

__all__ = [
    "OUTPUT_COLUMNS",
    "STEPS",
    "ParallelAnalyzer",
    "TextModels",
    "analyze_columns",
    "analyze_frame",
    "analyze_texts",
    "brand_mentions",
    "emotion_labels",
]

COMPLAINT_CEILING = 1.0  # highest score a complaint keeps: 1.0 = no cap (a cap of 0.35 measured worse)
QUESTION_SHRINK = 0.5  # distance from 0.5 a question keeps (no problem reported)
OUTPUT_COLUMNS = [
    "sentiment",
    "polarity",
    "complaint",
    "complaint_category",
    "emotion",
    "keywords",
    "brands",
    "brand_sentiment",
]


SHIPPED_SENTIMENT = {"linear": "sentiment.npz", "snownlp": "sentiment_bayes.json.gz"}


@dataclass
class TextModels:
    sentiment: SentimentModel
    emotion: LinearModel
    keywords: KeywordExtractor
    neutral_band: tuple[float, float] = (0.4, 0.6)
    sentiment_path: Path | None = None

    @classmethod
    def load(
        cls,
        sentiment_path: Path | None = None,
        *,
        neutral_band: tuple[float, float] | None = None,
        engine: str = "linear",
    ) -> TextModels:
        """The shipped models (``nlp/models``), or a retrained sentiment model from ``sentiment_path``.

        ``engine`` picks the shipped sentiment model: ``linear`` (default, measured best) or ``snownlp``
        (SnowNLP's naive-Bayes classifier retrained on the same data).  ``neutral_band`` defaults to
        the band stored in the model file (chosen from data when it was trained).
        """
        shipped = resources.files("yuqing.nlp").joinpath("models")
        if engine not in SHIPPED_SENTIMENT:
            raise ValueError(f"unknown sentiment engine {engine!r} (one of: {', '.join(SHIPPED_SENTIMENT)})")
        sent_file = Path(sentiment_path) if sentiment_path else Path(str(shipped.joinpath(SHIPPED_SENTIMENT[engine])))
        sentiment = SentimentModel.load(sent_file)
        return cls(
            sentiment=sentiment,
            emotion=LinearModel.load(Path(str(shipped.joinpath("emotion.npz")))),
            keywords=KeywordExtractor(),
            neutral_band=neutral_band or sentiment.neutral_band,
            sentiment_path=sent_file if sentiment_path or engine != "linear" else None,
        )

    @classmethod
    def from_settings(cls, nlp: NlpSettings | None) -> TextModels:
        """The models ``[nlp]`` in yuqing.toml names (model file, engine, neutral band); shipped ones without."""
        if nlp is None:
            return cls.load()
        return cls.load(nlp.sentiment_model, neutral_band=nlp.neutral_band, engine=nlp.sentiment_engine)


POSITIVE_EMOTIONS = frozenset({"happy"})
NEGATIVE_EMOTIONS = frozenset({"angry", "sad", "fear"})


def emotion_labels(model: LinearModel, decision: np.ndarray, sentiment: np.ndarray) -> np.ndarray:
    """The emotion of each post from the six-label model's decision values and the calibrated polarity.

    The polarity model learns from far more text than the six-label emotion model: ``k · logit P(positive)``
    (``meta["polarity_weight"]``, chosen on held-out SMP2020 posts by ``benchmarks/train_models.py``) is
    added to happy and taken from angry, sad and fear before the argmax.
    """
    if not len(decision):
        return np.array([], dtype=object)
    names = np.asarray(model.classes)
    k = float(model.meta.get("polarity_weight", 0.0))  # type: ignore[arg-type]
    if k:
        sign = np.isin(names, list(POSITIVE_EMOTIONS)).astype(float) - np.isin(names, list(NEGATIVE_EMOTIONS))
        p = np.clip(sentiment, 1e-6, 1 - 1e-6)
        decision = decision + k * np.log(p / (1 - p))[:, None] * sign
    return np.asarray(names[decision.argmax(axis=1)])


def _leaf_texts(brand: Brand) -> list[str] | None:
    """The lowered strings whose presence a brand's query reads, or ``None`` when it reads more than the text."""
    out: list[str] = []
    for node in walk(brand.mention_query.node):
        if isinstance(node, Term):
            out.append(node.text.lower())
        elif isinstance(node, Hashtag):
            out.append(f"#{node.tag}#".lower())
        elif isinstance(node, Near):
            out.extend(t.text.lower() for t in (*node.left, *node.right))
        elif isinstance(node, FieldFilter):
            return None
    return out


def _brand_lists(texts: Sequence[str], brands: Sequence[Brand]) -> list[list[str]]:
    """The brands each text mentions: each brand's query (``Brand.mention_query``, nlp/query.py) decides.

    A text holding none of the words any query reads gets, from every query, what that query answers for
    a text without them (its value on the empty text): one regular-expression scan decides most posts,
    and only the rest are evaluated query by query.
    """
    if not brands:
        return [[] for _ in texts]
    queries = [(b.name, b.mention_query) for b in brands]
    leaves = [_leaf_texts(b) for b in brands]
    if any(words is None or "" in words for words in leaves):
        return [[name for name, q in queries if q.matches_doc(Doc.of(t))] for t in texts]
    words = sorted({w for ws in leaves for w in ws or ()}, key=len, reverse=True)
    seen = re.compile("|".join(map(re.escape, words)))
    absent = [name for name, q in queries if q.matches_doc(Doc.of(""))]
    tests = [(name, _text_predicate(q.node)) for name, q in queries]
    out: list[list[str]] = []
    for text in texts:
        low = text.lower()
        if seen.search(low) is None:
            out.append(list(absent))
        else:
            out.append([name for name, test in tests if test(low)])
    return out


def _text_predicate(node: Node) -> Callable[[str], bool]:
    """``evaluate(node, Doc(text))`` as a function of the lowered text, for a query that reads only the text (no
    field filter): an OR of words is one regular-expression search (it finds a match iff one of the words is in
    the text), the rest composed as evaluate composes it."""
    if isinstance(node, Term | Hashtag):
        word = _leaf(node)
        return lambda low: word in low
    leaves = [c for c in node.children if isinstance(c, Term | Hashtag)] if isinstance(node, Or) else []
    if isinstance(node, Or) and len(leaves) == len(node.children):
        pattern = re.compile("|".join(re.escape(_leaf(c)) for c in leaves))
        return lambda low: pattern.search(low) is not None
    if isinstance(node, Not):
        child = _text_predicate(node.child)
        return lambda low: not child(low)
    if isinstance(node, And | Or):
        parts = [_text_predicate(c) for c in node.children]
        combine = all if isinstance(node, And) else any
        return lambda low: combine(part(low) for part in parts)
    return lambda low: evaluate(node, Doc(low, lowered=low))  # NEAR reads positions in the lowered text


def _leaf(node: Term | Hashtag) -> str:
    """The lowered string a term or hashtag tests for in the lowered text (a hashtag: ``#tag#``; no topics list)."""
    return node.text.lower() if isinstance(node, Term) else f"#{node.tag}#".lower()


@contextmanager
def _step(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    """Add the CPU seconds of the block to ``timings[name]`` (when timings are asked for)."""
    if timings is None:
        yield
        return
    t = time.process_time()
    yield
    timings[name] = timings.get(name, 0.0) + time.process_time() - t


STEPS = ("normalise", "segment", "features", "sentiment", "emotion", "complaint", "brands", "keywords", "frame")


def analyze_texts(
    texts: Sequence[object],
    segmenter: Segmenter,
    models: TextModels,
    brands: Sequence[Brand] | None = None,
    workers: int = 1,
    *,
    keep_tokens: bool = False,
    timings: dict[str, float] | None = None,
) -> pd.DataFrame:
    """One row per text with the :data:`OUTPUT_COLUMNS` (plus ``tokens`` with ``keep_tokens``).

    ``timings``: a dict that receives the CPU seconds of each of :data:`STEPS` (in this process only).
    """
    texts = list(texts)
    if not texts:  # the hashers cannot build a matrix of no rows
        return pd.DataFrame(columns=OUTPUT_COLUMNS + (["tokens"] if keep_tokens else []))
    if workers > 1 and len(texts) > 2000:
        return _parallel(texts, segmenter, models, brands, workers, keep_tokens)
    with _collector_paused():
        columns = _analyze(texts, segmenter, models, brands, keep_tokens, timings)
    with _step(timings, "frame"):
        return pd.DataFrame(columns)


def analyze_columns(
    texts: Sequence[object],
    segmenter: Segmenter,
    models: TextModels,
    brands: Sequence[Brand] | None = None,
    *,
    keep_tokens: bool = False,
) -> dict[str, Any]:
    """:func:`analyze_texts` in this process as the columns of its frame, not the frame (the analyse stage's
    workers make the Arrow table the warehouse writes straight from them): ``sentiment``, ``complaint``
    and the labels as numpy arrays, ``keywords`` as strings, ``brands``, ``brand_sentiment`` and ``tokens`` as
    lists of lists, dicts and lists.  Texts may be empty."""
    texts = list(texts)
    if not texts:
        return {c: [] for c in OUTPUT_COLUMNS + (["tokens"] if keep_tokens else [])}
    with _collector_paused():
        return _analyze(texts, segmenter, models, brands, keep_tokens, None)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (back on after it, if it was on).

    A batch allocates a few lists per post (the cut's words, the tokens) and no reference cycles; each
    700 allocations start a collection that walks the young objects, and now and then one that walks every
    object of the process (the models' and Prefect's included): ~1.5 µs a post on average, and ~11 µs a post
    on the batch where a full collection falls (measured on 10,000 Weibo posts).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _analyze(
    texts: list[object],
    segmenter: Segmenter,
    models: TextModels,
    brands: Sequence[Brand] | None,
    keep_tokens: bool,
    timings: dict[str, float] | None,
) -> dict[str, Any]:
    with _step(timings, "normalise"):
        clean = normalize_texts(texts)
    with _step(timings, "segment"):
        # a repost is scored on the author's words and the chain together (measured best, module docstring);
        # the segmenter drops the "//@name:" markers, so this equals the own words' tokens + the chain's
        tokens = segmenter.tokens_many(clean)
    with _step(timings, "features"):
        x = featurize(tokens, clean)
    with _step(timings, "sentiment"):
        sentiment = models.sentiment.score(tokens, features=x if models.sentiment.kind == "linear" else None)
    with _step(timings, "emotion"):
        emotion = emotion_labels(models.emotion, models.emotion.decision(x), sentiment)
    with _step(timings, "complaint"):
        complaint, category = detect_complaints(clean, sentiment, [t for b in brands or [] for t in b.terms])
        if COMPLAINT_CEILING < 1.0:
            sentiment = np.where(complaint, np.minimum(sentiment, COMPLAINT_CEILING), sentiment)
        # a question that reports no problem asks rather than judges: its score moves toward neutral
        asking = np.array([is_question(t) for t in clean], dtype=bool) & ~complaint
        sentiment = np.where(asking, 0.5 + (sentiment - 0.5) * QUESTION_SHRINK, sentiment)
    with _step(timings, "brands"):
        brand_lists = _brand_lists(clean, brands or [])
        brand_sent = _brand_sentiment(clean, brand_lists, brands or [], sentiment, segmenter, models)
    with _step(timings, "keywords"):
        keywords = models.keywords.keywords_joined(tokens, 5)
    columns: dict[str, Any] = {
        "sentiment": np.round(sentiment, 4),
        "polarity": polarity(sentiment, models.neutral_band),
        "complaint": complaint,
        "complaint_category": category,
        "emotion": emotion,
        "keywords": keywords,
        "brands": brand_lists,
        "brand_sentiment": brand_sent,
    }
    if keep_tokens:
        columns["tokens"] = tokens
    return columns


def _brand_sentiment(
    texts: list[str],
    brand_lists: list[list[str]],
    brands: Sequence[Brand],
    sentiment: np.ndarray,
    segmenter: Segmenter,
    models: TextModels,
) -> list[dict[str, float]]:
    """Sentiment toward each brand named: the whole post when it names one brand, its clauses when several."""
    out: list[dict[str, float]] = [{} for _ in texts]
    by_name = {b.name: b for b in brands}
    multi: list[tuple[int, str, str]] = []
    scores_of_posts = sentiment.tolist()  # Python floats: the values float(sentiment[i]) gives, without indexing
    for i, names in enumerate(brand_lists):
        if len(names) == 1:
            out[i][names[0]] = round(scores_of_posts[i], 4)
        elif len(names) > 1:
            for name in names:
                multi.append((i, name, brand_clauses(texts[i], by_name[name].terms) or texts[i]))
    if multi:
        clauses = [c for _, _, c in multi]
        scores = models.sentiment.score([segmenter.tokens(c) for c in clauses], texts=clauses)
        for (i, name, _), s in zip(multi, scores, strict=True):
            out[i][name] = round(float(s), 4)
    return out


def brand_mentions(frame: pd.DataFrame) -> pd.DataFrame:
    """Long format: one row per (post, brand) with the sentiment toward that brand."""
    rows: list[dict[str, Any]] = []
    id_cols = [c for c in ("platform", "id", "created_at") if c in frame.columns]
    for rec in frame[[*id_cols, "brand_sentiment"]].to_dict("records"):
        d: dict[str, Any] = {str(k): v for k, v in rec.items()}
        for brand, score in (d.pop("brand_sentiment") or {}).items():
            rows.append({**d, "brand": brand, "brand_sentiment": score})
    return pd.DataFrame(rows, columns=[*id_cols, "brand", "brand_sentiment"])


def analyze_frame(
    frame: pd.DataFrame,
    segmenter: Segmenter,
    models: TextModels,
    brands: Sequence[Brand] | None = None,
    workers: int = 1,
    *,
    text_col: str = "text",
    keep_tokens: bool = False,
) -> pd.DataFrame:
    """``frame`` with the analysis columns added (other columns kept)."""
    if text_col not in frame.columns:
        raise KeyError(f"no {text_col!r} column (columns: {list(frame.columns)})")
    result = analyze_texts(frame[text_col].tolist(), segmenter, models, brands, workers, keep_tokens=keep_tokens)
    out = frame.reset_index(drop=True).copy()
    for col in result.columns:
        out[col] = (
            result[col].to_numpy() if col not in ("brands", "brand_sentiment", "tokens") else result[col].tolist()
        )
    return out


# --------------------------------------------------------------------------- process fan-out

_WORKER: tuple[Segmenter, TextModels, list[Brand]] | None = None


def _init_worker(
    seg_args: dict[str, Any], sentiment_path: str | None, band: tuple[float, float], brands: list[Brand]
) -> None:  # sentiment_path is the resolved model file, whichever engine chose it
    global _WORKER
    _WORKER = (
        Segmenter(**seg_args),
        TextModels.load(Path(sentiment_path) if sentiment_path else None, neutral_band=band),
        brands,
    )


def _work(texts: list[object], keep_tokens: bool) -> pd.DataFrame:
    assert _WORKER is not None
    seg, models, brands = _WORKER
    return analyze_texts(texts, seg, models, brands, 1, keep_tokens=keep_tokens)


class ParallelAnalyzer:
    """A process pool whose workers hold a segmenter and the models; reuse it across chunks."""

    def __init__(
        self,
        segmenter: Segmenter,
        models: TextModels,
        brands: Sequence[Brand] | None = None,
        workers: int = 2,
        *,
        sentiment_path: Path | None = None,
    ) -> None:
        import multiprocessing as mp

        self.workers = workers
        seg_args = segmenter.worker_args()
        ctx = mp.get_context("forkserver" if os.name == "posix" else "spawn")
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(
                seg_args,
                str(sentiment_path) if sentiment_path else None,
                models.neutral_band,
                list(brands or []),
            ),
        )

    def analyze(self, texts: Sequence[object], *, keep_tokens: bool = False) -> pd.DataFrame:
        texts = list(texts)
        size = max(200, -(-len(texts) // (self.workers * 2)))
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        parts = list(self.pool.map(_work, chunks, [keep_tokens] * len(chunks)))
        if not parts:
            return pd.DataFrame(columns=OUTPUT_COLUMNS + (["tokens"] if keep_tokens else []))
        return pd.concat(parts, ignore_index=True)

    def close(self) -> None:
        self.pool.shutdown()

    def __enter__(self) -> ParallelAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parallel(
    texts: list[object],
    segmenter: Segmenter,
    models: TextModels,
    brands: Sequence[Brand] | None,
    workers: int,
    keep_tokens: bool,
) -> pd.DataFrame:
    with ParallelAnalyzer(segmenter, models, brands, workers, sentiment_path=models.sentiment_path) as pa:
        return pa.analyze(texts, keep_tokens=keep_tokens)
