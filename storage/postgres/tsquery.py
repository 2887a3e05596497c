"""The topics' query language (storage.query) as a PostgreSQL tsquery over `articles.search`.

The same words find the same articles as on SQLite (storage.fts_query), with PostgreSQL's own machinery.
The index holds every article twice (storage.postgres.schema): words as written (`veille_simple`, weights
A and B) and French stems (`veille_french`, weights C and D), both without accents and ligatures (unaccent
folds œ to oe, so `coeur` and `cœur` need no variants). Each word of a query names the weights it may
match, so that a phrase is matched within one of the two, never across:

    souverains        'souverain':*AB | 'souverain':CD  our stem as a prefix of the words as written (plurals,
                                                        feminines, as topics read them), or the French stem
    Gaia-X, gaia x    'gaia':AB <-> 'x':AB | ...        hyphenated words: a phrase (the whole of a hyphenated
                                                        word is not indexed, only its parts)
    "l'ANSSI"         'l':AB <-> 'anssi':AB             a quoted phrase: the words as written, no stemming
    l'ANSSI           'anssi':*AB | 'anssi':CD          an elided article is dropped, as topics do
    certif*           'certif':*AB                      a prefix of the words as written
    a AND NOT b       a && !!b                          OR, AND and NOT are tsquery's ||, && and !!
    NEAR(a b, 5)      a <1> b | b <1> a | ... <5> ...   every distance, both ways (see below)

NEAR, approximated: tsquery's `<N>` is an exact distance, so NEAR(a b, n) is the OR of `a <d> b` and
`b <d> a` for d from 1 to n (plus the length of its phrases, less one each), over the words as written with
stems as prefixes: each term within the distance of the first one, each pair on its own (the first term may
be a different occurrence for each). Two approximations, both said here: a span over MAX_NEAR_SPAN words
is read as AND (every term in the article, anywhere); PostgreSQL counts an elided article (the `l` of
`l'État`) as a word where topics do not (as FTS5 does on SQLite), so a NEAR right at its distance across an
elision can be missed.
A phrase may also run from the end of the title into the start of the text (the tsvector joins them).
"""

import re
from dataclasses import dataclass

from storage.errors import SearchSyntaxError
from storage.query import AllOf, AnyOf, Near, Node, Not, QuerySyntaxError, Term, parse
from storage.text import fold, stem, words

MIN_PREFIX = 3  # shorter stems are searched as words (a prefix `ia:*` would find every `iab...`)
MAX_NEAR_SPAN = 24  # a NEAR spanning more words is read as AND: 2 × span alternatives per term otherwise
AS_WRITTEN, STEMS = "AB", "CD"  # the weights of the index's words as written and of its French stems
_TOKEN = re.compile(r"[^\W_]+")  # words as PostgreSQL's parser splits them: letters and digits


@dataclass(frozen=True)
class TsQuery:
    """An SQL expression of type tsquery, and the parameters its placeholders take, in order."""

    sql: str
    params: tuple[str, ...]


def tsquery(query: str) -> TsQuery:
    """The tsquery of a query in the topics' language; SearchSyntaxError when it cannot be read."""
    if not query.strip():
        raise SearchSyntaxError("the query is empty: give a word, a \"phrase\", or terms joined by AND/OR/NOT")
    try:
        node = parse(query)
    except QuerySyntaxError as exc:
        raise SearchSyntaxError(f"cannot read the query {query!r}: {exc}") from None
    params: list[str] = []
    return TsQuery(_node(node, params), tuple(params))


def _quoted(word: str, weights: str = AS_WRITTEN) -> str:
    """A word of letters and digits only (nothing in it reads as tsquery syntax), in the weights given."""
    return f"'{word}':{weights}"


def _prefix(word: str) -> str:
    return f"'{word}':*{AS_WRITTEN}"


def _phrase(items: list[str]) -> str:
    return " <-> ".join(items)


def _simple(term: Term) -> str:
    """The term in the words as written: exact, a prefix, or with its last word's stem as a prefix."""
    if term.exact:
        return _phrase([_quoted(w) for w in _TOKEN.findall(fold(term.text))])
    written = words(term.text.rstrip("*"))
    *head, last = written
    if term.prefix:
        tail = _prefix(last)
    else:
        base = stem(last)
        forms = [_prefix(base)] if len(base) >= MIN_PREFIX else []
        if not forms or not last.startswith(base):
            forms.append(_quoted(last))
        tail = forms[0] if len(forms) == 1 else f"({' | '.join(forms)})"
    return _phrase([*map(_quoted, head), tail])


def _term(term: Term, params: list[str]) -> str:
    params.append(_simple(term))
    simple = "to_tsquery('veille_simple', %s)"
    if term.exact or term.prefix:
        return simple
    params.append(_phrase([_quoted(w, STEMS) for w in words(term.text)]))
    return f"({simple} || to_tsquery('veille_french', %s))"


def _near(node: Near, params: list[str]) -> str:
    first, *others = node.terms
    head = f"({_simple(first)})"
    groups, anywhere = [], False
    for other in others:
        span = node.distance + len(first.words) + len(other.words) - 2
        term = f"({_simple(other)})"
        if span > MAX_NEAR_SPAN:
            groups.append(term)
            anywhere = True
            continue
        groups.append("(" + " | ".join(f"{a} <{d}> {b}" for d in range(1, span + 1)
                                       for a, b in ((head, term), (term, head))) + ")")
    params.append(" & ".join([head, *groups] if anywhere else groups))
    return "to_tsquery('veille_simple', %s)"


def _node(node: Node, params: list[str]) -> str:
    if isinstance(node, Term):
        return _term(node, params)
    if isinstance(node, Near):
        return _near(node, params)
    if isinstance(node, AnyOf):
        if any(isinstance(c, Not) for c in node.children):
            raise SearchSyntaxError("search cannot find 'x OR NOT y' (every article without y): "
                                    "write what must be there, then NOT what must not")
        return "(" + " || ".join(_node(c, params) for c in node.children) + ")"
    if isinstance(node, AllOf):
        present = [_node(c, params) for c in node.children if not isinstance(c, Not)]
        absent = [f"!!({_node(c.child, params)})" for c in node.children if isinstance(c, Not)]
        return "(" + " && ".join(present + absent) + ")"
    raise SearchSyntaxError("the query only says what must be absent: give a word that must be there")
