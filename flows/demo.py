"""The demo: a simulated world, served by the fake platform on 127.0.0.1, run through the whole monitoring flow."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

__all__ = ["DemoSummary", "run_demo"]


@dataclass
class DemoSummary:
    outputs: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    result: Any = None


def run_demo(
    out: Path,
    *,
    posts: int = 4000,
    seed: int = 7,
    faults: bool = True,
    hmac_key: str,
    console: Console | None = None,
) -> DemoSummary:
    """Simulate → serve → collect (collectors + spiders) → CRM import → analyse → graph → alerts → reports."""
    from collectors.fake.server import FaultConfig, serve_world
    from collectors.fake.world import generate_world
    from flows.monitor import monitor
    from flows.stages import Stopwatch
    from store.warehouse import Warehouse

    out = out.resolve()
    console = console or Console()
    summary = DemoSummary()
    clock = Stopwatch(summary.timings)
    world_dir = out / "world"
    with clock("simulate"), console.status("simulating a world…"):
        generate_world(world_dir, posts=posts, seed=seed)
    console.print(f"[green]✓[/] simulated world in {world_dir}")

    # Secrets only ever travel through the environment: the CRM hashing key and the fake
    # platform's OAuth tokens.
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", hmac_key)
    os.environ.setdefault("YUQING_PLATFORMS__WEIBO_TOKEN", "demo-token")
    os.environ.setdefault("YUQING_PLATFORMS__WEIBO_REFRESH_TOKEN", "demo-refresh")
    fault_config = FaultConfig.demo(seed=seed) if faults else FaultConfig()
    with serve_world(world_dir, faults=fault_config) as base_url:
        console.print(f"[green]✓[/] fake platform serving on {base_url}")
        overrides: dict[str, Any] = {
            "warehouse": {"path": str(out / "yuqing.duckdb")},
            "flows": {"out_dir": str(out / "reports")},
            "platforms": {
                "weibo_api_base": f"{base_url}/2",
                "weibo_mobile_base": base_url,
                "forum_base": base_url,
                "backoff_base": 0.05,
                "max_retry_after": 2.0,
                "requests_per_hour": 1_000_000,
            },
        }
        config = str(world_dir / "yuqing.toml")
        with clock("flow"), console.status("running the monitoring flow (collect → analyse → report)…"):
            summary.result = monitor(
                config,
                overrides,
                crm_files=(str(world_dir / "customers.csv"), str(world_dir / "orders.csv")),
            )
    with Warehouse.open(out / "yuqing.duckdb", read_only=True) as wh:
        summary.counts = wh.table_counts()
    summary.outputs["warehouse"] = out / "yuqing.duckdb"
    summary.outputs["world + planted truth"] = world_dir / "truth.json"
    for report in summary.result.reports:
        summary.outputs[Path(report).name] = Path(report)
    alerts_file = out / "reports" / "alerts.json"
    alerts_file.parent.mkdir(parents=True, exist_ok=True)
    alerts_file.write_text(json.dumps(summary.result.alerts, ensure_ascii=False, indent=2), encoding="utf-8")
    summary.outputs["alerts"] = alerts_file
    return summary
