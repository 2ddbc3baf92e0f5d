"""The query language that decides which mentions a brand or saved search matches.

Grammar, loosest binding first::

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= not_expr (["AND"] not_expr)*      # adjacency means AND
    not_expr:= ("NOT" | "-") not_expr | primary
    primary := "(" or_expr ")" | '"' phrase '"' | word

* ``AND``, ``OR`` and ``NOT`` are operators only in upper case; ``and`` is a word.
* A word matches a whole token, case-insensitively. A plain word also matches the
  same hashtag (``northwind`` matches "#Northwind"); ``#northwind`` matches only the
  hashtag and ``@northwind`` only the handle (see :mod:`groundcontrol.text`).
* A trailing ``*`` matches a prefix: ``batter*`` matches "battery", "batteries".
* ``"aero 14"`` matches those tokens next to each other: "My Aero 14 died" but not
  "aero 145". Punctuation between the words does not matter ("aero, 14" matches).
* A word that holds punctuation is a phrase of its tokens (``wi-fi`` is
  ``"wi fi"``); a word or phrase without any letter or digit (an emoji, ``:-/``,
  or ``":("`` quoted because of its parenthesis) matches that text anywhere.
* ``-word`` is ``NOT word``.

Errors raise :class:`QuerySyntaxError` naming the problem and its 1-based
character position. A parsed query compiles to closures over set and substring
tests on a :class:`~groundcontrol.text.TextInfo`, so matching one mention against
a brand costs a few C-level calls.

Searches (the analyst console, ``GET /mentions``, ``groundcontrol search``)
    :func:`parse_search` reads the query language plus field qualifiers at the top
    level, each ANDed with the rest: ``brand:NAME source:NAME author:NAME lang:CODE
    sentiment:positive|neutral|negative class:CATEGORY flag:NAME``. A value may be
    quoted (``author:"Jane Doe"``); the same field twice means either value
    (``brand:contoso brand:fabrikam``, or with ``OR`` between them); brand, source,
    lang, sentiment and class ignore case, author and flag do not. What is left is
    the text query (:attr:`Search.text`). ``brand:northwind battery -charger``.
    :func:`parse_when` reads the times a search is bounded by.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from groundcontrol.config import DURATION_UNITS
from groundcontrol.model import CATEGORIES
from groundcontrol.text import TextInfo, analyse, tokenize

if TYPE_CHECKING:
    from groundcontrol.model import Mention

__all__ = [
    "FIELDS",
    "SENTIMENTS",
    "And",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Query",
    "QuerySyntaxError",
    "Raw",
    "Search",
    "Term",
    "parse_query",
    "parse_search",
    "parse_when",
]

#: Deepest nesting of parentheses and NOTs; deeper queries are refused, not recursed.
MAX_DEPTH = 64

Matcher = Callable[[TextInfo], bool]


class QuerySyntaxError(ValueError):
    """A query could not be parsed; the message names the problem and its position."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.position = position
        """1-based character position of the problem, None for the query as a whole."""
        self.problem = message
        super().__init__(message if position is None else f"{message} at position {position}")


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Term:
    """One token: a word, ``#hashtag`` or ``@handle``; ``prefix`` for a trailing ``*``."""

    token: str
    prefix: bool = False

    def __str__(self) -> str:
        return self.token + ("*" if self.prefix else "")


@dataclass(frozen=True)
class Phrase:
    """Consecutive tokens."""

    tokens: tuple[str, ...]

    def __str__(self) -> str:
        return '"' + " ".join(self.tokens) + '"'


@dataclass(frozen=True)
class Raw:
    """Text without letters or digits (emoticons, emoji), matched as a substring."""

    text: str

    def __str__(self) -> str:
        return '"' + self.text + '"'


@dataclass(frozen=True)
class Not:
    """Negation."""

    child: Node

    def __str__(self) -> str:
        return f"NOT {self.child}"


