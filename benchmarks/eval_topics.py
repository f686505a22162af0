"""Topic quality through the command analysts run: NMI of `yuqing topics` against human categories.

    python benchmarks/eval_topics.py                    # held-out reviews, + a 10th domain, TNEWS
    python benchmarks/eval_topics.py --seeds 3          # baselines and yuqing over seeds 0..2
    python benchmarks/eval_topics.py --part tune        # the tuning half instead (what choices were made on)

Sets (from ../shared/data; skipped with a message when absent):

* ``reviews held-out``: the half of ``topics/online_shopping_9cats_tune.csv`` whose text hashes odd (md5
  % 2 == 1; the engine and its settings were chosen on the other half), 9 product categories;
* ``reviews held-out + waimai``: the same plus 2,500 food-delivery reviews (``sentiment/waimai_10k.csv``) as a
  10th category nobody tuned on, standing in for the held-back hotel reviews;
* ``tnews``: 10,000 news headlines of 15 categories (``topics/tnews_dev.csv``).

Each method runs in its own process (wall time and peak RSS from ``wait4``): ``yuqing topics`` (the
installed command: automatic k, default engine), ``yuqing topics --method gensim`` (the declared gensim
engine, automatic k), and two plain baselines with k = 10 on ``jieba.lcut`` words (two characters or
more, in 2 texts to 30 % of them): gensim ``LdaModel`` with the library's defaults, and KMeans on LSA
(sublinear TF-IDF, 100 SVD dimensions, unit rows).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
from accuracy_sets import DATA  # noqa: E402 - ../shared/data beside the checkout, or $YUQING_DATA
from build_background import held_out  # noqa: E402 - the measured half of the review file

REVIEWS = "topics/online_shopping_9cats_tune.csv"
YUQING = str(Path(sys.executable).with_name("yuqing"))
BASELINE_K = 10
WORD = re.compile(r"[\w]")


def load_sets(part: str) -> dict[str, pd.DataFrame]:
    sets: dict[str, pd.DataFrame] = {}
    reviews_path = DATA / REVIEWS
    if reviews_path.exists():
        reviews = pd.read_csv(reviews_path, dtype=str, keep_default_na=False)[["text", "category"]]
        reviews = reviews[reviews["text"].str.strip() != ""]
        if part != "all":
            keep = reviews["text"].map(held_out)
            reviews = reviews[keep if part == "held-out" else ~keep]
        sets[f"reviews {part}"] = reviews.reset_index(drop=True)
        waimai_path = DATA / "sentiment" / "waimai_10k.csv"
        if waimai_path.exists():
            waimai = pd.read_csv(waimai_path, dtype=str, keep_default_na=False)[["text"]]
            waimai = waimai[waimai["text"].str.strip() != ""].sample(2500, random_state=0).assign(category="外卖")
            sets[f"reviews {part} + waimai"] = pd.concat([reviews, waimai], ignore_index=True)
        else:
            print(f"{waimai_path}: absent, skipped")
    else:
        print(f"{reviews_path}: absent, skipped")
    tnews_path = DATA / "topics" / "tnews_dev.csv"
    if tnews_path.exists():
        tnews = pd.read_csv(tnews_path, dtype=str, keep_default_na=False)[["text", "category"]]
        sets["tnews"] = tnews[tnews["text"].str.strip() != ""].reset_index(drop=True)
    else:
        print(f"{tnews_path}: absent, skipped")
    return sets


def run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd``; wall seconds, peak RSS (MB) of the process, and its output (raises on failure)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)  # noqa: S603
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def baseline(name: str, src: Path, dst: Path, seed: int) -> None:
    """One plain baseline on ``src`` (text column) → ``dst`` (topic column); runs in a child process."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("gensim").setLevel(logging.ERROR)
    texts = pd.read_csv(src, dtype=str, keep_default_na=False)["text"].tolist()
    # the usual hygiene, nothing of ours: words of two or more characters with a letter or digit, words
    # in over 30 % of the texts or in only one dropped
    docs = [[w for w in jieba.lcut(t) if len(w) > 1 and WORD.search(w)] for t in texts]
    if name == "gensim-lda":
        from gensim.corpora import Dictionary
        from gensim.models import LdaModel

        dictionary = Dictionary(docs)
        dictionary.filter_extremes(no_below=2, no_above=0.3, keep_n=None)
        corpus = [dictionary.doc2bow(d) for d in docs]
        lda = LdaModel(corpus, id2word=dictionary, num_topics=BASELINE_K, random_state=seed)
        gamma, _ = lda.inference(corpus)
        topics = np.asarray(gamma.argmax(axis=1))
    else:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        x = TfidfVectorizer(analyzer=lambda d: d, min_df=2, max_df=0.3, sublinear_tf=True).fit_transform(docs)
        z = normalize(TruncatedSVD(100, random_state=seed).fit_transform(x))
        topics = KMeans(BASELINE_K, n_init=4, random_state=seed).fit_predict(z)
    pd.DataFrame({"topic": topics}).to_csv(dst, index=False)


