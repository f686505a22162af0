"""Report charts: Vega-Lite specs built with Altair, rendered to inline SVG by vl-convert.

The SVG is drawn at report-writing time, so the HTML needs no JavaScript and no network (it opens
offline and prints to PDF exactly as it shows).  Every chart function returns an HTML fragment:
``<figure class="chart" data-chart=KEY>`` holding the SVG, or an empty state (``<div class="chart-empty">``)
when there is nothing to draw, never axes full of zeros or a blank donut.

Choice measured on the demo world's brand report (docs/architecture.md, "Report charts"): ECharts
inlines 1.12 MB of echarts.min.js in every report and draws only once its script ran; Vega-Lite
through vl-convert inlines only the SVG of each chart.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import threading
from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

__all__ = [
    "PALETTE",
    "bar_chart",
    "empty_chart",
    "event_study_chart",
    "group_bars",
    "line_chart",
    "share_chart",
    "warm_up",
]

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"]
FONT = "Noto Sans CJK SC"
WIDTH = 720
_LOCK = threading.Lock()  # vl-convert's converter is one embedded JS runtime per process


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _config(chart: alt.TopLevelMixin, title: str) -> dict[str, Any]:
    spec = chart.properties(title=alt.Title(title, anchor="start", fontSize=14, fontWeight=600)).to_dict()
    spec["config"] = {
        "font": FONT,
        "view": {"stroke": None},
        "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridColor": "#e5e7eb", "domainColor": "#9ca3af"},
        "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom", "title": None},
        "range": {"category": PALETTE},
    }
    spec["background"] = "white"
    return spec


_WARM: list[threading.Thread] = []


def warm_up() -> None:
    """Start vl-convert's JS engine in a background thread (once per process) while the report's data loads.

    Its first conversion costs ~2 s (the engine and the fonts start); it releases the GIL, so the frames and
    figures computed meanwhile hide it (docs/benchmarks.md).  The converter's lock makes the first chart wait
    for it if it comes sooner.  A failure here is left for the first real chart to report."""
    if _WARM:
        return

    def run() -> None:
        import vl_convert as vlc

        try:
            with _LOCK:
                vlc.vegalite_to_svg(vl_spec=json.dumps({"mark": "point", "data": {"values": []}}))
        except Exception:  # the first real chart raises it where it can be reported
            return

    thread = threading.Thread(target=run, name="vl-convert-warm-up", daemon=True)
    _WARM.append(thread)
    thread.start()


def _svg(key: str, spec: dict[str, Any]) -> str:
    import vl_convert as vlc

    with _LOCK:
        svg = vlc.vegalite_to_svg(vl_spec=json.dumps(spec))
    return f'<figure class="chart" data-chart="{_e(key)}">{svg}</figure>'


def empty_chart(key: str, message: str) -> str:
    """The empty state: a sentence where the chart would be."""
    return f'<div class="chart-empty" data-chart="{_e(key)}">{_e(message)}</div>'


def _days(days: Sequence[str | dt.date]) -> list[str]:
    return [d.isoformat() if isinstance(d, dt.date) else str(d) for d in days]


def _x_days(n: int) -> alt.X:
    return alt.X(
        "day:T",
        title=None,
        axis=alt.Axis(format="%m-%d", labelAngle=0, tickCount=min(n, 10), grid=False),
    )


def line_chart(
    key: str,
    days: Sequence[str | dt.date],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    y_title: str = "",
    integer: bool = True,
    percent: bool = False,
    band: tuple[Sequence[float | None], Sequence[float | None]] | None = None,
    band_label: str = "95% 区间",
    shade: tuple[str, str] | None = None,
    shade_label: str = "",
    y_domain: tuple[float, float] | None = None,
    wan: bool = False,
    empty: str = "本期没有数据",
) -> str:
    """Lines per series over days; ``band`` (lo, hi) of the first series drawn as a shaded interval;
    ``shade`` (first, last day) marks a period (e.g. a campaign); ``wan`` draws large counts in 万 (10,000)."""
    div = 10_000.0 if wan else 1.0
    rows = [
        {"day": d, "series": name, "value": v / div}
        for name, vs in series.items()
        for d, v in zip(_days(days), vs, strict=True)
        if v is not None and v == v
    ]
    if not rows or (all(not r["value"] for r in rows) and not percent and y_domain is None):
        return empty_chart(key, empty)
    frame = pd.DataFrame(rows)
    fmt = ".0%" if percent else (",.0f" if wan else (",d" if integer else ".2f"))
    y_title = y_title + ("（万）" if wan else "")
    y_scale = alt.Scale(domain=list(y_domain), nice=False) if y_domain else alt.Scale(zero=integer, nice=True)
    y = alt.Y(
        "value:Q",
        title=y_title or None,
        scale=y_scale,
        axis=alt.Axis(format=fmt, tickMinStep=1 if integer else alt.Undefined, tickCount=5),
    )
    layers: list[Any] = []
    if shade:
        layers.append(
            alt.Chart(pd.DataFrame({"start": [shade[0]], "end": [shade[1]], "label": [shade_label]}))
            .mark_rect(color="#fde68a", opacity=0.45)
            .encode(x="start:T", x2="end:T", tooltip=["label:N"])
        )
    if band is not None:
        first = next(iter(series))
        b = pd.DataFrame({"day": _days(days), "lo": list(band[0]), "hi": list(band[1])}).dropna()
        if not b.empty:
            layers.append(
                alt.Chart(b.assign(series=first))
                .mark_area(opacity=0.18, color=PALETTE[0])
                .encode(x="day:T", y=alt.Y("lo:Q", scale=y_scale), y2="hi:Q")
            )
    color = alt.Color("series:N", sort=list(series), legend=alt.Legend() if len(series) > 1 else None)
    layers.append(
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=2)
        .encode(x=_x_days(len(days)), y=y, color=color)
    )
    chart = alt.layer(*layers).properties(width=WIDTH, height=220)
    return _svg(key, _config(chart, title))


def share_chart(
    key: str, days: Sequence[str | dt.date], counts: dict[str, Sequence[int]], *, title: str, empty: str
) -> str:
    """Stacked share (100 %) of each series per day: share of voice over time."""
    rows = [
        {"day": d, "series": name, "value": int(v)}
        for name, vs in counts.items()
        for d, v in zip(_days(days), vs, strict=True)
    ]
    if not any(r["value"] for r in rows):
        return empty_chart(key, empty)
    chart = (
        alt.Chart(pd.DataFrame(rows))
        .mark_area()
        .encode(
            x=_x_days(len(days)),
            y=alt.Y("value:Q", stack="normalize", title=None, axis=alt.Axis(format=".0%", tickCount=5)),
            color=alt.Color("series:N", sort=list(counts)),
            order=alt.Order("series_order:Q"),
        )
        .transform_calculate(series_order=f"indexof({json.dumps(list(counts))}, datum.series)")
        .properties(width=WIDTH, height=200)
    )
    return _svg(key, _config(chart, title))


def bar_chart(
    key: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    empty: str,
    color: str = PALETTE[0],
    percent: bool = False,
) -> str:
    """Horizontal bars, largest first, each with its value."""
    frame = pd.DataFrame({"label": [str(v)[:24] for v in labels], "value": list(values)})
    frame = frame[frame["value"] > 0]
    if frame.empty:
        return empty_chart(key, empty)
    fmt = ".0%" if percent else ",d"
    y = alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220))
    x = alt.X("value:Q", title=None, axis=alt.Axis(format=fmt, tickMinStep=1, tickCount=5))
    base = alt.Chart(frame).encode(y=y, x=x)
    chart = alt.layer(
        base.mark_bar(color=color, cornerRadiusEnd=2),
        base.mark_text(align="left", dx=4, fontSize=11, color="#374151").encode(text=alt.Text("value:Q", format=fmt)),
    ).properties(width=WIDTH - 240, height=max(60, 24 * len(frame)))
    return _svg(key, _config(chart, title))


def event_study_chart(
    key: str,
    rel_days: Sequence[int],
    estimate: Sequence[float],
    lo: Sequence[float],
    hi: Sequence[float],
    *,
    title: str,
    empty: str,
) -> str:
    """Effect per day relative to the campaign start (day 0), with its interval as a band and zero as a rule."""
    frame = pd.DataFrame({"day": list(rel_days), "est": list(estimate), "lo": list(lo), "hi": list(hi)}).dropna()
    if frame.empty:
        return empty_chart(key, empty)
    x = alt.X("day:Q", title="相对活动开始的天数", axis=alt.Axis(format="d", tickMinStep=1))
    y_fmt = alt.Axis(format="+.0%", tickCount=6)
    base = alt.Chart(frame)
    chart = alt.layer(
        base.mark_area(opacity=0.2, color=PALETTE[0]).encode(
            x=x, y=alt.Y("lo:Q", title="相对竞品的变化", axis=y_fmt), y2="hi:Q"
        ),
        base.mark_line(color=PALETTE[0], point=alt.OverlayMarkDef(size=24)).encode(x=x, y="est:Q"),
        alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#6b7280", strokeDash=[4, 3]).encode(y="y:Q"),
        alt.Chart(pd.DataFrame({"x": [-0.5]})).mark_rule(color="#d97706").encode(x="x:Q"),
    ).properties(width=WIDTH, height=240)
    return _svg(key, _config(chart, title))


def group_bars(
    key: str,
    rows: Sequence[tuple[str, str, float]],
    *,
    title: str,
    empty: str,
    y_title: str = "",
    fmt: str = ",.0f",
) -> str:
    """Bars of (category, group, value) side by side per category (e.g. pre/post window × two groups)."""
    frame = pd.DataFrame(list(rows), columns=["category", "group", "value"]).dropna()
    if frame.empty or not frame["value"].any():
        return empty_chart(key, empty)
    cats, groups = list(dict.fromkeys(frame["category"])), list(dict.fromkeys(frame["group"]))
    base = alt.Chart(frame).encode(
        x=alt.X("category:N", sort=cats, title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("group:N", sort=groups),
        y=alt.Y("value:Q", title=y_title or None, axis=alt.Axis(format=fmt, tickCount=5)),
    )
    chart = alt.layer(
        base.mark_bar(cornerRadiusEnd=2).encode(color=alt.Color("group:N", sort=groups)),
        base.mark_text(dy=-6, fontSize=11, color="#374151").encode(text=alt.Text("value:Q", format=fmt)),
    ).properties(width=WIDTH - 300, height=220)
    return _svg(key, _config(chart, title))
