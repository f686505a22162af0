"""Loading files into the warehouse: a file that cannot be read commits nothing; bad rows are rejected one by one.

Generic CSV/JSON/JSON Lines records, weibo-search and weibo-crawler CSVs and MediaCrawler contents/comments take
the column-wise path (:mod:`.columnar`, one transaction per batch); the other files are parsed row by row and
committed in one transaction per file."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from yuqing.collectors.importers import columnar, generic, mediacrawler, weibo_crawler, weibo_search
from yuqing.collectors.importers.files import GuessedWrong, Layout, Row, read_rows
from yuqing.collectors.importers.records import FileContext, Parsed, RowError
from yuqing.collectors.weibo.parse import interactions_for
from yuqing.store.errors import InputError, ParseError
from yuqing.store.schema import CHINA_TZ, Author, Interaction, Platform, Post, PostKind

__all__ = [
    "FORMATS",
    "FileResult",
    "ImportResult",
    "file_crawl_time",
    "find_files",
    "import_file",
    "import_paths",
    "load_file",
    "read_records",
]

FORMATS = ("auto", "mediacrawler", "weibo-crawler", "weibo-search", "csv", "jsonl")
_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")
_DATE_IN_NAME = re.compile(r"(20\d\d)-?([01]\d)-?([0-3]\d)")

Parser = Callable[[dict[str, Any], int | None], Parsed]


@dataclass
class FileResult:
    """What importing one file did.  ``failed`` set means nothing of the file was committed."""

    path: Path
    format: str = ""
    rows: int = 0
    loaded: int = 0
    posts: int = 0
    inserted: int = 0
    updated: int = 0
    edges: int = 0
    platforms: set[Platform] = field(default_factory=set)
    errors: list[InputError] = field(default_factory=list)
    failed: InputError | None = None


@dataclass
class ImportResult:
    files: list[FileResult] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def errors(self) -> list[InputError]:
        return [e for f in self.files for e in f.errors]

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.failed is not None]


# ----------------------------------------------------------------------------------------------- files


def find_files(path: Path) -> list[Path]:
    """``path`` itself, or the export files under a directory (MediaCrawler's ``data/``, weibo-crawler's
    ``weibo/``, weibo-search's ``结果文件/``): profiles first, then contents, then comments."""
    if not path.is_dir():
        return [path]
    found = [
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in _SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
        and p.name != "users.csv"  # weibo-crawler's profiles: read next to each user's file
        and "words" not in p.relative_to(path).parts[:-1]  # MediaCrawler's word clouds
        and mediacrawler.item_from_path(p) != "contacts"  # Bilibili fan lists: no posts
    ]

    def order(p: Path) -> tuple[int, str]:
        item = mediacrawler.item_from_path(p) or ""
        return ({"creators": 0, "creator": 0, "contents": 1, "dynamics": 1, "comments": 3}.get(item, 2), str(p))

    return sorted(found, key=order)


def file_crawl_time(path: Path) -> dt.datetime:
    """The date in the file's name (MediaCrawler writes ``..._2026-10-13.csv``) — at the file's mtime when that is
    on the same day, else at midnight China time — or else the file's mtime."""
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=CHINA_TZ)
    m = _DATE_IN_NAME.search(path.name)
    if m:
        try:
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return mtime
        return mtime if mtime.date() == day else dt.datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)
    return mtime


def _layout_for(fmt: str, path: Path) -> Layout | None:
    if fmt == "csv":
        return "csv"
    if fmt == "jsonl":
        return "json" if path.suffix.lower() == ".json" else "jsonl"
    return None


def _resolve_format(fmt: str, path: Path, columns: Collection[str]) -> str:
    if fmt != "auto":
        return fmt
    for name, matcher in (
        ("weibo-search", weibo_search.matches),
        ("weibo-crawler", weibo_crawler.matches),
        ("mediacrawler", mediacrawler.matches),
    ):
        if matcher(path, columns):
            return name
    return "generic"


