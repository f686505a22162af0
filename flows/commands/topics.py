"""``yuqing topics``: LDA topics on an analyst's CSV, streamed in bounded memory."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import typer

from store.errors import InputError


def _lines(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            yield line.split()


def register(app: typer.Typer) -> None:
    @app.command()
    def topics(
        input: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a text column."),
        output: Path = typer.Option(..., "--output", "-o", help="CSV to write (input columns + topic, topic_label)."),
        k: int | None = typer.Option(None, "--k", min=2, help="Topic count; without it, chosen by coherence."),
        text_col: str = typer.Option("text", "--text-col", help="Name of the text column."),
        chunk_size: int = typer.Option(20_000, "--chunk-size", min=100, help="Rows per chunk."),
        max_fit_docs: int = typer.Option(50_000, "--max-fit-docs", min=100, help="Rows sampled to fit the model."),
        seed: int = typer.Option(0, "--seed", help="Random seed (sample and LDA)."),
        excel_safe: bool = typer.Option(
            True, "--excel-safe/--no-excel-safe", help="Prefix cells starting with = + - @ with ' (no formulas)."
        ),
    ) -> None:
        """Add `topic` (int, -1 for rows without topic words) and `topic_label` to every row.

        Three streamed passes: segment every row to a temporary token file (and build the
        vocabulary), fit LDA on a uniform sample of rows, then assign every row in batches.
        Memory is bounded by the chunk size and the sample, not by the file.
        """
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from flows.commands.io import atomic_output, chunks, open_table
        from flows.commands.io import excel_safe as guard
        from nlp.normalize import normalize
        from nlp.segment import Segmenter
        from nlp.topics import fit_topics_streamed

        table = open_table(input, required=[text_col])
        seg = Segmenter()
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
                model = fit_topics_streamed(lambda: _lines(token_file), rows, k=k, seed=seed, max_docs=max_fit_docs)
            except ValueError as exc:
                raise InputError(str(exc), file=str(input), field=text_col) from exc
            progress.update(fitting, total=1, completed=1, done=f"{model.k} topics ({model.method})")
            labels = model.labels
            assign = progress.add_task("assigning", total=rows, done="")
            first, done = True, 0
            tokens_iter = _lines(token_file)
            for chunk in chunks(input, table.encoding, dtype=str, keep_default_na=False, chunksize=chunk_size):
                ids, _ = model.assign([next(tokens_iter) for _ in range(len(chunk))])
                chunk["topic"] = ids
                chunk["topic_label"] = [labels.get(int(i), "") for i in ids]
                written = guard(chunk) if excel_safe else chunk
                written.to_csv(tmp, mode="w" if first else "a", header=first, index=False)
                first = False
                done += len(chunk)
                progress.update(assign, advance=len(chunk), done=f"{done:,} rows")
        typer.echo(f"{done:,} rows, {model.k} topics → {output}")
        for tid, label in labels.items():
            typer.echo(f"  {tid:>3}  {label}")
