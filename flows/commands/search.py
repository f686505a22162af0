"""``yuqing search QUERY``: boolean search over the warehouse (syntax in docs/queries.md)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from yuqing.store.errors import ConfigError
from yuqing.store.settings import Brand, Settings, load_settings

if TYPE_CHECKING:
    import pandas as pd

    from yuqing.store.schema import Platform

ConfigOpt = typer.Option(None, "--config", "-c", help="Settings file (default ./yuqing.toml).")
WarehouseOpt = typer.Option(
    None, "--warehouse", help="Override the warehouse: a DuckDB file, or a postgresql:// URL (no password in it)."
)
FromOpt = typer.Option(None, "--from", help="First day, China time (default: all).")
ToOpt = typer.Option(None, "--to", help="Last day, inclusive, China time (default: all).")
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def settings_for(config: Path | None, warehouse: str | None) -> Settings:
    """The settings, with ``--warehouse`` (a DuckDB file or a PostgreSQL URL) replacing the configured one —
    from the file or the environment: the flag is the most specific."""
    from yuqing.store.postgres import is_url

    settings = load_settings(config)
    if not warehouse:
        return settings
    wh = settings.warehouse
    if is_url(warehouse):
        if re.match(r"^[a-z]+://[^/@]*:[^/@]*@", warehouse):
            raise ConfigError(
                "--warehouse: the URL holds a password, which any user sees in the process list: "
                "use PGPASSWORD or ~/.pgpass (or YUQING_WAREHOUSE__URL)"
            )
        wh.url, wh.backend = warehouse.strip(), "postgresql"
    else:
        wh.url, wh.backend, wh.path = "", "duckdb", Path(warehouse).resolve()
    return settings


def day_bounds(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``--from``/``--to`` days (China time, ``--to`` inclusive) as a half-open ``[since, until)``."""
    from yuqing.store.schema import CHINA_TZ

    since = dt.datetime.combine(start.date(), dt.time(), tzinfo=CHINA_TZ) if start else None
    until = dt.datetime.combine(end.date() + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ) if end else None
    if since is not None and until is not None and until <= since:
        raise ConfigError(f"--to {end:%Y-%m-%d} is before --from {start:%Y-%m-%d}")
    return since, until


def output_format(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{path}: --output must end in .csv or .parquet")
    return fmt


def platform_names() -> dict[str, Platform]:
    """What ``platform:`` accepts besides the values: the registry's aliases and titles (wb, xhs, 微博, 小红书…)."""
    from yuqing.collectors.platforms import PLATFORMS, names

    return {**names(), **{e.title: e.platform for e in PLATFORMS}}


def find_brand(settings: Settings, name: str) -> Brand:
    for b in settings.all_brands:
        if b.name == name:
            return b
    known = ", ".join(b.name for b in settings.all_brands)
    raise ConfigError(f"no brand named {name!r} in the settings (known: {known})")


def register(app: typer.Typer) -> None:
    @app.command()
    def search(
        query: str = typer.Argument(
            ..., help="Boolean query, e.g. '星阅 AND (发热 OR 烫) NOT 官方' (docs/queries.md)."
        ),
        start: dt.datetime | None = FromOpt,
        end: dt.datetime | None = ToOpt,
        brand: str | None = typer.Option(None, "--brand", help="Only posts that also match this brand's query."),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write every match to a .csv or .parquet."),
        limit: int = typer.Option(20, "--limit", min=0, help="Matches shown on screen (newest first)."),
        config: Path | None = ConfigOpt,
        warehouse: str | None = WarehouseOpt,
    ) -> None:
        """Search the warehouse's posts with a boolean query (AND OR NOT, "phrase", NEAR/n, #topic#, fields)."""
        import time

        from yuqing.nlp.query import Query
        from yuqing.store.export import write_batches
        from yuqing.store.query_sql import search_page, search_reader
        from yuqing.store.warehouse import Warehouse

        q = Query.parse(query, platforms=platform_names())
        fmt = output_format(output) if output is not None else None
        settings = settings_for(config, warehouse)
        within = find_brand(settings, brand).mention_query if brand else None
        since, until = day_bounds(start, end)
        t0 = time.perf_counter()
        with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
            if output is not None and fmt is not None:
                reader = search_reader(wh, q, since=since, until=until, within=within)
                n = write_batches(reader, output, "csv" if fmt == "csv" else "parquet")
                typer.echo(f"{n} posts match {q} ({time.perf_counter() - t0:.2f} s); wrote {output}")
                return
            n, shown = search_page(wh, q, since=since, until=until, within=within, limit=limit)
        typer.echo(f"{n} posts match {q} ({time.perf_counter() - t0:.2f} s)")
        if len(shown):
            _print_table(shown, n)


def _print_table(frame: pd.DataFrame, total: int) -> None:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from yuqing.store.schema import CHINA_TZ

    table = Table(show_lines=False, pad_edge=False)
    for col in ("time", "platform", "author", "text"):
        table.add_column(col, overflow="fold" if col == "text" else "ellipsis", no_wrap=col != "text")
    for r in frame.itertuples():
        when = pd.Timestamp(r.created_at).tz_convert(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
        text = " ".join(str(r.text).split())
        table.add_row(when, str(r.platform), str(r.author_name or r.author_id or ""), text[:120])
    console = Console()
    console.print(table)
    if total > len(frame):
        console.print(f"… {total - len(frame)} more: --limit N shows more, --output FILE.csv|.parquet writes all")