METHODS = {
    "yuqing topics (automatic k)": [],
    "yuqing topics --method gensim (automatic k)": ["--method", "gensim"],
    f"gensim LdaModel k={BASELINE_K} (jieba.lcut, defaults)": ["gensim-lda"],
    f"KMeans k={BASELINE_K} on LSA (TF-IDF, 100 dims)": ["kmeans-lsa"],
}


def command(method: str, src: Path, dst: Path, seed: int) -> list[str]:
    extra = METHODS[method]
    if method.startswith("yuqing"):
        return [YUQING, "topics", str(src), "-o", str(dst), "--seed", str(seed), *extra]
    return [sys.executable, __file__, "--baseline", extra[0], str(src), str(dst), "--seed", str(seed)]


def evaluate(name: str, frame: pd.DataFrame, seeds: int, methods: list[str]) -> None:
    from sklearn.metrics import normalized_mutual_info_score

    print(f"\n{name}: {len(frame):,} texts, {frame['category'].nunique()} categories")
    print(f"  {'method':<46} {'NMI mean':>8} {'min':>6} {'max':>6} {'topics':>6} {'s/run':>6} {'peak MB':>8}")
    with tempfile.TemporaryDirectory(prefix="eval-topics-") as tmp:
        src = Path(tmp) / "in.csv"
        frame[["text"]].to_csv(src, index=False)
        for method in methods:
            scores, secs, mbs, ks = [], [], [], []
            for seed in range(seeds):
                dst = Path(tmp) / "out.csv"
                seconds, mb, _ = run_measured(command(method, src, dst, seed))
                topics = pd.read_csv(dst)["topic"].to_numpy()
                scores.append(float(normalized_mutual_info_score(frame["category"], topics)))
                secs.append(seconds)
                mbs.append(mb)
                ks.append(len(set(topics.tolist()) - {-1}))
            print(
                f"  {method:<46} {statistics.mean(scores):8.3f} {min(scores):6.3f} {max(scores):6.3f} "
                f"{max(ks):6d} {statistics.mean(secs):6.1f} {max(mbs):8.0f}",
                flush=True,
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--part", choices=["held-out", "tune", "all"], default="held-out", help="Half of the reviews.")
    ap.add_argument("--sets", default="", help="Comma-separated substrings of set names to run (default: all).")
    ap.add_argument("--methods", default="", help="Comma-separated substrings of method names (default: all).")
    ap.add_argument("--baseline", nargs=3, metavar=("NAME", "SRC", "DST"), help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline is not None:  # child process of one baseline run
        baseline(args.baseline[0], Path(args.baseline[1]), Path(args.baseline[2]), args.seed)
        return 0
    sets = load_sets(args.part)
    if not sets:
        print(f"no labelled topic data under {DATA}; skipping")
        return 0
    wanted = [m for m in METHODS if not args.methods or any(s in m for s in args.methods.split(","))]
    for name, frame in sets.items():
        if args.sets and not any(s in name for s in args.sets.split(",")):
            continue
        evaluate(name, frame, args.seeds, wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
