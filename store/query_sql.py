"""Boolean queries (``nlp/query.py``) compiled to DuckDB SQL over the ``posts`` table.

Every user value travels as a ``?`` parameter; the SQL text is built only from the AST's
own vocabulary (operators, column names).  The compiled predicate agrees row for row with
:func:`nlp.query.evaluate` (``tests/test_search.py`` checks it on generated corpora):

* words and phrases: ``contains(lower(text), lower(term))``;
* ``#话题#``: the text holds ``#话题#`` or the ``topics`` list holds ``话题``;
* ``author:x``: ``lower(author_name) = lower(x)`` or ``author_id = x``; ``platform:x``: equality;
* ``a NEAR/n b``: one RE2 pattern ``a.{0,n}b|b.{0,n}a`` over the lower-cased text, its
  terms escaped character by character and passed as a parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from nlp.query import And, FieldFilter, Hashtag, Near, Node, Not, Or, Query, Term
from store.warehouse import Warehouse

__all__ = [
    "SEARCH_COLUMNS",
    "compile_predicate",
    "count_matches",
    "near_pattern",
    "period_where",
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
_LOWER = "_t"  # the lower-cased text, computed once per row in the inner SELECT
_REGEX_META = set("\\.^$|?*+()[]{}")


def _escape(text: str) -> str:
    """A literal for RE2 and Python ``re`` alike: metacharacters backslashed, everything else as is."""
    return "".join("\\" + c if c in _REGEX_META else c for c in text)


def near_pattern(node: Near) -> str:
    left = "(?:" + "|".join(_escape(t.text.lower()) for t in node.left) + ")"
    right = "(?:" + "|".join(_escape(t.text.lower()) for t in node.right) + ")"
    gap = f".{{0,{node.distance}}}"
    return f"(?s){left}{gap}{right}|{right}{gap}{left}"


def compile_predicate(node: Node, params: list[Any]) -> str:
    """SQL for ``node`` over a row with ``_t`` (lower-cased text), appending its values to ``params``."""
    if isinstance(node, Term):
        params.append(node.text.lower())
        return f"contains({_LOWER}, ?)"
    if isinstance(node, Hashtag):
        params += [f"#{node.tag}#".lower(), node.tag]
        return f"(contains({_LOWER}, ?) OR coalesce(list_contains(topics, ?), false))"
    if isinstance(node, FieldFilter):
        if node.name == "platform":
            params.append(node.value)
            return "(platform = ?)"
        params += [node.value.lower(), node.value]
        return "(coalesce(lower(author_name), '') = ? OR coalesce(author_id, '') = ?)"
    if isinstance(node, Not):
        return f"(NOT {compile_predicate(node.child, params)})"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(compile_predicate(c, params) for c in node.children) + ")"
    params.append(near_pattern(node))
    return f"regexp_matches({_LOWER}, ?)"


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
    count_only: bool = False,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """``SELECT`` of the posts matching ``query`` (and ``within``, e.g. a brand's query) in ``[since, until)``."""
    bad = [c for c in columns if c not in SEARCH_COLUMNS]
    if bad:
        raise ValueError(f"unknown search column(s): {bad}")
    params: list[Any] = []
    where = period_where("created_at", since, until, params)
    inner = f"SELECT {', '.join(SEARCH_COLUMNS)}, lower(text) AS {_LOWER} FROM posts WHERE {where}"
    predicate = compile_predicate(query.node, params)
    if within is not None:
        predicate = f"{predicate} AND {compile_predicate(within.node, params)}"
    if count_only:
        return f"SELECT count(*) FROM ({inner}) WHERE {predicate}", params
    sql = f"SELECT {', '.join(columns)} FROM ({inner}) WHERE {predicate} ORDER BY created_at DESC, platform, id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params


def count_matches(wh: Warehouse, query: Query, **kw: Any) -> int:
    sql, params = search_sql(query, count_only=True, **kw)
    rows = wh.con.execute(sql, params).fetchall()
    return int(rows[0][0]) if rows else 0


def search_reader(wh: Warehouse, query: Query, *, batch_rows: int = 100_000, **kw: Any) -> pa.RecordBatchReader:
    """The matching posts, newest first, as a stream of Arrow record batches."""
    sql, params = search_sql(query, **kw)
    return wh.con.sql(sql, params=params).to_arrow_reader(batch_rows)
