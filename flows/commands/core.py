"""``yuqing init``: write a commented settings file."""

from __future__ import annotations

from pathlib import Path

import typer

from store.settings import DEFAULT_CONFIG_FILE, example_toml


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
