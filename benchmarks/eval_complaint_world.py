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

``--speed`` times ``detect_complaints`` instead (CPU seconds of this process, alternating rounds, median
µs per row): on the world's rows and, when ``../shared/data`` is there, on 30,000 Weibo posts; ``--against
FILE`` times an earlier ``nlp/complaint.py`` beside it (``git show REV:nlp/complaint.py > FILE``) and counts
the rows whose category differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

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


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"complaint_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def speed(sets: dict[str, tuple[list[str], np.ndarray, list[str]]], against: Path | None, rounds: int) -> None:
    """Median µs per row of ``detect_complaints`` (and of the earlier module's), alternating rounds."""
    import yuqing.nlp.complaint as current

    modules: dict[str, Any] = {"this": current}
    if against is not None:
        modules[f"{against}"] = load_module(against)

    def run(module: Any, texts: list[str], sentiment: np.ndarray, subjects: list[str]) -> list[str]:
        takes_subjects = "subjects" in inspect.signature(module.detect_complaints).parameters
        return module.detect_complaints(texts, sentiment, *([subjects] if takes_subjects else []))[1]

    for name, (texts, sentiment, subjects) in sets.items():
        cats = {k: run(m, texts, sentiment, subjects) for k, m in modules.items()}
        times: dict[str, list[float]] = {k: [] for k in modules}
        for r in range(rounds):
            for k in list(modules)[:: 1 if r % 2 == 0 else -1]:
                t = time.process_time()
                run(modules[k], texts, sentiment, subjects)
                times[k].append((time.process_time() - t) / len(texts) * 1e6)
        line = ", ".join(f"{k} {np.median(v):.2f} µs/row" for k, v in times.items())
        if against is not None:
            old, new = times[f"{against}"], times["this"]
            differ = sum(a != b for a, b in zip(cats["this"], cats[f"{against}"], strict=True))
            line += f" (ratio {np.median(new) / np.median(old):.2f}; categories differing on {differ:,} rows)"
        print(f"{name} ({len(texts):,} rows, {rounds} rounds): {line}")


def weibo_posts(n: int) -> tuple[list[str], np.ndarray] | None:
    """``n`` Weibo posts from ../shared/data, normalised, with the shipped model's P(positive)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import accuracy_sets

    from yuqing.nlp.features import featurize
    from yuqing.nlp.normalize import normalize_texts
    from yuqing.nlp.pipeline import TextModels
    from yuqing.nlp.segment import Segmenter

    if not accuracy_sets.available():
        return None
    texts = normalize_texts(accuracy_sets.load("weibo_senti")["text"].astype(str).tolist()[:n])
    seg, models = Segmenter(), TextModels.load()
    tokens = [seg.tokens(t) for t in texts]
    return texts, models.sentiment.score(tokens, features=featurize(tokens, texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000, help="top-level posts of the world")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="world directory: reused when it holds a world, else written")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--examples", type=int, default=8, help="false complaints to print")
    parser.add_argument("--speed", action="store_true", help="time detect_complaints instead")
    parser.add_argument(
        "--against", type=Path, help="an earlier nlp/complaint.py: measured instead (or with --speed, timed beside)"
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rows", type=int, default=60_000, help="with --speed: the world's first rows timed")
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
    if args.speed:
        from yuqing.nlp.features import featurize
        from yuqing.nlp.normalize import normalize_texts

        texts = normalize_texts(posts["text"].head(args.rows).tolist())
        seg, models = Segmenter.from_settings(settings), TextModels.from_settings(settings.nlp)
        tokens = [seg.tokens(t) for t in texts]
        terms = [t for b in settings.all_brands for t in b.terms]
        sets = {"simulated rows": (texts, models.sentiment.score(tokens, features=featurize(tokens, texts)), terms)}
        weibo = weibo_posts(30_000)
        if weibo is not None:
            sets["Weibo posts"] = (*weibo, [])
        speed(sets, args.against, args.rounds)
        return
    seg, models = Segmenter.from_settings(settings), TextModels.from_settings(settings.nlp)
    if args.against is not None:  # the text stage with an earlier complaint module (in this process: 1 worker)
        import yuqing.nlp.pipeline as pipeline

        earlier = load_module(args.against).detect_complaints
        takes_subjects = "subjects" in inspect.signature(earlier).parameters
        pipeline.detect_complaints = lambda t, s, subjects=(): earlier(t, s, *([subjects] if takes_subjects else []))
        args.workers = 1
        print(f"complaints by {args.against}")
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
    named = np.array([len(b) > 0 for b in top["brands"]])
    n_gold, n_pred, p, r = prf(pred & named, gold & named)
    print(
        f"  of them naming a brand (what the alerts count): {int(named.sum()):,}, complaints {n_gold:,}, "
        f"flagged {n_pred:,}: precision {p:.3f}, recall {r:.3f}"
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
        true_rows.assign(
            brands=[[b] for b in true_rows["brand"]], complaint=True, complaint_category=true_rows["category"]
        ),
        [b.name for b in settings.all_brands],
        rules,
    )
    start, end = d["created_at"].min(), d["created_at"].max()
    found = {name: spikes(counts, start, end) for name, counts in (("ours", ours), ("true", true))}
    keys = {k: set(zip(v["bucket_start"], v["brand"], v["category"], strict=True)) for k, v in found.items()}
    print(
        f"\nspikes (detect_spikes, default rules, per hour): {len(keys['ours'])} in our counts, "
        f"{len(keys['true'])} in the world's true counts, {len(keys['ours'] & keys['true'])} in both"
    )
    for name, other in (("ours", "true"), ("true", "ours")):
        only = found[name][
            [
                k not in keys[other]
                for k in zip(found[name]["bucket_start"], found[name]["brand"], found[name]["category"], strict=True)
            ]
        ]
        if len(only):
            print(f"only in {'our' if name == 'ours' else 'the true'} counts:")
            print(only.to_string(index=False))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
