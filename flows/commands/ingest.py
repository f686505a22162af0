"""``yuqing import``: load crawler exports and plain CSV/JSONL into the warehouse."""

from __future__ import annotations

from pathlib import Path

import typer

_MAX_SHOWN = 50


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        paths: list[Path] = typer.Argument(
            ...,
            exists=True,
            help="Export files or directories to walk (MediaCrawler's data/, weibo-crawler's weibo/).",
        ),
        fmt: str = typer.Option(
            "auto", "--format", help="auto | mediacrawler | weibo-crawler | weibo-search | csv | jsonl"
        ),
        platform: str | None = typer.Option(
            None, "--platform", help="Platform of the rows when the file does not say (weibo, douyin, ...)."
        ),
        map_: list[str] = typer.Option([], "--map", help="FIELD=COLUMN onto Post fields, e.g. text=content."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Import files: a file that cannot be read to its end loads nothing; files commit in batches of 122,880 rows
        (an interrupted import is completed by importing again); a bad row is rejected with file, line and field and
        the rest loads.  Re-importing changes nothing.  Exit code 1 if a file failed or loaded no row."""
        from yuqing.collectors.importers import FORMATS, FileResult, import_paths
        from yuqing.collectors.platforms import platform_named
        from yuqing.flows.commands.graph import _mapping
        from yuqing.store.errors import InputError
        from yuqing.store.schema import Platform
        from yuqing.store.settings import load_settings

        if fmt not in FORMATS:
            raise typer.BadParameter(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})", param_hint="--format")
        plat: Platform | None = None
        if platform:
            try:
                plat = platform_named(platform)
            except KeyError as exc:
                raise typer.BadParameter(str(exc.args[0]), param_hint="--platform") from exc
        settings = load_settings(config, **({"warehouse": {"path": str(warehouse)}} if warehouse else {}))
        shown = 0

        def report(one: FileResult) -> None:
            nonlocal shown
            for err in one.errors:
                if shown < _MAX_SHOWN:
                    typer.secho(f"rejected {err}", fg=typer.colors.YELLOW, err=True)
                shown += 1
            if one.failed is not None:
                typer.secho(f"error: {one.failed}", fg=typer.colors.RED, err=True)
                return
            platforms = ",".join(sorted(p.value for p in one.platforms))
            typer.echo(
                f"{one.path}: {one.loaded:,} of {one.rows:,} rows loaded ({one.format}, {platforms}; "
                f"{one.inserted:,} new, {one.updated:,} updated, {one.edges:,} edges)"
                + (f", {len(one.errors):,} rejected" if one.errors else "")
            )

        result = import_paths(
            paths, settings.warehouse.location, fmt, platform=plat, mapping=_mapping(map_), on_file=report
        )
        if shown > _MAX_SHOWN:
            typer.secho(f"... and {shown - _MAX_SHOWN:,} more rejected rows", fg=typer.colors.YELLOW, err=True)
        if not result.files:
            raise InputError("no export files (.csv, .json, .jsonl) found", file=", ".join(map(str, paths)))
        failed = result.failed
        typer.echo(
            f"{result.loaded:,} of {result.rows:,} rows loaded from {len(result.files) - len(failed)} of "
            f"{len(result.files)} files, {len(result.errors):,} rejected → {settings.warehouse.shown}"
        )
        if failed:
            raise typer.Exit(1)
