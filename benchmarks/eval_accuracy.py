"""Accuracy of ``yuqing score`` — the command analysts run — next to a plain baseline, on every labelled set.

    python benchmarks/eval_accuracy.py                 # all sections
    python benchmarks/eval_accuracy.py --only complaints

Every test text goes through ``yuqing score`` as a subprocess (the shipped models, the repost and
complaint handling, the neutral band: what a user gets).  Beside it, in the same run, a plain baseline
trained on the same training splits (``benchmarks/accuracy_sets.py``): TF-IDF of character 1-3-grams
plus jieba word 1-2-grams with LogisticRegression (polarity) or LinearSVC with balanced classes
(emotion).  Printed per set: balanced accuracy (polarity) or macro-F1 (emotion), and the expected
calibration error of the command's score (classes weighted equally; the raw set mix in brackets).

Sections:

* polarity — weibo_senti, waimai_10k, SMP2020 usual/virus (held-out train slices and eval files),
  online_shopping_9cats (held-out slice of the 8 trained categories, and the category never trained
  on), NLPCC 2013 (whole file, never trained on; like/happiness vs disgust/sadness/anger/fear);
* emotion — SMP2020 six labels (held-out slices, eval files), NLPCC 2013 mapped to the six labels;
* complaints — ``benchmarks/data/complaints_check.csv`` (see ``benchmarks/data/README.md``):
  precision/recall overall and per category, and the same on its two halves (odd ids were looked at
  while writing the rules, even ids only to measure);
* choices — the repost and complaint choices of the text stage, measured in-process on the same sets.

Topic sets (tnews_dev, product categories) are measured by ``benchmarks/eval_topics.py``.
Exits 0 with a message when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import accuracy_sets as sets  # noqa: E402

CHECK_SET = ROOT / "benchmarks" / "data" / "complaints_check.csv"
NLPCC_POLARITY = {"like": 1, "happiness": 1, "disgust": 0, "sadness": 0, "anger": 0, "fear": 0}
NLPCC_EMOTION = {
    "happiness": "happy",
    "like": "happy",
    "anger": "angry",
    "disgust": "angry",
    "sadness": "sad",
    "fear": "fear",
    "surprise": "surprise",
    "none": "neutral",
}


def run_score(texts: list[str], workers: int) -> pd.DataFrame:
    """``yuqing score`` on ``texts`` as a subprocess; the output rows in input order."""
    exe = Path(sys.executable).with_name("yuqing")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from yuqing.flows.cli import main; main()"]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        pd.DataFrame({"row": range(len(texts)), "text": texts}).to_csv(src, index=False)
        t = time.perf_counter()
        subprocess.run(  # noqa: S603 - our own command, arguments we built
            [*cmd, "score", str(src), "--output", str(out), "--workers", str(workers)],
            check=True,
            cwd=tmp,  # no yuqing.toml here: the shipped defaults
            stdout=subprocess.DEVNULL,
        )
        print(f"yuqing score: {len(texts):,} texts in {time.perf_counter() - t:.1f} s (incl. start-up)")
        scored = pd.read_csv(out, dtype={"text": str}, keep_default_na=False)
    return scored.sort_values("row").reset_index(drop=True)


def baseline_features(train: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2).fit(train["clean"])
    words = TfidfVectorizer(
        analyzer=lambda t: [*t, *(f"{a} {b}" for a, b in itertools.pairwise(t))], sublinear_tf=True, min_df=2
    ).fit(train["tokens"])

    def transform(frame: pd.DataFrame) -> sp.csr_matrix:
        return sp.hstack([chars.transform(frame["clean"]), words.transform(frame["tokens"])], format="csr")

    return transform


def balanced(p: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y.astype(int), (p > 0.5).astype(int)))


def polarity_section(workers: int) -> None:
    from sklearn.linear_model import LogisticRegression

    domains, tests = sets.sentiment_sets()
    nlpcc = sets.load("nlpcc2013_emotion")
    nlpcc = nlpcc[nlpcc["label"].isin(list(NLPCC_POLARITY))].assign(
        label=lambda f: f["label"].map(NLPCC_POLARITY).astype(str)
    )
    tests["nlpcc2013 (never trained on)"] = nlpcc
    order = list(tests)
    texts = [t for name in order for t in tests[name]["text"]]
    scored = run_score(texts, workers)
    t = time.perf_counter()
    train = pd.concat([s.train for s in domains.values()], ignore_index=True)
    transform = baseline_features(train)
    base = LogisticRegression(C=4.0, max_iter=1000, solver="liblinear").fit(
        transform(train), train["label"].astype(int)
    )
    print(
        f"baseline (TF-IDF char 1-3 + word 1-2, LogisticRegression) trained on {len(train):,} texts in "
        f"{time.perf_counter() - t:.0f} s"
    )
    print("\npolarity: balanced accuracy of score > 0.5; ECE of the score, classes weighted equally [set's own mix]")
    print(f"{'set':52} {'n':>6} {'yuqing score':>13} {'ECE':>14} {'baseline':>9} {'ECE':>14}")
    lo = 0
    for name in order:
        frame = tests[name]
        y = frame["label"].astype(int).to_numpy()
        p = scored["sentiment"].to_numpy(dtype=float)[lo : lo + len(frame)]
        lo += len(frame)
        pb = base.predict_proba(transform(frame))[:, 1]
        ece = f"{sets.calibration_error(p, y):.3f} [{sets.calibration_error(p, y, balanced=False):.3f}]"
        ece_b = f"{sets.calibration_error(pb, y):.3f} [{sets.calibration_error(pb, y, balanced=False):.3f}]"
        print(f"{name:52} {len(frame):6d} {balanced(p, y):13.3f} {ece:>14} {balanced(pb, y):9.3f} {ece_b:>14}")


def emotion_section(workers: int) -> None:
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    usual, virus = sets.split(sets.load("smp2020_usual_train")), sets.split(sets.load("smp2020_virus_train"))
    nlpcc = sets.load("nlpcc2013_emotion").assign(label=lambda f: f["label"].map(NLPCC_EMOTION))
    tests = {
        "smp2020_usual_train held-out": usual.held,
        "smp2020_usual_eval": sets.load("smp2020_usual_eval"),
        "smp2020_virus_train held-out": virus.held,
        "smp2020_virus_eval": sets.load("smp2020_virus_eval"),
        "nlpcc2013 mapped to six labels (never trained on)": nlpcc[nlpcc["label"].notna()],
    }
    scored = run_score([t for f in tests.values() for t in f["text"]], workers)
    train = pd.concat([usual.train, virus.train], ignore_index=True)
    transform = baseline_features(train)
    base = LinearSVC(C=0.1, class_weight="balanced").fit(transform(train), train["label"])
    print("\nemotion: macro-F1 (accuracy)")
    print(f"{'set':52} {'n':>6} {'yuqing score':>15} {'baseline':>15}")
    lo = 0
    for name, frame in tests.items():
        pred = scored["emotion"].to_numpy()[lo : lo + len(frame)]
        lo += len(frame)
        pb = base.predict(transform(frame))
        y = frame["label"].to_numpy()
        ours = f"{f1_score(y, pred, average='macro'):.3f} ({(pred == y).mean():.3f})"
        theirs = f"{f1_score(y, pb, average='macro'):.3f} ({(pb == y).mean():.3f})"
        print(f"{name:52} {len(frame):6d} {ours:>15} {theirs:>15}")


def complaint_report(frame: pd.DataFrame, flags: np.ndarray, cats: np.ndarray, title: str) -> None:
    gold = frame["complaint"].astype(int).to_numpy() == 1
    gcat = frame["category"].to_numpy()
    tp = int((flags & gold).sum())
    print(
        f"{title}: {len(frame)} texts, {int(gold.sum())} complaints — precision {tp / max(1, flags.sum()):.3f}, "
        f"recall {tp / max(1, gold.sum()):.3f}; right category on {int((flags & gold & (cats == gcat)).sum())} of {tp}"
    )


def complaints_section(workers: int) -> None:
    if not CHECK_SET.exists():
        print(f"no check set at {CHECK_SET}")
        return
    frame = pd.read_csv(CHECK_SET, dtype=str, keep_default_na=False)
    scored = run_score(frame["text"].tolist(), workers)
    flags = scored["complaint"].astype(str).isin(["True", "true", "1"]).to_numpy()
    cats = scored["complaint_category"].to_numpy()
    print("\ncomplaints (benchmarks/data/complaints_check.csv)")
    complaint_report(frame, flags, cats, "all")
    odd = frame["id"].astype(int).to_numpy() % 2 == 1
    complaint_report(frame[odd], flags[odd], cats[odd], "odd ids (seen while writing rules)")
    complaint_report(frame[~odd], flags[~odd], cats[~odd], "even ids (measurement only)")
    gold = np.where(frame["complaint"] == "1", frame["category"], "")
    print(f"{'category':10} {'gold':>5} {'flagged':>8} {'precision':>10} {'recall':>7}")
    for cat in sorted({c for c in gold if c} | {c for c in cats if c}):
        g, f = gold == cat, cats == cat
        hit = int((g & f).sum())
        print(
            f"{cat:10} {int(g.sum()):5d} {int(f.sum()):8d} {hit / max(1, f.sum()):10.3f} {hit / max(1, g.sum()):7.3f}"
        )
    for why in sorted(set(frame["drawn_for"])):
        m = (frame["drawn_for"] == why).to_numpy()
        wrong = int((flags[m] != (frame["complaint"].to_numpy()[m] == "1")).sum())
        print(f"  drawn as {why!r}: {int(m.sum())} texts, {wrong} misjudged")
    neutral_q = (frame["drawn_for"] == "question").to_numpy() & (frame["complaint"] == "0").to_numpy()
    pol = scored["polarity"].to_numpy()[neutral_q]
    counts = pd.Series(pol).value_counts().to_dict()
    print(f"  questions that report no problem: {int(neutral_q.sum())}, polarity {counts}")


def choices_section() -> None:
    """The repost and complaint choices, in-process on the held-out Weibo and SMP2020 sets."""
    from yuqing.nlp.pipeline import TextModels, analyze_texts
    from yuqing.nlp.segment import Segmenter

    _, tests = sets.sentiment_sets()
    seg, models = Segmenter(), TextModels.load()
    weibo = tests["weibo_senti held-out"]
    reposts = weibo[weibo["chain_tokens"].notna()]
    print(f"\nchoices (in-process): weibo_senti held-out {len(weibo):,} posts, {len(reposts):,} of them reposts")
    y = weibo["label"].astype(int).to_numpy()
    yr = reposts["label"].astype(int).to_numpy()
    own = models.sentiment.score(weibo["own_tokens"].tolist(), texts=weibo["own_text"].tolist())
    full = models.sentiment.score(weibo["tokens"].tolist(), texts=weibo["clean"].tolist())
    r = weibo["chain_tokens"].notna().to_numpy()
    print(f"  own words only          : all {balanced(own, y):.3f}, reposts {balanced(own[r], yr):.3f}")
    print(f"  own words + chain       : all {balanced(full, y):.3f}, reposts {balanced(full[r], yr):.3f}")
    n_own = weibo["own_tokens"].map(len).to_numpy(dtype=np.float64)
    for half in (1.0, 2.0, 4.0, 8.0):  # own words weigh n / (n + half) for n own content tokens
        w = np.where(r, n_own / (n_own + half), 1.0)
        p = w * own + (1 - w) * full
        print(
            f"  blend, half weight at {half:<3} own tokens: all {balanced(p, y):.3f}, reposts {balanced(p[r], yr):.3f}"
        )
    p = analyze_texts(weibo["text"].tolist(), seg, models)["sentiment"].to_numpy()
    print(f"  yuqing's text stage     : all {balanced(p, y):.3f}, reposts {balanced(p[r], yr):.3f}")
    names = ("waimai_10k held-out", "online_shopping 8 cats held-out", "smp2020_usual_eval (polarity)")
    sweep(tests, "COMPLAINT_CEILING", (1.0, 0.5, 0.35), names, "complaint ceiling")
    names = ("smp2020_usual_eval (polarity)", "smp2020_virus_eval (polarity)", "waimai_10k held-out")
    sweep(tests, "QUESTION_SHRINK", (1.0, 0.5), names, "questions keep of their distance from 0.5")


def sweep(
    tests: dict[str, pd.DataFrame], constant: str, values: tuple[float, ...], names: tuple[str, ...], what: str
) -> None:
    """Balanced accuracy of the text stage on ``names`` for each value of a module constant of nlp.pipeline."""
    import yuqing.nlp.pipeline as pipeline
    from yuqing.nlp.pipeline import TextModels, analyze_texts
    from yuqing.nlp.segment import Segmenter

    seg, models = Segmenter(), TextModels.load()
    original = getattr(pipeline, constant)
    try:
        for name in names:
            frame = tests[name]
            y = frame["label"].astype(int).to_numpy()
            cells = []
            for value in values:
                setattr(pipeline, constant, value)
                p = analyze_texts(frame["text"].tolist(), seg, models)["sentiment"].to_numpy()
                cells.append(f"{value}: {balanced(p, y):.3f}")
            print(f"  {what} ({constant}) on {name}: " + ", ".join(cells))
    finally:
        setattr(pipeline, constant, original)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["polarity", "emotion", "complaints", "choices"], action="append")
    parser.add_argument("--workers", type=int, default=2, help="--workers of yuqing score")
    args = parser.parse_args()
    if not sets.available():
        print(f"no data at {sets.DATA}; nothing to measure")
        if args.only == ["complaints"] and CHECK_SET.exists():
            complaints_section(args.workers)
        return 0
    only = set(args.only or ["polarity", "emotion", "complaints", "choices"])
    if "polarity" in only:
        polarity_section(args.workers)
    if "emotion" in only:
        emotion_section(args.workers)
    if "complaints" in only:
        complaints_section(args.workers)
    if "choices" in only:
        choices_section()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
