"""``yuqing graph`` (analysts' edge lists) and ``yuqing crm import``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

from yuqing.store.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from yuqing.store.settings import Settings

crm_app = typer.Typer(help="CRM customers and orders.", no_args_is_help=True)


def _mapping(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise typer.BadParameter(f"--map wants FIELD=COLUMN, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _line(mask: pd.Series) -> int:
    """File line of the first row where ``mask`` holds (line 1 is the header)."""
    return int(mask.to_numpy().nonzero()[0][0]) + 2


def _weights(frame: pd.DataFrame, file: str) -> pd.Series | float:
    """Edge weights: a number, finite, not negative (a weight of -1000 must not rank a node)."""
    import numpy as np
    import pandas as pd

    if "weight" not in frame.columns:
        return 1.0
    text = frame["weight"].str.strip()
    weight = pd.to_numeric(text.where(text != "", "1"), errors="coerce")
    for bad, why in (
        (weight.isna(), "is not a number"),
        (~np.isfinite(weight.fillna(0.0)), "is not finite"),
        (weight < 0, "is negative"),
    ):
        if bad.any():
            line = _line(bad)
            raise InputError(f"weight {frame['weight'].iat[line - 2]!r} {why}", file=file, line=line, field="weight")
    return weight.astype(float)


def _settings(config: Path | None, warehouse: Path | None) -> Settings:
    from yuqing.store.settings import load_settings

    return load_settings(config, **({"warehouse": {"path": str(warehouse)}} if warehouse else {}))


def register(app: typer.Typer) -> None:
    app.add_typer(crm_app, name="crm")

    @app.command()
    def graph(
        edges: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with source,target[,weight,kind]."),
        output: Path = typer.Option(..., "--output", "-o", help="CSV: node, community, influence, rank."),
        resolution: float = typer.Option(1.0, "--resolution", help="Community resolution (higher = smaller)."),
        method: Literal["auto", "louvain", "leiden"] = typer.Option("auto", "--method", help="Community algorithm."),
        excel_safe: bool = typer.Option(
            True, "--excel-safe/--no-excel-safe", help="Prefix cells starting with = + - @ with ' (no formulas)."
        ),
    ) -> None:
        """Opinion leaders and communities of an edge list (weights, when given, must be finite and >= 0)."""
        import pandas as pd

        from yuqing.flows.commands.io import atomic_output, open_table, read_csv
        from yuqing.flows.commands.io import excel_safe as guard
        from yuqing.graph.build import aggregate_edges, edge_graph
        from yuqing.graph.communities import community_ids
        from yuqing.graph.leaders import rank_leaders

        table = open_table(edges, required=["source", "target"])
        frame = read_csv(edges, table.encoding, dtype=str, keep_default_na=False)
        inter = pd.DataFrame(
            {
                "source_author_id": frame["source"].str.strip(),
                "target_author_id": frame["target"].str.strip(),
                "kind": frame["kind"] if "kind" in frame.columns else "repost",
                "weight": _weights(frame, str(edges)),
                "post_id": "",
                "created_at": pd.Timestamp("2000-01-01", tz="UTC"),
            }
        )
        for col, name in (("source_author_id", "source"), ("target_author_id", "target")):
            bad = inter[col] == ""
            if bad.any():
                raise InputError("empty node id", file=str(edges), line=_line(bad), field=name)
        # the pipeline's array graph: no Python object per edge, so a million-row edge list fits
        g = edge_graph(aggregate_edges(inter), kind_weight={k: 1.0 for k in inter["kind"].unique()}, key=["author_id"])
        leaders = rank_leaders(g, top=None)
        ids = community_ids(g, resolution=resolution, method=method)
        part = pd.Series(ids, index=g.nodes["author_id"])
        out = pd.DataFrame(
            {
                "node": leaders["author_id"],
                "community": leaders["author_id"].map(part),
                "influence": leaders["score"],
                "rank": leaders["rank"],
            }
        )
        with atomic_output(output) as tmp:
            (guard(out) if excel_safe else out).to_csv(tmp, index=False)
        typer.echo(f"{len(out):,} nodes, {out['community'].nunique():,} communities → {output}")

    @crm_app.command("forget")
    def crm_forget(
        customer_id: str = typer.Argument(..., help="The customer's id in the CRM (客户编号)."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Delete a customer everywhere (record, identifiers, orders, links, derived scores, alert mentions) and
        log that it happened (PIPL Art. 47)."""
        from yuqing.store.crm import forget_customer, subject_ref
        from yuqing.store.warehouse import Warehouse

        settings = _settings(config, warehouse)
        with Warehouse.open(settings.warehouse.location) as wh:
            changed = forget_customer(wh, customer_id, command="yuqing crm forget")
        detail = ", ".join(f"{table} {n}" for table, n in sorted(changed.items()))
        typer.echo(f"forgot customer {customer_id}: {detail}; logged as {subject_ref(customer_id)} in privacy_log")

    @crm_app.command("links")
    def crm_links(
        customer_id: str | None = typer.Argument(None, help="Only this customer's links."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """The link audit: every customer ↔ account link with method, evidence, source file, time and command."""
        from rich.console import Console
        from rich.table import Table

        from yuqing.store.crm import link_audit
        from yuqing.store.warehouse import Warehouse

        settings = _settings(config, warehouse)
        with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
            audit = link_audit(wh, customer_id)
        table = Table(title=f"customer links ({len(audit):,})")
        for col in ("when", "customer", "account", "method", "confidence", "evidence", "source", "command"):
            table.add_column(col, overflow="fold")
        for r in audit.itertuples(index=False):
            table.add_row(
                str(r.linked_at)[:19],
                str(r.customer_id),
                f"{r.platform}:{r.author_id}",
                str(r.method),
                f"{float(r.confidence):.2f}",
                str(r.evidence or ""),
                str(r.source or ""),
                str(r.command or ""),
            )
        Console().print(table)

    @crm_app.command("rotate-key")
    def crm_rotate_key(
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Re-hash every customer's phone and e-mail with the key now in YUQING_CRM__HMAC_KEY, dropping the old
        hashes, in one transaction (the clear values are in the customer table; the old key is not needed)."""
        from yuqing.store.crm import rotate_key
        from yuqing.store.warehouse import Warehouse

        settings = _settings(config, warehouse)
        key = settings.crm.key_bytes()
        with Warehouse.open(settings.warehouse.location) as wh:
            n = rotate_key(wh, key, command="yuqing crm rotate-key")
        typer.echo(f"re-hashed: {n:,} phone/e-mail hashes now made with the new key; the old ones are gone")

    @crm_app.command("import")
    def crm_import(
        customers: Path | None = typer.Argument(None, exists=True, dir_okay=False, help="Customers CSV."),
        orders: Path | None = typer.Argument(None, exists=True, dir_okay=False, help="Orders CSV."),
        tickets: Path | None = typer.Option(
            None,
            "--tickets",
            exists=True,
            dir_okay=False,
            help="Service tickets CSV: customer, opened, category, status.",
        ),
        map_: list[str] = typer.Option([], "--map", help="FIELD=COLUMN, e.g. phone=联系电话 (repeatable)."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Load customers (clear PII stays in the customer table; keyed hashes for joining), orders and
        service tickets (a ticket is open unless its status says closed/resolved/已关闭/已解决...)."""
        from yuqing.flows.stages import import_crm, import_tickets
        from yuqing.store.settings import load_settings

        if customers is None and tickets is None:
            raise typer.BadParameter("give a customers CSV, --tickets tickets.csv, or both", param_hint="CUSTOMERS")
        overrides = {"warehouse": {"path": str(warehouse)}} if warehouse else {}
        settings = load_settings(config, **overrides)
        errors: list[str] = []
        if customers is not None:
            settings.crm.key_bytes()  # unset, empty or short: refused before reading anything
            result = import_crm(settings, customers, orders, mapping=_mapping(map_))
            typer.echo(
                f"customers: {result['customers']:,} loaded; orders: {result['orders']:,} loaded; "
                f"links: {result['links']:,}"
            )
            errors += result["errors"]
        if tickets is not None:
            loaded, open_, bad = import_tickets(settings, tickets, _mapping(map_))
            typer.echo(f"tickets: {loaded:,} loaded ({open_:,} open)")
            errors += bad
        for err in errors[:50]:
            typer.secho(f"rejected {err}", fg=typer.colors.YELLOW, err=True)
        if len(errors) > 50:
            typer.secho(f"... and {len(errors) - 50} more rejected rows", fg=typer.colors.YELLOW, err=True)


def churn_frame(settings: Settings) -> pd.DataFrame:
    """Churn risk of every customer with orders (graph.churn), read from the warehouse; masked names added.

    "Now" is the end of the data (the last post or order), so a replayed or simulated period reads as live.
    """

    from yuqing.graph.churn import churn_risk
    from yuqing.graph.customers import rfm
    from yuqing.store.pii import mask_name
    from yuqing.store.warehouse import Warehouse

    with Warehouse.open(settings.warehouse.location, read_only=True) as wh:
        customers = wh.customer_names()
        orders = wh.orders()
        links = wh.customer_links_current()
        tickets = wh.tickets()
        now = wh.data_end()
        posts = wh.linked_customer_posts()
    values = rfm(orders, now=now)
    risk = churn_risk(
        orders,
        values,
        posts=posts,
        links=links,
        tickets=tickets,
        brand=settings.brand.name,
        competitors=[c.name for c in settings.competitors],
        now=now,
    )
    names = customers.set_index("customer_id")["name"]
    risk.insert(1, "name", [mask_name(str(names.get(c, ""))) for c in risk["customer_id"]])
    return risk.merge(values[["customer_id", "rfm_segment"]], on="customer_id", how="left")


@crm_app.command("churn")
def crm_churn(
    top: int = typer.Option(30, "--top", min=1, help="Rows shown (all go to --output)."),
    min_risk: float = typer.Option(0.3, "--min-risk", min=0.0, max=1.0, help="Only customers at this risk or more."),
    lost: bool = typer.Option(False, "--lost", help="Include customers with no order for a year (already lost)."),
    by: str = typer.Option("value", "--by", help="value: CLV at risk first; risk: the likeliest to leave first."),
    output: Path | None = typer.Option(None, "--output", "-o", help="CSV of every customer at risk (Excel-safe)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
    warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
) -> None:
    """Churn warning (客户流失预警): customers at risk, highest CLV at risk first, with the reasons — recency against
    their own purchase rhythm, fewer orders, less spend, turned negative, complaint without resolution,
    talking about a competitor (docs/crm.md).  Names masked."""
    from rich.console import Console
    from rich.table import Table

    from yuqing.flows.commands.io import atomic_output, excel_safe

    if by not in ("value", "risk"):
        raise typer.BadParameter(f"{by!r} is not one of: value, risk", param_hint="--by")
    risk = churn_frame(_settings(config, warehouse))
    if by == "risk":
        risk = risk.sort_values(["risk", "clv_at_risk", "customer_id"], ascending=[False, False, True])
    if risk.empty:
        typer.secho("no orders: run `yuqing crm import customers.csv orders.csv` first", err=True)
        raise typer.Exit(1)
    risk = risk[(risk["risk"] >= min_risk) & (lost | ~risk["lost"].astype(bool))].reset_index(drop=True)
    if output is not None:
        out = risk.assign(reasons=["; ".join(r) for r in risk["reasons"]])
        with atomic_output(output) as tmp:
            excel_safe(out).to_csv(tmp, index=False)
    order = "CLV at risk" if by == "value" else "risk"
    table = Table(title=f"{len(risk):,} customers at churn risk ≥ {min_risk:g} (by {order})")
    for col in ("customer", "name", "segment", "risk", "CLV ¥", "at risk ¥", "why"):
        table.add_column(col, justify="right" if col in ("risk", "CLV ¥", "at risk ¥") else "left", overflow="fold")
    for r in risk.head(top).itertuples(index=False):
        table.add_row(
            str(r.customer_id),
            str(r.name),
            str(r.rfm_segment or ""),
            f"{float(r.risk):.2f}",
            f"{float(r.clv):,.0f}",
            f"{float(r.clv_at_risk):,.0f}",
            "; ".join(r.reasons),
        )
    Console().print(table)
    if output is not None:
        typer.echo(f"{len(risk):,} rows → {output}")
