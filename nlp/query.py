"""Boolean queries, the language listening tools use: parse → AST, evaluate on a post.

Syntax (``docs/queries.md`` has the full table)::

    星阅 AND (发热 OR 烫) NOT 官方          words: substring, case-insensitive
    星阅 (发热 | 烫) -官方                  the same: space = AND, | = OR, - = NOT
    "X5 Pro" NEAR/5 (续航 OR 电池)          exact phrase; both within 5 characters
    #星阅双十一# platform:weibo author:小星  topic, platform and author filters

Precedence, tightest first: ``NOT``/``-``, ``NEAR/n``, ``AND``/``&``/``+``/space, ``OR``/``|``.
Operators are upper case (``and`` is an ordinary word).  Chinese forms are accepted:
full-width ``（）｜＆＋``, quotes ``“…”`` and ``「…」``, fields ``作者:`` / ``平台:`` and ``：``;
``platform:`` also takes the names a caller passes (the CLI: the platform registry's 微博, xhs…).

A mistake raises :class:`QueryError` naming the column, e.g. ``query:9: expected ')'``,
with the query and a caret under the column.

This module is pure: it evaluates on a :class:`Doc` (text, platform, author, topics);
``store/query_sql.py`` compiles the same AST to parameterised SQL for the warehouse.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from yuqing.store.errors import YuqingError
from yuqing.store.schema import Platform

__all__ = [
    "MAX_NEAR",
    "And",
    "Doc",
    "FieldFilter",
    "Hashtag",
    "Near",
    "Node",
    "Not",
    "Or",
    "Query",
    "QueryError",
    "Term",
    "parse",
]

MAX_NEAR = 1000  # RE2 (DuckDB's regex engine) caps a counted repetition at 1000
MAX_KEYWORDS = 64

FIELD_NAMES = {"author": "author", "作者": "author", "platform": "platform", "平台": "platform"}


class QueryError(YuqingError):
    """A query that does not parse.  ``column`` is 1-based; the message shows the query with a caret."""

    def __init__(self, reason: str, query: str, column: int, *, source: str = "query") -> None:
        self.reason = reason
        self.query = query
        self.column = column
        self.source = source
        super().__init__(f"{source}:{column}: {reason}\n  {query}\n  {caret_line(query, column)}")

    @property
    def one_line(self) -> str:
        return f"{self.source}:{self.column}: {self.reason} in {self.query!r}"


def caret_line(text: str, column: int) -> str:
    """Spaces then ``^`` under ``column`` (1-based), counting wide CJK characters as two terminal cells."""
    pad = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text[: column - 1])
    return " " * pad + "^"


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Term:
    """A word or "exact phrase": a case-insensitive substring of the text."""

    text: str
    phrase: bool = False

    def __str__(self) -> str:
        return _quote(self.text) if self.phrase or _needs_quotes(self.text) else self.text


@dataclass(frozen=True, slots=True)
class Hashtag:
    """``#话题#``: the text holds ``#话题#`` (case-insensitive) or the post's topics list holds ``话题``."""

    tag: str

    def __str__(self) -> str:
        return f"#{self.tag}#"


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """``author:名字`` (screen name, case-insensitive, or account id, exact) or ``platform:weibo``."""

    name: str  # "author" | "platform"
    value: str

    def __str__(self) -> str:
        return f"{self.name}:{_quote(self.value) if _needs_quotes(self.value) else self.value}"


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def __str__(self) -> str:
        return f"NOT {_wrap(self.child)}"


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrap(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Near:
    """Some alternative of ``left`` and some of ``right`` with at most ``distance`` characters between them."""

    left: tuple[Term, ...]
    right: tuple[Term, ...]
    distance: int

    def __str__(self) -> str:
        def side(terms: tuple[Term, ...]) -> str:
            return str(terms[0]) if len(terms) == 1 else "(" + " OR ".join(str(t) for t in terms) + ")"

        return f"{side(self.left)} NEAR/{self.distance} {side(self.right)}"


Node = Term | Hashtag | FieldFilter | Not | And | Or | Near


def _needs_quotes(text: str) -> bool:
    return (
        not text
        or any(c.isspace() or c in _SPECIAL for c in text)
        or text[0] in "-#－＃"
        or text in _KEYWORDS
        or text.startswith("NEAR/")
        or _field_prefix(text) is not None
    )


def _quote(text: str) -> str:
    return '"' + text + '"' if '"' not in text else "“" + text + "”"


def _wrap(node: Node) -> str:
    return f"({node})" if isinstance(node, And | Or) else str(node)


# --------------------------------------------------------------------------- documents and evaluation


@dataclass(frozen=True, slots=True)
class Doc:
    """What a query is evaluated on.  Fields a caller does not know stay empty."""

    text: str
    platform: str = ""
    author: str = ""
    author_id: str = ""
    topics: Sequence[str] = ()
    lowered: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.text and not self.lowered:
            object.__setattr__(self, "lowered", self.text.lower())

    @classmethod
    def of(
        cls,
        text: str,
        *,
        platform: str = "",
        author: str = "",
        author_id: str = "",
        topics: Sequence[str] | None = None,
    ) -> Doc:
        text = text or ""
        return cls(text, str(platform or ""), author or "", author_id or "", tuple(topics or ()), text.lower())


def _occurrences(haystack: str, needle: str) -> Iterator[tuple[int, int]]:
    start = haystack.find(needle)
    while start >= 0:
        yield start, start + len(needle)
        start = haystack.find(needle, start + 1)


def _near(low: str, node: Near) -> bool:
    lefts = [o for t in node.left for o in _occurrences(low, t.text.lower())]
    if not lefts:
        return False
    rights = [o for t in node.right for o in _occurrences(low, t.text.lower())]
    n = node.distance
    return any(0 <= rs - le <= n or 0 <= ls - re_ <= n for ls, le in lefts for rs, re_ in rights)


def evaluate(node: Node, doc: Doc) -> bool:
    """The reference semantics; ``store/query_sql.py`` must agree with it row for row."""
    low = doc.lowered
    if isinstance(node, Term):
        return node.text.lower() in low
    if isinstance(node, Hashtag):
        return f"#{node.tag}#".lower() in low or node.tag in doc.topics
    if isinstance(node, FieldFilter):
        if node.name == "platform":
            return doc.platform == node.value
        return doc.author.lower() == node.value.lower() or doc.author_id == node.value
    if isinstance(node, Not):
        return not evaluate(node.child, doc)
    if isinstance(node, And):
        return all(evaluate(c, doc) for c in node.children)
    if isinstance(node, Or):
        return any(evaluate(c, doc) for c in node.children)
    return _near(low, node)


def walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Not):
        yield from walk(node.child)
    elif isinstance(node, And | Or):
        for c in node.children:
            yield from walk(c)


