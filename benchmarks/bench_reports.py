"""The reports stage's chart engine: the first chart's wait with and without ``reports.charts.warm_up()``.

Generates and analyses a simulated world (no data from ../shared/data), then runs the reports stage
(``flows.stages.reports``: brand report and campaign report, HTML/PDF/JSON/CSV) in fresh processes, alternately
with the warm-up (as the stage does) and with it switched off, and prints per run: the stage's seconds, the
charts drawn, the first chart's seconds (what a cold vl-convert engine costs it) and the others' total.

    .venv/bin/python benchmarks/bench_reports.py [--posts 1500] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEY = "bench-key-" + "0" * 32


def _build(world: Path, db: Path, posts: int) -> None:
    from yuqing.collectors.fake.world import generate_world, load_world
    from yuqing.flows import stages
    from yuqing.store.schema import Author, Interaction
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    generate_world(world, posts=posts, seed=7)
    w = load_world(world)
    with Warehouse.open(db) as wh:
        wh.upsert_posts_frame(w.posts)
        wh.upsert_authors(Author.model_validate(r) for r in w.authors.to_dict("records"))
        wh.add_interactions(Interaction.model_validate(r) for r in w.interactions.to_dict("records"))
    settings = load_settings(world / "yuqing.toml", warehouse={"path": str(db)})
    stages.import_crm(settings, world / "customers.csv", world / "orders.csv")
    frames = [stages.analyse_chunk(c, settings) for c in stages.split(stages.load_unanalysed(settings), 5000)]
    stages.store_analysis(settings, frames)
    stages.graph(settings)


def _one(world: Path, db: Path, out: Path, warm: bool) -> dict[str, float]:
    """In this (fresh) process: the reports stage, every chart conversion timed."""
    from yuqing.flows import stages
    from yuqing.reports import charts
    from yuqing.store.settings import load_settings

    if not warm:
        charts.warm_up = lambda: None  # type: ignore[assignment]
    calls: list[float] = []
    svg = charts._svg

    def timed(key: str, spec: dict[str, object]) -> str:
        t = time.perf_counter()
        try:
            return svg(key, spec)
        finally:
            calls.append(time.perf_counter() - t)

    charts._svg = timed  # type: ignore[assignment]
    settings = load_settings(world / "yuqing.toml", warehouse={"path": str(db)})
    t0 = time.perf_counter()
    stages.reports(settings, start=None, end=None, out_dir=out)
    return {
        "stage_s": round(time.perf_counter() - t0, 2),
        "charts": len(calls),
        "first_chart_s": round(calls[0], 2),
        "other_charts_s": round(sum(calls[1:]), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=1500)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ["YUQING_CRM__HMAC_KEY"] = KEY
    if args.child:
        world, db, out, warm = args.child
        print(json.dumps(_one(Path(world), Path(db), Path(out), warm == "warm")))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        world, db = Path(tmp) / "world", Path(tmp) / "w.duckdb"
        _build(world, db, args.posts)
        for run in range(args.runs):
            for warm in ("cold", "warm"):
                proc = subprocess.run(  # noqa: S603 - this script with its own arguments
                    [sys.executable, __file__, "--child", str(world), str(db), str(Path(tmp) / "out"), warm],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                print(f"run {run + 1} {warm}: {proc.stdout.strip().splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
