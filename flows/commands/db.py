"""``yuqing db status`` and ``yuqing db upgrade``: the warehouse's schema version and its migrations."""

from __future__ import annotations

from pathlib import Path

import typer

db_app = typer.Typer(help="The warehouse: schema version and migrations.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


def _path(config: Path | None, warehouse: Path | None) -> str | Path:
    """The warehouse's location: a PostgreSQL URL (``warehouse.url``), else the DuckDB file, which must exist."""
    from yuqing.store.settings import load_settings

    settings = load_settings(config, **({"warehouse": {"path": str(warehouse)}} if warehouse else {}))
    if settings.warehouse.url and warehouse is None:
        return settings.warehouse.url
    path = settings.warehouse.path
    if not path.exists():
        typer.secho(f"error: warehouse {path} does not exist", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    return path


def _shown(location: str | Path) -> str:
    from yuqing.store.postgres import shown_url

    return shown_url(location) if isinstance(location, str) else str(location)


def _describe(versions: range) -> list[str]:
    from yuqing.store.warehouse import MIGRATION_NAMES

    return [f"  {v}: {MIGRATION_NAMES[v - 1]}" for v in versions]


@db_app.command()
def status(
    config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
    warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
) -> None:
    """The warehouse's schema version and the migrations this yuqing would apply (exit 2 when some are due)."""
    from yuqing.store.warehouse import SCHEMA_VERSION, Warehouse

    path = _path(config, warehouse)
    version = Warehouse.stored_version(path)
    typer.echo(f"{_shown(path)}: schema version {version} (this yuqing: {SCHEMA_VERSION})")
    if version > SCHEMA_VERSION:
        typer.secho("made by a newer yuqing: upgrade yuqing to read it", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(2)
    if version < SCHEMA_VERSION:
        typer.echo(
            "\n".join(["pending migrations (yuqing db upgrade):", *_describe(range(version + 1, SCHEMA_VERSION + 1))])
        )
        raise typer.Exit(2)
    typer.echo("up to date")


@db_app.command()
def upgrade(
    config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
    warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
) -> None:
    """Apply the pending migrations in place, each in its own transaction (an interrupted upgrade resumes)."""
    from yuqing.store.warehouse import Warehouse

    path = _path(config, warehouse)
    before = Warehouse.stored_version(path)
    with Warehouse.open(path) as wh:  # a writer applies what is pending (store.warehouse._MIGRATIONS)
        after = wh.schema_version
    if after == before:
        typer.echo(f"{_shown(path)}: schema version {after}, up to date")
        return
    typer.echo(
        "\n".join([f"{_shown(path)}: schema version {before} -> {after}", *_describe(range(before + 1, after + 1))])
    )
