"""``yuqing simulate``: write a simulated world with its planted truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        out: Path = typer.Option(Path("world"), "--out", help="Directory to write the world to."),
        posts: int = typer.Option(5000, "--posts", min=100, help="Top-level posts (comments/reposts come on top)."),
        seed: int = typer.Option(7, "--seed", help="Random seed; the same seed gives byte-identical files."),
        days: int = typer.Option(60, "--days", min=30, help="Days covered by the world."),
        start: dt.datetime | None = typer.Option(
            None, "--start", formats=["%Y-%m-%d"], help="First day, YYYY-MM-DD (default 2026-09-01)."
        ),
        brand: str | None = typer.Option(None, "--brand", help="Name of the monitored brand (default 星阅)."),
    ) -> None:
        """Generate a simulated Chinese social-media world (brand, competitors, KOLs, campaign, complaint burst)."""
        from rich.console import Console

        from yuqing.collectors.fake.world import brand_spec, generate_world

        try:
            brand_spec(brand)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--brand") from exc
        console = Console()
        with console.status(f"simulating {posts:,} posts…"):
            summary = generate_world(
                out, posts=posts, seed=seed, days=days, start=start.date() if start else None, brand=brand
            )
        console.print(
            f"wrote {summary.posts:,} posts, {summary.authors:,} authors, {summary.interactions:,} interactions, "
            f"{summary.customers:,} customers, {summary.orders:,} orders to {out} in {summary.seconds:.1f} s "
            f"(planted truth: {out / 'truth.json'})"
        )
