"""Peak memory of each stage on its own, at two corpus sizes: which stage grows with the corpus.

    python benchmarks/bench_stage_memory.py --posts 60000 250000

For each size a world is simulated and loaded as ``bench_e2e.py`` does (its own process), then every stage runs
in a fresh process (``flows.stages``: analyse in windows as the flow does but in one process, topics, graph,
alerts without sending, reports) and prints its seconds, the rows it fetched from the warehouse
(``Warehouse.rows_fetched`` where the stage reports it) and its peak RSS above the interpreter with the libraries
imported; the last column is the ratio of the peaks of the largest to the smallest size (issue 15's bar for the
whole flow: <= 1.3 from 250k to 1M posts).

    python benchmarks/bench_stage_memory.py --posts 100000 400000 --dir /tmp/sm --stages topics graph

``--dir`` keeps each size's warehouse (``DIR/posts-N``) and reuses it on the next run (analysed once: a kept
warehouse's analyse stage finds nothing left to do, so it is run only when the warehouse was just made);
``--stages`` runs only the stages named.

    python benchmarks/bench_stage_memory.py --posts 1000000 --dir /tmp/sm --stages topics graph alerts reports --chain

``--chain`` runs the stages one after another in ONE process, as the flow does (what a stage leaves behind is there
when the next starts), and prints for each its RSS at the start, its peak (the kernel's high-water mark, reset as
the stage starts) and its RSS at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STAGES = ("analyse", "topics", "graph", "alerts", "reports")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prepare(work: Path, posts: int) -> None:
    sys.path.insert(0, str(HERE))
    from bench_e2e import prepare

    class _Out:
        def put(self, item: Any) -> None:
            pass

    prepare(work, posts, 1, _Out())


def _chain(work: Path, names: list[str]) -> list[dict[str, Any]]:
    """The stages one after another in this process (as the flow runs them): RSS at each one's start, its peak
    (VmHWM reset through ``/proc/self/clear_refs`` as it starts) and its RSS at its end, MB.  Linux only."""
    sys.path.insert(0, str(HERE))
    from bench_e2e import _status_mb

    out = []
    for name in names:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        start = _status_mb("VmRSS:")
        r = _stage(work, name)
        out.append({**r, "start_mb": start, "peak_mb": _status_mb("VmHWM:"), "end_mb": _status_mb("VmRSS:")})
    return out


def _stage(work: Path, name: str) -> dict[str, Any]:
    """One stage in this (fresh) process; the libraries are imported first so the peak above them is the stage's."""
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", "bench-key-0123456789abcdef0123456789")
    import pandas as pd  # noqa: F401  (imported before the baseline is taken)

    from yuqing.flows import stages
    from yuqing.nlp import pipeline, topics  # noqa: F401
    from yuqing.reports import brand, warning  # noqa: F401
    from yuqing.store.settings import load_settings

    sys.path.insert(0, str(HERE))
    from bench_e2e import overrides

    settings = load_settings(work / "world" / "yuqing.toml", **overrides(work, 1))
    base = _rss_mb()
    t, cpu = time.perf_counter(), time.process_time()
    detail: Any = None
    if name == "analyse":
        written = 0
        for window in stages.analyse_windows(settings):  # flows.monitor.analyse's windows, scored here, not in workers
            posts = stages.load_unanalysed(settings, window=window)
            frames = [stages.analyse_chunk(c, settings) for c in stages.split(posts, stages.CHUNK_ROWS)]
            written += stages.store_analysis(settings, frames)
            del posts, frames
        detail = written
    elif name == "topics":
        detail = str(stages.topics(settings))
    elif name == "graph":
        detail = stages.graph(settings)
    elif name == "alerts":
        detail = len(stages.alerts(settings, dispatch=False))
    elif name == "reports":
        out = work / "reports"
        out.mkdir(exist_ok=True)
        result = stages.reports(settings, start=None, end=None, out_dir=out)
        detail = len(result) if isinstance(result, list) else str(result)
    return {
        "seconds": time.perf_counter() - t,
        "cpu": time.process_time() - cpu,
        "peak_mb": _rss_mb(),
        "base_mb": base,
        "detail": detail,
    }


