"""``yuqing collect`` (one collection run) and ``yuqing fake-platform`` (serve a simulated world)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

if TYPE_CHECKING:
    from yuqing.collectors.run import ScopeSummary
    from yuqing.store.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def collect(
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings file (default ./yuqing.toml)."),
        since: dt.datetime | None = typer.Option(None, "--since", help="Only posts created at or after this time."),
        until: dt.datetime | None = typer.Option(None, "--until", help="Only posts created before this time."),
        engine: Literal["api", "spider"] | None = typer.Option(
            None,
            "--engine",
            help="Weibo engine for this run: api (httpx collectors) or spider (scrapy); "
            "default: platforms.weibo_engine.",
        ),
        platform: list[str] = typer.Option(
            [],
            "--platform",
            "-p",
            help="Collect only this platform (repeatable; names or aliases from the platform registry, "
            "e.g. weibo, tieba). Default: every platform the settings give scopes to.",
        ),
    ) -> None:
        """Collect every configured platform once (incremental, resumable) and print a summary per scope."""
        from yuqing.store.settings import load_settings

        settings = load_settings(config, **({"platforms": {"weibo_engine": engine}} if engine else {}))
        _collect(settings, since, until, platform)

    @app.command("fake-platform")
    def fake_platform(
        world: Path = typer.Option(..., "--world", exists=True, file_okay=False, help="A `yuqing simulate` world."),
        port: int = typer.Option(8800, "--port", help="Port on 127.0.0.1."),
        rate_limit: float = typer.Option(0.0, "--rate-limit", help="Share of requests answered 429 + Retry-After."),
        server_error: float = typer.Option(0.0, "--server-error", help="Share of requests answered 500."),
        slow: float = typer.Option(0.0, "--slow", help="Share of requests delayed."),
        truncated: float = typer.Option(0.0, "--truncated", help="Share of JSON bodies cut in half."),
        expire_token_every: int = typer.Option(0, "--expire-token-every", help="Expire tokens every N API calls."),
        forum_layout: Literal["v1", "v2"] = typer.Option(
            "v1", "--forum-layout", help="v1, or v2 for a changed HTML layout."
        ),
        block_after: int = typer.Option(
            0, "--block-after", help="Block every client from the n-th m.weibo.cn request on (0: never)."
        ),
        block_status: Literal[418, 432] = typer.Option(418, "--block-status", help="Status of the block: 418 or 432."),
        block_seconds: float = typer.Option(3600.0, "--block-seconds", help="How long the block lasts."),
        require_cookie: bool = typer.Option(
            False, "--require-cookie", help="Answer 432 to every m.weibo.cn request without a Cookie header."
        ),
        expire_cookie: str = typer.Option("", "--expire-cookie", help="A Cookie header that stops working ..."),
        expire_after: int = typer.Option(0, "--expire-after", help="... after this many requests made with it ..."),
        expire_as: Literal["302", "403"] = typer.Option(
            "302",
            "--expire-as",
            help="... answered 302 (to the login page) or 403.",
        ),
        captcha_cookie: str = typer.Option("", "--captcha-cookie", help="A Cookie header that hits risk control ..."),
        captcha_after: int = typer.Option(0, "--captcha-after", help="... after this many requests made with it."),
    ) -> None:
        """Serve a simulated world through Weibo-shaped JSON APIs and a forum on 127.0.0.1 (Ctrl-C stops)."""
        from yuqing.collectors.fake.server import FaultConfig, serve_world

        faults = FaultConfig(
            rate_limit=rate_limit,
            server_error=server_error,
            slow=slow,
            truncated=truncated,
            expire_token_every=expire_token_every,
            forum_layout=forum_layout,
            block_after=block_after,
            block_status=block_status,
            block_seconds=block_seconds,
            require_cookie=require_cookie,
            expire_cookie=expire_cookie,
            expire_after=expire_after,
            expire_as=expire_as,
            captcha_cookie=captcha_cookie,
            captcha_after=captcha_after,
        )
        with serve_world(world, port=port, faults=faults) as url:
            typer.echo(f"fake platform for {world} on {url} (token: demo-token, refresh: demo-refresh)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                typer.echo("stopped")


def _collect(settings: Settings, since: dt.datetime | None, until: dt.datetime | None, only: list[str]) -> None:
    """The flow's collect stage (the same registry, engines and operator notices) with a progress line."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from yuqing.collectors.platforms import platform_named
    from yuqing.collectors.run import ScopeSummary
    from yuqing.flows.stages import collect as collect_stage
    from yuqing.store.errors import ConfigError
    from yuqing.store.schema import aware

    for name in only:
        try:
            platform_named(name)
        except KeyError as exc:
            raise ConfigError(f"--platform: {exc.args[0]}") from None

    def warn(message: str) -> None:
        typer.secho(message, fg=typer.colors.YELLOW, err=True)

    started = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}")) as progress:
        task = progress.add_task("collecting…", total=None)
        seen = {"rows": 0}

        def tick(scope: str, rows: int) -> None:
            seen["rows"] += rows
            progress.update(task, description=f"collecting {scope}: {seen['rows']:,} rows written")

        # the notices are printed below, after the summary: not also as log lines in the middle of it
        logger = logging.getLogger("yuqing.collect")
        level, logger.level = logger.level, logging.CRITICAL
        try:
            result = collect_stage(
                settings,
                since=aware(since) if since else None,
                until=aware(until) if until else None,
                platforms=only or None,
                progress=tick,
                warn=warn,
            )
        finally:
            logger.setLevel(level)
    notices: list[str] = result.pop("notices", [])
    if not result:
        typer.echo("nothing to collect: no collect.queries, collect.accounts or collect.forum_boards configured")
    for name, stats in result.items():
        typer.echo(f"{name} ({stats.get('engine')}): {_totals(stats)}")
        _print_scopes([ScopeSummary(**s) for s in stats.get("scopes") or []])
    typer.echo(f"{time.perf_counter() - started:.1f} s")
    for notice in notices:
        typer.secho(f"action needed: {notice}", fg=typer.colors.RED, err=True)
    if notices:  # a run that left work for a person is not a success
        raise typer.Exit(1)


def _totals(stats: dict[str, Any]) -> str:
    if "pages" in stats:  # the httpx collectors (CollectStats)
        return (
            f"{stats['posts']:,} posts, {stats['comments']:,} comments, {stats['reposts']:,} reposts in "
            f"{stats['pages']:,} pages ({stats['commits']:,} commits); {stats['requests']:,} requests, "
            f"{stats['retries']:,} retries, {len(stats['retry_after_waits'])} Retry-After waits"
        )
    rows = int(stats.get("weibo/records", 0) or stats.get("item_scraped_count", 0))
    return (
        f"{rows:,} rows crawled; {int(stats.get('downloader/request_count', 0)):,} requests, "
        f"{int(stats.get('retry/count', 0)):,} retries"
    )


STATUS = {
    "done": "done",
    "stopped": "stopped (request failed)",
    "blocked": "blocked",
    "cookie_expired": "cookie expired",
    "captcha": "captcha required",
}


def _print_scopes(scopes: list[ScopeSummary]) -> None:
    """One line per scope: rows and pages committed, how it ended, whether the next run resumes it."""
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
