"""The demo: a simulated world, served by the fake platform on 127.0.0.1, run through the whole monitoring flow.

It leaves a directory a newcomer can keep working in: ``yuqing.toml`` (the world's brand, competitors and
campaign; the warehouse and reports it really used; ``crm.hmac_key_file`` naming ``crm.key``, created 0600),
the warehouse, the reports, and the next commands to try (:attr:`DemoSummary.next_commands`).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

__all__ = ["DemoSummary", "next_commands", "run_demo", "write_demo_config"]

KEY_FILE = "crm.key"
CONFIG_FILE = "yuqing.toml"


@dataclass
class DemoSummary:
    outputs: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    result: Any = None
    next_commands: list[str] = field(default_factory=list)


def write_demo_config(out: Path, world_dir: Path) -> Path:
    """``out/yuqing.toml``: the world's settings with the warehouse, reports and CRM key file of ``out``
    (paths relative to the file, so the directory can move), and ``out/crm.key``, created 0600."""
    key_file = out / KEY_FILE
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    world_config = world_dir / CONFIG_FILE
    world_text = world_config.read_text(encoding="utf-8")
    world = "\n".join(
        line for line in world_text.splitlines() if not line.startswith("# Settings for a simulated world")
    )
    config = out / CONFIG_FILE
    config.write_text(
        "# Settings of the `yuqing demo` world; use it with --config "
        f"{CONFIG_FILE} (paths are relative to this file).\n"
        "# The fake platform the demo collected from is gone: `yuqing run --no-collect` re-analyses.\n"
        f"{world}\n"
        "[flows]\n"
        'out_dir = "reports"\n\n'
        "[crm]\n"
        f'hmac_key_file = "{KEY_FILE}"   # YUQING_CRM__HMAC_KEY, when set, wins\n',
        encoding="utf-8",
    )
    _point_world_config_at(world_config, world_text, out)
    return config


def _point_world_config_at(world_config: Path, text: str, out: Path) -> None:
    """The world's own ``yuqing.toml`` names the warehouse, reports and key of the demo in ``out`` (it named a
    ``world/yuqing.duckdb`` nothing ever wrote), so ``-c demo-out/world/yuqing.toml`` reads what the demo made."""
    up = Path(os.path.relpath(out, world_config.parent)).as_posix()
    lines = text.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("path = ")]
    if len(at) != 1:  # a world file not written by generate_world: leave it as it is
        return
    lines[at[0]] = (
        f"path = \"{up}/yuqing.duckdb\"   # the demo's warehouse ({CONFIG_FILE} beside it is the demo's config)"
    )
    lines += ["", "[flows]", f'out_dir = "{up}/reports"', "", "[crm]", f'hmac_key_file = "{up}/{KEY_FILE}"', ""]
    world_config.write_text("\n".join(lines), encoding="utf-8")


def next_commands(config: Path, brand: str, *, cwd: Path | None = None) -> list[str]:
    """Three commands to run after the demo, as a shell would take them from ``cwd``."""
    here = (cwd or Path.cwd()).resolve()
    try:
        shown = str(config.resolve().relative_to(here))
    except ValueError:
        shown = str(config.resolve())
    cfg = shlex.quote(shown)
    reports = shlex.quote(str(Path(shown).parent / "reports"))
    query = shlex.quote(f"{brand} AND (投诉 OR 电池)")
    return [
        f"yuqing report brand --config {cfg} --out {reports} --no-pdf",
        f"yuqing search {query} --config {cfg} --limit 5",
        f"yuqing alerts --config {cfg}",
    ]


def run_demo(
    out: Path,
    *,
    posts: int = 4000,
    seed: int = 7,
    faults: bool = True,
    console: Console | None = None,
) -> DemoSummary:
    """Simulate → serve → collect (collectors + spiders) → CRM import → analyse → graph → alerts → reports."""
    from yuqing.collectors.fake.server import FaultConfig, serve_world
    from yuqing.collectors.fake.world import generate_world
    from yuqing.flows.commands.flow import StageProgress
    from yuqing.flows.monitor import monitor, stage_progress
    from yuqing.flows.stages import Stopwatch
    from yuqing.store.settings import load_settings
    from yuqing.store.warehouse import Warehouse

    shown = out
    out = out.resolve()
    console = console or Console()
    summary = DemoSummary()
    clock = Stopwatch(summary.timings)
    world_dir = out / "world"
    with clock("simulate"), console.status("simulating a world…"):
        generate_world(world_dir, posts=posts, seed=seed)
    console.print(f"[green]✓[/] simulated world in {world_dir}")
    config = write_demo_config(out, world_dir)
    settings = load_settings(config)

    # The fake platform's OAuth tokens travel through the environment, like real secrets.
    os.environ.setdefault("YUQING_PLATFORMS__WEIBO_TOKEN", "demo-token")
    os.environ.setdefault("YUQING_PLATFORMS__WEIBO_REFRESH_TOKEN", "demo-refresh")
    fault_config = FaultConfig.demo(seed=seed) if faults else FaultConfig()
    with serve_world(world_dir, faults=fault_config) as base_url:
        console.print(f"[green]✓[/] fake platform serving on {base_url}")
        overrides: dict[str, Any] = {
            "platforms": {
                "weibo_api_base": f"{base_url}/2",
                "weibo_mobile_base": base_url,
                "forum_base": base_url,
                "backoff_base": 0.05,
                "max_retry_after": 2.0,
                "requests_per_hour": 1_000_000,
            },
        }
        with clock("flow"), stage_progress(StageProgress(console)):
            summary.result = monitor(
                str(config),
                overrides,
                crm_files=(
                    str(world_dir / "customers.csv"),
                    str(world_dir / "orders.csv"),
                    str(world_dir / "tickets.csv"),
                ),
            )
    with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
        summary.counts = wh.table_counts()
    summary.outputs["settings"] = config
    summary.outputs["CRM key (0600)"] = settings.crm.hmac_key_file or out / KEY_FILE
    summary.outputs["warehouse"] = settings.warehouse.path
    summary.outputs["world + planted truth"] = world_dir / "truth.json"
    for report in summary.result.reports:
        summary.outputs[Path(report).name] = Path(report)
    alerts_file = settings.flows.out_dir / "alerts.json"
    alerts_file.parent.mkdir(parents=True, exist_ok=True)
    alerts_file.write_text(json.dumps(summary.result.alerts, ensure_ascii=False, indent=2), encoding="utf-8")
    summary.outputs["alerts"] = alerts_file
    summary.next_commands = next_commands(shown / CONFIG_FILE, settings.brand.name)
    return summary