def _parser(fmt: str, ctx: FileContext, columns: Collection[str]) -> Parser:
    if fmt == "mediacrawler":
        return mediacrawler.make_parser(ctx, columns)
    if fmt == "weibo-crawler":
        return weibo_crawler.make_parser(ctx, columns)
    if fmt == "weibo-search":
        return weibo_search.make_parser(ctx, columns)
    return generic.make_parser(ctx, columns)


def _rows(path: Path, fmt: str, encoding: str | None) -> tuple[str, Iterator[Row], Collection[str]]:
    """(resolved format, rows, columns of the first row) — JSON documents exploded into their records."""
    _, _, rows = read_rows(path, _layout_for(fmt, path), encoding)
    first = next(rows, None)
    if first is None:
        return fmt, iter(()), ()
    if "__document__" in first.values:
        doc = first.values["__document__"]
        keys = [str(k) for k in doc] if isinstance(doc, dict) else []
        resolved = _resolve_format(fmt, path, ("__document__", *keys))
        explode = weibo_crawler.explode if resolved == "weibo-crawler" else generic.explode
        rows = explode(doc, path)
        first = next(rows, None)
        if first is None:
            return resolved, iter(()), ()
        columns = [c for c in first.values if not c.startswith("__")]
        return _resolve_format(resolved, path, columns), itertools.chain([first], rows), columns
    columns = list(first.values)
    return _resolve_format(fmt, path, columns), itertools.chain([first], rows), columns


