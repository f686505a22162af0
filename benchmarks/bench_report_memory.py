"""Memory and seconds of the reports stage on a simulated world, and what its posts frame holds per column.

    nice -n 10 .venv/bin/python benchmarks/bench_report_memory.py --posts 250000 [--dir DIR]

Builds the world once into ``DIR`` (bench_e2e's set-up: simulate, bulk load, CRM), then writes a
``post_analysis`` table from the world's generating labels in SQL (sentiment, complaint and its category,
the brand mentioned and its score; ``post_counts`` then counted from it) instead of running the text stage:
what the reports read has the shape and cardinality of the analyse stage's output, built in seconds rather
than minutes.  Then, each in
a fresh process: the reports stage (``flows.stages.reports``: brand report for the whole span, the
campaign report) and the alerts stage (``flows.stages.alerts``, nothing sent) with their seconds, the rows they
fetched and their peak RSS above the imports; and
``reports.data.load_frames(linked_only=True)`` for the span (the posts of customers' accounts: the only
per-post frame the brand report holds) with ``DataFrame.memory_usage(deep=True)`` per column.
No data from ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
KEY = "bench-key-0123456789abcdef0123456789"

_ANALYSIS = """
INSERT INTO post_analysis BY NAME
SELECT p.platform, p.id,
       CASE l.sentiment WHEN 'positive' THEN 0.8 WHEN 'negative' THEN 0.2 ELSE 0.5 END
         + (CAST(hash(p.id) % 100 AS INTEGER) - 50) / 500.0 AS sentiment,
       l.sentiment AS polarity,
       l.complaint AS complaint,
       CASE WHEN l.complaint THEN coalesce(nullif(l.nlp_category, ''), '其他') ELSE '' END AS complaint_category,
       CASE l.sentiment WHEN 'positive' THEN '喜悦' WHEN 'negative' THEN '愤怒' ELSE '中性' END AS emotion,
       concat_ws(' ', l.product, nullif(l.category, ''), '体验', '价格', '客服') AS keywords,
       CASE WHEN l.brand IS NULL OR l.brand = '' THEN []::VARCHAR[] ELSE [l.brand] END AS brands,
       CASE WHEN l.brand IS NULL OR l.brand = '' THEN '{}'
            ELSE json_object(l.brand, round(CASE l.sentiment WHEN 'positive' THEN 0.8
                 WHEN 'negative' THEN 0.2 ELSE 0.5 END + (CAST(hash(p.id) % 100 AS INTEGER) - 50) / 500.0, 3))::VARCHAR
       END AS brand_sentiment,
       now() AS analysed_at
