"""``yuqing score`` on analysts' CSV files: rows, not lines; a header-only file is not an error."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from yuqing.flows.cli import app

ADDED = ["sentiment", "polarity", "complaint", "complaint_category", "emotion", "keywords"]


def _score(src: Path, out: Path) -> str:
    result = CliRunner().invoke(app, ["score", str(src), "--output", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_quoted_text_spanning_two_lines_is_one_row(tmp_path: Path) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        writer.writerow(["1", "星阅X5电池鼓包了，\n充电烫手，售后不理人"])  # a newline inside the quoted text
        writer.writerow(["2", "物流很快，包装完好，好评"])
    assert len(src.read_text(encoding="utf-8").splitlines()) == 4  # 4 lines on disk, 2 rows

    output = _score(src, out)

    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert scored["id"].tolist() == ["1", "2"]
    assert scored["text"].iat[0] == "星阅X5电池鼓包了，\n充电烫手，售后不理人"
    assert set(ADDED) <= set(scored.columns)
    assert "scored 2 rows" in output
    assert "2/2 rows" in output and "2/3 rows" not in output  # the bar finishes on rows scored, not lines


def test_a_header_only_file_writes_the_header_with_the_added_columns(tmp_path: Path) -> None:
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("id,text\n", encoding="utf-8")

    output = _score(src, out)

    assert "scored 0 rows" in output
    header = out.read_text(encoding="utf-8").splitlines()
    assert header == [",".join(["id", "text", *ADDED])]
    assert pd.read_csv(out).empty
    assert not (tmp_path / "out.csv.part").exists()


def test_brands_and_brand_sentiment_are_written_when_brands_are_configured(tmp_path: Path) -> None:
    import json

    cfg = tmp_path / "yuqing.toml"
    cfg.write_text(
        '[brand]\nname = "星阅"\naliases = ["小星"]\n\n[[competitors]]\nname = "楚风"\n\n'
        "[nlp]\nneutral_band = [0.3, 0.7]\n",
        encoding="utf-8",
    )
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    texts = ["星阅X5拍照很好看很满意，楚风K9发热严重太失望了", "小星的售后太慢了", "今天天气不错"]
    pd.DataFrame({"id": ["1", "2", "3"], "text": texts}).to_csv(src, index=False)
    args = ["score", str(src), "--output", str(out), "--workers", "1", "--config", str(cfg)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(scored.columns) == ["id", "text", *ADDED, "brands", "brand_sentiment"]
    assert [json.loads(b) for b in scored["brands"]] == [["星阅", "楚风"], ["星阅"], []]
    first = json.loads(scored["brand_sentiment"].iat[0])
    assert first["星阅"] > 0.5 > first["楚风"]
    assert json.loads(scored["brand_sentiment"].iat[2]) == {}
    # the configured band decides polarity: the same score is neutral under a wide band
    sentiment = scored["sentiment"].astype(float)
    assert all(p == "neutral" for p, s in zip(scored["polarity"], sentiment, strict=True) if 0.3 <= s <= 0.7)
