"""Campaign lift on CRM customers against the lift planted in simulated worlds, with and without one.

For each seed: a world with a planted lift (``generate_world(crm_lift=...)``) and the same world with none,
stored raw (the lift needs no text analysis), its CRM export imported and linked, then
``reports.campaign.campaign_crm`` + ``graph.lift.crm_lift`` as the campaign report runs them.  Prints per world
the participants, matched controls, the spend and orders lift with their 95 % intervals against the planted
values, and in the end how often the intervals covered the planted lift (and 0 where none was planted).
Needs no data from ../shared/data.

    .venv/bin/python benchmarks/eval_lift.py [--posts 3000] [--seeds 7 11 23 31 47] [--lift 0.6]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

KEY = "eval-key-" + "0" * 32


def evaluate(posts: int, seed: int, lift: float, tmp: Path) -> dict[str, object]:
    from yuqing.collectors.fake.world import generate_world, load_world
    from yuqing.flows import stages
    from yuqing.graph.lift import LiftWindows, crm_lift
    from yuqing.reports.campaign import campaign_crm
    from yuqing.store.schema import Author
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    world, db = tmp / f"world-{seed}-{lift}", tmp / f"w-{seed}-{lift}.duckdb"
    generate_world(world, posts=posts, seed=seed, crm_lift=lift)
    w = load_world(world)
    with Warehouse.open(db) as wh:
        wh.upsert_posts_frame(w.posts)
        wh.upsert_authors(Author.model_validate(r) for r in w.authors.to_dict("records"))
    settings = load_settings(world / "yuqing.toml", warehouse={"path": str(db)})
    stages.import_crm(settings, world / "customers.csv", world / "orders.csv")
    camp = settings.campaigns[0]
    crm = campaign_crm(db, camp)
    res = crm_lift(
        crm.customers,
        crm.orders,
        crm.participants["customer_id"],
        LiftWindows.for_campaign(camp.start, camp.end, camp.post_days),
    )
    truth = json.loads((world / "truth.json").read_text(encoding="utf-8"))["campaign"]["crm_lift"]
    spend, orders = truth["planted_spend_per_customer"], truth["planted_orders_per_customer"]
    return {
        "seed": seed,
        "lift": lift,
        "participants": res.participants,
        "exposed": len(truth["exposed_customers"]),
        "controls": res.controls,
        "unmatched": res.unmatched,
        "spend": (round(res.spend.lift), round(res.spend.lo), round(res.spend.hi), spend),
        "orders": (round(res.orders.lift, 2), round(res.orders.lo, 2), round(res.orders.hi, 2), orders),
        "spend_covered": res.spend.lo <= spend <= res.spend.hi,
        "orders_covered": res.orders.lo <= orders <= res.orders.hi,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23, 31, 47])
    ap.add_argument("--lift", type=float, default=0.6, help="planted extra orders per exposed customer")
    args = ap.parse_args()
    os.environ["YUQING_CRM__HMAC_KEY"] = KEY
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for lift in (args.lift, 0.0):
                row = evaluate(args.posts, seed, lift, Path(tmp))
                rows.append(row)
                print(
                    f"seed {seed} lift {lift}: {row['participants']} participants ({row['exposed']} exposed), "
                    f"{row['controls']} controls, {row['unmatched']} unmatched; "
                    f"spend {row['spend'][0]:+} [{row['spend'][1]:+}, {row['spend'][2]:+}] planted {row['spend'][3]}; "
                    f"orders {row['orders'][0]:+} [{row['orders'][1]:+}, {row['orders'][2]:+}] "
                    f"planted {row['orders'][3]}"
                )
    for lift in (args.lift, 0.0):
        mine = [r for r in rows if r["lift"] == lift]
        print(
            f"planted {lift}: spend interval covered {sum(bool(r['spend_covered']) for r in mine)}/{len(mine)}, "
            f"orders {sum(bool(r['orders_covered']) for r in mine)}/{len(mine)}"
        )
    print(f"{len(rows)} worlds of {args.posts} posts in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
