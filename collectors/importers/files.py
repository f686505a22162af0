"""Reading export files: encoding, layout (CSV / JSON array / JSON object / JSON Lines) and rows with line numbers.

Every problem with a file as a whole (unreadable, binary, truncated JSON, a CSV given as JSON Lines) is an
:class:`~store.errors.InputError` naming the file and line; a problem with one row is left to the caller, which
rejects that row alone.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from yuqing.store.errors import InputError

__all__ = ["GuessedWrong", "Layout", "Row", "csv_cells", "detect_encoding", "read_rows", "sniff_layout"]

Layout = Literal["csv", "json", "jsonl"]

_SAMPLE = 1 << 20  # bytes read to detect the encoding and layout
_BINARY_MAGIC = {
    b"PK\x03\x04": "an Excel/zip file: save it as CSV (UTF-8) first",
    b"\xd0\xcf\x11\xe0": "an old Excel file: save it as CSV (UTF-8) first",
    b"SQLite format 3": "a SQLite database, not an export file",
    b"\x1f\x8b": "a gzip file: unpack it first",
}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long posts are legal cells


@dataclass(frozen=True, slots=True)
class Row:
    """One record of a file: its first physical line (1-based; ``None`` inside a JSON object) and its values."""

    line: int | None
    values: dict[str, Any]


def detect_encoding(path: Path, sample: bytes | None = None) -> str:
    """``utf-8-sig`` (BOM, what Excel and MediaCrawler write), ``utf-16``, ``utf-8``, else ``gb18030``.

    GB18030 is a superset of GBK/GB2312: files re-saved by Chinese Excel or exported by CRMs read correctly.
    """
    head = sample if sample is not None else _head(path)
    for magic, why in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise InputError(f"this is {why}", file=str(path))
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise InputError("binary file (NUL bytes), not CSV or JSON", file=str(path), line=_line_of(head, b"\x00"))
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SAMPLE)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise InputError(
            "neither UTF-8 nor GB18030/GBK text", file=str(path), line=_line_of(head, head[exc.start : exc.end])
        ) from exc


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(_SAMPLE)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc


def _line_of(data: bytes, needle: bytes) -> int:
    return data[: max(0, data.find(needle))].count(b"\n") + 1


def sniff_layout(path: Path, text_head: str) -> Layout:
    """By the file's extension, else by its first character: ``[`` JSON array, ``{`` JSON Lines or object, else CSV."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    first = text_head.lstrip("\ufeff \t\r\n")[:1]
    if first == "[":
        return "json"
    if first == "{":
        line = text_head.lstrip("\ufeff \t\r\n").split("\n", 1)[0]
        try:
            json.loads(line)
            return "jsonl"
        except json.JSONDecodeError:
            return "json"
    return "csv"


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    try:
        return path.open("r", encoding=encoding, newline="")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc


class GuessedWrong(InputError):
    """The file's first megabyte was plain ASCII, read as UTF-8; later bytes say otherwise (GBK): read it again."""


def read_rows(
    path: Path, layout: Layout | None = None, encoding: str | None = None
) -> tuple[Layout, str, Iterator[Row]]:
    """(layout, encoding, rows) of ``path``; the rows are read lazily and may raise :class:`InputError`
    (:class:`GuessedWrong` when an all-ASCII start made UTF-8 a guess that later bytes refute)."""
    head = _head(path)
    encoding = encoding or detect_encoding(path, head)
    text_head = head.decode(encoding, errors="ignore")
    found = layout or sniff_layout(path, text_head)
    if found == "jsonl":
        first = next((ln for ln in text_head.splitlines() if ln.strip()), "").lstrip("\ufeff").strip()
        if first and not first.startswith("{"):
            raise InputError(
                "not JSON Lines: the first record is not a JSON object (is it a CSV? use --format csv)",
                file=str(path),
                line=1,
            )
        return found, encoding, _jsonl_rows(path, encoding)
    if found == "json":
        return found, encoding, _json_rows(path, encoding)
    if text_head.lstrip("\ufeff \t\r\n").startswith(("[{", '{"')) and layout == "csv":
        raise InputError("this is JSON, not CSV (use --format jsonl, or a .json/.jsonl name)", file=str(path), line=1)
    return found, encoding, _csv_rows(path, encoding)


