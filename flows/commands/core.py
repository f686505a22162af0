"""``yuqing init`` (a commented settings file) and ``yuqing retention``."""

from __future__ import annotations

from pathlib import Path

import typer

from yuqing.store.settings import DEFAULT_CONFIG_FILE, example_toml


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        path: Path = typer.Argument(Path(DEFAULT_CONFIG_FILE), help="Where to write the settings file."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write a commented example yuqing.toml (secrets stay in the environment)."""
        if path.exists() and not force:
            typer.secho(f"{path} exists; use --force to overwrite", fg=typer.colors.YELLOW, err=True)
            raise typer.Exit(1)
        path.write_text(example_toml(), encoding="utf-8")
        typer.echo(f"wrote {path}")

    @app.command()
    def retention(
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Apply the retention settings: empty old raw payloads, forget long-inactive customers (every pass runs it)."""
        from yuqing.flows.stages import retention as apply_retention
        from yuqing.store.settings import load_settings

        settings = load_settings(config, **({"warehouse": {"path": str(warehouse)}} if warehouse else {}))
        r = settings.retention
        done = apply_retention(settings, command="yuqing retention")
        typer.echo(
            f"raw payloads emptied: {done['posts_raw']:,} posts, {done['authors_raw']:,} authors "
            f"(older than {r.raw_payload_days or '∞'} days); customers forgotten: {done['customers']:,} "
            f"(inactive for {r.customer_days or '∞'} days)"
        )
