"""Report charts as drawn by vl-convert: nice ticks, whole numbers for counts, empty states, intervals as bands."""

from __future__ import annotations

import itertools
import re

from yuqing.reports.charts import bar_chart, event_study_chart, line_chart, share_chart

DAYS = [f"2026-10-{d:02d}" for d in range(1, 6)]


def _axis_labels(svg: str) -> list[list[str]]:
    groups = re.findall(r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', svg)
    return [re.findall(r">([^<]*)</text>", g) for g in groups]


def test_count_axis_has_nice_whole_ticks() -> None:
    svg = line_chart("v", DAYS, {"星阅": [1, 1, 0, 0, 88]}, title="每日提及量")
    x_labels, y_labels = _axis_labels(svg)
    assert x_labels[0] == "10-01"
    values = [int(v.replace(",", "")) for v in y_labels]
    step = values[1] - values[0]
    assert values[0] == 0 and step in (10, 20, 25, 50)  # not 0/22/44/66/88
    assert all(b - a == step for a, b in itertools.pairwise(values))
    small = line_chart("v", DAYS, {"星阅": [0, 1, 2, 1, 3]}, title="每日提及量")
    assert all("." not in v for v in _axis_labels(small)[1])  # no 0.5 posts


def test_nothing_to_draw_is_an_empty_state_not_zeros() -> None:
    for html in (
        line_chart("v", DAYS, {"星阅": [0, 0, 0, 0, 0]}, title="t", empty="本期没有提及"),
        line_chart("v", DAYS, {"星阅": [None] * 5}, title="t", integer=False, empty="本期没有提及"),
        share_chart("sov", DAYS, {"星阅": [0] * 5, "云雀": [0] * 5}, title="t", empty="本期没有提及"),
        bar_chart("c", [], [], title="t", empty="本期没有提及"),
        bar_chart("c", ["质量"], [0], title="t", empty="本期没有提及"),
        event_study_chart("e", [], [], [], [], title="t", empty="本期没有提及"),
    ):
        assert html.startswith('<div class="chart-empty"') and "本期没有提及" in html and "<svg" not in html


def test_intervals_are_drawn_as_bands() -> None:
    band = line_chart(
        "s",
        DAYS,
        {"情感": [0.5, 0.6, 0.4, 0.5, 0.7]},
        title="t",
        integer=False,
        band=([0.4, 0.5, 0.3, 0.4, 0.6], [0.6, 0.7, 0.5, 0.6, 0.8]),
        y_domain=(0.0, 1.0),
    )
    plain = line_chart("s", DAYS, {"情感": [0.5, 0.6, 0.4, 0.5, 0.7]}, title="t", integer=False, y_domain=(0.0, 1.0))
    assert band.count('class="mark-area') == 1 and plain.count('class="mark-area') == 0
    es = event_study_chart(
        "e", [-2, -1, 0, 1], [0.0, 0.1, 0.8, 0.9], [-0.2, -0.1, 0.5, 0.6], [0.2, 0.3, 1.1, 1.2], title="t", empty=""
    )
    assert es.count('class="mark-area') == 1 and "+100%" in " ".join(" ".join(g) for g in _axis_labels(es))
