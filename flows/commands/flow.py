"""``yuqing run``, ``analyze``, ``backfill`` and ``serve``: the Prefect flows from the command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

ConfigOpt = typer.Option(None, "--config", "-c", help="Settings file (default ./yuqing.toml if present).")


def _overrides(warehouse: Path | None, out: Path | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if warehouse is not None:
        overrides["warehouse"] = {"path": str(warehouse)}
    if out is not None:
        overrides["flows"] = {"out_dir": str(out)}
    return overrides


_STATE_STYLE = {"ok": "green", "failed": "red", "skipped": "yellow"}


def _print_result(result: Any) -> None:
    console = Console()
    table = Table(title="yuqing monitor pass")
    table.add_column("stage")
    table.add_column("state")
    table.add_column("seconds", justify="right")
    table.add_column("note")
    for stage, outcome in result.stages.items():
        style = _STATE_STYLE.get(outcome.state, "")
        table.add_row(stage, f"[{style}]{outcome.state}[/]", f"{outcome.seconds:.1f}", outcome.reason)
    console.print(table)
    console.print(
        f"analysed {result.analysed:,} posts; {result.topics} topics; {result.leaders} leaders; "
        f"{result.communities} communities"
    )
    for path in result.reports:
        console.print(f"report: {path}")
    for alert in result.alerts:
        console.print(f"alert: {alert}")


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        config: Path | None = ConfigOpt,
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
        out: Path | None = typer.Option(None, "--out", help="Where reports are written."),
        no_collect: bool = typer.Option(False, "--no-collect", help="Skip collection; analyse what is stored."),
        since: dt.datetime | None = typer.Option(None, "--since", help="Collect posts from this time."),
        until: dt.datetime | None = typer.Option(None, "--until", help="Collect posts up to this time."),
    ) -> None:
        """One monitoring pass: collect → store → analyse → graph → alerts → reports (embedded Prefect, no server).

        The pass holds the warehouse from start to end; settings and secrets are checked before it starts;
        a failing stage is reported and the others still run (exit code 1 if any failed).
        """
        from flows.monitor import hold_pass, monitor
        from store.settings import load_settings

        overrides = _overrides(warehouse, out)
        settings = load_settings(config, **overrides)
        warn = lambda message: typer.secho(message, fg=typer.colors.YELLOW, err=True)  # noqa: E731
        with hold_pass(settings, on_wait=warn):
            result = monitor(
                str(config) if config else None,
                overrides,
                collect=not no_collect,
                since=since,
                until=until,
            )
        _print_result(result)
        if result.failed:
            for name in result.failed:
                typer.secho(f"error: stage {name} failed: {result.stages[name].reason}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1)

    @app.command()
    def analyze(
        config: Path | None = ConfigOpt,
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
        reanalyse: bool = typer.Option(False, "--all", help="Re-analyse every post, not only new ones."),
    ) -> None:
        """Run the text stage over new posts in the warehouse and store the results."""
        from flows.monitor import analyse, make_task_runner
        from store.settings import load_settings

        settings = load_settings(config, **_overrides(warehouse, None))
        n = analyse.with_options(task_runner=make_task_runner(settings))(settings, reanalyse=reanalyse)
        typer.echo(f"analysed {n:,} posts")

    @app.command()
    def backfill(
        start: dt.datetime = typer.Option(..., "--from", help="First day to collect (inclusive)."),
        end: dt.datetime = typer.Option(..., "--to", help="Last day to collect (inclusive)."),
        config: Path | None = ConfigOpt,
        day_step: int = typer.Option(1, "--step", min=1, help="Days per window."),
    ) -> None:
        """Collect and analyse a past date range, window by window (idempotent)."""
        from flows.monitor import backfill as backfill_flow

        results = backfill_flow(
            str(config) if config else None, None, start=start.date(), end=end.date(), day_step=day_step
        )
        typer.echo(f"{len(results)} windows done")

    @app.command()
    def serve(
        config: Path | None = ConfigOpt,
    ) -> None:
        """Schedule collection (hourly) and the daily report with Prefect's own serve (Ctrl-C stops)."""
        from prefect import serve as prefect_serve

        from flows.monitor import monitor
        from store.settings import load_settings

        settings = load_settings(config)
        cfg = str(Path(config).resolve()) if config else None
        hourly = monitor.to_deployment(
            name="yuqing-hourly",
            cron=settings.flows.collect_cron,
            parameters={"config": cfg},
        )
        daily = monitor.to_deployment(
            name="yuqing-daily-report",
            cron=settings.flows.report_cron,
            parameters={"config": cfg, "collect": False},
        )
        typer.echo(f"serving: collection '{settings.flows.collect_cron}', report '{settings.flows.report_cron}'")
        prefect_serve(hourly, daily)  # type: ignore[arg-type]
