"""Boolean queries (``nlp/query.py``) compiled to DuckDB SQL over the ``posts`` table.

Every user value travels as a ``?`` parameter; the SQL text is built only from the AST's
own vocabulary (operators, column names).  The compiled predicate agrees row for row with
:func:`nlp.query.evaluate` (``tests/test_search.py`` checks it on generated corpora):

* words and phrases: ``lower(text)`` holds ``lower(term)`` — a plain ``contains(text, term)`` when
  the term has no cased letters (Chinese), else a case-insensitive RE2 literal confirmed by
  ``contains(lower(text), …)`` on its candidates (lower-casing every row costs 10× a scan);
* ``#话题#``: the text holds ``#话题#`` or the ``topics`` list holds ``话题``;
* ``author:x``: ``lower(author_name) = lower(x)`` (a plain equality when ``x`` has no case) or
  ``author_id = x``; ``platform:x``: equality;
* ``a NEAR/n b``: both sides present, then one RE2 pattern ``a.{0,n}b|b.{0,n}a`` on those rows, its
  terms escaped character by character and passed as a parameter.

On PostgreSQL (``dialect="postgres"``) the same tree compiles to the same tests in its functions: ``strpos`` for
``contains``, ``strpos(lower(text), …)`` for a cased term (no RE2 to pre-filter with), ``= ANY(topics)``, and
the ``NEAR`` pattern as an ARE (``~``) whose gaps over 255 characters, PostgreSQL's largest count, are written
as repeated gaps of at most 255.  Lower-casing follows the server's locale: for Latin, CJK and digits it is
Python's; a few letters differ (final sigma, dotted İ), as they do between DuckDB and Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from yuqing.nlp.query import And, FieldFilter, Hashtag, Near, Node, Not, Or, Query, Term
from yuqing.store.warehouse import Warehouse, list_holds

__all__ = [
    "SEARCH_COLUMNS",
    "arrow_reader",
    "compile_predicate",
    "dialect_of",
    "near_pattern",
    "period_where",
    "search_page",
    "search_reader",
    "search_sql",
]

SEARCH_COLUMNS = [
    "platform",
    "id",
    "kind",
    "created_at",
    "author_id",
    "author_name",
    "text",
    "reposts_count",
    "comments_count",
    "attitudes_count",
    "topics",
    "parent_id",
    "root_id",
]
_REGEX_META = set("\\.^$|?*+()[]{}")
_ARE_MAX_COUNT = 255  # PostgreSQL's regular expressions count at most {0,255}
Dialect = Literal["duckdb", "postgres"]


def _escape(text: str) -> str:
    """A literal for RE2 and Python ``re`` alike: metacharacters backslashed, everything else as is."""
    return "".join("\\" + c if c in _REGEX_META else c for c in text)


def _cased(text: str) -> bool:
    return text.lower() != text.upper()


def _contains(text: str, params: list[Any], dialect: Dialect = "duckdb") -> str:
    """``lower(text)`` holds ``lower(term)``, without lower-casing every row.

    A term with no letters that have case (Chinese, digits, punctuation) is a plain ``contains``;
    a cased one is found by a case-insensitive RE2 literal first (as fast as ``contains``) and only
    those candidate rows are lower-cased to confirm.
    """
    if not _cased(text):
        params.append(text)
        return "contains(text, ?)" if dialect == "duckdb" else "(strpos(text, ?) > 0)"
    if dialect == "postgres":
        params.append(text.lower())
        return "(strpos(lower(text), ?) > 0)"
    params += ["(?i)" + _escape(text), text.lower()]
    return "(regexp_matches(text, ?) AND contains(lower(text), ?))"


def near_pattern(node: Near, dialect: Dialect = "duckdb") -> str:
    left = "(?:" + "|".join(_escape(t.text.lower()) for t in node.left) + ")"
    right = "(?:" + "|".join(_escape(t.text.lower()) for t in node.right) + ")"
    gap = f".{{0,{node.distance}}}"
    if dialect == "postgres" and node.distance > _ARE_MAX_COUNT:  # up to n = 255 q + r characters
        q, r = divmod(node.distance, _ARE_MAX_COUNT)
        gap = f"(?:.{{0,{_ARE_MAX_COUNT}}}){{0,{q}}}.{{0,{r}}}"
    return f"(?s){left}{gap}{right}|{right}{gap}{left}"


def compile_predicate(node: Node, params: list[Any], dialect: Dialect = "duckdb") -> str:
    """SQL for ``node`` over a ``posts`` row, appending its values to ``params``."""
    pg = dialect == "postgres"
    if isinstance(node, Term):
        return _contains(node.text, params, dialect)
    if isinstance(node, Hashtag):
        in_text = _contains(f"#{node.tag}#", params, dialect)
        params.append(node.tag)
        return f"({in_text} OR coalesce({list_holds('topics', '?', postgres=pg)}, false))"
    if isinstance(node, FieldFilter):
        if node.name == "platform":
            params.append(node.value)
            return "(platform = ?)"
        params.append(node.value)
        if not _cased(node.value):  # nothing to lower-case: plain equality, no per-row lower()
            params.append(node.value)
            return "(coalesce(author_name = ?, false) OR coalesce(author_id = ?, false))"
        if pg:
            params.append(node.value.lower())
            return "(coalesce(author_id = ?, false) OR coalesce(lower(author_name) = ?, false))"
        params += ["(?i)" + _escape(node.value), node.value.lower()]
        return (
            "(coalesce(author_id = ?, false) OR "
            "coalesce(regexp_full_match(author_name, ?) AND lower(author_name) = ?, false))"
        )
    if isinstance(node, Not):
        return f"(NOT {compile_predicate(node.child, params, dialect)})"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(compile_predicate(c, params, dialect) for c in node.children) + ")"
    # both sides present first (cheap), then the distance on those rows only; the pattern runs on the
    # lower-cased text when a term has case, so distances count the characters the evaluator counts
    left = " OR ".join(_contains(t.text, params, dialect) for t in node.left)
    right = " OR ".join(_contains(t.text, params, dialect) for t in node.right)
    params.append(near_pattern(node, dialect))
    target = "lower(text)" if any(_cased(t.text) for t in (*node.left, *node.right)) else "text"
    return f"(({left}) AND ({right}) AND {f'{target} ~ ?' if pg else f'regexp_matches({target}, ?)'})"


def period_where(col: str, since: dt.datetime | None, until: dt.datetime | None, params: list[Any]) -> str:
    """``col`` within ``[since, until)`` (either open), its values appended to ``params``."""
    where = ["TRUE"]
    if since is not None:
        where.append(f"{col} >= ?")
        params.append(since)
    if until is not None:
        where.append(f"{col} < ?")
        params.append(until)
    return " AND ".join(where)


def search_sql(
    query: Query,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    within: Query | None = None,
    columns: Sequence[str] = SEARCH_COLUMNS,
    keys_only: bool = False,
    limit: int | None = None,
    dialect: Dialect = "duckdb",
) -> tuple[str, list[Any]]:
    """``SELECT`` of the posts matching ``query`` (and ``within``, e.g. a brand's query) in ``[since, until)``."""
    bad = [c for c in columns if c not in SEARCH_COLUMNS]
    if bad:
        raise ValueError(f"unknown search column(s): {bad}")
    params: list[Any] = []
    where = period_where("created_at", since, until, params)
    predicate = compile_predicate(query.node, params, dialect)
    if within is not None:
        predicate = f"{predicate} AND {compile_predicate(within.node, params, dialect)}"
    if keys_only:  # (DuckDB's row id,) time and key of each match (search_page)
        rowid = "rowid AS _r, " if dialect == "duckdb" else ""
        return f"SELECT {rowid}created_at, platform, id FROM posts WHERE {where} AND {predicate}", params
    sql = f"SELECT {', '.join(columns)} FROM posts WHERE {where} AND {predicate} ORDER BY created_at DESC, platform, id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params


def dialect_of(wh: Warehouse) -> Dialect:
    """The SQL dialect of the warehouse's engine."""
    from yuqing.store.postgres import PostgresWarehouse

    return "postgres" if isinstance(wh, PostgresWarehouse) else "duckdb"


def arrow_reader(wh: Warehouse, sql: str, params: list[Any], batch_rows: int) -> pa.RecordBatchReader:
    """The rows of a read as a stream of Arrow record batches of at most ``batch_rows``, on either engine."""
    if dialect_of(wh) == "postgres":
        return wh.con.arrow_reader(sql, params, batch_rows)  # type: ignore[attr-defined]
    return wh.con.sql(sql, params=params).to_arrow_reader(batch_rows)


_ORDER = "created_at DESC, platform, id"


def search_page(wh: Warehouse, query: Query, *, limit: int = 20, **kw: Any) -> tuple[int, pd.DataFrame]:
    """How many posts match, and the newest ``limit`` of them — in one scan of the posts.

    The scan keeps only the matches' row ids and times; the ``limit`` rows shown are then
    fetched by row id (reading every matching post's text to sort it cost twice the scan).
    On PostgreSQL one statement does both, joining the newest keys back to their posts.
    """
    if dialect_of(wh) == "postgres":
        return _search_page_pg(wh, query, limit=limit, **kw)
    sql, params = search_sql(query, columns=["platform", "id"], keys_only=True, **kw)
    hits = f"WITH h AS MATERIALIZED ({sql}) "
    total, rowids = wh.con.execute(
        hits + f"SELECT (SELECT count(*) FROM h), (SELECT list(_r ORDER BY {_ORDER}) FROM "
        f"(SELECT * FROM h ORDER BY {_ORDER} LIMIT {max(0, int(limit))}))",
        params,
    ).fetchall()[0]
    rows = wh.query(
        f"SELECT {', '.join(SEARCH_COLUMNS)} FROM posts WHERE rowid = ANY(?) ORDER BY {_ORDER}", [rowids or []]
    )
    return int(total), rows


def _search_page_pg(wh: Warehouse, query: Query, *, limit: int, **kw: Any) -> tuple[int, pd.DataFrame]:
    keys, params = search_sql(query, keys_only=True, dialect="postgres", **kw)
    cols = ", ".join(f"p.{c}" for c in SEARCH_COLUMNS)
    frame = wh.query(
        f"WITH h AS MATERIALIZED ({keys}) SELECT n._total, {cols} FROM (SELECT count(*) AS _total FROM h) n "
        f"LEFT JOIN ((SELECT platform, id FROM h ORDER BY {_ORDER} LIMIT {max(0, int(limit))}) k "
        "JOIN posts p USING (platform, id)) ON TRUE ORDER BY p.created_at DESC, p.platform, p.id",
        params,
    )
    total = int(frame["_total"].iat[0])
    rows = frame[frame["id"].notna()].drop(columns="_total").reset_index(drop=True)
    return total, rows


def search_reader(wh: Warehouse, query: Query, *, batch_rows: int = 100_000, **kw: Any) -> pa.RecordBatchReader:
    """The matching posts, newest first, as a stream of Arrow record batches."""
    sql, params = search_sql(query, dialect=dialect_of(wh), **kw)
    return arrow_reader(wh, sql, params, batch_rows)
