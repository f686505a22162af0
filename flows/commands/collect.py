"""``yuqing collect`` (one collection run) and ``yuqing fake-platform`` (serve a simulated world)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from store.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def collect(
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file (default ./yuqing.toml)."),
        since: dt.datetime | None = typer.Option(None, "--since", help="Only posts created at or after this time."),
        until: dt.datetime | None = typer.Option(None, "--until", help="Only posts created before this time."),
        engine: str | None = typer.Option(
            None,
            "--engine",
            help="Weibo engine for this run: api (httpx collectors) or spider (scrapy); "
            "default: platforms.weibo_engine.",
        ),
    ) -> None:
        """Collect the configured Weibo queries and accounts once (incremental, resumable)."""
        from store.settings import load_settings

        settings = load_settings(config, **({"platforms": {"weibo_engine": engine}} if engine else {}))
        if settings.platforms.weibo_engine == "spider":
            _collect_spider(settings, since, until)
        else:
            _collect_api(settings, since, until)

    @app.command("fake-platform")
    def fake_platform(
        world: Path = typer.Option(..., "--world", exists=True, file_okay=False, help="A `yuqing simulate` world."),
        port: int = typer.Option(8800, "--port", help="Port on 127.0.0.1."),
        rate_limit: float = typer.Option(0.0, "--rate-limit", help="Share of requests answered 429 + Retry-After."),
        server_error: float = typer.Option(0.0, "--server-error", help="Share of requests answered 500."),
        slow: float = typer.Option(0.0, "--slow", help="Share of requests delayed."),
        truncated: float = typer.Option(0.0, "--truncated", help="Share of JSON bodies cut in half."),
        expire_token_every: int = typer.Option(0, "--expire-token-every", help="Expire tokens every N API calls."),
        forum_layout: str = typer.Option("v1", "--forum-layout", help="v1, or v2 for a changed HTML layout."),
    ) -> None:
        """Serve a simulated world through Weibo-shaped JSON APIs and a forum on 127.0.0.1 (Ctrl-C stops)."""
        from collectors.fake.server import FaultConfig, serve_world

        faults = FaultConfig(
            rate_limit=rate_limit,
            server_error=server_error,
            slow=slow,
            truncated=truncated,
            expire_token_every=expire_token_every,
            forum_layout=forum_layout,
        )
        with serve_world(world, port=port, faults=faults) as url:
            typer.echo(f"fake platform for {world} on {url} (token: demo-token, refresh: demo-refresh)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                typer.echo("stopped")


def _collect_api(settings: Settings, since: dt.datetime | None, until: dt.datetime | None) -> None:
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from collectors.run import collect as run_collect
    from store.schema import aware

    with Progress(SpinnerColumn(), TextColumn("{task.description}")) as progress:
        task = progress.add_task("collecting…", total=None)
        seen = {"rows": 0}

        def tick(scope: str, rows: int) -> None:
            seen["rows"] += rows
            progress.update(task, description=f"collecting {scope}: {seen['rows']:,} rows written")

        stats = asyncio.run(
            run_collect(
                settings,
                since=aware(since) if since else None,
                until=aware(until) if until else None,
                progress=tick,
            )
        )
    typer.echo(
        f"{stats.posts:,} posts, {stats.comments:,} comments, {stats.reposts:,} reposts in {stats.pages:,} pages "
        f"({stats.commits:,} commits); {stats.requests:,} requests, {stats.retries:,} retries, "
        f"{len(stats.retry_after_waits)} Retry-After waits, "
        f"{stats.seconds:.1f} s"
    )
    print_summary(stats.scopes, stats.notices)


STATUS = {
    "done": "done",
    "stopped": "stopped (request failed)",
    "blocked": "blocked",
    "cookie_expired": "cookie expired",
    "captcha": "captcha required",
}


def print_summary(scopes: list[Any], notices: list[str]) -> None:
    """One line per scope (rows and pages committed, how it ended, whether the next run resumes it), then what
    the operator must do; exits 1 when something needs a person."""
    for s in scopes:
        state = STATUS.get(s.status, s.status) + (f" until {s.until}" if s.until else "")
        line = (
            f"{s.scope:<28} {s.account:<12} {s.rows:>7,} rows {s.pages:>5,} pages  {state}"
            f"{'  (resumable)' if s.resumable else ''}"
        )
        colour = None if s.status == "done" else typer.colors.YELLOW
        typer.secho(line, fg=colour)
        if s.status == "stopped":
            typer.secho(f"  {s.detail}", fg=typer.colors.YELLOW, err=True)
    for notice in notices:
        typer.secho(f"action needed: {notice}", fg=typer.colors.RED, err=True)
    if notices:
        raise typer.Exit(1)


def _collect_spider(settings: Settings, since: dt.datetime | None, until: dt.datetime | None) -> None:
    """The search queries through the scrapy Weibo spider, in its child process (the flow's collect path)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from flows.stages import crawl_weibo_search

    def warn(message: str) -> None:
        typer.secho(message, fg=typer.colors.YELLOW, err=True)

    started = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}")) as progress:
        progress.add_task(f"crawling {len(settings.collect.queries)} Weibo queries (scrapy)…", total=None)
        stats = crawl_weibo_search(settings, since=since, until=until, warn=warn)
    if not settings.collect.queries:
        typer.echo("no collect.queries configured: nothing to crawl")
        return
    typer.echo(
        f"{int(stats.get('weibo/records', 0)):,} rows crawled; {int(stats.get('downloader/request_count', 0)):,} "
        f"requests, {int(stats.get('retry/count', 0)):,} retries, {time.perf_counter() - started:.1f} s"
    )