@dataclass(frozen=True)
class And:
    """All children match."""

    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Or:
    """At least one child matches."""

    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")"


Node = Term | Phrase | Raw | Not | And | Or


# --------------------------------------------------------------------------- lexer

_OPERATORS = frozenset({"AND", "OR", "NOT"})
_WORD_STOP = frozenset(' \t\n\r\f\v()"')


@dataclass(frozen=True)
class _Tok:
    kind: str  # "(", ")", "AND", "OR", "NOT", "-", "word", "phrase"
    text: str
    pos: int  # 1-based


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            toks.append(_Tok(c, c, i + 1))
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError("unclosed quote", i + 1)
            toks.append(_Tok("phrase", text[i + 1 : end], i + 1))
            i = end + 1
        elif c == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != ")":
            toks.append(_Tok("-", c, i + 1))
            i += 1
        else:
            j = i
            while j < n and text[j] not in _WORD_STOP and not text[j].isspace():
                j += 1
            word = text[i:j]
            toks.append(_Tok(word if word in _OPERATORS else "word", word, i + 1))
            i = j
    return toks


# --------------------------------------------------------------------------- parser


def _word_node(tok: _Tok) -> Node:
    word = tok.text
    if word == "-":
        raise QuerySyntaxError("expected a term after '-'", tok.pos)
    prefix = word.endswith("*")
    body = word.rstrip("*") if prefix else word
    if prefix and len(word) - len(body) > 1:
        raise QuerySyntaxError("'*' may appear only once, at the end of a word", tok.pos)
    star = body.find("*")
    if star >= 0:
        raise QuerySyntaxError("'*' is only allowed at the end of a word", tok.pos + star)
    tokens = tokenize(body)
    if len(tokens) == 1 and not tokens[0].strip("#@"):
        kind = "hashtag" if tokens[0][0] == "#" else "handle"
        raise QuerySyntaxError(f"expected a {kind} name after '{tokens[0][0]}'", tok.pos)
    if prefix:
        if not tokens:
            raise QuerySyntaxError("expected a word before '*'", tok.pos)
        if len(tokens) > 1 or tokens[0] != body.lower():
            raise QuerySyntaxError("'*' must follow a single word", tok.pos)
        return Term(tokens[0], prefix=True)
    if not tokens:
        return Raw(body.lower())
    if len(tokens) == 1:
        return Term(tokens[0])
    return Phrase(tuple(tokens))