def _run(work: Path, names: list[str], *, chain: bool) -> list[dict[str, Any]]:
    """``names`` in a fresh process of this script (one after another with ``chain``)."""
    command = [sys.executable, __file__, "--phase", str(work), ",".join(names), *(["--chain"] if chain else [])]
    run = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - this script
    if run.returncode:
        raise SystemExit(f"{work}: {', '.join(names)} failed\n{run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    return result if chain else [result]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, nargs="+", default=[60_000, 250_000])
    ap.add_argument("--dir", type=Path, help="keep (and reuse) each size's warehouse under this folder")
    ap.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    ap.add_argument("--chain", action="store_true", help="run the stages in one process, as the flow does")
    ap.add_argument("--phase", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        if args.chain:
            print(json.dumps(_chain(Path(args.phase[0]), args.phase[1].split(",")), default=str))
        else:
            print(json.dumps(_stage(Path(args.phase[0]), args.phase[1]), default=str))
        return 0
    results: dict[int, dict[str, dict[str, Any]]] = {}
    stages = [s for s in STAGES if s in args.stages]
    for posts in args.posts:
        with contextlib.ExitStack() as stack:
            if args.dir is None:
                work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            else:
                work = args.dir / f"posts-{posts}"
            todo = stages
            if not (work / "prepared").exists():
                work.mkdir(parents=True, exist_ok=True)
                p = mp.get_context("spawn").Process(target=_prepare, args=(work, posts))
                p.start()
                p.join()
                (work / "prepared").touch()
                todo = ["analyse", *[s for s in stages if s != "analyse"]]  # the later stages read its results
            results[posts] = {}
            if args.chain:
                if "analyse" in todo and todo != stages:
                    _run(work, ["analyse"], chain=False)
                    todo = stages
                for r, name in zip(_run(work, todo, chain=True), todo, strict=True):
                    results[posts][name] = r
                    print(
                        f"{posts:>9,} posts  {name:<8} {r['seconds']:7.1f} s  CPU {r['cpu']:7.1f} s  RSS at start "
                        f"{r['start_mb']:7,.0f} MB, peak {r['peak_mb']:7,.0f} MB, at end {r['end_mb']:7,.0f} MB  "
                        f"{r['detail']}",
                        flush=True,
                    )
                continue
            for name in todo:
                run = subprocess.run(  # noqa: S603 - this script in our own interpreter
                    [sys.executable, __file__, "--phase", str(work), name], capture_output=True, text=True
                )
                if run.returncode:
                    print(f"{posts:>9,} posts  {name}: failed\n{run.stderr[-3000:]}", file=sys.stderr)
                    return 1
                results[posts][name] = json.loads(run.stdout.strip().splitlines()[-1])
                r = results[posts][name]
                print(
                    f"{posts:>9,} posts  {name:<8} {r['seconds']:7.1f} s  CPU {r['cpu']:7.1f} s  peak "
                    f"{r['peak_mb']:7,.0f} MB ({r['peak_mb'] - r['base_mb']:7,.0f} above the libraries)  {r['detail']}",
                    flush=True,
                )
    small, large = min(args.posts), max(args.posts)
    if small != large:
        print(f"\npeak above the libraries, {large:,} / {small:,} posts:")
        for name in stages:
            if name not in results[small] or name not in results[large]:
                continue
            a, b = results[small][name], results[large][name]
            grow = (b["peak_mb"] - b["base_mb"]) / max(1.0, a["peak_mb"] - a["base_mb"])
            print(f"  {name:<8} {grow:5.2f}x   (whole process {b['peak_mb'] / a['peak_mb']:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
