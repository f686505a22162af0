"""``yuqing complaints``: public complaints by linked CRM customers, and which of them have no open ticket."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def complaints(
        no_ticket: bool = typer.Option(
            False, "--no-ticket", help="Only customers with no open ticket (yuqing crm import --tickets)."
        ),
        start: dt.datetime | None = typer.Option(None, "--from", formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD)."),
        end: dt.datetime | None = typer.Option(None, "--to", formats=["%Y-%m-%d"], help="Last day (YYYY-MM-DD)."),
        top: int = typer.Option(50, "--top", min=1, help="Rows shown (all go to --output)."),
        output: Path | None = typer.Option(None, "--output", "-o", help="CSV of every row (Excel-safe cells)."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Social complaints about the monitored brand by linked customers, highest customer value (CLV) first;
        names masked.  --no-ticket keeps those the service desk has no open ticket for: the ones to call."""
        from rich.console import Console
        from rich.table import Table

        from yuqing.flows.commands.io import atomic_output, excel_safe
        from yuqing.graph.customers import complaints_without_ticket, rfm
        from yuqing.reports.data import load_frames
        from yuqing.store.settings import load_settings
        from yuqing.store.warehouse import Warehouse

        settings = load_settings(config, **({"warehouse": {"path": str(warehouse)}} if warehouse else {}))
        frames = load_frames(
            settings.warehouse.location,
            start.date() if start else None,
            end.date() if end else None,
            complaints_only=True,
            text=True,  # the CSV quotes each customer's last complaint
        )
        brand = settings.brand.name
        posts = frames.posts[[brand in b for b in frames.posts["brands"]]]
        with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
            customers = wh.customer_names()
            orders = wh.orders()
            tickets = wh.tickets()
            span = wh.post_span()
        last = None if span is None else span[1]
        if customers.empty:
            typer.secho("no CRM customers: run `yuqing crm import customers.csv orders.csv` first", err=True)
            raise typer.Exit(1)
        if no_ticket and tickets.empty:
            typer.secho("no tickets imported (yuqing crm import --tickets tickets.csv): every complainer is listed",
                        fg=typer.colors.YELLOW, err=True)  # fmt: skip
        info = customers.merge(rfm(orders, now=last), on="customer_id", how="left")
        rows = complaints_without_ticket(posts, frames.links, info, tickets, without_ticket=no_ticket)
        if output is not None:
            with atomic_output(output) as tmp:
                excel_safe(rows).to_csv(tmp, index=False)
        what = "without an open ticket" if no_ticket else "by linked customers"
        table = Table(title=f"{brand}: {len(rows)} complaining customers {what} (by customer value)")
        for col in ("customer", "name", "CLV ¥", "segment", "complaints", "last", "categories", "tickets open/closed"):
            table.add_column(col, justify="right" if col in ("CLV ¥", "complaints") else "left")
        for r in rows.head(top).itertuples(index=False):
            table.add_row(
                str(r.customer_id),
                str(r.name),
                f"{float(r.clv):,.0f}",
                str(r.rfm_segment or ""),
                str(r.complaints),
                f"{r.last_complaint:%Y-%m-%d %H:%M}",
                str(r.categories),
                f"{r.open_tickets}/{r.closed_tickets}",
            )
        Console().print(table)
        if output is not None:
            typer.echo(f"{len(rows):,} rows → {output}")
