"""``yuqing demo``: the whole pipeline on a simulated world, through the fake platform, in a fresh directory."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        out: Path = typer.Option(
            Path("demo-out"), "--out", help="Fresh directory for the world, warehouse and reports."
        ),
        posts: int = typer.Option(2000, "--posts", min=200, help="Top-level posts in the simulated world."),
        seed: int = typer.Option(7, "--seed", help="Random seed of the simulated world."),
        faults: bool = typer.Option(True, "--faults/--no-faults", help="Inject 429/500/slow/truncated responses."),
        force: bool = typer.Option(False, "--force", help="Empty --out first if it is not empty."),
    ) -> None:
        """Simulate a world, collect it through a local fake platform, analyse it, and write reports and alerts."""
        from yuqing.flows.commands.flow import print_result
        from yuqing.flows.demo import run_demo

        if out.exists() and any(out.iterdir()):
            if not force:
                typer.secho(f"{out} is not empty; pass --force to replace it", fg=typer.colors.YELLOW, err=True)
                raise typer.Exit(1)
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        console = Console()
        started = time.perf_counter()
        summary = run_demo(out, posts=posts, seed=seed, faults=faults, console=console)
        print_result(summary.result, console)
        table = Table(title=f"yuqing demo — done in {time.perf_counter() - started:.0f} s")
        table.add_column("output")
        table.add_column("where")
        for name, where in summary.outputs.items():
            table.add_row(name, str(where))
        console.print(table)
        if summary.counts:
            counts = Table(title="warehouse")
            counts.add_column("table")
            counts.add_column("rows", justify="right")
            for name, n in summary.counts.items():
                counts.add_row(name, f"{n:,}")
            console.print(counts)
        console.print(f"reports are in {summary.outputs['alerts'].parent}")
        console.print("next, try:")
        for command in summary.next_commands:
            console.print(f"  {command}", highlight=False, markup=False, soft_wrap=True)
        if summary.result.failed:
            raise typer.Exit(1)
