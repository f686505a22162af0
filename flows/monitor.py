"""Prefect flows: monitoring (collect → store → analyse → graph → reports → alerts) and backfill.

The flows only compose small tasks.  Retries (with an explicit backoff list)
are on I/O tasks only; tasks that take a connection use ``NO_CACHE``.  The NLP
stage fans out over chunks with ``.map`` on whatever task runner the settings
choose (threads, processes, or ``prefect_dask.DaskTaskRunner`` for a Dask
cluster) — the task code does not change.  Worker tasks are pure: they get a
chunk of texts and return a frame; only the flow's own process writes to the
warehouse (one writer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from flows import stages
from store.schema import CHINA_TZ
from store.settings import Settings, load_settings

__all__ = ["MonitorResult", "analyse", "backfill", "make_task_runner", "monitor"]

IO_RETRIES = {"retries": 3, "retry_delay_seconds": [2, 5, 15]}


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
    timings: dict[str, float] = field(default_factory=dict)


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
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "dashboard_address": None})


# --------------------------------------------------------------------------- tasks


@task(name="collect", cache_policy=NO_CACHE, **IO_RETRIES)  # type: ignore[call-overload]
def collect_task(settings: Settings, since: dt.datetime | None, until: dt.datetime | None) -> dict[str, Any]:
    return stages.collect(settings, since=since, until=until)


@task(name="crm-import", cache_policy=NO_CACHE)
def crm_import_task(settings: Settings, customers: str, orders: str | None) -> dict[str, Any]:
    return stages.import_crm(settings, Path(customers), Path(orders) if orders else None)


@task(name="load-unanalysed", cache_policy=NO_CACHE)
def load_unanalysed_task(settings: Settings, reanalyse: bool) -> pd.DataFrame:
    return stages.load_unanalysed(settings, reanalyse=reanalyse)


@task(name="analyse-chunk", cache_policy=NO_CACHE)
def analyse_chunk_task(chunk: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    return stages.analyse_chunk(chunk, settings)


@task(name="store-analysis", cache_policy=NO_CACHE)
def store_analysis_task(settings: Settings, frames: list[pd.DataFrame]) -> int:
    return stages.store_analysis(settings, frames)


@task(name="topics", cache_policy=NO_CACHE)
def topics_task(settings: Settings) -> int:
    return stages.topics(settings)


@task(name="graph", cache_policy=NO_CACHE)
def graph_task(settings: Settings) -> dict[str, int]:
    return stages.graph(settings)


@task(name="reports", cache_policy=NO_CACHE)
def reports_task(settings: Settings, start: dt.date | None, end: dt.date | None, out_dir: Path) -> list[str]:
    return stages.reports(settings, start=start, end=end, out_dir=out_dir)


@task(name="alerts", cache_policy=NO_CACHE)  # no task retries: the outbox retries deliveries pass after pass
def alerts_task(settings: Settings, now: dt.datetime | None) -> list[str]:
    return stages.alerts(settings, now=now)


# --------------------------------------------------------------------------- flows


@flow(name="yuqing-analyse")
def analyse(settings: Settings, *, reanalyse: bool = False) -> int:
    """Score unanalysed posts: chunks fan out on the flow's task runner; the results are written here (one writer)."""
    posts = load_unanalysed_task(settings, reanalyse)
    chunks = stages.split(posts, stages.CHUNK_ROWS)
    futures = analyse_chunk_task.map(chunks, settings=unmapped(settings))
    frames = [f.result() for f in futures]
    return store_analysis_task(settings, frames)


@flow(name="yuqing-monitor")
def monitor(
    config: str | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    collect: bool = True,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    reanalyse: bool = False,
    crm_files: tuple[str, str | None] | None = None,
    report_from: dt.date | None = None,
    report_to: dt.date | None = None,
    now: dt.datetime | None = None,
) -> MonitorResult:
    """One monitoring pass: collect → store → analyse → graph → reports → alerts.

    Parameters are plain values (a settings file path and overrides) so the same flow
    runs from the CLI, from ``yuqing serve`` deployments and from tests.  The NLP stage
    runs as a subflow on the task runner the settings choose (process pool by default,
    Dask with ``flows.task_runner = "dask"``).
    """
    logger = get_run_logger()
    settings = load_settings(config, **(overrides or {}))
    result = MonitorResult()
    clock = stages.Stopwatch(result.timings)
    if collect:
        with clock("collect"):
            result.collected = collect_task(settings, since, until)
    if crm_files is not None:
        with clock("crm"):
            result.crm = crm_import_task(settings, crm_files[0], crm_files[1])
    with clock("analyse"):
        result.analysed = analyse.with_options(task_runner=make_task_runner(settings))(settings, reanalyse=reanalyse)
    with clock("topics"):
        result.topics = topics_task(settings)
    with clock("graph"):
        g = graph_task(settings)
        result.leaders, result.communities = g.get("leaders", 0), g.get("communities", 0)
    with clock("reports"):
        result.reports = reports_task(settings, report_from, report_to, settings.flows.out_dir)
    with clock("alerts"):
        result.alerts = alerts_task(settings, now)
    logger.info("monitor pass done in %.1f s: %s", sum(result.timings.values()), result.timings)
    return result


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
