"""``yuqing topics``: LDA topics on an analyst's CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from store.errors import InputError


def register(app: typer.Typer) -> None:
    @app.command()
    def topics(
        input: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a text column."),
        output: Path = typer.Option(..., "--output", "-o", help="CSV to write (input columns + topic, topic_label)."),
        k: int | None = typer.Option(None, "--k", min=2, help="Topic count; without it, chosen by coherence."),
        text_col: str = typer.Option("text", "--text-col", help="Name of the text column."),
        chunk_size: int = typer.Option(20_000, "--chunk-size", min=100, help="Rows per chunk."),
    ) -> None:
        """Add `topic` (int) and `topic_label` to every row (two passes: fit on the tokens, then assign)."""
        import pandas as pd
        from rich.progress import Progress

        from nlp.normalize import normalize
        from nlp.segment import Segmenter
        from nlp.topics import fit_topics

        header = pd.read_csv(input, nrows=0)
        if text_col not in header.columns:
            raise InputError(f"no column {text_col!r}", file=str(input), line=1, field=text_col)
        seg = Segmenter()
        tokens: list[list[str]] = []
        with Progress() as progress:
            task = progress.add_task("segmenting", total=None)
            with pd.read_csv(
                input, usecols=[text_col], dtype=str, keep_default_na=False, chunksize=chunk_size
            ) as reader:
                for chunk in reader:
                    tokens += [seg.tokens(normalize(t).text) for t in chunk[text_col]]
                    progress.advance(task, len(chunk))
            progress.update(task, description="fitting LDA")
            model = fit_topics(tokens, k=k)
            labels = model.labels
            first, offset = True, 0
            tmp = output.with_suffix(output.suffix + ".part")
            with pd.read_csv(input, dtype=str, keep_default_na=False, chunksize=chunk_size) as reader:
                for chunk in reader:
                    ids, _ = model.assign(tokens[offset : offset + len(chunk)])
                    offset += len(chunk)
                    chunk["topic"] = ids
                    chunk["topic_label"] = [labels.get(int(i), "") for i in ids]
                    chunk.to_csv(tmp, mode="w" if first else "a", header=first, index=False)
                    first = False
        tmp.replace(output)
        typer.echo(f"{offset:,} rows, {model.k} topics → {output}")
        for tid, label in labels.items():
            typer.echo(f"  {tid:>3}  {label}")
