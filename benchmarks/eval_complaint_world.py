"""Complaint detection measured against a simulated world's ground truth (``labels.parquet``).

    python benchmarks/eval_complaint_world.py --posts 100000               # a fresh world in a temp dir
    python benchmarks/eval_complaint_world.py --posts 250000 --dir DIR     # keep (or reuse) the world in DIR

The world is the one ``benchmarks/bench_e2e.py`` builds (``generate_world``, seed 7 unless told), the text
stage is the flow's (``analyze_frame`` with the world's brands).  Printed:

* per top-level post (the rows the world labels): complaint precision/recall, then per category
  (a post counts for a category when it is filed under it: a refund complaint filed as logistics is a
  false positive of 物流/配送 and a miss of 退款/售后), the false complaints by the intent the world wrote
  them with, and a few of them;
* what the alert stage would see: complaints per (hour, brand, category) counted from every row that names
  the brand (reposts carry their chain) as ``reports.warning.complaint_counts`` counts a frame, run through
  ``detect_spikes`` with the default rules — the spikes of our counts next to the spikes of the world's
  true counts (top-level complaints of the brand that wrote them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prf(pred: np.ndarray, gold: np.ndarray) -> tuple[int, int, float, float]:
    tp = int((pred & gold).sum())
    return int(gold.sum()), int(pred.sum()), tp / max(1, int(pred.sum())), tp / max(1, int(gold.sum()))


def spikes(counts: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    from yuqing.reports.warning import AlertRules, detect_spikes

    return detect_spikes(counts, AlertRules(), start=start, end=end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000, help="top-level posts of the world")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="world directory: reused when it holds a world, else written")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--examples", type=int, default=8, help="false complaints to print")
    args = parser.parse_args()

    from yuqing.collectors.fake.world import generate_world
    from yuqing.nlp.pipeline import TextModels, analyze_frame
    from yuqing.nlp.segment import Segmenter
    from yuqing.reports.warning import AlertRules, complaint_counts
    from yuqing.store.settings import load_settings

    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="complaint_world_")
        args.dir = Path(tmp.name)
    if not (args.dir / "labels.parquet").exists():
        t = time.perf_counter()
        generate_world(args.dir, posts=args.posts, seed=args.seed)
        print(f"world of {args.posts:,} posts (seed {args.seed}) in {time.perf_counter() - t:.1f} s: {args.dir}")
    else:
        print(f"reusing the world in {args.dir}")
    posts = pd.read_parquet(args.dir / "posts.parquet", columns=["platform", "id", "kind", "text", "created_at"])
    labels = pd.read_parquet(args.dir / "labels.parquet", columns=["platform", "id", "brand", "intent", "complaint"])
    labels = labels.assign(
        category=pd.read_parquet(args.dir / "labels.parquet", columns=["nlp_category"])["nlp_category"]
    )
    settings = load_settings(args.dir / "yuqing.toml")
    seg, models = Segmenter.from_settings(settings), TextModels.from_settings(settings.nlp)
    t = time.process_time()
    out = analyze_frame(posts, seg, models, brands=settings.all_brands, workers=args.workers)
    print(f"text stage over {len(posts):,} rows: {time.process_time() - t:.1f} CPU-s in this process")
    d = out.merge(labels, on=["platform", "id"], suffixes=("", "_true"))

    top = d[d["kind"] == "post"]
    pred, gold = top["complaint"].to_numpy(bool), top["complaint_true"].to_numpy(bool)
    n_gold, n_pred, p, r = prf(pred, gold)
    print(
        f"\ntop-level posts: {len(top):,}, complaints {n_gold:,}, flagged {n_pred:,}: precision {p:.3f}, recall {r:.3f}"
    )
    print(f"{'category':<10} {'gold':>7} {'flagged':>8} {'precision':>9} {'recall':>7}")
    pcat, gcat = top["complaint_category"].to_numpy(object), top["category"].to_numpy(object)
    for cat in sorted(set(gcat[gold]) | set(pcat[pred])):
        n_gold, n_pred, p, r = prf(pcat == cat, gcat == cat)
        print(f"{cat:<10} {n_gold:>7,} {n_pred:>8,} {p:>9.3f} {r:>7.3f}")
    wrong = top[pred & (pcat != gcat)]
    print("\nflagged under the wrong category or not a complaint, by what the world wrote:")
    by = wrong.assign(true=np.where(wrong["complaint_true"], wrong["category"], wrong["intent"]))
    print(by.groupby(["true", "complaint_category"]).size().sort_values(ascending=False).head(15).to_string())
    fp = top[pred & ~gold]
    if len(fp) and args.examples:
        print("\nfalse complaints, e.g.:")
        for text, cat in fp[["text", "complaint_category"]].drop_duplicates("text").head(args.examples).to_numpy():
            print(f"  [{cat}] {text[:80]}")

    # the alert stage's view: every row naming the brand; the truth: the brand's own top-level complaints
    rules = AlertRules()
    ours = complaint_counts(d, [b.name for b in settings.all_brands], rules)
    true_rows = d[d["complaint_true"]]
    true = complaint_counts(
        true_rows.assign(brands=[[b] for b in true_rows["brand"]], complaint_category=true_rows["category"]),
        [b.name for b in settings.all_brands],
        rules,
    )
    start, end = d["created_at"].min(), d["created_at"].max()
    for name, counts in (("our counts", ours), ("the world's true counts", true)):
        s = spikes(counts, start, end)
        print(f"\nspikes of {name} (detect_spikes, default rules): {len(s)}")
        if len(s):
            print(s.to_string(index=False))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
