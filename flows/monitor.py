"""Prefect flows: monitoring (collect → store → analyse → graph → alerts → reports) and backfill.

The flows only compose small tasks.  Retries (with an explicit backoff list)
are on I/O tasks only; tasks that take a connection use ``NO_CACHE``.  The NLP
stage fans out over chunks with ``.map`` on whatever task runner the settings
choose (threads, processes, or ``prefect_dask.DaskTaskRunner`` for a Dask
cluster) — the task code does not change.  Worker tasks are pure: they get a
chunk of texts and return a frame; only the flow's own process writes to the
warehouse (one writer).

A pass holds the warehouse for its whole length (:meth:`Warehouse.hold`): another
process that wants to write is refused with one line until the pass ends.  Every
setting and secret the pass needs is checked before the first stage.  Stages fail
alone: a failing stage is recorded with its reason, the stages that do not need its
output still run, and :attr:`MonitorResult.stages` lists the state of each.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from yuqing.flows import stages
from yuqing.store.schema import CHINA_TZ
from yuqing.store.settings import Settings, load_settings

__all__ = [
    "MonitorResult",
    "StageOutcome",
    "analyse",
    "backfill",
    "hold_pass",
    "make_task_runner",
    "monitor",
    "stage_progress",
]

IO_RETRIES = {"retries": 3, "retry_delay_seconds": [2, 5, 15]}
# A stage whose input another stage makes is not run when that stage failed.
NEEDS: dict[str, tuple[str, ...]] = {"topics": ("analyse",)}


@dataclass
class StageOutcome:
    state: Literal["ok", "failed", "skipped"]
    reason: str = ""
    seconds: float = 0.0


# Told when a stage starts (outcome None) and when it ends (its outcome and value): the CLI's live progress.
StageHook = Callable[[str, "StageOutcome | None", Any], None]
_stage_hook: ContextVar[StageHook | None] = ContextVar("yuqing_stage_hook", default=None)


@contextmanager
def stage_progress(hook: StageHook) -> Iterator[None]:
    """Call ``hook`` as each stage of a pass run in this context starts and ends."""
    token = _stage_hook.set(hook)
    try:
        yield
    finally:
        _stage_hook.reset(token)


@dataclass
class MonitorResult:
    collected: dict[str, Any] = field(default_factory=dict)
    crm: dict[str, Any] = field(default_factory=dict)
    analysed: int = 0
    topics: int = 0
    leaders: int = 0
    communities: int = 0
    reports: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    retention: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    stages: dict[str, StageOutcome] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, outcome in self.stages.items() if outcome.state == "failed"]


def make_task_runner(settings: Settings) -> TaskRunner[Any]:
    """The task runner named in ``settings.flows.task_runner``."""
    kind = settings.flows.task_runner
    workers = stages.nlp_workers(settings)
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "process":
        return ProcessPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    if settings.flows.dask_address:
        return DaskTaskRunner(address=settings.flows.dask_address)
    # No dashboard, and the scheduler's HTTP endpoints (health, metrics) on a free port: with the default 8787 a
    # second yuqing run on the same machine (or any Dask cluster already there) makes distributed warn and move.
    scheduler = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "dashboard_address": None,
            "scheduler_kwargs": scheduler,
        }
    )


# --------------------------------------------------------------------------- tasks


@task(name="collect", cache_policy=NO_CACHE, **IO_RETRIES)  # type: ignore[call-overload]
def collect_task(settings: Settings, since: dt.datetime | None, until: dt.datetime | None) -> dict[str, Any]:
    return stages.collect(settings, since=since, until=until)


@task(name="crm-import", cache_policy=NO_CACHE)
def crm_import_task(
    settings: Settings, customers: str, orders: str | None, tickets: str | None = None
) -> dict[str, Any]:
    return stages.import_crm(
        settings, Path(customers), Path(orders) if orders else None, tickets=Path(tickets) if tickets else None
    )


@task(name="analyse-windows", cache_policy=NO_CACHE)
def analyse_windows_task(settings: Settings, reanalyse: bool) -> list[tuple[str, str, str]]:
    return stages.analyse_windows(settings, reanalyse=reanalyse)


@task(name="load-unanalysed", cache_policy=NO_CACHE)
def load_unanalysed_task(settings: Settings, reanalyse: bool, window: tuple[str, str, str]) -> pa.Table:
    return stages.load_unanalysed(settings, reanalyse=reanalyse, window=window)


@task(name="analyse-chunk", cache_policy=NO_CACHE)
def analyse_chunk_task(chunk: pa.Table, settings: Settings) -> pa.Table:
    return stages.analyse_chunk(chunk, settings)


@task(name="store-analysis", cache_policy=NO_CACHE)
def store_analysis_task(settings: Settings, frames: list[pa.Table], new: bool) -> int:
    return stages.store_analysis(settings, frames, count=False, new=new)  # counted once, after the last window


@task(name="count-posts", cache_policy=NO_CACHE)
def count_posts_task(settings: Settings) -> int:
    return stages.count_posts(settings)


@task(name="topics", cache_policy=NO_CACHE)
def topics_task(settings: Settings) -> int | stages.Skipped:
    return stages.topics(settings)


@task(name="graph", cache_policy=NO_CACHE)
def graph_task(settings: Settings) -> dict[str, int]:
    return stages.graph(settings)


@task(name="reports", cache_policy=NO_CACHE)
def reports_task(
    settings: Settings, start: dt.date | None, end: dt.date | None, out_dir: Path
) -> list[str] | stages.Skipped:
    return stages.reports(settings, start=start, end=end, out_dir=out_dir)


@task(name="retention", cache_policy=NO_CACHE)
def retention_task(settings: Settings) -> dict[str, int]:
    return stages.retention(settings)


@task(name="alerts", cache_policy=NO_CACHE)  # no task retries: the outbox retries deliveries pass after pass
def alerts_task(settings: Settings, now: dt.datetime | None) -> list[str]:
    return stages.alerts(settings, now=now)


@contextmanager
def workers_on_this_api() -> Iterator[None]:
    """Task runs in other processes (process pool, Dask workers) report to this flow's Prefect API.

    With no API configured, Prefect runs the flow against an ephemeral server it starts, and each worker process,
    seeing no API either, started one of its own: a uvicorn server with its database, per worker, for the life of
    the pool (seen with ``ps`` during ``yuqing analyze``). The flow's own API is handed to the workers instead."""
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    ctx = FlowRunContext.get()
    url = str(ctx.client.api_url).rstrip("/") if ctx is not None and ctx.client is not None else ""
    if get_current_settings().api.url or not url.startswith(("http://", "https://")):
        yield  # an API is configured (workers inherit it), or there is none another process could reach
        return
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