FROM posts p JOIN read_parquet(?) l USING (platform, id)
"""


class _Box:
    def put(self, value: Any) -> None:
        self.value = value


def build(work: Path, posts: int) -> None:
    from bench_e2e import prepare

    from yuqing.store.warehouse import Warehouse

    if not (work / "w.duckdb").exists():
        prepare(work, posts, 2, _Box())
    with Warehouse.open(work / "w.duckdb") as wh:
        if not wh.table_counts()["post_analysis"]:
            wh.con.execute(_ANALYSIS, [str(work / "world" / "labels.parquet")])
            wh.refresh_post_counts()  # what save_analysis does in the analyse stage


def _settings(work: Path) -> Any:
    from yuqing.store.settings import load_settings

    return load_settings(
        work / "world" / "yuqing.toml", warehouse={"path": str(work / "w.duckdb")}, flows={"out_dir": str(work / "r")}
    )


def child_stage(work: Path) -> dict[str, Any]:
    from yuqing.flows import stages
    from yuqing.store.warehouse import Warehouse

    settings = _settings(work)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fetched = [0]
    query = Warehouse.query

    def counted(self: Warehouse, sql: str, params: Any = None) -> Any:
        frame = query(self, sql, params)
        fetched[0] += len(frame)
        return frame

    report_posts = getattr(Warehouse, "report_posts", None)  # absent before it read the posts in chunks

    def counted_posts(self: Warehouse, **kw: Any) -> Any:
        assert report_posts is not None
        frame = report_posts(self, **kw)
        fetched[0] += len(frame)
        return frame

    Warehouse.query = counted  # type: ignore[method-assign]
    if report_posts is not None:
        Warehouse.report_posts = counted_posts  # type: ignore[method-assign]
    t = time.perf_counter()
    out = stages.reports(settings, start=None, end=None, out_dir=work / "r")
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak),
        "above_imports_mb": round(peak - base),
        "rows_fetched": fetched[0],
        "files": len(out) if isinstance(out, list) else str(out),
    }


def child_alerts(work: Path) -> dict[str, Any]:
    """The alerts stage (detection, scoring, the alert table; nothing sent) in this fresh process."""
    from yuqing.flows import stages
    from yuqing.store.warehouse import Warehouse

    settings = _settings(work)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fetched = [0]
    close = Warehouse.close

    def counted(self: Warehouse) -> None:  # every connection's rows_fetched, at its close
        if not getattr(self, "_closed", False):
            fetched[0] += self.rows_fetched
        close(self)

    Warehouse.close = counted  # type: ignore[method-assign]
    t = time.perf_counter()
    lines = stages.alerts(settings, dispatch=False)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak),
        "above_imports_mb": round(peak - base),
        "rows_fetched": fetched[0],
        "lines": lines,
    }


def child_frame(work: Path) -> dict[str, Any]:
    import psutil

    from yuqing.reports.data import load_frames

    before = psutil.Process().memory_info().rss
    t = time.perf_counter()
    frames = load_frames(work / "w.duckdb", linked_only=True)  # what the brand report holds as a frame
    seconds = time.perf_counter() - t
    held = psutil.Process().memory_info().rss - before
    usage = frames.posts.memory_usage(deep=True, index=True)
    return {
        "rows": len(frames.posts),
        "seconds": round(seconds, 1),
        "held_mb": round(held / 2**20),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before / 2**20),
        "mb": {k: round(v / 2**20, 1) for k, v in usage.items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=60_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", KEY)
    if args.child:
        what, work = args.child[0], Path(args.child[1])
        if what == "build":
            build(work, args.posts)
            return 0
        child = {"stage": child_stage, "alerts": child_alerts, "frame": child_frame}[what]
        print(json.dumps(child(work), default=str))
        return 0
    from yuqing.flows.cli import quiet_prefect_env

    quiet_prefect_env()
    work = args.dir or Path(tempfile.mkdtemp(prefix="yuqing-repmem-"))
    if not (work / "built").exists():
        t = time.perf_counter()
        # in a process of its own: a child's ru_maxrss starts at its parent's RSS (Linux keeps it across exec)
        subprocess.run(  # noqa: S603 - this script with its own arguments
            [sys.executable, __file__, "--posts", str(args.posts), "--child", "build", str(work)], check=True
        )
        (work / "built").touch()
        print(f"built {args.posts:,} top-level posts in {time.perf_counter() - t:.0f} s: {work}")
    for what in ("frame", "stage", "alerts"):
        run = subprocess.run(  # noqa: S603 - this script with its own arguments
            [sys.executable, __file__, "--child", what, str(work)], capture_output=True, text=True, check=False
        )
        if run.returncode:
            print(run.stderr[-3000:])
            return 1
        result = json.loads(run.stdout.strip().splitlines()[-1])
        if what == "frame":
            mb = result["mb"]
            print(
                f"load_frames of the span (linked accounts' posts): {result['rows']:,} rows in {result['seconds']} s, "
                "RSS held after it "
                f"{result['held_mb']:,} MB, peak {result['peak_mb']:,} MB above the imports; per column "
                "(memory_usage(deep=True): counts an object shared by many rows once per row) "
                f"{sum(mb.values()):,.0f} MB"
            )
            for col, v in sorted(mb.items(), key=lambda kv: -kv[1]):
                print(f"  {col:20} {v:10,.1f} MB")
        else:
            print(
                f"{'reports' if what == 'stage' else 'alerts'} stage: {result['seconds']} s, peak RSS "
                f"{result['peak_rss_mb']:,} MB ({result['above_imports_mb']:,} MB above the imports), "
                f"{result['rows_fetched']:,} rows fetched"
                + (f"; {len(result['lines'])} alert line(s): {result['lines'][:1]}" if what == "alerts" else "")
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
