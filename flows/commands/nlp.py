"""``yuqing score`` and ``yuqing train``: the text stage on analysts' own CSV files."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path
from typing import Literal

import typer

from yuqing.store.errors import InputError

train_app = typer.Typer(help="Retrain the text models from labelled data.", no_args_is_help=True)


def _count_rows(path: Path) -> int:
    """Lines after the header: the progress bar's total (an upper bound when quoted texts span lines)."""
    with path.open("rb") as fh:
        return max(0, sum(1 for _ in fh) - 1)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")

    @app.command()
    def score(
        input: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a text column."),
        output: Path = typer.Option(..., "--output", "-o", help="CSV to write (input columns + analysis)."),
        text_col: str = typer.Option("text", "--text-col", help="Name of the text column."),
        workers: int = typer.Option(0, "--workers", min=0, help="Processes (0 = one per core)."),
        chunk_size: int = typer.Option(20_000, "--chunk-size", min=100, help="Rows per chunk (bounds memory)."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Settings (brands, sentiment model)."),
        excel_safe: bool = typer.Option(
            True, "--excel-safe/--no-excel-safe", help="Prefix cells starting with = + - @ with ' (no formulas)."
        ),
    ) -> None:
        """Add sentiment, polarity, complaint, complaint_category, emotion and keywords to every row.

        With brands configured (``--config`` or ./yuqing.toml) also ``brands`` (JSON list of the brands a row
        names) and ``brand_sentiment`` (JSON object: brand → P(positive) toward it).
        """
        import os

        import pandas as pd
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from yuqing.flows.commands.io import atomic_output, chunks, open_table
        from yuqing.flows.commands.io import excel_safe as guard
        from yuqing.nlp.pipeline import ParallelAnalyzer, TextModels, analyze_frame
        from yuqing.nlp.segment import Segmenter
        from yuqing.store.settings import load_settings

        settings = load_settings(config) if config or Path("yuqing.toml").exists() else None
        table = open_table(input, required=[text_col], allow_empty=True)  # header only: header-only output
        header = pd.DataFrame(columns=table.columns)
        segmenter = Segmenter.from_settings(settings) if settings else Segmenter()
        models = TextModels.from_settings(settings.nlp if settings else None)
        sentiment_path = models.sentiment_path
        brands = settings.all_brands if settings else []
        n_workers = workers or (os.cpu_count() or 1)
        total = _count_rows(input)
        per_row = [
            "brands",
            "brand_sentiment",
        ]  # lists/dicts: JSON in the CSV when brands are configured, else left out
        pool = (
            ParallelAnalyzer(segmenter, models, brands, n_workers, sentiment_path=sentiment_path)
            if n_workers > 1
            else None
        )
        try:
            with (
                atomic_output(output) as tmp,
                Progress(
                    TextColumn("scoring"),
                    BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,} rows"),
                    TimeRemainingColumn(),
                ) as progress,
            ):
                task = progress.add_task("score", total=total)
                first = True
                done = 0
                rows = chunks(input, table.encoding, chunksize=chunk_size, dtype=str, keep_default_na=False)
                for chunk in rows:
                    if chunk.empty:  # a header-only file yields one empty chunk
                        continue
                    if pool is not None:
                        result = pool.analyze(chunk[text_col].tolist())
                        out = chunk.reset_index(drop=True)
                        for col in result.columns:
                            out[col] = result[col].to_numpy() if col not in per_row else result[col].tolist()
                    else:
                        out = analyze_frame(chunk, segmenter, models, brands, text_col=text_col)
                    if brands:
                        for col in per_row:
                            out[col] = [json.dumps(v, ensure_ascii=False) for v in out[col]]
                    else:
                        out = out.drop(columns=per_row)
                    out = guard(out) if excel_safe else out
                    out.to_csv(tmp, mode="w" if first else "a", header=first, index=False, quoting=csv.QUOTE_MINIMAL)
                    first = False
                    done += len(chunk)
                    progress.advance(task, len(chunk))
                progress.update(task, total=done, completed=done)  # rows, not lines
                if first:  # empty input: header only
                    added = ["sentiment", "polarity", "complaint", "complaint_category", "emotion", "keywords"]
                    header.assign(**{c: [] for c in added + (per_row if brands else [])}).to_csv(tmp, index=False)
        finally:
            if pool is not None:
                pool.close()
        typer.echo(f"scored {done:,} rows → {output}")

    @train_app.command("sentiment")
    def train_sentiment(
        data: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with text and a 0/1 label."),
        out: Path = typer.Option(..., "--out", help="Model file to write (.npz linear, .json.gz bayes)."),
        text_col: str = typer.Option("text", "--text-col"),
        label_col: str = typer.Option("label", "--label-col"),
        domain_col: str | None = typer.Option(
            None,
            "--domain-col",
            help="Column naming the kind of text of each row (weibo, reviews, ...): an expert per kind and a "
            "gate that tells them apart, as in the shipped model.",
        ),
        engine: Literal["linear", "bayes"] = typer.Option(
            "linear",
            "--engine",
            help="linear (default: the shipped kind, a gated mixture of logistic regressions) or bayes "
            "(SnowNLP's classifier).",
        ),
    ) -> None:
        """Train a sentiment model on your labelled data; point nlp.sentiment_model in yuqing.toml at the file.

        A hash of each text keeps 10 % of the rows aside to measure the model (balanced accuracy and
        calibration error per domain, printed) and 5 % to calibrate its score; it trains on the other 85 %.
        """
        import pandas as pd

        from yuqing.nlp.normalize import normalize
        from yuqing.nlp.pipeline import SHIPPED_SENTIMENT, TextModels
        from yuqing.nlp.segment import Segmenter
        from yuqing.nlp.sentiment import GatedLinearModel, SentimentModel, fit_sentiment

        frame = pd.read_csv(data, dtype=str, keep_default_na=False)
        for col in (text_col, label_col, *([domain_col] if domain_col else [])):
            if col not in frame.columns:
                raise InputError(f"no column {col!r}", file=str(data), line=1, field=col)
        bad = ~frame[label_col].str.strip().isin(["0", "1"])
        if bad.any():
            first = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(
                f"label must be 0 or 1, got {frame[label_col].iat[first]!r}",
                file=str(data),
                line=first + 2,
                field=label_col,
            )
        suffix = ".npz" if engine == "linear" else ".json.gz"
        if not out.name.endswith(suffix):
            out = out.with_name(out.name.removesuffix(".gz").removesuffix(".json").removesuffix(".npz") + suffix)
        seg = Segmenter()
        texts = [normalize(t).text for t in frame[text_col]]
        tokens = [seg.tokens(t) for t in texts]
        labels = frame[label_col].str.strip().astype(int).tolist()
        domains = frame[domain_col].str.strip().tolist() if domain_col else None
        # the shipped model's neutral band: both scores are calibrated the same way (classes weighted equally)
        shipped = Path(
            str(
                resources.files("yuqing.nlp").joinpath(
                    "models", SHIPPED_SENTIMENT["linear" if engine == "linear" else "snownlp"]
                )
            )
        )
        band = SentimentModel.load(shipped).neutral_band
        try:
            model, evaluations = fit_sentiment(texts, tokens, labels, domains, engine=engine, neutral_band=band)
        except ValueError as exc:
            raise InputError(str(exc), file=str(data), line=1, field=domain_col or label_col) from None
        model.engine.save(out, trained_on=str(data))
        TextModels.load(out)  # the file reads back as `score` will read it
        typer.echo("held-out 10 % (never trained on): balanced accuracy of score > 0.5, calibration error")
        typer.echo(f"  {'domain':24} {'texts':>7} {'positive':>8} {'bal. acc.':>9} {'ECE':>6}")
        if not evaluations:
            typer.echo("  (no text fell in the held-out 10 %: too few rows to measure)")
        for e in evaluations:
            typer.echo(f"  {e.domain:24} {e.n:7,} {e.positives:8,} {e.balanced_accuracy:9.3f} {e.ece:6.3f}")
        cal = model.calibration
        typer.echo(
            f"calibration P = sigmoid({cal.slope:.2f} · logit(raw) {cal.offset:+.2f}); "
            f"neutral band {band[0]:g}-{band[1]:g} (the shipped model's; nlp.neutral_band overrides)"
        )
        if isinstance(model.engine, GatedLinearModel):
            experts = ", ".join(model.engine.meta.get("experts", {}))  # type: ignore[arg-type]
            typer.echo(f"experts: {experts}; gate over {len(model.engine.domains)} kind(s) of text")
        kind = "gated linear" if engine == "linear" else engine
        typer.echo(f"trained {kind} sentiment on {len(frame):,} rows (85 % trained on) → {out}")
