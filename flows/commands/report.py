"""``yuqing report brand|campaign`` and ``yuqing alerts`` (read the warehouse; no collection)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from yuqing.store.settings import Settings, load_settings

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console


class AlertStatus(StrEnum):
    new = "new"
    ongoing = "ongoing"
    resolved = "resolved"


class DeliveryState(StrEnum):
    pending = "pending"
    delivered = "delivered"
    expired = "expired"
    suppressed = "suppressed"


report_app = typer.Typer(help="Brand reputation and campaign reports.", no_args_is_help=True)
ConfigOpt = typer.Option(None, "--config", "-c", help="Settings file (default ./yuqing.toml).")


def _settings(config: Path | None, warehouse: Path | None) -> Settings:

    return load_settings(config, **({"warehouse": {"path": str(warehouse)}} if warehouse else {}))


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")

    @report_app.command("brand")
    def brand(
        start: dt.datetime | None = typer.Option(None, "--from", help="First day (default: first day with data)."),
        end: dt.datetime | None = typer.Option(None, "--to", help="Last day (default: last day with data)."),
        out: Path = typer.Option(Path("reports"), "--out", help="Output directory."),
        pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also print a PDF with headless Chromium."),
        config: Path | None = ConfigOpt,
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Brand reputation report: HTML (offline), PDF, JSON and CSV; KPIs against the previous period."""
        from yuqing.flows.stages import data_window
        from yuqing.reports.brand import brand_report, no_mentions_message, write_brand_report
        from yuqing.reports.charts import warm_up

        settings = _settings(config, warehouse)
        warm_up()
        lo, hi = data_window(settings)
        s, e = (start.date() if start else lo), (end.date() if end else hi)
        if e < s:
            raise typer.BadParameter(f"--to {e} is before --from {s}", param_hint="--to")
        figures = brand_report(
            settings.warehouse.location, settings.brand.name, [c.name for c in settings.competitors], s, e
        )
        for path in write_brand_report(figures, out, pdf=pdf):
            typer.echo(f"wrote {path}")
        warning = no_mentions_message(figures)
        if warning:
            typer.echo(f"warning: {warning}", err=True)

    @report_app.command("campaign")
    def campaign(
        name: str = typer.Argument(..., help="Campaign name from the settings."),
        out: Path = typer.Option(Path("reports"), "--out", help="Output directory."),
        pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also print a PDF with headless Chromium."),
        config: Path | None = ConfigOpt,
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Campaign effect evaluation: before/during/after and difference-in-differences against competitors, and the
        lift in orders and spend of the customers who took part against matched controls (docs/crm.md)."""
        from yuqing.reports.campaign import campaign_crm, campaign_figures, write_campaign_report
        from yuqing.reports.charts import warm_up
        from yuqing.reports.data import campaign_frames
        from yuqing.store.errors import ConfigError

        settings = _settings(config, warehouse)
        warm_up()
        try:
            camp = settings.campaign(name)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from exc
        figures = campaign_figures(
            campaign_frames(settings.warehouse.location, camp),
            camp,
            settings.brand.name,
            [c.name for c in settings.competitors],
            crm=campaign_crm(settings.warehouse.location, camp),
        )
        for path in write_campaign_report(figures, out, pdf=pdf):
            typer.echo(f"wrote {path}")
        d, pt = figures["did_volume"], figures["event_study"]["pretrend"]
        typer.echo(
            f"volume lift vs competitors (DiD): {d['lift']:+.1%} (95% CI {d['ci95'][0]:+.1%} .. {d['ci95'][1]:+.1%})"
        )
        if pt["p_value"] is not None:
            verdict = "parallel" if pt["parallel"] else "NOT parallel: read the DiD with care"
            typer.echo(f"pre-trend test: slope {pt['slope_per_day']:+.2%}/day, p = {pt['p_value']:.3f} ({verdict})")
        typer.echo(f"reach (followers of unique authors) during the campaign: {figures['unique_reach']['during']:,}")
        _echo_crm_lift(figures.get("crm_lift"))

    @app.command()
    def alerts(
        status: AlertStatus | None = typer.Option(None, "--status", help="Only alerts in this state."),
        delivery: DeliveryState | None = typer.Option(None, "--delivery", help="Only deliveries in this state."),
        retry: bool = typer.Option(False, "--retry", help="Send every pending delivery now (ignores the backoff)."),
        config: Path | None = ConfigOpt,
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """List complaint alerts and their delivery state per channel; --retry sends what is pending."""

        from rich.console import Console
        from rich.table import Table

        from yuqing.reports.delivery import deliver_pending
        from yuqing.reports.warning import AlertRules, warmup_message
        from yuqing.store.warehouse import Warehouse

        settings = _settings(config, warehouse)
        if retry:
            with Warehouse.open(settings.warehouse.location) as wh:
                report = deliver_pending(wh, settings.alerts, force=True)
            for line in report.lines or ["nothing pending"]:
                typer.echo(line)
            report.raise_for_failures()
            return
        with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
            frame = wh.alerts()
            span = wh.post_span()
            deliveries = wh.deliveries([delivery.value] if delivery else [])
        if span is not None:
            note = warmup_message(span[0], span[1], AlertRules.from_settings(settings.alerts))
            if note:
                typer.echo(note)
        console = Console()
        if frame.empty:
            typer.echo("no alerts")
        else:
            if status:
                frame = frame[frame["status"] == status.value]
            table = Table(title=f"{len(frame)} alerts")
            cols = ("alert_id", "status", "brand", "category", "started_at", "complaints", "peak_z", "severity")
            for col in (*cols, "customers", "customer value ¥"):
                table.add_column(col)
            for r in frame.sort_values("started_at").itertuples():
                others = [c for c in (r.categories or {}) if c != r.category]
                hit = r.affected_customers or []
                table.add_row(
                    r.alert_id,
                    r.status,
                    r.brand,
                    r.category + (f" (+{', '.join(others)})" if others else ""),
                    str(AlertRules().local(r.started_at))[:16],
                    str(r.complaints),
                    f"{float(r.peak_z):.1f}",
                    f"{float(r.severity):.1f}",
                    str(len(hit)) + (f" ({', '.join(hit[:3])}{', …' if len(hit) > 3 else ''})" if hit else ""),
                    f"{float(getattr(r, 'affected_clv', 0) or 0):,.0f}",
                )
            console.print(table)
        if status:
            deliveries = deliveries[deliveries["alert_id"].isin(set(frame.get("alert_id", [])))]
        _print_deliveries(console, deliveries)


def _echo_crm_lift(lift: dict[str, Any] | None) -> None:
    """The CRM lift in a few lines (the report's JSON holds it under ``crm_lift``)."""
    if lift is None:
        typer.echo("CRM lift: no customers imported (yuqing crm import)")
        return
    typer.echo(
        f"CRM lift: {lift['participants']} participating customers ({lift['accounts']} accounts took part), "
        f"{lift['controls']} matched controls of {lift['control_pool']}, {lift['unmatched']} unmatched dropped"
    )
    for what, unit in (("spend", "yuan"), ("orders", "orders")):
        e, g = lift[what], {x["group"]: x for x in lift["groups"]}
        p, c = g["participants"], g["matched_controls"]
        if e["lift"] is None or e["ci95"][0] is None:
            typer.echo(f"  {what} per customer: not enough customers for an estimate")
            continue
        typer.echo(
            f"  {what} per customer: participants {p[what + '_pre']:,.2f} -> {p[what + '_post']:,.2f}, "
            f"controls {c[what + '_pre']:,.2f} -> {c[what + '_post']:,.2f}; "
            f"DiD lift {e['lift']:+,.2f} {unit} (95% CI {e['ci95'][0]:+,.2f} .. {e['ci95'][1]:+,.2f})"
        )
    worst = max((abs(b["smd_after"]) for b in lift["balance"] if b["smd_after"] is not None), default=None)
    if worst is not None:
        typer.echo(
            f"  balance: max |SMD| after matching {worst:.2f} (before: "
            f"{max(abs(b['smd_before']) for b in lift['balance'] if b['smd_before'] is not None):.2f})"
        )


def _print_deliveries(console: Console, deliveries: pd.DataFrame) -> None:
    """Delivery state per channel: a summary line per channel, then every delivery."""
    import pandas as pd
    from rich.table import Table

    if deliveries.empty:
        typer.echo("no deliveries")
        return
    for label, g in deliveries.groupby("label", sort=True):
        counts = ", ".join(f"{n} {state}" for state, n in g["state"].value_counts().sort_index().items())
        typer.echo(f"{label}: {counts}")
    table = Table(title="deliveries")
    for col in ("channel", "alert_id", "event", "state", "attempts", "last error", "next try / delivered (UTC)"):
        table.add_column(col)
    for r in deliveries.itertuples():
        when = r.delivered_at if r.state == "delivered" else (r.next_attempt_at if r.state == "pending" else None)
        table.add_row(
            r.label,
            r.alert_id,
            r.event,
            r.state,
            str(r.attempts),
            str(r.last_error or ""),
            "" if when is None or pd.isna(when) else f"{pd.Timestamp(when).tz_convert('UTC'):%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)
