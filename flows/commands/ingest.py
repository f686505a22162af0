"""``yuqing import``: load crawler exports and plain CSV/JSONL into the warehouse."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Export file (CSV, JSON or JSONL)."),
        fmt: str = typer.Option(..., "--format", help="mediacrawler | weibo-crawler | csv | jsonl"),
        platform: str = typer.Option("weibo", "--platform", help="Platform of the rows (weibo, tieba, douyin, ...)."),
        map_: list[str] = typer.Option([], "--map", help="FIELD=COLUMN onto Post fields, e.g. text=content."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Import a file; bad rows are reported with file, line and field, the rest loads (re-import is a no-op)."""
        from collectors.importers import import_file
        from flows.commands.graph import _mapping
        from store.schema import Platform
        from store.settings import load_settings

        settings = load_settings(config, **({"warehouse": {"path": str(warehouse)}} if warehouse else {}))
        try:
            plat = Platform(platform)
        except ValueError as exc:
            raise typer.BadParameter(f"unknown platform {platform!r}") from exc
        result = import_file(path, fmt, settings.warehouse.path, platform=plat, mapping=_mapping(map_))
        for err in result.errors[:50]:
            typer.secho(f"rejected {err}", fg=typer.colors.YELLOW, err=True)
        typer.echo(
            f"{result.loaded:,} of {result.rows:,} rows loaded, {len(result.errors):,} rejected → "
            f"{settings.warehouse.path}"
        )
