"""Topic stage speed: ``nlp.topics`` on N Weibo-length posts against plain gensim, same run; and
``yuqing topics`` on a large CSV as a subprocess (wall time, peak RSS), each engine.

    python benchmarks/bench_topics.py [--posts 100000]
    python benchmarks/bench_topics.py --csv ../shared/data/sentiment/weibo_senti_train.csv
    python benchmarks/bench_topics.py --command-rows 100000      # only `yuqing topics` on 100k rows

Posts are the simulated world's top-level posts (no shared data needed; its template vocabulary is
small) or the ``text`` column of ``--csv`` (real Weibo posts), segmented once
with ``nlp.segment.Segmenter`` (segmentation belongs to the text stage and is timed apart).
Reported: fit (automatic k by coherence, and k fixed), assignment of every post, and the plain
library reference ``LdaModel(corpus, num_topics=10)`` + ``get_document_topics`` per post —
wall seconds, posts/s, the ratio to the reference, and peak RSS of the process; ``--method`` picks
the engine of the yuqing rows (default: the flow's).  Floating-point events (invalid, divide by zero,
overflow: what numpy reports as ``RuntimeWarning: invalid value encountered in dot``) are counted in
every yuqing fit and assignment, with where the first one happened.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
logging.getLogger("gensim").setLevel(logging.ERROR)


@contextmanager
def fp_events(found: list[str]) -> Iterator[None]:
    """Append one line per floating-point event numpy sees in the block (the code line that raised it)."""

    def record(kind: str, _flag: int) -> None:
        frames = [f for f in traceback.extract_stack()[:-1] if "/numpy/" not in f.filename]
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        found.append(f"{kind} at {where}")

    old_call = np.seterrcall(record)
    old = np.seterr(divide="call", over="call", invalid="call", under="ignore")
    try:
        yield
    finally:
        np.seterr(**old)
        np.seterrcall(old_call)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_command(rows: int) -> int:
    """`yuqing topics posts.csv` (the CSV of benchmarks/bench_score.py) per engine: wall s, rows/s, peak RSS."""
    import os
    import subprocess

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_score import write_csv

    yuqing = str(Path(sys.executable).with_name("yuqing"))
    with tempfile.TemporaryDirectory(prefix="bench-topics-") as tmp:
        data = Path(tmp) / "posts.csv"
        write_csv(data, rows)
        print(f"{rows:,} simulated posts ({data.stat().st_size / 1e6:,.0f} MB)")
        for method in ("kmeans", "gensim"):
            cmd = [yuqing, "topics", str(data), "-o", str(Path(tmp) / "out.csv"), "--method", method]
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # noqa: S603
            out = proc.stdout.read() if proc.stdout else ""
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            if os.waitstatus_to_exitcode(status) != 0:
                print(out[-2000:])
                return 1
            summary = next((line for line in out.splitlines() if " rows, " in line), "")
            print(
                f"yuqing topics --method {method:<7} {wall:7.1f} s  {rows / wall:8,.0f} rows/s  "
                f"peak RSS {usage.ru_maxrss / 1024:6,.0f} MB  ({summary.strip()})"
            )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--csv", type=Path, default=None, help="Use the text column of this CSV instead of the world.")
    ap.add_argument("--method", default="auto", choices=["auto", "kmeans", "gensim", "wntm", "lda"])
    ap.add_argument(
        "--command-rows", type=int, default=0, help="Only time `yuqing topics` on a CSV of this many simulated posts."
    )
    args = ap.parse_args()
    if args.command_rows:
        return bench_command(args.command_rows)

    from gensim.corpora import Dictionary
    from gensim.models import LdaModel

    from yuqing.collectors.fake.world import generate_world
    from yuqing.nlp.normalize import normalize
    from yuqing.nlp.segment import Segmenter
    from yuqing.nlp.topics import content_tokens, fit_topics

    if args.csv is not None:
        if not args.csv.exists():
            print(f"{args.csv}: absent, skipped")
            return 0
        texts = pd.read_csv(args.csv, dtype=str, keep_default_na=False)["text"].head(args.posts).tolist()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            generate_world(Path(tmp), posts=args.posts, seed=args.seed)
            posts = pd.read_parquet(Path(tmp) / "posts.parquet", columns=["kind", "text"])
        texts = posts.loc[posts["kind"] == "post", "text"].head(args.posts).tolist()
    n = len(texts)
    seg = Segmenter()
    t = time.perf_counter()
    tokens = [seg.tokens(normalize(x).text) for x in texts]
    segment_s = time.perf_counter() - t
    print(f"{n:,} posts; segmentation (text stage, not counted below) {segment_s:.1f} s; RSS {peak_mb():,.0f} MB")

    rows: list[tuple[str, float, str]] = []

    t = time.perf_counter()
    docs = [content_tokens(x) for x in tokens]
    dictionary = Dictionary(docs)
    corpus = [dictionary.doc2bow(d) for d in docs]
    lda = LdaModel(corpus, id2word=dictionary, num_topics=10, random_state=0)
    fit_ref = time.perf_counter() - t
    t = time.perf_counter()
    ref_ids = [max(lda.get_document_topics(b), key=lambda tp: tp[1])[0] if b else -1 for b in corpus]
    assign_ref = time.perf_counter() - t
    reference = fit_ref + assign_ref
    rows.append(("plain gensim: LdaModel(num_topics=10), 1 pass", fit_ref, ""))
    rows.append(("plain gensim: get_document_topics per post", assign_ref, ""))
    del lda, corpus, docs, dictionary, ref_ids

    events: list[str] = []
    for label, k in (("yuqing fit_topics, automatic k", None), ("yuqing fit_topics, k=10", 10)):
        t = time.perf_counter()
        with fp_events(events):
            model = fit_topics(tokens, k=k, seed=0, method=args.method)
        fit_s = time.perf_counter() - t
        t = time.perf_counter()
        with fp_events(events):
            ids, _ = model.assign(tokens)
        assign_s = time.perf_counter() - t
        total = fit_s + assign_s
        share = np.bincount(ids[ids >= 0]).max() / max(1, (ids >= 0).sum())
        rows.append((f"{label} (k={model.k}): fit", fit_s, ""))
        rows.append((f"{label}: assign all posts", assign_s, ""))
        rows.append(
            (
                f"{label}: total",
                total,
                f"{n / total:,.0f} posts/s, {total / reference:.2f}× the plain gensim run; largest topic {share:.0%}",
            )
        )
    print(f"\n{'step':58} {'seconds':>8}")
    for name, seconds, note in rows:
        print(f"{name:58} {seconds:8.1f}  {note}")
    print(f"\nplain gensim total {reference:.1f} s ({n / reference:,.0f} posts/s); peak RSS {peak_mb():,.0f} MB")
    first = f" (first: {events[0]})" if events else ""
    print(f"floating-point events in the yuqing fits and assignments (--method {args.method}): {len(events)}{first}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
