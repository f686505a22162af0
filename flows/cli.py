"""The ``yuqing`` command line.

Each area registers its commands from ``flows/commands/<area>.py``; this module
only mounts them, sets a quiet, offline Prefect environment and turns
:class:`store.errors.YuqingError` into a one-line error with exit code 1.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from pathlib import Path

import typer

from yuqing.store.errors import YuqingError

__all__ = ["app", "main"]

# Areas whose command modules are mounted, in --help order.  A module that does
# not exist yet is skipped so the CLI always starts.
_AREAS = ("core", "demo", "world", "collect", "ingest", "nlp", "topics", "graph", "flow", "report", "search", "export", "complaints", "db")  # fmt: skip  # noqa: E501


def quiet_prefect_env() -> None:
    """Prefect settings for an embedded, offline, telemetry-free run.  Set before prefect is imported."""
    defaults = {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "PREFECT_HOME": str(Path.home() / ".yuqing" / "prefect"),
        # The embedded (ephemeral) server starts in a subprocess; give it time on a busy machine
        # and skip the services an embedded run never uses.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_CLEANUP_RECONCILER_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "[]",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    home = Path(os.environ["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # Prefect's database holds run parameters: readable by the owner only
        home.chmod(0o700)
    if not os.environ.get("YUQING_DEBUG"):
        for name in _RUN_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, _NoTraceback) for f in logger.filters):
                logger.addFilter(_NoTraceback())


# Prefect logs a failing task or flow with its traceback; yuqing reports the reason on one line
# (YUQING_DEBUG=1 keeps the tracebacks).
_RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs", "prefect.task_engine", "prefect.flow_engine")


class _NoTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.exc_text:
            record.exc_info, record.exc_text = None, None
            record.msg = str(record.msg).split("\nTraceback (most recent call last)")[0]
        return True


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="yuqing",
        help="舆情: Chinese social-media listening — collect, analyse, report, alert.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def _root() -> None:
        """舆情: Chinese social-media listening — collect, analyse, report, alert."""

    for area in _AREAS:
        try:
            module = importlib.import_module(f"yuqing.flows.commands.{area}")
        except ModuleNotFoundError as exc:
            if exc.name == f"yuqing.flows.commands.{area}":
                continue
            raise
        module.register(app)
    return app


quiet_prefect_env()
app = build_app()


def main() -> None:
    from yuqing.flows.process import GROUPED_COMMANDS, PARENT_FD_ENV, run_as_group, watch_parent

    if PARENT_FD_ENV in os.environ:
        watch_parent()
    elif os.name == "posix" and len(sys.argv) > 1 and sys.argv[1] in GROUPED_COMMANDS:
        sys.exit(run_as_group(sys.argv[1:]))
    from typer._click.exceptions import ClickException  # typer vendors click; its usage errors derive from this

    try:
        code = app(standalone_mode=False)
    except ClickException as exc:  # a bad option or argument: one line, exit code 2, the command it belongs to
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        message = " ".join(exc.format_message().replace("Value error, ", "").split())
        if message:  # (none after the help a bare group prints)
            typer.secho(f"error: {where}{message}", fg=typer.colors.RED, err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    except YuqingError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
