"""Topic quality: NMI of each document's argmax topic against a human category label.

Runs ``nlp.topics.fit_topics`` (the model behind ``yuqing topics`` and the flow's topic stage)
with k = the number of categories and with automatic k, and plain gensim ``LdaModel`` with the
same k on ``jieba.lcut`` tokens (the reference), several seeds each, in the same process.

    /work/venv/bin/python benchmarks/eval_topics.py                 # every CSV in ../shared/data/topics
    /work/venv/bin/python benchmarks/eval_topics.py reviews.csv --seeds 3

A CSV needs a text column (text, review or content) and a label column (category, cat or label).
Files that are absent are skipped with a message, so this runs where the shared data is not.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import jieba
import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

from nlp.normalize import normalize
from nlp.segment import Segmenter
from nlp.topics import fit_topics

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "topics"
TEXT_COLS = ("text", "review", "content")
LABEL_COLS = ("category", "cat", "label")
logging.getLogger("gensim").setLevel(logging.ERROR)
jieba.setLogLevel(logging.WARNING)


def _pick(columns: list[str], options: tuple[str, ...], path: Path, what: str) -> str:
    for c in options:
        if c in columns:
            return c
    raise SystemExit(f"{path}: no {what} column (looked for {', '.join(options)}; have {', '.join(columns)})")


def plain_gensim(texts: list[str], k: int, seed: int) -> np.ndarray:
    """The reference: jieba.lcut → Dictionary → LdaModel(num_topics=k) with gensim's defaults."""
    from gensim.corpora import Dictionary
    from gensim.models import LdaModel

    docs = [jieba.lcut(t) for t in texts]
    dictionary = Dictionary(docs)
    corpus = [dictionary.doc2bow(d) for d in docs]
    lda = LdaModel(corpus, id2word=dictionary, num_topics=k, random_state=seed)
    gamma, _ = lda.inference(corpus)
    return np.asarray(gamma.argmax(axis=1))


def evaluate(path: Path, seeds: int, k_arg: int | None) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    text_col = _pick(list(frame.columns), TEXT_COLS, path, "text")
    label_col = _pick(list(frame.columns), LABEL_COLS, path, "label")
    frame = frame[frame[text_col].str.strip() != ""]
    texts, labels = frame[text_col].tolist(), frame[label_col].to_numpy()
    k = k_arg or int(frame[label_col].nunique())
    print(f"\n{path.name}: {len(frame):,} documents, {frame[label_col].nunique()} categories, k = {k}")
    seg = Segmenter()
    started = time.perf_counter()
    tokens = [seg.tokens(normalize(t).text) for t in texts]
    print(f"  segmenting: {time.perf_counter() - started:.1f} s")
    rows = []
    for name, run in (
        ("plain gensim LdaModel (jieba.lcut, defaults)", lambda s: plain_gensim(texts, k, s)),
        ("yuqing fit_topics, k fixed", lambda s: fit_topics(tokens, k=k, seed=s).assign(tokens)[0]),
        ("yuqing fit_topics, automatic k", lambda s: fit_topics(tokens, seed=s).assign(tokens)[0]),
    ):
        scores, seconds, ks = [], [], []
        for seed in range(seeds):
            t0 = time.perf_counter()
            pred = run(seed)
            seconds.append(time.perf_counter() - t0)
            scores.append(float(normalized_mutual_info_score(labels, pred)))
            ks.append(len(set(pred.tolist()) - {-1}))
        rows.append((name, statistics.mean(scores), min(scores), max(scores), statistics.mean(seconds), max(ks)))
    print(f"  {'method':<48} {'NMI mean':>8} {'min':>6} {'max':>6} {'s/run':>6} {'topics':>6}")
    for name, mean, lo, hi, sec, used in rows:
        print(f"  {name:<48} {mean:8.3f} {lo:6.3f} {hi:6.3f} {sec:6.1f} {used:6d}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--k", type=int, default=None, help="Topic count (default: number of categories).")
    args = ap.parse_args()
    files = args.files or sorted(DATA.glob("*.csv"))
    if not files:
        print(f"no labelled topic data at {DATA}; skipping")
        return 0
    for path in files:
        if not path.exists():
            print(f"{path}: absent, skipped")
            continue
        evaluate(path, args.seeds, args.k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