def _phrase_node(tok: _Tok) -> Node:
    inner = tok.text.strip()
    if not inner:
        raise QuerySyntaxError("empty phrase", tok.pos)
    tokens = tokenize(inner)
    if not tokens:
        return Raw(inner.lower())
    if len(tokens) == 1:
        if not tokens[0].strip("#@"):
            raise QuerySyntaxError("expected a word in the phrase", tok.pos)
        return Term(tokens[0])
    return Phrase(tuple(tokens))


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _lex(text)
        self.i = 0
        self.end = len(text) + 1

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Node:
        if not self.toks:
            raise QuerySyntaxError("empty query")
        node = self.or_expr(0)
        tok = self.peek()
        if tok is not None:
            # or_expr stops only at ")" when nothing is left to continue with.
            raise QuerySyntaxError("unexpected ')'", tok.pos)
        return node

    def or_expr(self, depth: int) -> Node:
        children = [self.and_expr(depth)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.i += 1
            children.append(self.and_expr(depth, after=tok))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, depth: int, after: _Tok | None = None) -> Node:
        children = [self.not_expr(depth, after)]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", ")"):
            if tok.kind == "AND":
                self.i += 1
                children.append(self.not_expr(depth, tok))
            else:
                children.append(self.not_expr(depth, None))
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_expr(self, depth: int, after: _Tok | None) -> Node:
        # Iterative, so "NOT NOT NOT ..." cannot exhaust the stack.
        negations: list[_Tok] = []
        while (tok := self.peek()) is not None and tok.kind in ("NOT", "-"):
            negations.append(tok)
            self.i += 1
            if depth + len(negations) > MAX_DEPTH:
                raise QuerySyntaxError("query nested too deeply", tok.pos)
        last = negations[-1] if negations else after
        node = self.primary(depth + len(negations), last)
        for _ in negations:
            node = node.child if isinstance(node, Not) else Not(node)
        return node

    def primary(self, depth: int, after: _Tok | None) -> Node:
        tok = self.peek()
        if tok is None or tok.kind in ("AND", "OR", ")"):
            if after is not None:
                name = "'-'" if after.kind == "-" else after.kind
                raise QuerySyntaxError(f"expected a term after {name}", after.pos)
            if tok is None:  # pragma: no cover - parse() rejects empty input first
                raise QuerySyntaxError("empty query")
            if tok.kind == ")":
                raise QuerySyntaxError("unexpected ')'", tok.pos)
            raise QuerySyntaxError(f"expected a term before {tok.kind}", tok.pos)
        self.i += 1
        if tok.kind == "(":
            if depth + 1 > MAX_DEPTH:
                raise QuerySyntaxError("query nested too deeply", tok.pos)
            nxt = self.peek()
            if nxt is None:
                raise QuerySyntaxError("unclosed parenthesis", tok.pos)
            if nxt.kind == ")":
                raise QuerySyntaxError("empty parentheses", tok.pos)
            node = self.or_expr(depth + 1)
            close = self.peek()
            if close is None:
                raise QuerySyntaxError("unclosed parenthesis", tok.pos)
            self.i += 1  # or_expr only stops early at ")"
            return node
        if tok.kind == "phrase":
            return _phrase_node(tok)
        return _word_node(tok)


# --------------------------------------------------------------------------- compiler


def _compile_term(term: Term) -> Matcher:
    token = term.token
    if term.prefix:
        needle = " " + token
        if token[0] in "#@":

            def prefix_exact(info: TextInfo, needle: str = needle) -> bool:
                return needle in info.joined

            return prefix_exact

        def prefix_bare(info: TextInfo, needle: str = needle) -> bool:
            return needle in info.joined_bare

        return prefix_bare

    if token[0] in "#@":

        def tagged(info: TextInfo, token: str = token) -> bool:
            return token in info.words

        return tagged

    forms = frozenset({token, "#" + token})

    def word(info: TextInfo, forms: frozenset[str] = forms) -> bool:
        return not forms.isdisjoint(info.words)

    return word


def _compile(node: Node) -> Matcher:
    if isinstance(node, Term):
        return _compile_term(node)
    if isinstance(node, Phrase):
        needle = " " + " ".join(node.tokens) + " "
        if any(t[0] in "#@" for t in node.tokens):

            def phrase_exact(info: TextInfo, needle: str = needle) -> bool:
                return needle in info.joined

            return phrase_exact

        def phrase_bare(info: TextInfo, needle: str = needle) -> bool:
            return needle in info.joined_bare

        return phrase_bare
    if isinstance(node, Raw):

        def raw(info: TextInfo, needle: str = node.text) -> bool:
            return needle in info.lower

        return raw
    if isinstance(node, Not):
        inner = _compile(node.child)

        def negate(info: TextInfo, inner: Matcher = inner) -> bool:
            return not inner(info)

        return negate
    if isinstance(node, And):
        matchers = tuple(map(_compile, node.children))

        def all_of(info: TextInfo, matchers: tuple[Matcher, ...] = matchers) -> bool:
            for matcher in matchers:  # noqa: SIM110 - a plain loop beats all() + genexpr here
                if not matcher(info):
                    return False
            return True

        return all_of
    # Or: every exact term joins one set test (a plain word also in its hashtag
    # form) and every phrase or prefix one loop of substring tests, inside a single
    # closure: calling a closure per child costs more than the tests themselves.
    exact: set[str] = set()
    bare: list[str] = []  # needles for info.joined_bare
    tagged: list[str] = []  # needles for info.joined
    anywhere: list[str] = []  # needles for info.lower
    rest: list[Matcher] = []
    for child in node.children:
        if isinstance(child, Term) and not child.prefix:
            exact.add(child.token)
            if child.token[0] not in "#@":
                exact.add("#" + child.token)
        elif isinstance(child, Term):
            (tagged if child.token[0] in "#@" else bare).append(" " + child.token)
        elif isinstance(child, Phrase):
            needle = " " + " ".join(child.tokens) + " "
            (tagged if any(t[0] in "#@" for t in child.tokens) else bare).append(needle)
        elif isinstance(child, Raw):
            anywhere.append(child.text)
        else:
            rest.append(_compile(child))
    return _any_of(frozenset(exact), tuple(bare), tuple(tagged), tuple(anywhere), tuple(rest))


