"""Speed of the whole text stage against the plain library calls, measured in the same run.

    python benchmarks/bench_nlp.py [--posts 40000] [--workers 2]

Stage = normalise + segment + keywords + sentiment + brand sentiment + complaint + emotion, over
Weibo posts from ../shared/data (synthetic posts when the data is absent).  Baselines on the same
posts: ``SnowNLP(text).sentiments`` per post (on a sample: it is slow) and ``jieba.lcut`` alone.
Segmentation engines in the same run: the Segmenter's ``rjieba`` (default) and ``jieba`` engines
(no HMM, the brand/product words protected) on the same posts, the whole stage with each, and the
token identity of the two engines on --identity real posts (every post compared, raw cut and tokens).
Prints posts/s, the ratios, the CPU time of each step of the stage (``analyze_texts(timings=)``), the same
steps with the compiled fast paths (nlp/_speedups.c) switched off and on in alternating rounds, and the peak
memory of the main process.

Identical outputs across versions: ``--save FILE`` writes the stage's output columns (and tokens) for the
benchmark's posts; ``--check FILE`` run by a later version compares its output with that file column by
column and exits 1 on any difference (the files hold derived rows of ../shared/data: keep them out of
the repository).
"""

from __future__ import annotations

import argparse
import inspect
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy_sets import DATA as SHARED  # noqa: E402

DATA = SHARED / "sentiment" / "weibo_senti_train.csv"