# --------------------------------------------------------------------------- flows


@flow(name="yuqing-analyse")
def analyse(settings: Settings, *, reanalyse: bool = False) -> int:
    """Score unanalysed posts a window at a time (:func:`flows.stages.analyse_window` posts, a key range of
    :func:`flows.stages.analyse_windows`): a window's chunks fan out on the flow's task runner, its results are
    written here (one writer) and committed — memory follows the window, not the corpus, and an interrupted stage
    keeps what it wrote.

    Pipelined: the next window is read and queued on the workers before this one's results are awaited and
    written, so the workers score while the single writer reads and stores (they sat idle during both before).
    Windows are disjoint key ranges, so the next read never sees the window still being written."""
    written = 0
    windows = iter(analyse_windows_task(settings, reanalyse))

    def read() -> list[Any]:
        """Submit the next window's chunks: their futures (none when no window is left)."""
        for window in windows:
            posts: pa.Table = load_unanalysed_task(settings, reanalyse, window)
            if posts.num_rows:  # empty when another pass analysed it meanwhile (PostgreSQL: several writers)
                return list(analyse_chunk_task.map(stages.split(posts, stages.CHUNK_ROWS), settings=unmapped(settings)))
        return []

    with workers_on_this_api():
        futures = read()
        while futures:
            following = read()  # the next window, queued on the workers behind this one's chunks
            results = [f.result() for f in futures]
            written += store_analysis_task(settings, results, not reanalyse)  # new rows: a plain INSERT
            futures = following
            del results, following
    count_posts_task(settings)  # post_counts for reports and alerts: the hours the windows touched, recounted once
    return written