def _any_of(
    exact: frozenset[str],
    bare: tuple[str, ...],
    tagged: tuple[str, ...],
    raw: tuple[str, ...],
    rest: tuple[Matcher, ...],
) -> Matcher:
    if not (bare or tagged or raw or rest):

        def any_word(info: TextInfo, exact: frozenset[str] = exact) -> bool:
            return not exact.isdisjoint(info.words)

        return any_word

    def any_of(info: TextInfo) -> bool:
        if not exact.isdisjoint(info.words):
            return True
        if bare:
            joined = info.joined_bare
            for needle in bare:
                if needle in joined:
                    return True
        if tagged:
            joined = info.joined
            for needle in tagged:
                if needle in joined:
                    return True
        if raw:
            lower = info.lower
            for needle in raw:
                if needle in lower:
                    return True
        for matcher in rest:  # noqa: SIM110 - a plain loop beats any() + genexpr here
            if matcher(info):
                return True
        return False

    return any_of


class Query:
    """A parsed, compiled query; :meth:`matches` tests one analysed text."""

    __slots__ = ("matches", "root", "source")

    matches: Matcher
    """Return True when the analysed text matches (a compiled closure, not a method)."""

    def __init__(self, source: str, root: Node) -> None:
        self.source = source
        """The query as written."""
        self.root = root
        """The syntax tree."""
        self.matches = _compile(root)

    def matches_text(self, text: str) -> bool:
        """Analyse ``text`` and match it: for one-off use; batches share one analysis."""
        return self.matches(analyse(text))

    def __str__(self) -> str:
        return str(self.root)

    def __repr__(self) -> str:
        return f"Query({self.source!r})"


def parse_query(text: str) -> Query:
    """Parse and compile ``text``; raise :class:`QuerySyntaxError` if it is not valid."""
    return Query(text, _Parser(text).parse())


# --------------------------------------------------------------------------- searches

#: The field qualifiers of a search, in the order its canonical form lists them.
FIELDS = ("brand", "source", "author", "lang", "sentiment", "class", "flag")
#: What ``sentiment:`` takes.
SENTIMENTS = ("positive", "neutral", "negative")
#: Fields whose values are compared without regard to case (and shown lower case).
_CASELESS = frozenset({"brand", "source", "lang", "sentiment", "class"})
#: A field qualifier: a name of letters, a colon, a value (or a quoted one after it).
#: ``http://...`` is not one: a value never starts with "/".
_FIELD = re.compile(r"([A-Za-z]+):(?!/)(.*)", re.DOTALL)
_LANG = re.compile(r"[a-z]{2,3}")
_SOURCE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
#: Characters that make a value need quotes in the canonical form.
_NEEDS_QUOTES = re.compile(r'[\s()"]|^-|^$')


