"""`yuqing import` of MediaCrawler exports of three platforms, then `yuqing run --no-collect`: a real DuckDB
warehouse, a real Prefect flow run (Prefect's test harness), and a report that counts every platform."""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yuqing.flows.cli import quiet_prefect_env

quiet_prefect_env()

from yuqing.flows.cli import app  # noqa: E402
from yuqing.store.warehouse import Warehouse  # noqa: E402

MC = Path(__file__).parent / "fixtures" / "importers" / "mediacrawler" / "data"


@pytest.mark.slow
def test_import_three_platforms_then_run_reports_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.testing.utilities import prefect_test_harness

    data = tmp_path / "data"
    for platform in ("weibo", "xhs", "douyin"):  # MediaCrawler's directory names
        shutil.copytree(MC / platform, data / platform)
    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(
        '[brand]\nname = "星阅"\naliases = ["星阅X5"]\n[warehouse]\npath = "w.duckdb"\n[nlp]\nworkers = 1\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("YUQING_CRM__HMAC_KEY", secrets.token_hex(32))
    runner = CliRunner()

    imported = runner.invoke(app, ["import", str(data), "-c", str(cfg)])
    assert imported.exit_code == 0, imported.output
    assert "from 8 of 8 files, 0 rejected" in imported.output
    with Warehouse.open(tmp_path / "w.duckdb", read_only=True) as wh:
        stored = wh.query("SELECT platform, count(*) AS n FROM posts GROUP BY platform")
    expected = dict(zip(stored["platform"], stored["n"], strict=True))
    assert sorted(expected) == ["douyin", "weibo", "xiaohongshu"]

    with prefect_test_harness(server_startup_timeout=180):
        run = runner.invoke(app, ["run", "--no-collect", "-c", str(cfg), "--out", str(tmp_path / "out")])
    assert run.exit_code == 0, run.output
    from yuqing.reports.html import platform_title

    report = json.loads((tmp_path / "out" / "brand_report.json").read_text(encoding="utf-8"))
    assert {p: v["posts"] for p, v in report["platforms"].items()} == expected
    assert all(v["mentions"] > 0 for v in report["platforms"].values())  # 星阅 is mentioned on each platform
    html = (tmp_path / "out" / "brand_report.html").read_text(encoding="utf-8")
    assert "平台分布" in html and all(platform_title(p) in html for p in expected)  # 微博, 小红书, 抖音
