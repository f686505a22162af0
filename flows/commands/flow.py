"""``yuqing run``, ``analyze``, ``backfill`` and ``serve``: the Prefect flows from the command line."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

ConfigOpt = typer.Option(None, "--config", "-c", help="Settings file (default ./yuqing.toml if present).")


def _overrides(warehouse: Path | None, out: Path | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if warehouse is not None:
        overrides["warehouse"] = {"path": str(warehouse)}
    if out is not None:
        overrides["flows"] = {"out_dir": str(out)}
    return overrides


_STATE_STYLE = {"ok": "green", "failed": "red", "skipped": "yellow"}
_STATE_MARK = {"ok": "✓", "failed": "✗", "skipped": "–"}
_UNITS = {"analyse": "posts", "topics": "topics", "reports": "files", "alerts": "alerts"}


_SCRAPY_COUNTS = {"item_scraped_count": "rows", "response_received_count": "pages"}


def describe_stage(name: str, value: Any) -> str:
    """What a stage made, in rows: ``2,000 posts``, ``weibo posts 1,800 · customers 300``."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,} {_UNITS.get(name, 'rows')}"
    if isinstance(value, list):
        return f"{len(value):,} {_UNITS.get(name, 'items')}"
    if isinstance(value, dict):
        parts: list[str] = []
        for key, item in value.items():
            if isinstance(item, int) and not isinstance(item, bool):
                parts.append(f"{key} {item:,}")
            elif isinstance(item, list):
                parts.append(f"{key} {len(item):,}")
            elif isinstance(item, dict):
                # a scrapy engine returns its crawl stats: namespaced keys (memusage/max, scheduler/...) are not rows
                inner = [
                    f"{_SCRAPY_COUNTS.get(k, k)} {v:,}"
                    for k, v in item.items()
                    if isinstance(v, int) and not isinstance(v, bool) and "/" not in k
                ]
                parts.append(f"{key} " + ", ".join(inner[:4]) if inner else str(key))
        return " · ".join(parts)
    return ""