@flow(name="yuqing-monitor")
def monitor(
    config: str | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    collect: bool = True,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    reanalyse: bool = False,
    crm_files: tuple[str, str | None] | tuple[str, str | None, str | None] | None = None,
    report_from: dt.date | None = None,
    report_to: dt.date | None = None,
    now: dt.datetime | None = None,
) -> MonitorResult:
    """One monitoring pass: collect → store → analyse → graph → alerts → reports → retention.

    Parameters are plain values (a settings file path and overrides) so the same flow
    runs from the CLI, from ``yuqing serve`` deployments and from tests.  The NLP stage
    runs as a subflow on the task runner the settings choose (process pool by default,
    Dask with ``flows.task_runner = "dask"``).
    """
    logger = get_run_logger()
    settings = load_settings(config, **(overrides or {}))
    result = MonitorResult()
    with hold_pass(settings, crm_import=crm_files is not None, on_wait=logger.warning):
        run = _StageRunner(result, logger)
        if collect:
            result.collected = run("collect", collect_task, settings, since, until) or {}
        if crm_files is not None:
            result.crm = run("crm", crm_import_task, settings, *crm_files) or {}
        analyse_flow = analyse.with_options(task_runner=make_task_runner(settings))
        result.analysed = run("analyse", analyse_flow, settings, reanalyse=reanalyse) or 0
        result.topics = run("topics", topics_task, settings) or 0
        g = run("graph", graph_task, settings) or {}
        result.leaders, result.communities = g.get("leaders", 0), g.get("communities", 0)
        # alerts first: the period's report shows the alerts this pass raised, with their evidence
        result.alerts = run("alerts", alerts_task, settings, now) or []
        result.reports = run("reports", reports_task, settings, report_from, report_to, settings.flows.out_dir) or []
        result.retention = run("retention", retention_task, settings) or {}
    logger.info("monitor pass done in %.1f s: %s", sum(result.timings.values()), result.timings)
    return result


@contextmanager
def hold_pass(settings: Settings, *, crm_import: bool = False, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold the warehouse for a pass (waiting up to ``warehouse.wait_seconds``), create or migrate its
    schema, and check every setting the pass needs — all before the first stage.  Re-entrant: the CLI
    enters it before Prefect starts (a refusal costs no server start-up) and the flow again."""
    from yuqing.store.warehouse import Warehouse

    with Warehouse.hold(settings.warehouse.location, wait=settings.warehouse.wait_seconds, on_wait=on_wait):
        with Warehouse.open(settings.warehouse.location):
            pass
        stages.preflight(settings, crm_import=crm_import)
        yield


class _StageRunner:
    """Runs one stage (a task or subflow) and records its outcome; a failure is kept, not raised."""

    def __init__(self, result: MonitorResult, logger: Any) -> None:
        self.result = result
        self.logger = logger

    def __call__(self, name: str, stage: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        blocked = [n for n in NEEDS.get(name, ()) if n in self.result.failed]
        if blocked:
            self._record(name, StageOutcome("skipped", f"needs {', '.join(blocked)}, which failed"))
            return None
        if hook := _stage_hook.get():
            hook(name, None, None)
        started = time.perf_counter()
        state = stage(*args, return_state=True, **kwargs)
        seconds = round(time.perf_counter() - started, 3)
        self.result.timings[name] = seconds
        if not state.is_completed():
            error = state.result(raise_on_failure=False)
            reason = _one_line(error) if isinstance(error, BaseException) else (state.message or state.name)
            self._record(name, StageOutcome("failed", reason, seconds))
            return getattr(error, "lines", None)  # what a failure still made (alerts found when a delivery failed)
        value = state.result()
        if isinstance(value, stages.Skipped):
            self._record(name, StageOutcome("skipped", value.reason, seconds))
            return None
        self._record(name, StageOutcome("ok", "", seconds), value)
        return value

    def _record(self, name: str, outcome: StageOutcome, value: Any = None) -> None:
        self.result.stages[name] = outcome
        if hook := _stage_hook.get():
            hook(name, outcome, value)
        if outcome.state == "failed":
            self.logger.error("stage %s failed: %s", name, outcome.reason)
        elif outcome.state == "skipped":
            self.logger.warning("stage %s skipped: %s", name, outcome.reason)


def _one_line(error: BaseException) -> str:
    """``Type: message`` on one line (a YuqingError's message alone: it is written for people)."""
    from yuqing.store.errors import YuqingError

    text = " ".join(str(error).split()) or type(error).__name__
    return text if isinstance(error, YuqingError) else f"{type(error).__name__}: {text}"


@flow(name="yuqing-backfill")
def backfill(
    config: str | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    start: dt.date,
    end: dt.date,
    day_step: int = 1,
) -> list[MonitorResult]:
    """Collect and analyse a past date range window by window (idempotent: re-running changes nothing)."""
    results: list[MonitorResult] = []
    day = start
    while day <= end:
        window_end = min(day + dt.timedelta(days=day_step), end + dt.timedelta(days=1))
        since = dt.datetime.combine(day, dt.time(), tzinfo=CHINA_TZ)
        until = dt.datetime.combine(window_end, dt.time(), tzinfo=CHINA_TZ)
        results.append(monitor(config, overrides, since=since, until=until, report_from=start, report_to=end))
        day = window_end
    return results
