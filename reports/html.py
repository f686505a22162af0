"""Jinja2 rendering of the self-contained report pages (inline CSS, inline SVG, no external requests)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

__all__ = ["render"]

_ENV = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]))
_ENV.filters["pct"] = lambda v: "—" if v is None else f"{float(v):.1%}"
_ENV.filters["num"] = lambda v: "—" if v is None else f"{float(v):,.0f}"
_ENV.filters["f2"] = lambda v: "—" if v is None else f"{float(v):.2f}"


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)
