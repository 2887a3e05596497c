"""The topics' query language (storage.query) as an FTS5 query over the archive's index.

One language for topics, `veille search`, the bot's /search: a query is parsed by the topics' parser, then
written for FTS5, whose index holds each word lower-cased and without accents (unicode61, remove_diacritics)
but keeps ligatures and compatibility forms as written (storage.text.index_words). What a topic matches, the
same words find in search; search may find a little more, never less:

    cloud souverain         "cloud"* AND "souverain"*      a bare word: its stem as a prefix (plurals,
                                                           feminines), or the word as written
    Gaia-X, etats-unis      "gaia" + "x", "etats" + "uni"* hyphenated words: a phrase
    "l'ANSSI"               "anssi"                        a quoted phrase: no inflection
    l'ANSSI                 "anssi"*                       an elided article is dropped, as topics do
    coeur, cœur             "coeur"* OR "cœur"*            every spelling the index may hold (ligatures
    finance, ﬁnance         "financ"* OR "ﬁnanc"*          œ æ ß ﬁ ﬂ ﬀ, full-width letters), and the
    ℌ                       "h" OR "ｈ" OR "ℌ"              word as written
    a AND NOT b, a NOT b    a NOT b                        FTS5's NOT is binary: what is absent follows
    NEAR(a b, 5)            NEAR(a b, 5)

Every word is quoted, so that no input reads as an FTS5 operator or a column filter (`X:`).
"""

from storage.errors import SearchSyntaxError
from storage.query import AllOf, AnyOf, Near, Node, Not, QuerySyntaxError, Term, parse
from storage.text import index_spellings, index_words, stem, words

_MIN_PREFIX = 3  # shorter stems are searched as words (a prefix `ia*` would find every `iab...`)


def fts_query(query: str) -> str:
    """The FTS5 MATCH string of a query in the topics' language; SearchSyntaxError when it cannot be read."""
    try:
        return _node(parse(query))
    except QuerySyntaxError as exc:
        raise SearchSyntaxError(f"cannot read the query {query!r}: {exc}") from None


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _phrase(words: tuple[str, ...], prefix: bool) -> str:
    return " + ".join(_quoted(w) for w in words) + ("*" if prefix else "")


def _folded(term: Term) -> list[tuple[tuple[str, ...], bool]]:
    """A term's folded word sequences, each with whether its last word is a prefix: a bare word's stem
    (when long enough), and the word itself when it does not start with its stem (`journaux` → `journal`)."""
    written = words(term.text.rstrip("*"))
    base = stem(written[-1])
    if term.exact or term.prefix or len(base) < _MIN_PREFIX:
        return [(tuple(written), term.prefix)]
    found = [((*written[:-1], base), True)]
    if len(written) == 1 and not written[0].startswith(base):
        found.append(((written[0],), False))
    return found


def _term(term: Term, near: bool = False) -> str:
    """A term's FTS5 phrase, or the OR of its spellings; inside NEAR, one phrase (FTS5 has no OR there)."""
    spelt = [(spelling, prefix) for sequence, prefix in _folded(term) for spelling in index_spellings(sequence)]
    written = tuple(words(term.text.rstrip("*")))
    own = tuple(index_words(term.text.rstrip("*")))  # as typed: the index may hold "ℌ", no spelling of "h"
    if len(own) == len(written) and own != written and all(own != spelling for spelling, _ in spelt):
        spelt.append((own, term.prefix))
    unique = list(dict.fromkeys(_phrase(spelling, prefix) for spelling, prefix in spelt))
    return unique[0] if near or len(unique) == 1 else "(" + " OR ".join(unique) + ")"


def _node(node: Node) -> str:
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, Near):
        return f"NEAR({' '.join(_term(t, near=True) for t in node.terms)}, {node.distance})"
    if isinstance(node, AnyOf):
        if any(isinstance(c, Not) for c in node.children):
            raise SearchSyntaxError("search cannot find 'x OR NOT y' (every article without y): "
                                    "write what must be there, then NOT what must not")
        return "(" + " OR ".join(_node(c) for c in node.children) + ")"
    if isinstance(node, AllOf):
        present = [_node(c) for c in node.children if not isinstance(c, Not)]
        absent = [_node(c.child) for c in node.children if isinstance(c, Not)]
        text = "(" + " AND ".join(present) + ")"
        return f"({text}{''.join(f' NOT {a}' for a in absent)})" if absent else text
    raise SearchSyntaxError("the query only says what must be absent: give a word that must be there")
