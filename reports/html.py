"""Jinja2 rendering of the self-contained report pages (inline CSS, inline SVG charts, no external requests)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

__all__ = ["platform_title", "render"]


def platform_title(value: Any) -> str:
    """A platform as people call it (微博, 小红书…), from the platform registry; unknown values as they are."""
    from yuqing.collectors.platforms import PLATFORMS

    titles = {str(e.platform.value): e.title for e in PLATFORMS}
    return titles.get(str(value), str(value))


def _pct(v: Any) -> str:
    return "—" if v is None else f"{float(v):.1%}"


def _signed_pct(v: Any) -> str:
    return "—" if v is None else f"{float(v):+.1%}"


def _points(v: Any) -> str:
    return "—" if v is None else f"{float(v) * 100:+.1f} 个百分点"


def _num(v: Any) -> str:
    return "—" if v is None else f"{float(v):,.0f}"


def _wan(v: Any) -> str:
    """Counts as people read them: 1,243 · 12.4 万 · 2,289.0 万."""
    if v is None:
        return "—"
    x = float(v)
    return f"{x / 10_000:,.1f} 万" if abs(x) >= 10_000 else f"{x:,.0f}"


def _fmt(v: Any, kind: str) -> str:
    return {"pct": _pct, "signed_pct": _signed_pct, "num": _num}.get(kind, str)(v)


def _trend(change: Any, bad_when_up: bool) -> str:
    if change is None or float(change) == 0:
        return ""
    up = float(change) > 0
    return ("up-" if up else "down-") + ("bad" if up == bad_when_up else "good")


def _polarity_class(v: Any) -> str:
    if v is None:
        return ""
    return "neg" if float(v) < 0.4 else ("pos" if float(v) >= 0.6 else "")


_ENV = Environment(loader=PackageLoader("yuqing.reports", "templates"), autoescape=select_autoescape(["html", "j2"]))
_ENV.filters["pct"] = _pct
_ENV.filters["signed_pct"] = _signed_pct
_ENV.filters["points"] = _points
_ENV.filters["num"] = _num
_ENV.filters["fmt"] = _fmt
_ENV.filters["wan"] = _wan
_ENV.filters["trend"] = _trend
_ENV.filters["polarity_class"] = _polarity_class
_ENV.filters["platform"] = platform_title
_ENV.filters["f2"] = lambda v: "—" if v is None else f"{float(v):.2f}"


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)
