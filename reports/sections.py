"""Report sections: each a small unit of data function + template block, kept in an ordered registry.

A section is added by writing ``compute(ctx) -> data`` (JSON-able, or ``None`` to leave the section
out of this report), a template ``templates/sections/<key>.html.j2`` (which sees ``s`` = its data,
``f`` = all figures, ``c`` = its charts, ``ctx``), optionally ``charts(data, ctx) -> {name: html}``
and ``rows(data) -> DataFrame`` (exported as ``<report>_<key>.csv``), then registering it:

    register(BRAND_SECTIONS, Section("tickets", "工单与投诉", compute=..., rows=...), after="complaints")

The report's ``figures`` JSON holds each section's data under its key, so what people read in the
HTML is what BI tools load.  Sections with ``late=True`` are computed after all others (they read
the others' data from ``ctx.figures``: the executive summary).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from yuqing.reports.data import ReportFrames

__all__ = [
    "BRAND_SECTIONS",
    "CAMPAIGN_SECTIONS",
    "ReportContext",
    "Section",
    "compute_sections",
    "register",
    "write_extras",
]


@dataclass
class ReportContext:
    """What a section computes from: the period's frames, the previous period's, the brand and its peers."""

    frames: ReportFrames
    brand: str
    competitors: list[str]
    start: dt.date
    end: dt.date
    previous: ReportFrames | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the campaign settings

    @property
    def days(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end, freq="D")

    @property
    def previous_period(self) -> tuple[dt.date, dt.date]:
        n = (self.end - self.start).days + 1
        return self.start - dt.timedelta(days=n), self.start - dt.timedelta(days=1)


def _no_charts(_data: Any, _ctx: ReportContext) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    compute: Callable[[ReportContext], Any]
    charts: Callable[[Any, ReportContext], dict[str, str]] = _no_charts
    rows: Callable[[Any], pd.DataFrame] | None = None
    late: bool = False
    template_name: str = ""  # default: sections/<key>.html.j2

    @property
    def template(self) -> str:
        return self.template_name or f"sections/{self.key}.html.j2"


BRAND_SECTIONS: list[Section] = []
CAMPAIGN_SECTIONS: list[Section] = []


def register(registry: list[Section], section: Section, *, after: str | None = None) -> Section:
    """Add (or replace, by key) a section; ``after`` places it behind another section's key."""
    registry[:] = [s for s in registry if s.key != section.key]
    if after is None:
        registry.append(section)
    else:
        keys = [s.key for s in registry]
        registry.insert(keys.index(after) + 1 if after in keys else len(registry), section)
    return section


def compute_sections(registry: list[Section], ctx: ReportContext) -> list[Section]:
    """Fill ``ctx.figures[key]`` for every section (late ones last); return the sections that have data."""
    taken = set(ctx.figures)
    for section in [s for s in registry if not s.late] + [s for s in registry if s.late]:
        if section.key in taken:
            raise ValueError(f"section key {section.key!r} is already a figure of this report")
        ctx.figures[section.key] = section.compute(ctx)
    return [s for s in registry if ctx.figures.get(s.key) is not None]


def write_extras(
    shown: list[Section], figures: dict[str, Any], html_path: Path, *, prefix: str, pdf: bool
) -> list[Path]:
    """Each shown section's rows as ``<prefix>_<key>.csv`` beside the HTML, then the PDF when asked and possible."""
    paths = []
    for s in shown:
        if s.rows is not None:
            path = html_path.parent / f"{prefix}_{s.key}.csv"
            s.rows(figures[s.key]).to_csv(path, index=False)
            paths.append(path)
    if pdf:
        from yuqing.reports.pdf import html_to_pdf

        pdf_path = html_to_pdf(html_path, html_path.with_suffix(".pdf"))
        if pdf_path is not None:
            paths.append(pdf_path)
    return paths
