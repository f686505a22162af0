"""Churn warning against the churners planted in a simulated world, beside an RFM-only score, in one run.

Generates a world (``collectors.fake.world``: churners complain about the brand, then stop buying after a
steady rhythm), stores and analyses it, imports the CRM export and the tickets, and ranks customers by
``graph.churn.churn_risk`` and by the RFM-only baseline ``graph.churn.rfm_risk``.  Prints precision and recall
of the top k (k = planted churners, and 2k) for both, and of the `yuqing crm churn` list (by CLV at risk).
Needs no data from ../shared/data.

    .venv/bin/python benchmarks/eval_churn.py [--posts 3000] [--seeds 7 11 23]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def _build(world: Path, db: Path) -> None:
    from yuqing.collectors.fake.world import load_world
    from yuqing.flows import stages
    from yuqing.flows.commands.graph import _import_tickets
    from yuqing.store.schema import Author, Interaction
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    settings = load_settings(world / "yuqing.toml", warehouse={"path": str(db)})
    w = load_world(world)
    with Warehouse.open(db) as wh:
        wh.upsert_posts_frame(w.posts)
        wh.upsert_authors(Author.model_validate(r) for r in w.authors.to_dict("records"))
        wh.add_interactions(Interaction.model_validate(r) for r in w.interactions.to_dict("records"))
    frames = [stages.analyse_chunk(c, settings) for c in stages.split(stages.load_unanalysed(settings), 5000)]
    stages.store_analysis(settings, frames)
    stages.import_crm(settings, world / "customers.csv", world / "orders.csv")
    _import_tickets(settings, world / "tickets.csv", {})


def _pr(ranked: list[str], truth: set[str], k: int) -> tuple[float, float]:
    hit = len(set(ranked[:k]) & truth)
    return hit / max(1, min(k, len(ranked))), hit / max(1, len(truth))


def evaluate(posts: int, seed: int, tmp: Path) -> list[dict[str, object]]:
    from yuqing.collectors.fake.world import generate_world
    from yuqing.flows.commands.graph import churn_frame
    from yuqing.graph.churn import LOST_DAYS, rfm_risk
    from yuqing.graph.customers import rfm
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    world, db = tmp / f"world-{seed}", tmp / f"w-{seed}.duckdb"
    generate_world(world, posts=posts, seed=seed)
    _build(world, db)
    truth = set(json.loads((world / "truth.json").read_text(encoding="utf-8"))["churners"])
    settings = load_settings(world / "yuqing.toml", warehouse={"path": str(db)})
    risk = churn_frame(settings)
    with Warehouse.open(db, read_only=True) as wh:
        orders = wh.query("SELECT customer_id, amount, ordered_at FROM orders")
        now = wh.query("SELECT max(created_at) FROM posts").iat[0, 0]
    values = rfm(orders, now=pd.Timestamp(now))
    baseline = rfm_risk(values[values["recency_days"] <= LOST_DAYS])  # the same customers
    active = risk[~risk["lost"].astype(bool)]  # no order for a year: already lost, not warned about
    by_score = active.sort_values(["risk", "customer_id"], ascending=[False, True])["customer_id"].tolist()
    listed = active[active["risk"] >= 0.3]["customer_id"].tolist()  # `yuqing crm churn` (by CLV at risk)
    rows = []
    rankings = {
        "churn score (crm churn --by risk)": by_score,
        "RFM only": baseline["customer_id"].tolist(),
        "crm churn (by CLV at risk)": listed,
    }
    for name, ranked in rankings.items():
        for k in (len(truth), 2 * len(truth)):
            p, r = _pr(ranked, truth, k)
            rows.append({"seed": seed, "ranking": name, "k": k, "precision": p, "recall": r,
                         "customers": len(ranked), "churners": len(truth)})  # fmt: skip
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    args = ap.parse_args()
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", "eval-churn-key-" + "0" * 32)
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            rows += evaluate(args.posts, seed, Path(tmp))
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    mean = frame.groupby(["ranking", "k"] if len(args.seeds) == 1 else ["ranking"])[["precision", "recall"]].mean()
    print("\nmean over seeds and k:\n" + mean.to_string(float_format=lambda x: f"{x:.2f}"))
    print(f"\n{len(args.seeds)} worlds of {args.posts:,} posts in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
