"""``yuqing graph`` (analysts' edge lists) and ``yuqing crm import``."""

from __future__ import annotations

from pathlib import Path

import typer

from store.errors import InputError

crm_app = typer.Typer(help="CRM customers and orders.", no_args_is_help=True)


def _mapping(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise typer.BadParameter(f"--map wants FIELD=COLUMN, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def register(app: typer.Typer) -> None:
    app.add_typer(crm_app, name="crm")

    @app.command()
    def graph(
        edges: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with source,target[,weight,kind]."),
        output: Path = typer.Option(..., "--output", "-o", help="CSV: node, community, influence, rank."),
        resolution: float = typer.Option(1.0, "--resolution", help="Community resolution (higher = smaller)."),
        method: str = typer.Option("auto", "--method", help="auto, louvain or leiden."),
    ) -> None:
        """Opinion leaders and communities of an edge list."""
        import pandas as pd

        from graph.build import build_graph
        from graph.communities import detect_communities
        from graph.leaders import rank_leaders

        frame = pd.read_csv(edges, dtype={"source": str, "target": str})
        for col in ("source", "target"):
            if col not in frame.columns:
                raise InputError(f"no {col!r} column", file=str(edges), line=1, field=col)
        bad = frame["source"].isna() | frame["target"].isna()
        if bad.any():
            raise InputError(
                "empty node id", file=str(edges), line=int(bad.to_numpy().nonzero()[0][0]) + 2, field="source/target"
            )
        inter = pd.DataFrame(
            {
                "source_author_id": frame["source"],
                "target_author_id": frame["target"],
                "kind": frame["kind"] if "kind" in frame.columns else "repost",
                "weight": pd.to_numeric(frame["weight"]) if "weight" in frame.columns else 1.0,
                "post_id": "",
                "created_at": pd.Timestamp("2000-01-01", tz="UTC"),
            }
        )
        g = build_graph(inter, kind_weight={k: 1.0 for k in inter["kind"].unique()})
        leaders = rank_leaders(g, top=None)
        part = detect_communities(g, resolution=resolution, method=method)  # type: ignore[arg-type]
        out = pd.DataFrame(
            {
                "node": leaders["author_id"],
                "community": leaders["author_id"].map(part),
                "influence": leaders["score"],
                "rank": leaders["rank"],
            }
        )
        out.to_csv(output, index=False)
        typer.echo(f"{len(out):,} nodes, {out['community'].nunique():,} communities → {output}")

    @crm_app.command("import")
    def crm_import(
        customers: Path = typer.Argument(..., exists=True, dir_okay=False, help="Customers CSV."),
        orders: Path | None = typer.Argument(None, exists=True, dir_okay=False, help="Orders CSV."),
        map_: list[str] = typer.Option([], "--map", help="FIELD=COLUMN, e.g. phone=联系电话 (repeatable)."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file."),
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
    ) -> None:
        """Load customers (clear PII stays in the customer table; keyed hashes for joining) and orders."""
        from flows.stages import import_crm
        from store.settings import load_settings

        overrides = {"warehouse": {"path": str(warehouse)}} if warehouse else {}
        settings = load_settings(config, **overrides)
        settings.crm.key_bytes()  # unset, empty or short: refused before reading anything
        result = import_crm(settings, customers, orders, mapping=_mapping(map_))
        typer.echo(
            f"customers: {result['customers']:,} loaded; orders: {result['orders']:,} loaded; "
            f"links: {result['links']:,}"
        )
        for err in result["errors"][:50]:
            typer.secho(f"rejected {err}", fg=typer.colors.YELLOW, err=True)
        if len(result["errors"]) > 50:
            typer.secho(f"... and {len(result['errors']) - 50} more rejected rows", fg=typer.colors.YELLOW, err=True)
