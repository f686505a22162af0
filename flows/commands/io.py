"""Analysts' tables in and out (``yuqing score``, ``topics``, ``graph``, ``crm import``).

In: the encoding is detected (UTF-8, UTF-8 with BOM, UTF-16 with BOM, else GB18030 — the superset of the
GBK files Chinese Excel and CRMs write; :func:`collectors.importers.files.detect_encoding`); an empty
file, a file with a header and no rows, a missing column or a broken row is an
:class:`~store.errors.InputError` naming the file, the line and the column — never a pandas traceback.

Out: :func:`atomic_output` writes beside the target and renames into place, so a reader never sees half a
file and a failed command leaves neither a partial output nor its temporary file; :func:`excel_safe`
prefixes text cells a spreadsheet would run as a formula with ``'`` (OWASP "CSV injection", on by
default; numbers such as ``-5`` are left alone).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from yuqing.store.errors import InputError
from yuqing.store.export import _atomic

__all__ = ["Table", "atomic_output", "chunks", "excel_safe", "open_table", "read_csv"]

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_PANDAS_LINE = re.compile(r"line (\d+)")


@dataclass(frozen=True)
class Table:
    path: Path
    encoding: str
    columns: list[str]


def open_table(path: Path, *, required: Sequence[str] = (), allow_empty: bool = False) -> Table:
    """Check a CSV before any work: readable, text, a header with the ``required`` columns, at least one row."""
    from yuqing.collectors.importers.files import detect_encoding

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    if size == 0:
        raise InputError("empty file: expected a header row and data rows", file=str(path), line=1)
    encoding = detect_encoding(path)
    header = read_csv(path, encoding, nrows=0)
    columns = [str(c) for c in header.columns]
    if not any(c.strip() for c in columns):
        raise InputError("empty header line", file=str(path), line=1)
    for col in required:
        if col not in columns:
            raise InputError(f"no column {col!r} (columns: {', '.join(columns)})", file=str(path), line=1, field=col)
    if not allow_empty and read_csv(path, encoding, nrows=1).empty:
        raise InputError("no rows after the header", file=str(path), line=2)
    return Table(path, encoding, columns)


def read_csv(path: Path, encoding: str, **kwargs: Any) -> Any:
    """``pandas.read_csv`` with its errors as :class:`InputError` (file, line).  With ``chunksize`` the
    chunks are read lazily: iterate with :func:`chunks` to keep the one-line errors."""
    try:
        return pd.read_csv(path, encoding=encoding, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise _input_error(path, encoding, exc) from exc


def chunks(path: Path, encoding: str, **kwargs: Any) -> Iterator[pd.DataFrame]:
    """The file in chunks of ``chunksize`` rows, every read error an :class:`InputError`."""
    reader = read_csv(path, encoding, **kwargs)
    with reader:
        while True:
            try:
                chunk = next(reader)
            except StopIteration:
                return
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                raise _input_error(path, encoding, exc) from exc
            yield chunk


def _input_error(path: Path, encoding: str, exc: Exception) -> InputError:
    if isinstance(exc, pd.errors.EmptyDataError):
        return InputError("empty file: expected a header row and data rows", file=str(path), line=1)
    if isinstance(exc, UnicodeDecodeError):
        line = _bad_line(path, encoding)
        return InputError(f"bytes that are not {encoding} text (mixed encodings?)", file=str(path), line=line)
    message = " ".join(str(exc).split())
    found = _PANDAS_LINE.search(message)
    line = int(found.group(1)) if found else None
    if isinstance(exc, pd.errors.ParserError):
        message = re.sub(r"^Error tokenizing data\. C error: ", "", message)
    return InputError(f"not a readable CSV: {message}", file=str(path), line=line)


def _bad_line(path: Path, encoding: str) -> int | None:
    """The first line that does not decode (the error path only: reads the file line by line)."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode(codec)
            except UnicodeDecodeError:
                return number
    return None


# A temporary path beside the target: renamed onto it when the block succeeds, removed when it fails
# (the one `yuqing export` uses).
atomic_output = _atomic


def excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells starting with ``= + - @`` (or tab / carriage return) prefixed with ``'``; numbers kept."""
    from yuqing.store.export import guard_cells

    out = frame
    for col in frame.columns:
        values = frame[col]
        if values.dtype != object and not pd.api.types.is_string_dtype(values):
            continue
        numeric = values.astype("string").str.fullmatch(_NUMBER).fillna(False).astype(bool)
        candidates = values[~numeric]
        guarded = guard_cells(candidates)
        if guarded is candidates:  # nothing a spreadsheet would run
            continue
        if out is frame:
            out = frame.copy()
        out[col] = values.astype(object)
        out.loc[~numeric, col] = guarded
    return out
