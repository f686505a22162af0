"""Inline SVG charts generated in Python: the reports open offline, with no JavaScript or CDN."""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["PALETTE", "bar_chart", "donut_chart", "line_chart"]

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"]
FONT = "font-family:'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def line_chart(
    x_labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    width: int = 760,
    height: int = 260,
    y_min: float | None = None,
    y_max: float | None = None,
    y_format: str = "{:,.0f}",
    highlight: Sequence[int] = (),
) -> str:
    left, right, top, bottom = 56, 16, 34, 46
    w, h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v == v]
    lo = y_min if y_min is not None else min([0.0, *values])
    hi = y_max if y_max is not None else max([1.0, *values])
    if hi <= lo:
        hi = lo + 1
    n = max(1, len(x_labels) - 1)

    def px(i: int) -> float:
        return left + w * i / n

    def py(v: float) -> float:
        return top + h - (v - lo) / (hi - lo) * h

    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" style="{FONT};max-width:{width}px">',
        f'<text x="{left}" y="20" font-size="14" font-weight="600" fill="#111">{_e(title)}</text>',
    ]
    for i in highlight:
        parts.append(
            f'<rect x="{px(i) - w / n / 2:.1f}" y="{top}" width="{max(2, w / n):.1f}" height="{h}" '
            f'fill="#fde68a" opacity="0.6"/>'
        )
    for t in range(5):
        v = lo + (hi - lo) * t / 4
        y = py(v)
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#555">'
            f"{_e(y_format.format(v))}</text>"
        )
    step = max(1, len(x_labels) // 8)
    for i in range(0, len(x_labels), step):
        parts.append(
            f'<text x="{px(i):.1f}" y="{top + h + 16}" font-size="11" text-anchor="middle" fill="#555">'
            f"{_e(x_labels[i])}</text>"
        )
    for si, (name, vs) in enumerate(series.items()):
        color = PALETTE[si % len(PALETTE)]
        pts = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(vs) if v == v)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        lx = left + si * 130
        parts.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{color}"/>'
            f'<text x="{lx + 14}" y="{height - 5}" font-size="12" fill="#333">{_e(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    width: int = 760,
    bar_h: int = 22,
    value_format: str = "{:,.0f}",
    color: str = PALETTE[0],
) -> str:
    left, top = 190, 34
    height = top + bar_h * len(labels) + 12
    hi = max([1.0, *values])
    w = width - left - 80
    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" style="{FONT};max-width:{width}px">',
        f'<text x="8" y="20" font-size="14" font-weight="600" fill="#111">{_e(title)}</text>',
    ]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = top + i * bar_h
        bw = w * v / hi
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_h * 0.7:.1f}" font-size="12" text-anchor="end" fill="#333">'
            f"{_e(str(label)[:18])}</text>"
        )
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{bw:.1f}" height="{bar_h - 6}" fill="{color}" rx="2"/>')
        parts.append(
            f'<text x="{left + bw + 6:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="12" fill="#333">'
            f"{_e(value_format.format(v))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def donut_chart(labels: Sequence[str], values: Sequence[float], *, title: str, size: int = 260) -> str:
    import math

    total = sum(values) or 1.0
    cx, cy, r, r2 = size / 2, size / 2 + 14, size / 2 - 30, size / 2 - 62
    width = size + 220
    parts = [
        f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {size + 20}" '
        f'xmlns="http://www.w3.org/2000/svg" style="{FONT};max-width:{width}px">',
        f'<text x="8" y="20" font-size="14" font-weight="600" fill="#111">{_e(title)}</text>',
    ]
    angle = -math.pi / 2
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        frac = v / total
        end = angle + frac * 2 * math.pi
        large = 1 if frac > 0.5 else 0
        x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
        x2, y2 = cx + r * math.cos(end - 1e-6), cy + r * math.sin(end - 1e-6)
        x3, y3 = cx + r2 * math.cos(end - 1e-6), cy + r2 * math.sin(end - 1e-6)
        x4, y4 = cx + r2 * math.cos(angle), cy + r2 * math.sin(angle)
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<path d="M{x1:.1f},{y1:.1f} A{r},{r} 0 {large} 1 {x2:.1f},{y2:.1f} L{x3:.1f},{y3:.1f} '
            f'A{r2},{r2} 0 {large} 0 {x4:.1f},{y4:.1f} Z" fill="{color}"/>'
        )
        ly = 40 + i * 20
        parts.append(
            f'<rect x="{size + 10}" y="{ly - 10}" width="12" height="12" fill="{color}"/>'
            f'<text x="{size + 28}" y="{ly}" font-size="12" fill="#333">{_e(label)} {frac:.1%}</text>'
        )
        angle = end
    parts.append("</svg>")
    return "".join(parts)
