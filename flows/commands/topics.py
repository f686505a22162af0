"""``yuqing topics``: topics on an analyst's CSV, streamed in bounded memory, ids stable across runs."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

from yuqing.store.errors import InputError

if TYPE_CHECKING:
    from yuqing.nlp.topics import TopicModel


def _lines(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            yield line.split()


def _load_previous(directory: Path) -> TopicModel:
    from yuqing.nlp.topics import TopicModel

    if not (directory / "model.json").exists():
        raise InputError("no topic model here (write one with --save-model)", file=str(directory), field="--previous")
    return TopicModel.load(directory)


def register(app: typer.Typer) -> None:
    @app.command()
    def topics(
        input: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a text column."),
        output: Path = typer.Option(..., "--output", "-o", help="CSV to write (input columns + topic, topic_label)."),
        k: int | None = typer.Option(None, "--k", min=2, help="Topic count; without it, chosen by coherence."),
        text_col: str = typer.Option("text", "--text-col", help="Name of the text column."),
        chunk_size: int = typer.Option(20_000, "--chunk-size", min=100, help="Rows per chunk."),
        max_fit_docs: int = typer.Option(50_000, "--max-fit-docs", min=100, help="Rows sampled to fit the model."),
        seed: int = typer.Option(0, "--seed", help="Random seed (sample and model)."),
        method: Literal["auto", "kmeans", "gensim", "lda", "wntm"] = typer.Option(
            "auto",
            "--method",
            help="kmeans (auto: KMeans on word-vector post embeddings) or gensim (LdaModel; lda, wntm force one form).",
        ),
        config: Path | None = typer.Option(
            None, "--config", "-c", help="Settings: brand/product names (never labels)."
        ),
        previous: Path | None = typer.Option(
            None, "--previous", file_okay=False, help="Model directory of an earlier run: keep its topic ids."
        ),
        save_model: Path | None = typer.Option(
            None, "--save-model", file_okay=False, help="Write the fitted model here (for a later --previous)."
        ),
        time_col: str = typer.Option(
            "created_at", "--time-col", help="Date/time column for emerging topics (skipped when absent)."
        ),
        excel_safe: bool = typer.Option(
            True, "--excel-safe/--no-excel-safe", help="Prefix cells starting with = + - @ with ' (no formulas)."
        ),
    ) -> None:
        """Add `topic` (int, -1 for rows without topic words) and `topic_label` to every row.

        Three streamed passes: segment every row to a temporary token file (and build the
        vocabulary), fit the model on a uniform sample of rows, then assign every row in batches.
        Memory is bounded by the chunk size and the sample, not by the file.  Prints each topic's
        posts, whether it is new (no match in --previous) and emerging (its share of the last 3 days
        ≥ 2× before, by --time-col).
        """
        import pandas as pd
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from yuqing.flows.commands.io import atomic_output, chunks, open_table
        from yuqing.flows.commands.io import excel_safe as guard
        from yuqing.nlp.normalize import normalize
        from yuqing.nlp.segment import Segmenter
        from yuqing.nlp.topics import (
            TopicsUnavailable,
            align_topics,
            daily_counts,
            fit_topics_streamed,
            topic_summary,
        )
        from yuqing.store.settings import load_settings

        settings = load_settings(config) if config or Path("yuqing.toml").exists() else None
        brand_terms = [t for b in settings.all_brands for t in (*b.terms, *b.products)] if settings else []
        old_model = _load_previous(previous) if previous is not None else None
        table = open_table(input, required=[text_col])
        has_time = time_col in table.columns
        seg = Segmenter.from_settings(settings) if settings else Segmenter()
        columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}")]
        with (
            tempfile.TemporaryDirectory(prefix="yuqing-topics-") as work,
            atomic_output(output) as tmp,
            Progress(*columns, TimeElapsedColumn()) as progress,
        ):
            token_file = Path(work) / "tokens.txt"
            rows = 0
            task = progress.add_task("segmenting", total=None, done="")
            with token_file.open("w", encoding="utf-8") as out:
                reader = chunks(
                    input, table.encoding, usecols=[text_col], dtype=str, keep_default_na=False, chunksize=chunk_size
                )
                for chunk in reader:
                    for text in chunk[text_col]:
                        # one line per row; tokens never contain whitespace
                        out.write(" ".join(seg.tokens(normalize(text).text)) + "\n")
                    rows += len(chunk)
                    progress.update(task, advance=len(chunk), done=f"{rows:,} rows")
            progress.update(task, total=rows)
            fitting = progress.add_task("vocabulary + fitting topics", total=None, done="")
            try:
                model = fit_topics_streamed(
                    lambda: _lines(token_file),
                    rows,
                    k=k,
                    seed=seed,
                    max_docs=max_fit_docs,
                    label_exclude=brand_terms,
                    method=method,
                )
            except TopicsUnavailable as exc:
                raise InputError(exc.reason, file=str(input), field=text_col) from exc
            if old_model is not None:
                model = align_topics(model, old_model)
            if save_model is not None:
                model.save(save_model)
            progress.update(fitting, total=1, completed=1, done=f"{model.k} topics ({model.method})")
            labels = model.labels
            assign = progress.add_task("assigning", total=rows, done="")
            first, done = True, 0
            daily: list[pd.DataFrame] = []
            tokens_iter = _lines(token_file)
            for chunk in chunks(input, table.encoding, dtype=str, keep_default_na=False, chunksize=chunk_size):
                ids, _ = model.assign([next(tokens_iter) for _ in range(len(chunk))])
                daily.append(daily_counts(chunk[time_col] if has_time else [None] * len(chunk), ids))
                chunk["topic"] = ids
                chunk["topic_label"] = [labels.get(int(i), "") for i in ids]
                written = guard(chunk) if excel_safe else chunk
                written.to_csv(tmp, mode="w" if first else "a", header=first, index=False)
                first = False
                done += len(chunk)
                progress.update(assign, advance=len(chunk), done=f"{done:,} rows")
        counts = pd.concat(daily).groupby(["day", "topic"], dropna=False)["posts"].sum().reset_index()
        summary = topic_summary(model, counts)
        typer.echo(f"{done:,} rows, {model.k} topics ({model.method}) → {output}")
        for row in summary.sort_values("posts", ascending=False).itertuples():
            flags = " new" if row.new else ""
            if row.emerging:
                flags += f" emerging ×{row.ratio:.1f}"
            typer.echo(f"  {row.topic:>3}  {row.posts:>9,}  {row.topic_label}{flags}")
        if save_model is not None:
            typer.echo(f"model → {save_model} (use --previous {save_model} next time to keep these ids)")
        if not has_time:
            typer.echo(f"no {time_col!r} column: emerging topics not computed (--time-col)")