class StageProgress:
    """Live progress of a pass: a spinner naming the stage that runs, then one line per stage with its
    state, time and the rows it made (hook for :func:`flows.monitor.stage_progress`)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status: Any = None

    def __call__(self, name: str, outcome: Any, value: Any) -> None:
        if outcome is None:
            self.status = self.console.status(f"stage {name} running…")
            self.status.start()
            return
        if self.status is not None:
            self.status.stop()
            self.status = None
        style = _STATE_STYLE.get(outcome.state, "")
        detail = describe_stage(name, value) if outcome.state == "ok" else outcome.reason
        self.console.print(
            f"[{style}]{_STATE_MARK.get(outcome.state, '?')}[/] {name:<10} {outcome.seconds:6.1f} s  {detail}",
            highlight=False,
        )


def print_result(result: Any, console: Console | None = None) -> None:
    """The pass's summary: every stage's state, time and note, then what it made."""
    console = console or Console()
    table = Table(title="yuqing monitor pass")
    table.add_column("stage")
    table.add_column("state")
    table.add_column("seconds", justify="right")
    table.add_column("note")
    for stage, outcome in result.stages.items():
        style = _STATE_STYLE.get(outcome.state, "")
        table.add_row(stage, f"[{style}]{outcome.state}[/]", f"{outcome.seconds:.1f}", outcome.reason)
    console.print(table)
    console.print(
        f"analysed {result.analysed:,} posts; {result.topics} topics; {result.leaders} leaders; "
        f"{result.communities} communities"
    )
    for path in result.reports:
        console.print(f"report: {path}")
    for alert in result.alerts:
        console.print(f"alert: {alert}")


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        config: Path | None = ConfigOpt,
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
        out: Path | None = typer.Option(None, "--out", help="Where reports are written."),
        no_collect: bool = typer.Option(False, "--no-collect", help="Skip collection; analyse what is stored."),
        since: dt.datetime | None = typer.Option(None, "--since", help="Collect posts from this time."),
        until: dt.datetime | None = typer.Option(None, "--until", help="Collect posts up to this time."),
    ) -> None:
        """One monitoring pass: collect → store → analyse → graph → alerts → reports (embedded Prefect, no server).

        The pass holds the warehouse from start to end; settings and secrets are checked before it starts;
        a failing stage is reported and the others still run (exit code 1 if any failed).
        """
        from yuqing.flows.monitor import hold_pass, monitor, stage_progress
        from yuqing.store.settings import load_settings

        overrides = _overrides(warehouse, out)
        settings = load_settings(config, **overrides)
        warn = lambda message: typer.secho(message, fg=typer.colors.YELLOW, err=True)  # noqa: E731
        console = Console()
        with hold_pass(settings, on_wait=warn), stage_progress(StageProgress(console)):
            result = monitor(
                str(config) if config else None,
                overrides,
                collect=not no_collect,
                since=since,
                until=until,
            )
        print_result(result, console)
        if result.failed:
            for name in result.failed:
                typer.secho(f"error: stage {name} failed: {result.stages[name].reason}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1)

    @app.command()
    def analyze(
        config: Path | None = ConfigOpt,
        warehouse: Path | None = typer.Option(None, "--warehouse", help="Override the warehouse path."),
        reanalyse: bool = typer.Option(False, "--all", help="Re-analyse every post, not only new ones."),
    ) -> None:
        """Run the text stage over new posts in the warehouse and store the results."""
        from yuqing.flows.monitor import analyse, make_task_runner
        from yuqing.store.settings import load_settings

        settings = load_settings(config, **_overrides(warehouse, None))
        n = analyse.with_options(task_runner=make_task_runner(settings))(settings, reanalyse=reanalyse)
        typer.echo(f"analysed {n:,} posts")

    @app.command()
    def backfill(
        start: dt.datetime = typer.Option(..., "--from", help="First day to collect (inclusive)."),
        end: dt.datetime = typer.Option(..., "--to", help="Last day to collect (inclusive)."),
        config: Path | None = ConfigOpt,
        day_step: int = typer.Option(1, "--step", min=1, help="Days per window."),
    ) -> None:
        """Collect and analyse a past date range, window by window (idempotent)."""
        from yuqing.flows.monitor import backfill as backfill_flow

        results = backfill_flow(
            str(config) if config else None, None, start=start.date(), end=end.date(), day_step=day_step
        )
        typer.echo(f"{len(results)} windows done")

    @app.command()
    def serve(
        config: Path | None = ConfigOpt,
        api_url: str | None = typer.Option(
            None,
            "--api-url",
            help="A running Prefect server to register the deployments with (e.g. http://127.0.0.1:4200/api); "
            "default: start one on 127.0.0.1:--port for as long as serve runs.",
        ),
        port: int = typer.Option(
            4200, "--port", min=1, max=65535, help="Port of the Prefect server serve starts (without --api-url)."
        ),
    ) -> None:
        """Schedule collection (hourly) and the daily report with Prefect's own serve (Ctrl-C stops).

        Prints the Prefect API the deployments live on, so `prefect deployment ls` and `prefect deployment
        run` reach them while serve runs.
        """
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from yuqing.flows.monitor import monitor
        from yuqing.store.settings import load_settings

        settings = load_settings(config)
        cfg = str(Path(config).resolve()) if config else None
        server = None
        if api_url is None:
            server = _start_prefect_server(port)
            api_url = f"http://127.0.0.1:{port}/api"
        else:
            api_url = api_url.rstrip("/")
            _check_prefect_api(api_url)
        try:
            os.environ["PREFECT_API_URL"] = api_url  # the flow-run processes the runner starts
            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                hourly = monitor.to_deployment(
                    name="yuqing-hourly", cron=settings.flows.collect_cron, parameters={"config": cfg}
                )
                daily = monitor.to_deployment(
                    name="yuqing-daily-report",
                    cron=settings.flows.report_cron,
                    parameters={"config": cfg, "collect": False},
                )
                typer.echo(
                    f"serving: collection '{settings.flows.collect_cron}', report '{settings.flows.report_cron}'\n"
                    f"Prefect API: {api_url}"
                    + (" (started by yuqing serve, stops with it)" if server is not None else "")
                    + (f"\nPrefect server log: {server_log(port)}" if server is not None else "")
                    + f"\nsee the deployments: PREFECT_API_URL={api_url} prefect deployment ls\n"
                    "Ctrl-C stops",
                    err=False,
                )
                _serve_until_signalled(hourly, daily)
        finally:
            if server is not None:
                _stop(server)
        typer.echo("stopped")


def _serve_until_signalled(*deployments: Any) -> None:
    """Prefect's runner for ``deployments`` until SIGINT/SIGTERM, then a graceful stop.

    ``prefect.serve`` stops on the KeyboardInterrupt that asyncio turns into one cancellation of its main task; a
    cancellation that lands while the runner's task group is busy (seen under load: the test suite on 2 cores) is
    absorbed by it, and serve went on running until killed. Here the signal is a loop callback instead, which asks
    the runner to stop (``Runner.astop``: polling ends, schedules are paused through the API); a second signal
    exits at once.
    """
    import asyncio

    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=True)
    for deployment in deployments:
        runner.add_deployment(deployment)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        requested = asyncio.Event()
        start = asyncio.ensure_future(runner.start())

        def on_signal() -> None:
            if requested.is_set():  # the second Ctrl-C: no more waiting for the runner
                sys.stderr.write("stopped at once: the schedules were not paused\n")
                sys.stderr.flush()
                os._exit(130)  # the embedded server dies with this process (PR_SET_PDEATHSIG)
            requested.set()

        async def stop_when_asked() -> None:
            await requested.wait()
            while not runner.started and not start.done():  # a signal during start-up waits for it
                await asyncio.sleep(0.05)
            if runner.started:
                await runner.astop()

        # installed after runner.start() has set its own SIGTERM handler (it runs up to its first await first)
        await asyncio.sleep(0)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        stopper = asyncio.ensure_future(stop_when_asked())
        try:
            await start
        finally:
            stopper.cancel()

    asyncio.run(main())


def _check_prefect_api(api_url: str) -> None:
    import httpx

    from yuqing.store.errors import ConfigError

    try:
        httpx.get(f"{api_url}/health", timeout=5.0).raise_for_status()
    except httpx.HTTPError as exc:
        raise ConfigError(f"--api-url {api_url}: no Prefect API answers there ({type(exc).__name__})") from None


def _start_prefect_server(port: int) -> subprocess.Popen[bytes]:
    """A Prefect API server on 127.0.0.1:``port``, in its own session so that Ctrl-C reaches serve first (the
    runner pauses its schedules through the API before the server is stopped); it dies with this process."""
    import socket

    import httpx

    from yuqing.store.errors import ConfigError

    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise ConfigError(
                f"port {port} is in use: pass --port N, or --api-url http://127.0.0.1:{port}/api if it is Prefect"
            )
    log_path = server_log(port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:  # the server's own errors go to its log, not to the user's terminal
        server = _popen_server(port, log)
    deadline = time.monotonic() + float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180"))
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ConfigError(
                f"the Prefect server on port {port} exited with code {server.returncode} (see {log_path})"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    _stop(server)
    raise ConfigError(f"the Prefect server on port {port} did not answer in time (see {log_path})")


def server_log(port: int) -> Path:
    return Path(os.environ.get("PREFECT_HOME", Path.home() / ".yuqing" / "prefect")) / f"server-{port}.log"


def _popen_server(port: int, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and Prefect's app
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM when serve's process dies


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=8)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