def _rss_mb() -> float:
    """Resident memory of this process now (Linux), else its peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=40_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--snownlp-sample", type=int, default=600)
    parser.add_argument("--identity", type=int, default=30_000, help="real posts compared between engines")
    parser.add_argument("--save", type=Path, help="write the stage's output on the posts to this file")
    parser.add_argument("--check", type=Path, help="compare the stage's output with a file written by --save")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the compiled on/off comparison")
    args = parser.parse_args()

    import jieba
    import pandas as pd

    from yuqing.nlp.pipeline import ParallelAnalyzer, TextModels, analyze_texts
    from yuqing.nlp.segment import Segmenter
    from yuqing.store.settings import Brand

    if DATA.exists():
        texts = pd.read_csv(DATA)["text"].astype(str).tolist()
        real = texts[: args.identity]
        source = str(DATA)
    else:
        texts = [f"星阅X5第{i}天体验：电池续航不错，就是充电有点发烫[思考]" for i in range(1000)]
        source = "synthetic posts (../shared/data absent)"
        real = []
    texts = (texts * (args.posts // len(texts) + 1))[: args.posts]
    avg_len = sum(map(len, texts)) / len(texts)
    brands = [Brand(name="星阅", aliases=["小星"], products=["星阅X5"]), Brand(name="楚风", products=["楚风K9"])]
    seg_words = {"brands": ["星阅", "小星", "楚风"], "products": ["星阅X5", "楚风K9"]}
    rss0 = _rss_mb()
    seg = Segmenter(**seg_words, engine="rjieba")  # type: ignore[arg-type]
    rss_rjieba = _rss_mb() - rss0
    rss0 = _rss_mb()
    seg_ref = Segmenter(**seg_words, engine="jieba")  # type: ignore[arg-type]
    rss_jieba = _rss_mb() - rss0
    models = TextModels.load()
    rss_before_stage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # token identity of the engines on real posts (not in the tests: they never read ../shared/data)
    same_cut = same_tokens = 0
    first_diff = ""
    for text in real:
        a, b = seg._cut(text), seg_ref._cut(text)
        same_cut += a == b
        ok = seg.tokens(text) == seg_ref.tokens(text)
        same_tokens += ok
        if not ok and not first_diff:
            first_diff = text

    n_seg = min(len(texts), 30_000)
    engine_rate = {}
    for engine, s in (("jieba", seg_ref), ("rjieba", seg)):
        s.tokens("预热")
        t = time.process_time()
        for text in texts[:n_seg]:
            s.tokens(text)
        engine_rate[engine] = n_seg / (time.process_time() - t)

    jieba.lcut("预热")
    # one-process rates in CPU seconds of this process (time.process_time): on a shared machine the wall
    # clock counts other jobs' time slices, the CPU clock does not
    t = time.process_time()
    for text in texts:
        jieba.lcut(text)
    jieba_rate = len(texts) / (time.process_time() - t)

    from snownlp import SnowNLP

    sample = texts[: args.snownlp_sample]
    t = time.process_time()
    for text in sample:
        _ = SnowNLP(text).sentiments
    snow_rate = len(sample) / (time.process_time() - t)

    n_one = min(len(texts), 10_000)
    stage_by_engine = {}
    steps: dict[str, float] = {}
    timed = "timings" in inspect.signature(analyze_texts).parameters  # False on versions before the step timers
    for engine, s in (("jieba", seg_ref), ("rjieba", seg)):
        analyze_texts(texts[:200], s, models, brands)  # first call: lazy initialisation out of the clock
        t, wall = time.process_time(), time.perf_counter()
        if timed:
            analyze_texts(texts[:n_one], s, models, brands, timings=steps if engine == "rjieba" else None)
        else:
            analyze_texts(texts[:n_one], s, models, brands)
        stage_by_engine[engine] = (n_one / (time.process_time() - t), n_one / (time.perf_counter() - wall))
    one_core, one_core_wall = stage_by_engine["rjieba"]
    pure_steps, fast_steps = (
        _pure_vs_compiled(texts[:n_one], seg, models, brands, rounds=args.rounds) if timed else ({}, {})
    )
    identical = _save_or_check(args.save, args.check, analyze_texts(texts, seg, models, brands, keep_tokens=True))

    with ParallelAnalyzer(seg, models, brands, args.workers) as pool:
        pool.analyze(texts[:200])  # workers start and load models before the clock runs
        t = time.perf_counter()
        out = pool.analyze(texts)
        stage_rate = len(texts) / (time.perf_counter() - t)
    assert len(out) == len(texts)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"posts: {len(texts):,} from {source} (avg {avg_len:.0f} chars)")
    print(f"jieba.lcut alone, 1 core          {jieba_rate:9,.0f} posts per CPU second")
    print(f"SnowNLP(text).sentiments, 1 core  {snow_rate:9,.0f} posts per CPU second  (sample of {len(sample)})")
    seg_j, seg_r = engine_rate["jieba"], engine_rate["rjieba"]
    print(f"Segmenter.tokens, engine jieba    {seg_j:9,.0f} posts per CPU second  ({n_seg:,} posts, no HMM)")
    print(f"memory of one segmenter (RSS growth): jieba {rss_jieba:,.0f} MB, rjieba {rss_rjieba:,.0f} MB")
    print(f"Segmenter.tokens, engine rjieba   {seg_r:9,.0f} posts per CPU second  ({seg_r / seg_j:.1f}x jieba)")
    if real:
        print(
            f"engines identical on {len(real):,} real posts: raw cut {same_cut:,}, tokens {same_tokens:,}"
            + (f"  first difference: {first_diff[:60]!r}" if first_diff else "")
        )
    stage_j = stage_by_engine["jieba"][0]
    print(f"yuqing text stage, engine jieba   {stage_j:9,.0f} posts per CPU second  ({n_one:,} posts)")
    print(
        f"yuqing text stage, 1 core         {one_core:9,.0f} posts per CPU second  ({one_core / stage_j:.2f}x, rjieba)"
    )
    print(f"  same, wall clock                {one_core_wall:9,.0f} posts/s")
    total = sum(steps.values())
    if steps:
        print("  per step, µs of CPU per post:   " + ", ".join(f"{k} {v / n_one * 1e6:.1f}" for k, v in steps.items()))
        print(f"  sum of steps                    {total / n_one * 1e6:9.1f} µs per post")
    if fast_steps:
        n_pure, n_fast = sum(pure_steps.values()), sum(fast_steps.values())
        print(
            f"  compiled fast paths (nlp/_speedups.c) off → on, best of {args.rounds} alternating rounds, µs per post:"
        )
        print("    " + ", ".join(f"{k} {pure_steps[k]:.1f} → {fast_steps[k]:.1f}" for k in fast_steps))
        print(
            f"    whole stage {n_pure:.1f} → {n_fast:.1f} µs"
            f" = {1e6 / n_pure:,.0f} → {1e6 / n_fast:,.0f} posts per CPU second (sum of the best steps)"
        )
    print(f"ratio vs SnowNLP, both on 1 core  {one_core / snow_rate:9.1f}x")
    print(f"yuqing text stage, {args.workers} workers       {stage_rate:9,.0f} posts/s (wall clock)")
    print(f"ratio vs SnowNLP per post         {stage_rate / snow_rate:9.1f}x")
    print(
        f"ratio vs jieba.lcut alone         {stage_rate / jieba_rate:9.2f}x (jieba on 1 core, stage on {args.workers})"
    )
    print(
        f"peak RSS of the main process: {own:,.0f} MB, {rss_before_stage:,.0f} MB after loading both engines"
        " and the models (workers are forkserver children, not counted)"
    )
    if identical is not None:
        print(identical)
        return 0 if identical.startswith("identical") else 1
    return 0


def _pure_vs_compiled(
    texts: list[str], seg: object, models: object, brands: object, rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """µs per post of each step with the compiled module switched off and on, rounds alternating, best of each
    (the pure code is what runs where the module is not built); empty when the module is not built."""
    import yuqing.nlp.features as features
    import yuqing.nlp.keywords as keywords
    import yuqing.nlp.normalize as normalize
    import yuqing.nlp.segment as segment
    from yuqing.nlp.pipeline import analyze_texts

    modules = [m for m in (features, keywords, segment, normalize) if hasattr(m, "_compiled")]  # as each version has

    compiled = features._compiled
    if compiled is None:
        return {}, {}
    best: dict[bool, dict[str, float]] = {False: {}, True: {}}
    try:
        for _ in range(rounds):
            for on in (False, True):
                for module in modules:
                    module._compiled = compiled if on else None  # type: ignore[attr-defined]
                steps: dict[str, float] = {}
                analyze_texts(texts, seg, models, brands, timings=steps)  # type: ignore[arg-type]
                for k, v in steps.items():
                    best[on][k] = min(best[on].get(k, float("inf")), v / len(texts) * 1e6)
    finally:
        for module in modules:
            module._compiled = compiled  # type: ignore[attr-defined]
    return best[False], best[True]


def _save_or_check(save: Path | None, check: Path | None, out: object) -> str | None:
    """Write the stage's output (``--save``) or compare it with a saved one (``--check``)."""
    import pandas as pd

    assert isinstance(out, pd.DataFrame)
    frame = out.copy()
    for col in ("brands", "brand_sentiment", "tokens"):
        frame[col] = frame[col].map(repr)  # lists and dicts compared by their exact text
    if save is not None:
        frame.to_parquet(save, index=False)
        print(f"stage output of {len(frame):,} posts written to {save}")
    if check is None:
        return None
    ref = pd.read_parquet(check)
    if len(ref) != len(frame):
        return f"DIFFERENT: {len(ref):,} posts in {check}, {len(frame):,} now (use the same --posts)"
    diffs = {c: int((ref[c] != frame[c]).sum()) for c in ref.columns if c in frame.columns}
    missing = [c for c in ref.columns if c not in frame.columns]
    if any(diffs.values()) or missing:
        return f"DIFFERENT from {check}: posts differing per column {diffs}, missing columns {missing}"
    return f"identical to {check}: {len(frame):,} posts, columns {', '.join(diffs)}"


if __name__ == "__main__":
    raise SystemExit(main())