def read_records(
    path: Path,
    fmt: str = "auto",
    *,
    platform: Platform | None = None,
    mapping: dict[str, str] | None = None,
    chunk: int = columnar.BATCH_ROWS,
    result: FileResult | None = None,
    encoding: str | None = None,
) -> Iterator[tuple[list[Post], list[Author], list[InputError], int]]:
    """Chunks of (posts, authors, row errors, rows read) of one file.  Raises :class:`InputError` when the file
    as a whole cannot be read (then nothing of it may be kept)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})", file=str(path))
    result = result or FileResult(path)
    try:
        ctx = FileContext(path=path, crawl_time=file_crawl_time(path), platform=platform, mapping=mapping or {})
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    resolved, rows, columns = _rows(path, fmt, encoding)
    result.format = resolved
    if not columns:
        return
    parse = _parser(resolved, ctx, columns)
    seen_authors: set[tuple[Platform, str]] = set()
    for batch in _batched(rows, chunk):
        posts: list[Post] = []
        authors: list[Author] = []
        errors: list[InputError] = []
        for row in batch:
            parsed = _parse_row(parse, row, path, errors)
            if parsed is None:
                continue
            posts += parsed.posts
            for author in parsed.authors:
                if (author.platform, author.id) not in seen_authors:
                    seen_authors.add((author.platform, author.id))
                    authors.append(author)
        yield _newest(posts), authors, errors, len(batch)


def _batched(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while batch := list(itertools.islice(rows, max(1, size))):
        yield batch


def _parse_row(parse: Parser, row: Row, path: Path, errors: list[InputError]) -> Parsed | None:
    where = str(row.values.get("__where__") or "")
    prefix = f"{where}." if where else ""
    error = row.values.get("__error__")
    if error:
        errors.append(InputError(str(error), file=str(path), line=row.line, field=where))
        return None
    try:
        return parse(row.values, row.line)
    except RowError as exc:
        errors.append(InputError(str(exc), file=str(path), line=row.line, field=prefix + exc.column))
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(x) for x in err["loc"]) if err["loc"] else ""
        errors.append(InputError(err["msg"], file=str(path), line=row.line, field=prefix + name))
    except (ParseError, ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        errors.append(InputError(f"unreadable row ({exc})", file=str(path), line=row.line, field=where))
    return None


def _newest(posts: list[Post]) -> list[Post]:
    """One post per key: the newest crawl, and on equal crawl times the later row of the file."""
    best: dict[tuple[Platform, str], Post] = {}
    for post in posts:
        held = best.get(post.key)
        if held is None or post.fetched_at >= held.fetched_at:
            best[post.key] = post
    return list(best.values()) if len(best) < len(posts) else posts


# ----------------------------------------------------------------------------------------------- loading


def _edges(posts: Iterable[Post]) -> list[Interaction]:
    return [e for p in posts if p.parent_author_id for e in interactions_for(p)]


def _linked_edges(frame: Any) -> list[Interaction]:
    posts = [
        Post(
            platform=Platform(r.platform),
            id=r.id,
            kind=PostKind(r.kind),
            created_at=r.created_at,
            author_id=r.author_id or "",
            parent_id=r.parent_id,
            root_id=r.root_id,
            parent_author_id=r.parent_author_id,
        )
        for r in frame.itertuples(index=False)
    ]
    return _edges(posts)


def _is_profile(author: Author) -> bool:
    return bool(author.followers_count or author.friends_count or author.statuses_count)


def _new_or_profiles(wh: Any, authors: list[Author]) -> list[Author]:
    """Authors known only by id and name from a post row never overwrite a stored (maybe richer) author."""
    plain: dict[Platform, set[str]] = {}
    for a in authors:
        if not _is_profile(a):
            plain.setdefault(a.platform, set()).add(a.id)
    known = {(p, i) for p, ids in plain.items() for i in wh.known_authors(p, ids)}
    return [a for a in authors if _is_profile(a) or (a.platform, a.id) not in known]


def load_file(
    wh: Any,
    path: Path,
    fmt: str = "auto",
    *,
    platform: Platform | None = None,
    mapping: dict[str, str] | None = None,
    chunk: int = columnar.BATCH_ROWS,
    row_wise: bool = False,
) -> FileResult:
    """Import ``path`` into the open warehouse ``wh``: a file that cannot be read commits nothing; a file with
    column-wise rules (generic records, weibo-search, weibo-crawler CSV, MediaCrawler contents/comments) commits per
    batch of ``chunk`` rows, every other file (and every file with ``row_wise``, the reference the column-wise
    rules are tested against) in ONE transaction.  Rejected rows are listed; a file of which no row loads fails
    (``FileResult.failed``)."""
    options: dict[str, Any] = {"platform": platform, "mapping": mapping, "chunk": chunk, "row_wise": row_wise}
    try:
        return _load_once(wh, path, fmt, FileResult(path), **options)
    except GuessedWrong:  # rolled back; an all-ASCII first megabyte of a GBK file
        return _load_once(wh, path, fmt, FileResult(path), encoding="gb18030", **options)


def _load_once(wh: Any, path: Path, fmt: str, result: FileResult, *, row_wise: bool, **options: Any) -> FileResult:
    try:
        if not row_wise and _load_columnar(wh, path, fmt, result, **options):
            return result
        with wh.transaction():
            for posts, authors, errors, rows in read_records(path, fmt, result=result, **options):
                edges = _edges(posts)
                stats = wh.ingest(posts=posts, authors=_new_or_profiles(wh, authors), interactions=edges)
                _tally(result, stats, rows, len(posts), errors, len(edges), {p.platform for p in posts})
            _finish(wh, path, result)
    except GuessedWrong:
        raise
    except InputError as exc:
        result.failed = exc
    return result


def _columnar_plan(
    path: Path, fmt: str, encoding: str | None, ctx: FileContext
) -> tuple[str, Layout, str, columnar.Planner, bool] | None:
    """(format, layout, encoding, the format's rules for a batch, whether rows make edges) when ``path`` takes the
    bulk, column-wise path: generic records, a weibo-search or weibo-crawler CSV, MediaCrawler contents or comments."""
    if fmt not in FORMATS:
        return None
    layout, found, rows = read_rows(path, _layout_for(fmt, path), encoding)
    first = next(rows, None)
    if first is not None and "__document__" in first.values:  # a JSON object holding the list of records
        doc = first.values["__document__"]
        keys = [str(k) for k in doc] if isinstance(doc, dict) else []
        fmt = _resolve_format(fmt, path, ("__document__", *keys))  # as :func:`_rows` resolves it
        if fmt == "weibo-crawler":
            return None  # a user and their posts: row by row
        first = next(generic.explode(doc, path), None)
    if first is None:
        return None
    columns = [c for c in first.values if not (c.startswith("__") and c.endswith("__"))]
    resolved = _resolve_format(fmt, path, columns)
    plan: tuple[columnar.Planner, bool] | None = None
    if resolved in ("csv", "generic", "jsonl"):
        plan = columnar.generic_plan(ctx, columns)
    elif resolved == "weibo-search" and layout == "csv":
        plan = weibo_search.columns_plan(ctx, columns)
    elif resolved == "mediacrawler":
        plan = mediacrawler.columns_plan(ctx, columns)
    elif resolved == "weibo-crawler" and layout == "csv":
        plan = weibo_crawler.columns_plan(ctx, columns)
    if plan is None:
        return None
    return resolved, layout, found, *plan


def _load_columnar(
    wh: Any,
    path: Path,
    fmt: str,
    result: FileResult,
    *,
    platform: Platform | None,
    mapping: dict[str, str] | None,
    chunk: int,
    encoding: str | None = None,
) -> bool:
    """Load a file column-wise, one transaction per batch of ``chunk`` rows (:mod:`.columnar`); False when its
    format has no column-wise rules (the row-by-row path then loads it)."""
    try:
        ctx = FileContext(path=path, crawl_time=file_crawl_time(path), platform=platform, mapping=mapping or {})
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    plan = _columnar_plan(path, fmt, encoding, ctx)
    if plan is None:
        return False
    resolved, layout, found, planner, edges = plan
    result.format = resolved
    _, batches = columnar.read_batches(
        path, found, ctx, batch_rows=chunk, layout=layout, plan=lambda _columns: (planner, edges)
    )
    from yuqing.store.warehouse import prefetched

    for batch in prefetched(batches):  # the next batch is parsed while this one is written
        stats = wh.ingest_batch(batch.posts, authors=batch.authors, interactions=batch.edges, profiles=batch.profiles)
        _tally(result, stats, batch.rows, batch.posts.num_rows, batch.errors, len(batch.edges), batch.platforms)
    with wh.transaction():
        _finish(wh, path, result)
    return True


def _tally(
    result: FileResult,
    stats: Any,
    rows: int,
    posts: int,
    errors: list[InputError],
    edges: int,
    platforms: set[Platform],
) -> None:
    result.rows += rows
    result.loaded += rows - len(errors)  # one error per rejected row
    result.posts += posts
    result.inserted += stats.inserted
    result.updated += stats.updated
    result.edges += edges
    result.platforms |= platforms
    result.errors += errors


def _finish(wh: Any, path: Path, result: FileResult) -> None:
    """Comments stored before their parents get the parent's author and their edges; a file of which no row
    loaded fails."""
    if result.platforms:
        linked = wh.link_parent_authors(result.platforms)
        if len(linked):
            result.edges += wh.add_interactions(_linked_edges(linked))
    if result.loaded == 0:
        why = f"no row loaded ({len(result.errors)} rejected)" if result.rows else "no rows"
        raise InputError(why, file=str(path))


def import_paths(
    paths: Iterable[Path],
    warehouse_path: str | Path,
    fmt: str = "auto",
    *,
    platform: Platform | None = None,
    mapping: dict[str, str] | None = None,
    chunk: int = columnar.BATCH_ROWS,
    on_file: Callable[[FileResult], None] | None = None,
) -> ImportResult:
    """Import files and directories (walked with :func:`find_files`)."""
    from yuqing.store.warehouse import Warehouse

    result = ImportResult()
    files = [f for p in paths for f in find_files(Path(p))]
    with Warehouse.open(warehouse_path) as wh:
        for path in files:
            one = load_file(wh, path, fmt, platform=platform, mapping=mapping, chunk=chunk)
            result.files.append(one)
            if on_file is not None:
                on_file(one)
    return result


def import_file(
    path: Path,
    fmt: str,
    warehouse_path: str | Path,
    *,
    platform: Platform | None = None,
    mapping: dict[str, str] | None = None,
    chunk: int = columnar.BATCH_ROWS,
) -> ImportResult:
    """Import one file (or directory); a file that fails as a whole raises :class:`InputError`."""
    result = import_paths([path], warehouse_path, fmt, platform=platform, mapping=mapping, chunk=chunk)
    if len(result.files) == 1 and result.files[0].failed is not None:
        raise result.files[0].failed
    return result