# --------------------------------------------------------------------------- the query object


@dataclass(frozen=True)
class Query:
    """A parsed query.  ``Query.parse(text)``; ``q.matches(text, platform=..., author=...)``."""

    source: str
    node: Node

    @classmethod
    def parse(cls, text: str, *, source: str = "query", platforms: Mapping[str, Platform] | None = None) -> Query:
        return cls(text, parse(text, source=source, platforms=platforms))

    @classmethod
    def any_of(cls, terms: Sequence[str]) -> Query:
        """An OR of phrases: what a brand's name and aliases mean when it has no query."""
        kept = [Term(t, phrase=True) for t in dict.fromkeys(t for t in terms if t and t.strip())]
        if not kept:
            raise QueryError("no terms", "", 1)
        node: Node = kept[0] if len(kept) == 1 else Or(tuple(kept))
        return cls(str(node), node)

    def __str__(self) -> str:
        return str(self.node)

    def matches(
        self,
        text: str,
        *,
        platform: str = "",
        author: str = "",
        author_id: str = "",
        topics: Sequence[str] | None = None,
    ) -> bool:
        return evaluate(self.node, Doc.of(text, platform=platform, author=author, author_id=author_id, topics=topics))

    def matches_doc(self, doc: Doc) -> bool:
        return evaluate(self.node, doc)

    @cached_property
    def fields(self) -> set[str]:
        """The field filters used (``author``, ``platform``)."""
        return {n.name for n in walk(self.node) if isinstance(n, FieldFilter)}

    @cached_property
    def positive_terms(self) -> list[str]:
        """Words, phrases and ``#topics#`` whose presence can make a post match (not those under NOT)."""
        out: list[str] = []

        def visit(node: Node, negated: bool) -> None:
            if isinstance(node, Not):
                visit(node.child, not negated)
            elif isinstance(node, And | Or):
                for c in node.children:
                    visit(c, negated)
            elif negated:
                return
            elif isinstance(node, Term):
                out.append(node.text)
            elif isinstance(node, Hashtag):
                out.append(f"#{node.tag}#")
            elif isinstance(node, Near):
                out.extend(t.text for t in (*node.left, *node.right))

        visit(self.node, False)
        return list(dict.fromkeys(out))

    def keywords(self, limit: int = MAX_KEYWORDS) -> list[str]:
        """Platform search keywords covering the query: one per alternative, its required words space-joined.

        ``(星阅 OR XingYue) AND 手机 NOT 官方`` → ``["星阅 手机", "XingYue 手机"]``.  Negations and field
        filters are left to the brand query applied after collection.
        """
        try:
            alts: list[tuple[str, ...]] | None = _alternatives(self.node, 16 * limit)
        except _TooMany:
            alts = None
        out = list(dict.fromkeys(" ".join(dict.fromkeys(a)) for a in alts or [] if a))
        if alts is None or len(out) > limit:
            raise QueryError(
                f"expands to more than {limit} search keywords: simplify it or set collect.queries",
                self.source,
                1,
            )
        return out


