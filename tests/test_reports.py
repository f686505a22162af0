"""Reports on a real warehouse: figures equal SQL, HTML rendered in real headless Chromium.

Alert delivery to local robot/webhook/SMTP receivers is tested in tests/test_channels.py and tests/test_delivery.py."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from store.settings import load_settings


@pytest.fixture(scope="module")
def warehouse(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    from collectors.fake.world import load_world
    from flows import stages
    from store.schema import Author, Interaction
    from store.warehouse import Warehouse

    out = tmp_path_factory.mktemp("reports")
    os.environ.setdefault("YUQING_CRM__HMAC_KEY", "test-key-" + "0" * 32)
    settings = load_settings(small_world / "yuqing.toml", warehouse={"path": str(out / "w.duckdb")})
    world = load_world(small_world)
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.upsert_posts_frame(world.posts)
        wh.upsert_authors(Author.model_validate(r) for r in world.authors.to_dict("records"))
        wh.add_interactions(Interaction.model_validate(r) for r in world.interactions.to_dict("records"))
    stages.import_crm(settings, small_world / "customers.csv", small_world / "orders.csv")
    frames = [stages.analyse_chunk(c, settings) for c in stages.split(stages.load_unanalysed(settings), 5000)]
    stages.store_analysis(settings, frames)
    stages.graph(settings)
    paths = stages.reports(settings, start=None, end=None, out_dir=out / "reports")
    assert any(p.endswith(".pdf") for p in paths) or shutil.which("chromium") is None
    yield settings, out / "reports"


def test_report_figures_equal_the_warehouse(warehouse: tuple[Any, Path]) -> None:
    from store.warehouse import Warehouse

    settings, out = warehouse
    figures = json.loads((out / "brand_report.json").read_text(encoding="utf-8"))
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        for brand in [settings.brand.name, *[c.name for c in settings.competitors]]:
            n = wh.query("SELECT count(*) AS n FROM post_analysis WHERE list_contains(brands, ?)", [brand])["n"].iat[0]
            assert figures["totals"][brand]["mentions"] == n
        complaints = wh.query(
            "SELECT count(*) AS n FROM post_analysis WHERE complaint AND list_contains(brands, ?)",
            [settings.brand.name],
        )["n"].iat[0]
    assert figures["totals"][settings.brand.name]["complaints"] == complaints
    assert sum(figures["daily"]["volume"][settings.brand.name]) == figures["totals"][settings.brand.name]["mentions"]
    daily = pd.read_csv(out / "brand_daily.csv")
    assert daily[f"volume_{settings.brand.name}"].sum() == figures["totals"][settings.brand.name]["mentions"]
    html = (out / "brand_report.html").read_text(encoding="utf-8")
    assert "<script" not in html and 'src="http' not in html and 'href="http' not in html  # opens offline


def test_no_clear_pii_in_reports(warehouse: tuple[Any, Path], small_world: Path) -> None:
    _, out = warehouse
    customers = pd.read_csv(small_world / "customers.csv", dtype=str, keep_default_na=False)
    text = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.html")) + "".join(
        p.read_text(encoding="utf-8") for p in out.glob("*.json")
    )
    digits = "".join(ch for ch in text if ch.isdigit())
    for phone in filter(None, customers["手机"]):
        national = "".join(ch for ch in phone if ch.isdigit())[-11:]
        assert national not in digits
    for email in filter(None, customers["邮箱"]):
        assert email not in text
    for name in filter(None, customers["姓名"]):
        assert len(name) < 2 or name not in text


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless Chromium (/usr/bin/chromium)")
def test_report_renders_in_headless_chromium(warehouse: tuple[Any, Path], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from reports.pdf import CHROMIUM_FLAGS

    _, out = warehouse
    shot = tmp_path / "report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS[1:])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto((out / "brand_report.html").resolve().as_uri())
        page.screenshot(path=str(shot), full_page=True)
        heading = page.inner_text("h1")
        charts = page.locator("svg.chart").count()
        polylines = page.locator("svg.chart polyline").count()
        font_ok = page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"')")
        # tofu check: distinct CJK glyphs render at CJK width, not as identical missing-glyph boxes
        widths = page.evaluate(
            "(() => { const c = document.createElement('canvas').getContext('2d');"
            " c.font = '32px \"Noto Sans CJK SC\", sans-serif';"
            " return ['舆', '情', 'A', '\\uE000'].map(t => c.measureText(t).width); })()"
        )
        browser.close()
    assert "品牌舆情报告" in heading
    assert charts >= 5 and polylines >= 3
    assert font_ok
    assert abs(widths[0] - 32) < 2 and abs(widths[1] - 32) < 2 and widths[2] < 28
    assert shot.stat().st_size > 50_000