@dataclass(frozen=True, eq=False)
class Search:
    """A parsed search: field values (each field: any of its values; fields ANDed) and
    the text query. Empty: everything. ``str()`` is the canonical form."""

    text: Query | None = None
    """The text query, None when the search has none."""
    brands: tuple[str, ...] = ()
    """Lower case."""
    sources: tuple[str, ...] = ()
    """Lower case."""
    authors: tuple[str, ...] = ()
    """As written (handles as the source writes them: ``@name`` on x, ``u/name`` on reddit)."""
    langs: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    def fields(self) -> list[tuple[str, tuple[str, ...]]]:
        """(field name, its values) for every field, in :data:`FIELDS` order."""
        return list(
            zip(
                FIELDS,
                (
                    self.brands,
                    self.sources,
                    self.authors,
                    self.langs,
                    self.sentiments,
                    self.classes,
                    self.flags,
                ),
                strict=True,
            )
        )

    @property
    def empty(self) -> bool:
        """True when the search matches every mention."""
        return self.text is None and not any(values for _, values in self.fields())

    def matches(self, mention: Mention) -> bool:
        """Whether ``mention`` matches every field given and the text query."""
        m = mention
        if self.brands and not any(b.lower() in self.brands for b in m.brands):
            return False
        if self.sources and m.source.lower() not in self.sources:
            return False
        if self.authors and m.author not in self.authors:
            return False
        if self.langs and m.lang.lower() not in self.langs:
            return False
        if self.sentiments and m.sentiment_label not in self.sentiments:
            return False
        if self.classes and m.category not in self.classes:
            return False
        if self.flags and not any(f in self.flags for f in m.flags):
            return False
        return self.text is None or self.text.matches(analyse(m.text))

    def _key(self) -> tuple[object, ...]:
        return (None if self.text is None else self.text.root, *(v for _, v in self.fields()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Search) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        parts = [f"{name}:{_quoted(v)}" for name, values in self.fields() for v in values]
        if self.text is not None:
            root = self.text.root
            if isinstance(root, And):
                # The top level needs no parentheses: fields AND with the whole text.
                parts.extend(str(child) for child in root.children)
            elif isinstance(root, Or) and not parts:
                parts.append(str(root)[1:-1])
            else:
                parts.append(str(root))
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"Search({str(self)!r})"


def _quoted(value: str) -> str:
    return f'"{value}"' if _NEEDS_QUOTES.search(value) else value


def _field_value(name: str, raw: str, pos: int) -> str:
    """A field's value, checked and (for caseless fields) lower-cased."""
    value = raw.strip()
    if not value:
        raise QuerySyntaxError(f"expected a value after '{name}:'", pos)
    if name not in _CASELESS:
        return value
    value = value.lower()
    if name == "sentiment" and value not in SENTIMENTS:
        raise QuerySyntaxError(
            f"sentiment: must be one of {', '.join(SENTIMENTS)}, not {raw!r}", pos
        )
    if name == "class" and value not in CATEGORIES:
        raise QuerySyntaxError(f"class: must be one of {', '.join(CATEGORIES)}, not {raw!r}", pos)
    if name == "lang" and not _LANG.fullmatch(value):
        raise QuerySyntaxError(f"lang: expected a 2- or 3-letter code such as en, not {raw!r}", pos)
    if name == "source" and not _SOURCE.fullmatch(value):
        raise QuerySyntaxError(
            f"source: expected a source name such as x or reddit, not {raw!r}", pos
        )
    return value


def parse_search(text: str) -> Search:
    """Parse a search (see "Searches" in the module doc); raise :class:`QuerySyntaxError`
    naming the problem (an unknown field lists the known ones)."""
    toks = _lex(text)
    # Each field qualifier: (name, value, index of its first token, of its last token).
    found: list[tuple[str, str, int, int]] = []
    depth = 0
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.kind == "(":
            depth += 1
        elif tok.kind == ")":
            depth = max(0, depth - 1)
        elif tok.kind == "word" and (match := _FIELD.fullmatch(tok.text)):
            name, raw, last = match[1].lower(), match[2], i
            if not raw:
                nxt = toks[i + 1] if i + 1 < len(toks) else None
                if nxt is not None and nxt.kind == "phrase" and nxt.pos == tok.pos + len(tok.text):
                    raw, last = nxt.text, i + 1
                elif name in FIELDS:
                    raise QuerySyntaxError(f"expected a value after '{name}:'", tok.pos)
                else:
                    i += 1  # a word that ends in ":" ("update: ..."), as before
                    continue
            if name not in FIELDS:
                known = ", ".join(f + ":" for f in FIELDS)
                raise QuerySyntaxError(f"unknown field '{name}:' (known: {known})", tok.pos)
            if depth:
                raise QuerySyntaxError(
                    f"'{name}:' applies to the whole search: put it outside parentheses", tok.pos
                )
            if i and toks[i - 1].kind in ("NOT", "-"):
                raise QuerySyntaxError(f"'{name}:' cannot be negated", toks[i - 1].pos)
            found.append((name, _field_value(name, raw, tok.pos), i, last))
            i = last
        i += 1
    values: dict[str, list[str]] = {name: [] for name in FIELDS}
    drop: set[int] = set()
    for n, (name, value, first, last) in enumerate(found):
        if value not in values[name]:
            values[name].append(value)
        drop.update(range(first, last + 1))
        # The token before and the qualifier before it; the same after.
        for j, neighbour in ((first - 1, n - 1), (last + 1, n + 1)):
            if not 0 <= j < len(toks) or toks[j].kind not in ("AND", "OR"):
                continue
            if toks[j].kind == "OR":
                # Only between two values of one field: "brand:a OR brand:b".
                other = found[neighbour] if 0 <= neighbour < len(found) else None
                if other is None or other[0] != name or j not in (other[3] + 1, other[2] - 1):
                    raise QuerySyntaxError(
                        f"'{name}:' can only be ORed with another {name}: value"
                        f" ({name}:a OR {name}:b); fields AND with the rest of the search",
                        toks[j].pos,
                    )
            drop.add(j)
    rest = list(text)
    for j in drop:
        tok = toks[j]
        start = tok.pos - 1
        end = start + len(tok.text) + (2 if tok.kind == "phrase" else 0)
        rest[start:end] = " " * (end - start)
    remaining = "".join(rest)
    query = parse_query(remaining) if remaining.strip() else None
    return Search(
        text=query,
        brands=tuple(values["brand"]),
        sources=tuple(values["source"]),
        authors=tuple(values["author"]),
        langs=tuple(values["lang"]),
        sentiments=tuple(values["sentiment"]),
        classes=tuple(values["class"]),
        flags=tuple(values["flag"]),
    )


_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIX = re.compile(r"\d+(?:\.\d+)?")
#: What :func:`parse_when` takes, for error messages and help texts.
WHEN_FORMS = (
    "unix seconds, an ISO 8601 date or time (2026-11-22, 2026-11-22T10:00:00Z; UTC when"
    " no offset) or a duration ago (90s, 15m, 2h, 7d, 2w)"
)


def parse_when(text: str, *, now: float | None = None) -> float:
    """Unix seconds from unix seconds, ISO 8601 or a duration ago (``2h``: two hours
    before ``now``); ValueError naming the value and the accepted forms."""
    value = text.strip()
    if match := _RELATIVE.fullmatch(value):
        return (time.time() if now is None else now) - float(match[1]) * DURATION_UNITS[match[2]]
    if _UNIX.fullmatch(value) and len(value) <= 20:
        return float(value)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"bad time {text[:40]!r}: expected {WHEN_FORMS}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    stamp = dt.timestamp()
    if not math.isfinite(stamp):  # pragma: no cover - fromisoformat bounds the year
        raise ValueError(f"bad time {text[:40]!r}: expected {WHEN_FORMS}")
    return stamp