def _decode_guard(path: Path, encoding: str, line: int) -> InputError:
    if encoding == "utf-8" and _ascii_start(path):
        return GuessedWrong(f"bytes that are not {encoding}", file=str(path), line=line)
    return InputError(f"bytes that are not {encoding} (mixed encodings?)", file=str(path), line=line)


def _ascii_start(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(_SAMPLE)
    except OSError:
        return False
    return len(head) == _SAMPLE and head.isascii()


def csv_cells(path: Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """The header as ``(1, columns)``, then ``(line, cells)`` of every non-blank row (its first physical line),
    short rows filled with ``""``; cells beyond the header are kept at the end.  Raises :class:`InputError`
    (:class:`GuessedWrong`) for what makes the whole file unreadable."""
    with _open_text(path, encoding) as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
        except UnicodeDecodeError as exc:
            raise _decode_guard(path, encoding, 1) from exc
        except csv.Error as exc:
            raise InputError(f"not a CSV header: {exc}", file=str(path), line=1) from exc
        if header is None:
            return
        columns = [c.strip().lstrip("\ufeff") for c in header]
        if not any(columns):
            raise InputError("empty header line", file=str(path), line=1)
        yield 1, columns
        width = len(columns)
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise _decode_guard(path, encoding, start) from exc
            except csv.Error as exc:
                raise InputError(f"broken CSV: {exc}", file=str(path), line=start) from exc
            line, start = start, reader.line_num + 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(cells) < width:  # short rows (e.g. weibo-crawler originals) fill with ""
                cells = cells + [""] * (width - len(cells))
            yield line, cells


def _csv_rows(path: Path, encoding: str) -> Iterator[Row]:
    cells_of = csv_cells(path, encoding)
    header = next(cells_of, None)
    if header is None:
        return
    columns = header[1]
    width = len(columns)
    for line, cells in cells_of:
        values: dict[str, Any] = dict(zip(columns, cells, strict=False))
        if len(cells) > width:
            values["__extra__"] = cells[width:]
        yield Row(line, values)


def _jsonl_rows(path: Path, encoding: str) -> Iterator[Row]:
    with _open_text(path, encoding) as f:
        line = 0
        while True:
            try:
                text = f.readline()
            except UnicodeDecodeError as exc:
                raise _decode_guard(path, encoding, line + 1) from exc
            if not text:
                return
            line += 1
            text = text.strip().lstrip("\ufeff")
            if not text:
                continue
            try:
                value = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                value = _BadJson(f"not JSON ({getattr(exc, 'msg', 'too deeply nested')}; a cut or broken line?)")
            if not isinstance(value, dict) and not isinstance(value, _BadJson):
                value = _BadJson(f"a JSON {type(value).__name__}, not an object")
            yield Row(line, value if isinstance(value, dict) else {"__error__": value.why})


@dataclass(frozen=True, slots=True)
class _BadJson:
    why: str


def _json_rows(path: Path, encoding: str) -> Iterator[Row]:
    """A JSON array of objects (MediaCrawler) with each element's line, or an object holding arrays."""
    with _open_text(path, encoding) as f:
        try:
            text = f.read()
        except UnicodeDecodeError as exc:
            raise _decode_guard(path, encoding, 1) from exc
    text = text.lstrip("\ufeff")
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if pos >= len(text):
        return
    if text[pos] != "[":
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise _json_error(path, exc) from exc
        yield Row(None, {"__document__": doc})
        return
    pos = _skip_ws(text, pos + 1)
    line = text.count("\n", 0, pos) + 1
    last = pos
    if pos < len(text) and text[pos] == "]":
        return
    while True:
        try:
            value, end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise _json_error(path, exc) from exc
        line += text.count("\n", last, pos)
        last = pos
        yield Row(line, value if isinstance(value, dict) else {"__error__": f"a JSON {type(value).__name__}"})
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "]" and _skip_ws(text, pos + 1) >= len(text):
            return
        raise InputError(
            "truncated or broken JSON (expected ',' or a final ']')",
            file=str(path),
            line=text.count("\n", 0, min(pos, len(text))) + 1,
        )


def _skip_ws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _json_error(path: Path, exc: json.JSONDecodeError | RecursionError) -> InputError:
    if isinstance(exc, RecursionError):
        return InputError("JSON nested too deeply", file=str(path))
    return InputError(f"truncated or broken JSON: {exc.msg}", file=str(path), line=exc.lineno)
