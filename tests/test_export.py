"""``yuqing export``: posts with their analysis, mentions and alerts as Parquet (read back) and guarded CSV."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.test_query import run_cli
from yuqing.store.export import guard_cells, write_batches
from yuqing.store.schema import CHINA_TZ, Platform, Post
from yuqing.store.settings import Settings, load_settings
from yuqing.store.warehouse import Warehouse

T0 = dt.datetime(2026, 10, 1, 8, 0, tzinfo=CHINA_TZ)
RISKY = ["=1+1", "+86 138", "-5 分", "@小星 你好", "\tTAB", "\rCR"]
TEXTS = ["星阅X5续航很好，推荐", "云雀S3发热严重，客服不理人", "星阅和云雀对比，星阅更流畅", "今天天气不错", *RISKY]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Settings]]:
    """A warehouse with 60 posts, analysed by the real text stage, and one stored alert."""
    from yuqing.flows.stages import analyse_chunk, store_analysis

    root = tmp_path_factory.mktemp("export")
    cfg = root / "yuqing.toml"
    cfg.write_text(
        '[brand]\nname = "星阅"\nquery = "星阅 OR XingYue"\n[[competitors]]\nname = "云雀"\n'
        '[warehouse]\npath = "w.duckdb"\n',
        encoding="utf-8",
    )
    settings = load_settings(cfg)
    posts = [
        Post(
            platform=Platform.WEIBO if i % 3 else Platform.DOUYIN,
            id=f"p{i:03d}",
            text=TEXTS[i % len(TEXTS)],
            created_at=T0 + dt.timedelta(hours=12 * i),
            author_id=str(i % 4),
            author_name=["小星", "=HYPERLINK(1)", "用户2", "用户3"][i % 4],
            topics=["双十一"] if i % 5 == 0 else [],
            reposts_count=i,
        )
        for i in range(60)
    ]
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.upsert_posts(posts)
        chunk = wh.query("SELECT platform, id, text FROM posts ORDER BY id")
    store_analysis(settings, [analyse_chunk(chunk, settings)])
    alert = {
        "alert_id": "a1",
        "brand": "云雀",
        "category": "质量",
        "categories": json.dumps(["质量"], ensure_ascii=False),
        "keywords": json.dumps({"发热": 3.0}, ensure_ascii=False),
        "status": "new",
        "started_at": pd.Timestamp(T0 + dt.timedelta(days=10)),
        "last_spike_at": pd.Timestamp(T0 + dt.timedelta(days=11)),
        "peak_z": 5.5,
        "complaints": 12,
        "severity": 0.8,
        "affected_customers": json.dumps([{"customer_id": "c1"}]),
        "affected_clv": 1200.0,
        "reach": 3000,
        "evidence": json.dumps(["p001"]),
        "updated_at": pd.Timestamp(T0 + dt.timedelta(days=12)),
    }
    with Warehouse.open(settings.warehouse.path) as wh:
        wh.write_frame("alerts", pd.DataFrame([alert]))
    yield cfg, settings


def test_export_round_trips_through_parquet(
    analysed: tuple[Path, Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, settings = analysed
    out = tmp_path / "bi"
    code, stdout, _ = run_cli(["export", "-c", str(cfg), "--out", str(out), "--batch-rows", "7"], capsys, monkeypatch)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "alerts.csv",
        "alerts.parquet",
        "mentions.csv",
        "mentions.parquet",
        "posts.csv",
        "posts.parquet",
    ]
    assert "wrote" in stdout and "posts.parquet (60 rows)" in stdout

    with Warehouse.open(settings.warehouse.path, read_only=True) as wh:
        stored = wh.query(
            "SELECT p.id, p.text, p.created_at, p.topics, a.sentiment, a.complaint, a.brands, a.brand_sentiment "
            "FROM posts p JOIN post_analysis a USING (platform, id) ORDER BY p.created_at"
        )
    posts = pq.read_table(out / "posts.parquet").to_pandas()
    assert list(posts["id"]) == list(stored["id"])
    assert list(posts["text"]) == list(stored["text"])  # parquet keeps raw text, formulas and all
    assert list(posts["sentiment"]) == list(stored["sentiment"])
    assert list(posts["complaint"]) == list(stored["complaint"])
    assert [list(b) for b in posts["brands"]] == [list(b) for b in stored["brands"]]
    assert [list(t) for t in posts["topics"]] == [list(t) for t in stored["topics"]]
    assert (pd.to_datetime(posts["created_at"], utc=True) == pd.to_datetime(stored["created_at"], utc=True)).all()
    assert "tokens" not in posts.columns and "raw" not in posts.columns
    # streamed: one row group per chunk, not one for the whole table
    assert pq.ParquetFile(out / "posts.parquet").num_row_groups >= 60 // 7

    mentions = pq.read_table(out / "mentions.parquet").to_pandas()
    expected = [
        (pid, brand, json.loads(bs)[brand])
        for pid, brands, bs in zip(stored["id"], stored["brands"], stored["brand_sentiment"], strict=True)
        for brand in sorted(brands)
    ]
    assert sorted(zip(mentions["id"], mentions["brand"], mentions["brand_sentiment"], strict=True)) == sorted(expected)
    assert {"星阅", "云雀"} <= set(mentions["brand"])

    alerts = pq.read_table(out / "alerts.parquet").to_pandas()
    assert list(alerts["alert_id"]) == ["a1"]
    assert json.loads(alerts.loc[0, "keywords"]) == {"发热": 3.0}


def test_csv_is_guarded_against_formulas(
    analysed: tuple[Path, Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = analysed
    out = tmp_path / "bi"
    code, _, _ = run_cli(["export", "-c", str(cfg), "--out", str(out), "--format", "csv"], capsys, monkeypatch)
    assert code == 0
    assert not (out / "posts.parquet").exists()
    raw = (out / "posts.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel/WPS read UTF-8 Chinese correctly
    frame = pd.read_csv(out / "posts.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(frame) == 60
    texts = set(frame["text"])
    for risky in RISKY:
        assert "'" + risky in texts, risky
        assert risky not in texts
    assert not any(str(v).startswith(("=", "+", "-", "@")) for col in frame.columns for v in frame[col])
    assert "'=HYPERLINK(1)" in set(frame["author_name"])
    assert "星阅X5续航很好，推荐" in texts  # ordinary cells untouched
    assert frame.loc[0, "created_at"].endswith("+08:00")
    assert json.loads(frame.loc[0, "brands"]) in (["星阅"], ["云雀"], ["星阅", "云雀"], [])


def test_export_period_filters_posts_mentions_and_alerts(
    analysed: tuple[Path, Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = analysed
    out = tmp_path / "bi"
    args = [
        "export",
        "-c",
        str(cfg),
        "--out",
        str(out),
        "--format",
        "parquet",
        "--from",
        "2026-10-03",
        "--to",
        "2026-10-05",
    ]
    code, _, _ = run_cli(args, capsys, monkeypatch)
    assert code == 0
    posts = pq.read_table(out / "posts.parquet").to_pandas()
    days = {ts.tz_convert(CHINA_TZ).date() for ts in pd.to_datetime(posts["created_at"], utc=True)}
    assert days == {dt.date(2026, 10, 3), dt.date(2026, 10, 4), dt.date(2026, 10, 5)}
    assert len(posts) == 6  # two posts a day
    mentions = pq.read_table(out / "mentions.parquet").to_pandas()
    assert set(mentions["id"]) <= set(posts["id"])
    assert pq.read_table(out / "alerts.parquet").num_rows == 0  # the alert ran 10-11 .. 10-12


def test_export_rejects_an_unknown_format(
    analysed: tuple[Path, Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = analysed
    code, _, err = run_cli(["export", "-c", str(cfg), "--out", str(tmp_path), "--format", "xlsx"], capsys, monkeypatch)
    assert code == 2
    assert "xlsx" in err


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_failed_export_leaves_the_previous_file(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"posts.{fmt}"
    target.write_text("previous export", encoding="utf-8")
    schema = pa.schema([("id", pa.string())])

    def batches() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch([pa.array(["1", "2"])], schema=schema)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_batches(pa.RecordBatchReader.from_batches(schema, batches()), target, fmt)  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "previous export"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left behind


def test_guard_cells_only_touches_formula_starts() -> None:
    values = pd.Series(["=SUM(A1)", "普通", None, "a=b", "-", "@"], dtype=object)
    out = list(guard_cells(values))
    assert out[:2] + out[3:] == ["'=SUM(A1)", "普通", "a=b", "'-", "'@"]
    assert pd.isna(out[2])