class _TooMany(Exception):
    pass


def _alternatives(node: Node, cap: int) -> list[tuple[str, ...]]:
    """Disjunctive normal form over the positive words (negations and filters dropped)."""
    if isinstance(node, Term):
        return [(node.text,)]
    if isinstance(node, Hashtag):
        return [(f"#{node.tag}#",)]
    if isinstance(node, FieldFilter | Not):
        return [()]
    if isinstance(node, Near):
        return [(a.text, b.text) for a in node.left for b in node.right]
    if isinstance(node, Or):
        out = [a for c in node.children for a in _alternatives(c, cap)]
    else:
        parts = [_alternatives(c, cap) for c in node.children]
        size = 1
        for p in parts:
            size *= len(p)
            if size > cap:
                raise _TooMany
        out = [tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*parts)]
    if len(out) > cap:
        raise _TooMany
    return out


# --------------------------------------------------------------------------- tokenizer

_LPAREN = "(（"
_RPAREN = ")）"
_QUOTES = {'"': '"', "“": "”", "「": "」"}
_OR_CHARS = "|｜"
_AND_CHARS = "&＆+＋"
_SPECIAL = set(_LPAREN + _RPAREN + _OR_CHARS + _AND_CHARS) | set(_QUOTES) | set(_QUOTES.values())
_KEYWORDS = {"AND", "OR", "NOT"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # WORD PHRASE HASH FIELD LP RP AND OR NOT NEAR EOF
    pos: int  # 0-based
    text: str = ""
    value: str = ""
    distance: int = 0
    field: str = ""


def _field_prefix(word: str) -> tuple[str, int] | None:
    for sep in (":", "："):
        head, found, _ = word.partition(sep)
        if found and head.lower() in FIELD_NAMES:
            return FIELD_NAMES[head.lower()], len(head) + 1
    return None


class _Lexer:
    def __init__(self, text: str, source: str, platforms: Mapping[str, Platform] | None = None) -> None:
        self.text = text
        self.source = source
        self.platforms = {k.lower(): v for k, v in (platforms or {}).items()}

    def error(self, reason: str, pos: int) -> QueryError:
        return QueryError(reason, self.text, pos + 1, source=self.source)

    def _phrase(self, i: int) -> tuple[str, int]:
        """The phrase opening at ``i``; returns (content, index after the closing quote)."""
        close = _QUOTES[self.text[i]]
        j = self.text.find(close, i + 1)
        if j < 0:
            raise self.error(f"unterminated phrase: no closing {close}", i)
        content = self.text[i + 1 : j]
        if not content.strip():
            raise self.error("empty phrase", i)
        return content, j + 1

    def tokens(self) -> list[_Tok]:
        text, n, i = self.text, len(self.text), 0
        out: list[_Tok] = []
        while i < n:
            c = text[i]
            if c.isspace():
                i += 1
            elif c in _LPAREN:
                out.append(_Tok("LP", i, c))
                i += 1
            elif c in _RPAREN:
                out.append(_Tok("RP", i, c))
                i += 1
            elif c in _OR_CHARS:
                out.append(_Tok("OR", i, c))
                i += 1
            elif c in _AND_CHARS:
                out.append(_Tok("AND", i, c))
                i += 1
            elif c in "-－":  # at the start of a term; inside a word (Wi-Fi) it is part of the word
                out.append(_Tok("NOT", i, c))
                i += 1
            elif c in _QUOTES:
                content, j = self._phrase(i)
                out.append(_Tok("PHRASE", i, text[i:j], content))
                i = j
            elif c in _QUOTES.values():
                opener = next(o for o, e in _QUOTES.items() if e == c)
                raise self.error(f"unexpected {c}: a phrase opens with {opener}", i)
            elif c in "#＃":
                j = i + 1
                while j < n and text[j] not in "#＃\n":
                    j += 1
                if j >= n or text[j] not in "#＃":
                    raise self.error("unterminated #topic#: no closing #", i)
                tag = text[i + 1 : j].strip()
                if not tag:
                    raise self.error("empty #topic#", i)
                out.append(_Tok("HASH", i, text[i : j + 1], tag))
                i = j + 1
            else:
                i = self._word(i, out)
        out.append(_Tok("EOF", n))
        return out

    def _word(self, i: int, out: list[_Tok]) -> int:
        text, n = self.text, len(self.text)
        j = i
        while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
            j += 1
        word = text[i:j]
        if word in _KEYWORDS:
            out.append(_Tok(word, i, word))
            return j
        if word.startswith("NEAR"):
            rest = word[4:]
            if not rest.startswith("/") or not rest[1:].isdigit():
                raise self.error("expected NEAR/n with a distance in characters, e.g. NEAR/5", i)
            distance = int(rest[1:])
            if distance > MAX_NEAR:
                raise self.error(f"NEAR distance {distance} is above {MAX_NEAR}", i)
            out.append(_Tok("NEAR", i, word, distance=distance))
            return j
        prefix = _field_prefix(word)
        if prefix is not None:
            name, skip = prefix
            vpos = i + skip
            if vpos < n and text[vpos] in _QUOTES:
                value, j = self._phrase(vpos)
            else:
                value = text[vpos:j]
            if not value:
                raise self.error(f"expected a value after {text[i:vpos]}", vpos)
            if name == "platform":
                value = self._platform(value, vpos)
            out.append(_Tok("FIELD", i, text[i:j], value, field=name))
            return j
        out.append(_Tok("WORD", i, word, word))
        return j

    def _platform(self, value: str, pos: int) -> str:
        key = value.lower()
        if key in self.platforms:
            return self.platforms[key].value
        try:
            return Platform(key).value
        except ValueError:
            known = ", ".join(dict.fromkeys([*(p.value for p in Platform), *self.platforms]))
            raise self.error(f"unknown platform {value!r} (known: {known})", pos) from None


# --------------------------------------------------------------------------- parser

_STARTS = {"WORD", "PHRASE", "HASH", "FIELD", "LP", "NOT"}
_OPERAND = "a word, \"phrase\", #topic#, field filter or '('"


class _Parser:
    def __init__(self, text: str, source: str, platforms: Mapping[str, Platform] | None) -> None:
        self.lexer = _Lexer(text, source, platforms)
        self.toks = self.lexer.tokens()
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def error(self, reason: str, tok: _Tok | None = None) -> QueryError:
        return self.lexer.error(reason, (tok or self.tok).pos)

    def parse(self) -> Node:
        if self.tok.kind == "EOF":
            raise self.error("empty query: expected " + _OPERAND)
        node = self.or_expr()
        if self.tok.kind == "RP":
            raise self.error("unmatched ')'")
        if self.tok.kind != "EOF":  # pragma: no cover - every other token starts or joins an operand
            raise self.error(f"unexpected {self.tok.text!r}")
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.tok.kind == "OR":
            self.next()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(_flatten(parts, Or)))

    def and_expr(self) -> Node:
        parts = [self.unary()]
        while True:
            if self.tok.kind == "AND":
                self.next()
            elif self.tok.kind not in _STARTS:
                break
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(_flatten(parts, And)))

    def unary(self) -> Node:
        if self.tok.kind == "NOT":
            op = self.next()
            if self.tok.kind not in _STARTS:
                raise self.error(f"expected {_OPERAND} after {op.text!r}")
            child = self.unary()
            return child.child if isinstance(child, Not) else Not(child)
        return self.near()

    def near(self) -> Node:
        start = self.tok
        left = self.primary()
        if self.tok.kind != "NEAR":
            return left
        op = self.next()
        right_tok = self.tok
        if right_tok.kind not in _STARTS - {"NOT"}:
            raise self.error(f"expected a word, phrase or (a OR b) group after {op.text}")
        right = self.primary()
        if self.tok.kind == "NEAR":
            raise self.error("NEAR/n cannot be chained: write (a NEAR/n b) AND (b NEAR/n c)")
        return Near(self._near_side(left, start), self._near_side(right, right_tok), op.distance)

    def _near_side(self, node: Node, tok: _Tok) -> tuple[Term, ...]:
        if isinstance(node, Term):
            return (node,)
        if isinstance(node, Or) and all(isinstance(c, Term) for c in node.children):
            return tuple(c for c in node.children if isinstance(c, Term))
        raise self.error("NEAR/n joins words, phrases or (a OR b) groups of them", tok)

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "LP":
            self.next()
            if self.tok.kind == "RP":
                raise self.error("empty parentheses: expected " + _OPERAND)
            node = self.or_expr()
            if self.tok.kind != "RP":
                raise self.error("expected ')'")
            self.next()
            return node
        if tok.kind == "WORD":
            self.next()
            return Term(tok.value)
        if tok.kind == "PHRASE":
            self.next()
            return Term(tok.value, phrase=True)
        if tok.kind == "HASH":
            self.next()
            return Hashtag(tok.value)
        if tok.kind == "FIELD":
            self.next()
            return FieldFilter(tok.field, tok.value)
        if tok.kind == "RP":
            raise self.error("unmatched ')'")
        if tok.kind == "EOF":
            before = self.toks[self.i - 1].text if self.i else ""
            raise self.error(f"expected {_OPERAND}" + (f" after {before!r}" if before else ""))
        raise self.error(f"expected {_OPERAND} before {tok.text!r}")


def _flatten(parts: list[Node], kind: type[And] | type[Or]) -> Iterator[Node]:
    for p in parts:
        if isinstance(p, kind):
            yield from p.children
        else:
            yield p


def parse(text: str, *, source: str = "query", platforms: Mapping[str, Platform] | None = None) -> Node:
    """Parse ``text`` into an AST; raises :class:`QueryError` at the column of a mistake.

    ``platform:`` takes a :class:`~store.schema.Platform` value or a name in ``platforms`` (the
    command line passes the platform registry's names: 微博, 小红书, xhs, dy, …).
    """
    return _Parser(text, source, platforms).parse()
