"""Reports on a real warehouse: figures equal SQL, HTML rendered in real headless Chromium.

Alert delivery to local robot/webhook/SMTP receivers is tested in tests/test_channels.py and tests/test_delivery.py."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from yuqing.store.settings import load_settings


@pytest.fixture(scope="module")
def warehouse(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    from yuqing.collectors.fake.world import load_world
    from yuqing.flows import stages
    from yuqing.store.schema import Author, Interaction
    from yuqing.store.warehouse import Warehouse

    out = tmp_path_factory.mktemp("reports")
    env = pytest.MonkeyPatch()  # the key for this module only: a leaked key would change later tests' hashing
    env.setenv("YUQING_CRM__HMAC_KEY", "test-key-" + "0" * 32)
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
    stages.alerts(settings, dispatch=False)
    paths = stages.reports(settings, start=None, end=None, out_dir=out / "reports")
    assert any(p.endswith(".pdf") for p in paths) or shutil.which("chromium") is None
    yield settings, out / "reports"
    env.undo()


def test_report_figures_equal_the_warehouse(warehouse: tuple[Any, Path]) -> None:
    from yuqing.store.warehouse import Warehouse

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


def test_kpis_carry_the_change_against_the_previous_period(warehouse: tuple[Any, Path]) -> None:
    """环比: the previous period of the same length, counted again with SQL."""
    import datetime as dt

    from yuqing.reports.brand import brand_report
    from yuqing.store.schema import CHINA_TZ
    from yuqing.store.warehouse import Warehouse

    settings, _ = warehouse
    brand = settings.brand.name
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        span = wh.query("SELECT min(created_at) AS lo, max(created_at) AS hi FROM posts")
    lo = pd.Timestamp(span["lo"].iat[0]).tz_convert(CHINA_TZ).date()
    hi = pd.Timestamp(span["hi"].iat[0]).tz_convert(CHINA_TZ).date()
    n = ((hi - lo).days + 1) // 2
    start, end = hi - dt.timedelta(days=n - 1), hi
    figures = brand_report(settings.warehouse.path, brand, [c.name for c in settings.competitors], start, end)

    def count(a: dt.date, b: dt.date, extra: str = "") -> int:
        with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
            return int(
                wh.query(
                    "SELECT count(*) AS n FROM posts p JOIN post_analysis a USING (platform, id) "
                    f"WHERE list_contains(a.brands, ?) AND p.created_at >= ? AND p.created_at < ? {extra}",
                    [
                        brand,
                        dt.datetime.combine(a, dt.time(), tzinfo=CHINA_TZ),
                        dt.datetime.combine(b + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ),
                    ],
                )["n"].iat[0]
            )

    now, before = count(start, end), count(start - dt.timedelta(days=n), start - dt.timedelta(days=1))
    assert before > 0 and now > 0
    kpis = {k["key"]: k for k in figures["kpis"]}
    assert kpis["mentions"]["value"] == now and kpis["mentions"]["previous"] == before
    assert kpis["mentions"]["change"] == round(now / before - 1, 3)
    c_now = count(start, end, "AND a.complaint")
    c_before = count(start - dt.timedelta(days=n), start - dt.timedelta(days=1), "AND a.complaint")
    assert (kpis["complaints"]["value"], kpis["complaints"]["previous"]) == (c_now, c_before)
    t = figures["totals"][brand]
    assert (
        t["net_sentiment"] == round(t["positive_share"] - t["negative_share"], 3)
        or abs(t["net_sentiment"] - (t["positive_share"] - t["negative_share"])) < 2e-3
    )
    summary = " ".join(figures["summary"]["changed"])
    assert f"{now:,}" in summary and "环比" in summary and figures["summary"]["todo"]


def test_shown_post_text_masks_phones_and_emails() -> None:
    from yuqing.reports.brand import _shown

    shown = _shown("电池鼓包了，客服电话打不通，我的手机 13812345678，邮箱 zhang.san@example.com 快回复")
    assert "13812345678" not in shown and "zhang.san@example.com" not in shown
    assert "138****5678" in shown and "z***@example.com" in shown


def test_no_mentions_writes_a_notice_and_warns_on_the_cli(warehouse: tuple[Any, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from yuqing.flows.cli import app

    settings, _ = warehouse
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(f'[brand]\nname = "无人提及"\n[warehouse]\npath = "{settings.warehouse.path}"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["report", "brand", "-c", str(cfg), "--out", str(tmp_path / "out"), "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert "warning: no mentions of brand 无人提及" in result.stderr and "yuqing.toml" in result.stderr
    html = (tmp_path / "out" / "brand_report.html").read_text(encoding="utf-8")
    assert 'id="no-mentions"' in html and "<svg" not in html and "data-section" not in html


_DISTINCT_COLOURS = """async (b64) => {
  const img = new Image(); img.src = 'data:image/png;base64,' + b64; await img.decode();
  const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data; const seen = new Set();
  for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return seen.size; }"""


def _sections_in_chromium(html: Path, shots: Path) -> dict[str, dict[str, Any]]:
    """Open a report in headless Chromium; per section: text, its charts' drawn marks, its screenshot's colours."""
    import base64

    from playwright.sync_api import sync_playwright

    from yuqing.reports.pdf import CHROMIUM_FLAGS

    out: dict[str, dict[str, Any]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS[1:])
        page = browser.new_page(viewport={"width": 794, "height": 1123})  # A4 at 96 dpi
        page.goto(html.resolve().as_uri())
        for sec in page.locator("section[data-section]").all():
            key = sec.get_attribute("data-section") or ""
            png = sec.screenshot(path=str(shots / f"{key}.png"))
            out[key] = {
                "text": sec.inner_text(),
                "charts": [
                    {
                        "name": fig.get_attribute("data-chart"),
                        "marks": fig.locator("svg path, svg line, svg rect").count(),
                        "height": (fig.bounding_box() or {}).get("height", 0),
                    }
                    for fig in sec.locator("figure.chart").all()
                ],
                "colours": page.evaluate(_DISTINCT_COLOURS, base64.b64encode(png).decode()),
                # a header wrapping one character per line is several lines tall
                "th_height": sec.evaluate(
                    "s => Math.max(0, ...[...s.querySelectorAll('th')].map(t => t.getBoundingClientRect().height))"
                ),
            }
        out["_page"] = {
            "font_ok": page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"')"),
            # tofu check: distinct CJK glyphs render at CJK width, not as identical missing-glyph boxes
            "widths": page.evaluate(
                "(() => { const c = document.createElement('canvas').getContext('2d');"
                " c.font = '32px \"Noto Sans CJK SC\", sans-serif';"
                " return ['舆', '情', 'A', '\\uE000'].map(t => c.measureText(t).width); })()"
            ),
            "h1": page.inner_text("h1"),
            "emoji_font": page.evaluate("document.fonts.check('16px \"Noto Color Emoji\"', '👀')"),
            "emoji_width": page.evaluate(
                "(() => { const c = document.createElement('canvas').getContext('2d');"
                " c.font = getComputedStyle(document.body).fontSize + ' ' + getComputedStyle(document.body).fontFamily;"
                " return [c.measureText('👀').width, c.measureText('\\uE000').width]; })()"
            ),
        }
        browser.close()
    return out


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless Chromium (/usr/bin/chromium)")
def test_each_brand_report_section_renders_in_headless_chromium(warehouse: tuple[Any, Path], tmp_path: Path) -> None:
    _, out = warehouse
    seen = _sections_in_chromium(out / "brand_report.html", tmp_path)
    page = seen.pop("_page")
    assert "品牌舆情报告" in page["h1"] and page["font_ok"]
    widths = page["widths"]
    assert abs(widths[0] - 32) < 2 and abs(widths[1] - 32) < 2 and widths[2] < 28
    emoji, missing = page["emoji_width"]
    assert page["emoji_font"] and emoji > missing  # 👀 drawn from the colour-emoji font, not as a box
    pdf = (out / "brand_report.pdf").read_bytes()
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert boxes and all(abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in boxes)  # A4
    expected = ["summary", "kpis", "trend", "sov", "platforms", "complaints", "alerts", "topics", "top_posts", "kols"]
    assert [k for k in seen if k in expected] == expected
    for key, sec in seen.items():
        assert len(sec["text"]) > 15, key
        assert sec["colours"] > 8, f"section {key} looks blank"
        assert sec["th_height"] < 60, f"a table header of {key} wraps"
        for chart in sec["charts"]:
            assert chart["marks"] > 5 and chart["height"] > 80, (key, chart)
    charts = {c["name"] for sec in seen.values() for c in sec["charts"]}
    assert {"volume", "sentiment", "sov", "complaints", "categories"} <= charts
    text = "".join(sec["text"] for sec in seen.values())
    assert "positive" not in text and "negative" not in text and "未解决" not in text
    assert "环比" in seen["kpis"]["text"] and "建议行动" in seen["summary"]["text"]
    assert any(s in seen["kols"]["text"] for s in ("拥护", "批评", "中立"))


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless Chromium (/usr/bin/chromium)")
def test_each_campaign_report_section_renders_and_exports(warehouse: tuple[Any, Path], tmp_path: Path) -> None:
    _, out = warehouse
    html = next(out.glob("campaign_*.html"))
    assert html.with_suffix(".pdf").stat().st_size > 20_000
    daily = pd.read_csv(next(out.glob("campaign_*_daily.csv")))
    assert {"day_from_start", "effect_vs_competitors", "effect_lo95", "effect_hi95"} <= set(daily.columns)
    seen = _sections_in_chromium(html, tmp_path)
    seen.pop("_page")
    assert list(seen)[:5] == ["conclusion", "event", "trend", "metrics", "spread"]
    for key, sec in seen.items():
        assert len(sec["text"]) > 10 and sec["colours"] > 8, key
        for chart in sec["charts"]:
            assert chart["marks"] > 5 and chart["height"] > 80, (key, chart)
    assert "event_study" in {c["name"] for c in seen["event"]["charts"]}
    assert "预趋势" in seen["event"]["text"]


def _public(figures: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in figures.items() if not k.startswith("_")}, default=str, sort_keys=True)


def test_report_frames_hold_no_text_and_the_figures_are_those_read_with_every_text(warehouse: tuple[Any, Path]) -> None:
    """Issue 15: the posts frame went without its texts (the shown posts' texts are read for them alone);
    brand and campaign figures are identical to those computed from frames holding every text."""
    import dataclasses
    import datetime as dt

    from yuqing.reports.brand import _shown, brand_figures, brand_report
    from yuqing.reports.campaign import campaign_figures
    from yuqing.reports.data import campaign_frames, load_frames
    from yuqing.store.warehouse import Warehouse

    settings, out = warehouse
    path, brand, competitors = settings.warehouse.path, settings.brand.name, [c.name for c in settings.competitors]
    stage = json.loads((out / "brand_report.json").read_text(encoding="utf-8"))
    start, end = dt.date.fromisoformat(stage["period"]["from"]), dt.date.fromisoformat(stage["period"]["to"])
    n = (end - start).days + 1
    lean = brand_report(path, brand, competitors, start, end)
    assert "text" not in lean["_ctx"].frames.posts.columns
    full = brand_figures(
        load_frames(path, start, end, text=True),
        brand,
        competitors,
        start,
        end,
        previous=load_frames(path, start - dt.timedelta(days=n), start - dt.timedelta(days=1), text=True),
    )
    assert "text" in full["_ctx"].frames.posts.columns
    assert _public(lean) == _public(full)
    assert json.loads(_public(lean)) == json.loads(json.dumps(stage, sort_keys=True))
    shown = lean["top_posts"] + [e for c in lean["complaints"] for e in c["examples"]]
    assert shown and all(p["text"] for p in shown)
    key = (shown[0]["platform"], shown[0]["id"])
    with Warehouse.open(path, read_only=True) as wh:
        assert shown[0]["text"] == _shown(wh.post_texts([key, ("weibo", "no-such-post")])[key])
    for campaign in settings.campaigns:  # figures in SQL, against every post's row as the stage read them before
        window = campaign_frames(path, campaign)
        everything = load_frames(path, text=True)
        assert len(window.posts) == 0 < len(everything.posts)
        reference = dataclasses.replace(everything, source=None)  # no warehouse: computed from the rows
        figures = campaign_figures(window, campaign, brand, competitors)
        assert figures["hashtag_posts"] > 0 and figures["carriers"]
        assert _public(figures) == _public(campaign_figures(reference, campaign, brand, competitors))


def test_reports_stage_reads_texts_only_for_the_posts_it_shows(
    warehouse: tuple[Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15 bound: rows fetched *with their text* are the posts a report shows (≤ 10 top posts + 3 examples
    per complaint category) plus the campaign windows' posts (the hashtag match) — never the whole period."""
    from yuqing.flows import stages
    from yuqing.reports.data import campaign_frames
    from yuqing.store.warehouse import Warehouse

    settings, out = warehouse
    with_text = [0]
    query = Warehouse.query

    def counting(self: Warehouse, sql: str, params: Any = None) -> pd.DataFrame:
        frame = query(self, sql, params)
        if "text" in frame.columns:
            with_text[0] += len(frame)
        return frame

    report_posts = Warehouse.report_posts

    def counting_posts(self: Warehouse, **kw: Any) -> pd.DataFrame:
        frame = report_posts(self, **kw)
        if "text" in frame.columns:
            with_text[0] += len(frame)
        return frame

    windows = sum(len(campaign_frames(settings.warehouse.path, c).posts) for c in settings.campaigns)
    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        total = int(wh.query("SELECT count(*) AS n FROM posts")["n"].iat[0])
    monkeypatch.setattr(Warehouse, "query", counting)
    monkeypatch.setattr(Warehouse, "report_posts", counting_posts)
    stages.reports(settings, start=None, end=None, out_dir=tmp_path)
    categories = len(json.loads((out / "brand_report.json").read_text(encoding="utf-8"))["complaints"])
    assert with_text[0] <= 10 + 3 * categories + windows
    assert windows < total and with_text[0] < total  # the stage read every text twice before (period + all)
