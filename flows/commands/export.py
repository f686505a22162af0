"""``yuqing export``: posts with their analysis, brand mentions and alerts as Parquet and CSV for BI."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import partial
from pathlib import Path

import typer

from yuqing.flows.commands.search import ConfigOpt, FromOpt, ToOpt, WarehouseOpt, day_bounds, settings_for


class ExportFormat(StrEnum):
    BOTH = "both"
    PARQUET = "parquet"
    CSV = "csv"


class ExportTable(StrEnum):
    POSTS = "posts"
    MENTIONS = "mentions"
    ALERTS = "alerts"


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        out: Path = typer.Option(Path("export"), "--out", help="Directory the files are written to."),
        fmt: ExportFormat = typer.Option(ExportFormat.BOTH, "--format", help="parquet, csv or both."),
        tables: list[ExportTable] = typer.Option(
            list(ExportTable), "--table", help="Table(s) to export (repeat the option); default all three."
        ),
        start: dt.datetime | None = FromOpt,
        end: dt.datetime | None = ToOpt,
        batch_rows: int = typer.Option(50_000, "--batch-rows", min=1, help="Rows per streamed chunk."),
        config: Path | None = ConfigOpt,
        warehouse: str | None = WarehouseOpt,
    ) -> None:
        """Write posts (with sentiment, complaint, emotion, keywords, brands, topic), mentions and alerts.

        One file per table and format: posts.parquet, posts.csv, mentions.*, alerts.*.  Rows stream in
        chunks (memory does not grow with the warehouse); files appear whole or not at all.  CSV is
        UTF-8 with BOM for Excel/WPS, and cells starting with = + - @ are prefixed with ' (no formulas).
        """
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from yuqing.store.export import export_reader, write_batches
        from yuqing.store.warehouse import Warehouse

        settings = settings_for(config, warehouse)
        since, until = day_bounds(start, end)
        formats = ["parquet", "csv"] if fmt is ExportFormat.BOTH else [fmt.value]
        written: list[str] = []
        with (
            Warehouse.open(settings.warehouse.location, read_only=True) as wh,
            Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True) as bar,
        ):
            for table in dict.fromkeys(tables):
                for f in formats:
                    reader = export_reader(wh, table.value, since=since, until=until, batch_rows=batch_rows)
                    if reader is None:
                        written.append(f"{table.value}: nothing to export yet (run `yuqing run` to analyse)")
                        break
                    task = bar.add_task(f"{table.value}.{f}", total=None)
                    path = out / f"{table.value}.{f}"
                    n = write_batches(
                        reader, path, "csv" if f == "csv" else "parquet", on_batch=partial(bar.advance, task)
                    )
                    written.append(f"wrote {path} ({n} rows)")
        for line in written:
            typer.echo(line)
