"""The topic rule language, parsed into a small tree: the matcher (alerts) evaluates it against one
article's words, search (storage.fts_query) writes it for FTS5.

    "cloud souverain" OR (Bleu AND (Orange OR Capgemini)) NOT football

- `AND`, `OR`, `NOT` (upper case), parentheses; two terms side by side mean AND; `a NOT b` is a AND NOT b.
- A bare word matches its plurals and feminine forms (`souverain` finds `souveraines`); `Gaia-X` is the
  phrase `gaia x`. A quoted phrase is exact: folded, but no inflection.
- `souverain*` is a prefix: every word that starts with `souverain` (`souveraineté` included).
- `NEAR(a b, 5)`: every term within 5 words of the first one (default 10).

Precedence: NOT binds tightest, then AND, then OR.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from storage.text import stem, words


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed; the message says what and where."""


@dataclass(frozen=True)
class Term:
    """Words that must occur next to each other; `exact` skips inflection, `prefix` opens the last word."""

    text: str
    words: tuple[str, ...]
    exact: bool = False
    prefix: bool = False

    @classmethod
    def of(cls, text: str, *, exact: bool = False) -> "Term":
        """A term as written by an admin (a keyword, or a query word or quoted phrase)."""
        prefix = not exact and text.endswith("*")
        found = words(text.rstrip("*") if prefix else text)
        if not found:
            raise QuerySyntaxError(f"the term {text!r} has no letters or digits")
        return cls(text, tuple(found if exact else [stem(w) for w in found[:-1]] + [found[-1] if prefix
                                                                                      else stem(found[-1])]),
                   exact, prefix)


@dataclass(frozen=True)
class AllOf:
    """Every child holds (AND)."""

    children: tuple["Node", ...]
    label: str = ""


@dataclass(frozen=True)
class AnyOf:
    """At least one child holds (OR)."""

    children: tuple["Node", ...]
    label: str = ""


@dataclass(frozen=True)
class Not:
    """The child does not hold."""

    child: "Node"


@dataclass(frozen=True)
class Near:
    """Every term occurs within `distance` words of the first term."""

    terms: tuple[Term, ...]
    distance: int


Node = Term | AllOf | AnyOf | Not | Near

# how deep parentheses and NOTs may nest: the parser and the matcher recurse once per level
MAX_DEPTH = 100

_TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|(?P<comma>,)|"(?P<quoted>[^"]*)"|(?P<badquote>")'
                    r'|(?P<word>[^\s(),"]+))')


def _tokens(query: str) -> Iterator[tuple[str, str, int]]:
    pos = 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if not m or m.end() == pos:
            break
        kind = m.lastgroup or ""
        if kind == "badquote":
            raise QuerySyntaxError(f"unclosed quote at column {m.start('badquote') + 1}")
        yield kind, m.group(kind), m.start(kind) + 1
        pos = m.end()


class _Parser:
    """Recursive descent over the tokens: or := and (OR and)*; and := unary ((AND|NOT)? unary)*."""

    def __init__(self, query: str) -> None:
        self.tokens = list(_tokens(query))
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_op(self, *names: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1] in names

    def parse(self) -> Node:
        if not self.tokens:
            raise QuerySyntaxError("the query is empty")
        self.check_parentheses()
        node = self.parse_or()
        if (token := self.peek()) is not None:
            if token[0] == "close":
                raise QuerySyntaxError(f"unbalanced parentheses: ')' at column {token[2]} closes nothing")
            raise QuerySyntaxError(f"unexpected {token[1]!r} at column {token[2]}")
        return node

    def check_parentheses(self) -> None:
        """Report unbalanced parentheses first: they explain every other error they would cause."""
        opened: list[int] = []
        for kind, _, column in self.tokens:
            if kind == "open":
                opened.append(column)
            elif kind == "close" and not opened:
                raise QuerySyntaxError(f"unbalanced parentheses: ')' at column {column} closes nothing")
            elif kind == "close":
                opened.pop()
        if opened:
            raise QuerySyntaxError(f"unbalanced parentheses: '(' at column {opened[-1]} is never closed")

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.is_op("OR"):
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else AnyOf(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while (token := self.peek()) is not None and token[0] not in ("close", "comma") and not self.is_op("OR"):
            if self.is_op("AND"):
                self.take()
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else AllOf(tuple(children))

    def parse_unary(self) -> Node:
        """A term, a NOT, a NEAR or a parenthesised query, nested at most MAX_DEPTH deep."""
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise QuerySyntaxError(f"the query nests parentheses or NOTs more than {MAX_DEPTH} deep")
            return self.parse_unary_at_depth()
        finally:
            self.depth -= 1

    def parse_unary_at_depth(self) -> Node:
        token = self.peek()
        if token is None:
            raise QuerySyntaxError("the query ends where a term was expected")
        kind, value, column = self.take()
        if kind == "word" and value == "NOT":
            return Not(self.parse_unary())
        if kind == "word" and value in ("AND", "OR"):
            raise QuerySyntaxError(f"{value} at column {column} needs a term before it")
        if kind == "word" and value == "NEAR" and (nxt := self.peek()) is not None and nxt[0] == "open":
            return self.parse_near(column)
        if kind == "open":
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing[0] != "close":
                raise QuerySyntaxError(f"unbalanced parentheses: '(' at column {column} is never closed")
            self.take()
            return node
        if kind in ("close", "comma"):
            raise QuerySyntaxError(f"unexpected {value!r} at column {column}")
        return Term.of(value, exact=kind == "quoted")

    def parse_near(self, column: int) -> Node:
        self.take()  # (
        terms: list[Term] = []
        distance = 10
        while (token := self.peek()) is not None and token[0] in ("word", "quoted"):
            kind, value, _ = self.take()
            terms.append(Term.of(value, exact=kind == "quoted"))
        if (token := self.peek()) is not None and token[0] == "comma":
            self.take()
            number = self.peek()
            if number is None or not (number[1].isascii() and number[1].isdigit()):  # not '²' or '٣'
                raise QuerySyntaxError(f"NEAR at column {column}: a number of words is expected after ','")
            distance = int(self.take()[1])
        closing = self.peek()
        if closing is None or closing[0] != "close":
            raise QuerySyntaxError(f"unbalanced parentheses: NEAR( at column {column} is never closed")
        self.take()
        if len(terms) < 2:
            raise QuerySyntaxError(f"NEAR at column {column} needs at least two terms")
        return Near(tuple(terms), distance)


def parse(query: str) -> Node:
    """The tree of a query; raises QuerySyntaxError naming the problem and its column."""
    node = _Parser(query).parse()
    if not positive(node):
        raise QuerySyntaxError("the query only says what must be absent: it would match almost everything")
    return node


def positive(node: Node) -> bool:
    """Whether the node needs some term to be present (a rule of only NOTs would match nearly anything)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, AllOf):
        return any(positive(c) for c in node.children)
    if isinstance(node, AnyOf):
        return all(positive(c) for c in node.children)
    return True
