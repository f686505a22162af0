"""``yuqing score`` on a large CSV: wall time, rows/s and peak memory of the command and its workers.

    python benchmarks/bench_score.py --rows 1000000            # the issue-4 bar: peak < 2 GiB

Generates a CSV of Weibo-length simulated posts (``collectors/fake/texts.py``, streamed to disk in
blocks, seeded), writes a ``yuqing.toml`` naming the simulated brands, runs ``yuqing score`` as a
subprocess and samples the memory of its whole process tree (the command, the forkserver and the
pool workers) until it exits.  Prints:

* peak of the summed RSS over the tree (what ``top`` adds up; counts pages shared between the
  forked workers once per process, so it over-states the real footprint);
* peak of the summed PSS (shared pages split between the processes that map them — the honest
  total; sampled less often because it reads ``/proc/<pid>/smaps_rollup``);
* the largest single process RSS.

Uses ``psutil`` when installed, else ``/proc``.  No data from ``../shared/data`` is needed.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GIB = 1024**3
BAR_BYTES = 2 * GIB
BLOCK = 50_000
SECOND_PART = 0.65


def write_csv(path: Path, rows: int, seed: int = 7) -> float:
    """``rows`` simulated posts (id, created_at, text), ~60 characters each; returns the mean text length."""
    import numpy as np

    from yuqing.collectors.fake.texts import COMPLAINT_CATEGORIES, INTENTS, TextGenerator
    from yuqing.collectors.fake.world import BRAND, COMPETITORS

    rng = np.random.default_rng(seed)
    brands = [BRAND, *COMPETITORS]
    gen = TextGenerator(rng, [b["name"] for b in COMPETITORS])
    intent_p = np.array([0.25, 0.25, 0.1, 0.2, 0.12, 0.08])
    categories = list(COMPLAINT_CATEGORIES)
    topics = ["", "", "", "数码", "开箱", "618", "打工人日常"]
    mentions = ["", "", "", "", "数码老王", "科技小甜甜"]
    start = np.datetime64("2026-10-01T00:00:00")
    chars = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "created_at", "text"])
        for lo in range(0, rows, BLOCK):
            n = min(BLOCK, rows - lo)
            intent = rng.choice(np.array(INTENTS), size=n, p=intent_p)
            b = rng.integers(0, len(brands), size=n)
            names = [str(brands[i]["name"]) for i in b.tolist()]
            products = [
                str(brands[i]["products"][j % len(brands[i]["products"])])
                for i, j in zip(b.tolist(), rng.integers(0, 6, size=n).tolist(), strict=True)
            ]
            cats = [categories[i] for i in rng.integers(0, len(categories), size=n).tolist()]
            tops = [topics[i] for i in rng.integers(0, len(topics), size=n).tolist()]
            ments = [mentions[i] for i in rng.integers(0, len(mentions), size=n).tolist()]
            texts = gen.posts(intent.tolist(), names, products, cats, tops, ments)
            # Weibo posts run longer than one generated sentence group (weibo_senti: 66 characters on
            # average): most rows get a second part about the same brand with the same intent
            more = gen.posts(intent.tolist(), names, products, cats, [""] * n, [""] * n)
            two = (rng.random(n) < SECOND_PART).tolist()
            texts = [f"{a} {b}" if t else a for a, b, t in zip(texts, more, two, strict=True)]
            seconds = np.sort(rng.integers(0, 30 * 86400, size=n))
            stamps = (start + seconds.astype("timedelta64[s]")).astype(str)
            chars += sum(len(t) for t in texts)
            out.writerows(zip((f"p{lo + i}" for i in range(n)), (f"{s}+08:00" for s in stamps), texts, strict=True))
    return chars / max(rows, 1)


def write_settings(path: Path) -> None:
    from yuqing.collectors.fake.world import BRAND, COMPETITORS

    def table(b: dict[str, object]) -> str:
        return f"name = {_toml(b['name'])}\naliases = {_toml(b['aliases'])}\nproducts = {_toml(b['products'])}\n"

    text = "[brand]\n" + table(BRAND)
    for c in COMPETITORS:
        text += "\n[[competitors]]\n" + table(c)
    path.write_text(text, encoding="utf-8")


def _toml(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- memory of a process tree


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _status_kb(pid: int, key: str, name: str = "status") -> int:
    try:
        with open(f"/proc/{pid}/{name}", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory(pid: int, *, pss: bool) -> tuple[int, int, int, int]:
    """(summed RSS, summed PSS or 0, largest RSS, processes) of ``pid`` and its descendants, in bytes."""
    try:
        import psutil
    except ImportError:
        psutil = None  # type: ignore[assignment]
    rss_sum = pss_sum = largest = 0
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0, 0, 0, 0
        for p in procs:
            try:
                rss = p.memory_info().rss
                rss_sum += rss
                largest = max(largest, rss)
                if pss:
                    pss_sum += getattr(p.memory_full_info(), "pss", 0)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return rss_sum, pss_sum, largest, len(procs)
    pids = _tree(pid)
    for p in pids:
        rss = _status_kb(p, "VmRSS:") * 1024
        rss_sum += rss
        largest = max(largest, rss)
        if pss:
            pss_sum += _status_kb(p, "Pss:", "smaps_rollup") * 1024
    return rss_sum, pss_sum, largest, len(pids)


@dataclass
class Sampler:
    pid: int
    interval: float = 0.2
    pss_every: int = 10
    peak_rss: int = 0
    peak_pss: int = 0
    peak_largest: int = 0
    peak_procs: int = 0
    samples: int = 0
    timeline: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            rss, pss, largest, procs = tree_memory(self.pid, pss=self.samples % self.pss_every == 0)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_largest = max(self.peak_largest, largest)
            self.peak_procs = max(self.peak_procs, procs)
            if self.samples % 50 == 0:
                self.timeline.append((time.perf_counter() - t0, rss))
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=0, help="passed to yuqing score (0 = one per core)")
    parser.add_argument("--chunk-size", type=int, default=None, help="passed to yuqing score")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (kept); default a temp dir (removed)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="yuqing-score-"))
    work.mkdir(parents=True, exist_ok=True)
    data, out, config = work / "posts.csv", work / "scored.csv", work / "yuqing.toml"
    try:
        if not data.exists() or _count(data) != args.rows:
            t = time.perf_counter()
            mean_len = write_csv(data, args.rows)
            print(
                f"generated {args.rows:,} rows ({data.stat().st_size / 1e6:,.0f} MB, "
                f"{mean_len:.0f} characters per text on average) in {time.perf_counter() - t:.1f} s"
            )
        write_settings(config)
        yuqing = Path(sys.executable).with_name("yuqing")
        cmd = [str(yuqing) if yuqing.exists() else "yuqing", "score", str(data), "-o", str(out), "-c", str(config)]
        cmd += ["--workers", str(args.workers)]
        if args.chunk_size:
            cmd += ["--chunk-size", str(args.chunk_size)]
        print("$", " ".join(cmd), flush=True)
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=work)  # noqa: S603 (our own command line)
        sampler = Sampler(proc.pid)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        rc = proc.wait()
        wall = time.perf_counter() - t
        sampler.stop()
        thread.join()
        if rc != 0:
            print(f"yuqing score failed with exit code {rc}")
            return rc
        scored = _count(out)
        print()
        print(f"rows scored        {scored:,}")
        print(f"wall time          {wall:,.1f} s")
        print(f"throughput         {scored / wall:,.0f} rows/s")
        print(f"peak RSS, tree sum {sampler.peak_rss / GIB:.2f} GiB  ({sampler.peak_procs} processes)")
        print(f"peak PSS, tree sum {sampler.peak_pss / GIB:.2f} GiB")
        print(f"largest process    {sampler.peak_largest / GIB:.2f} GiB RSS")
        print(f"samples            {sampler.samples} (every {sampler.interval:.1f} s)")
        print("RSS over time      " + ", ".join(f"{s:.0f}s:{r / GIB:.2f}" for s, r in sampler.timeline))
        verdict = "meets" if sampler.peak_rss < BAR_BYTES else "misses"
        print(f"bar: peak < 2 GiB  {verdict} (summed RSS)")
        return 0
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _count(path: Path) -> int:
    """Data rows of a CSV (texts hold no newlines here)."""
    if not path.exists():
        return -1
    with path.open("rb") as fh:
        return max(0, sum(1 for _ in fh) - 1)


if __name__ == "__main__":
    raise SystemExit(main())
