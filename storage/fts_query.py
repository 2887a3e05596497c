"""The topics' query language (alerts.query) as an FTS5 query over the archive's index.

One language for topics, `veille search`, the bot's /search: a query is parsed by the topics' parser, then
written for FTS5, whose index holds each word lower-cased and without accents (unicode61, remove_diacritics).
What a topic matches, the same words find in search; search may find a little more, never less:

    cloud souverain         "cloud"* AND "souverain"*      a bare word: its stem as a prefix (plurals,
                                                           feminines), or the word as written
    Gaia-X, etats-unis      "gaia" "x"* , "etats" "unis"*  hyphenated words: a phrase
    "l'ANSSI"               "l" "anssi"                    a quoted phrase: the index's own words
    l'ANSSI                 "anssi"*                       an elided article is dropped, as topics do
    coeur                   "coeur"* OR "cœur"*            ligatures both ways (the index keeps œ and æ)
    a AND NOT b, a NOT b    a NOT b                        FTS5's NOT is binary: what is absent follows
    NEAR(a b, 5)            NEAR(a b, 5)

Every word is quoted, so that no input reads as an FTS5 operator or a column filter (`X:`).
"""

import re
import unicodedata

from alerts.query import AllOf, AnyOf, Near, Node, Not, QuerySyntaxError, Term, parse
from alerts.text import stem, words
from storage.errors import SearchSyntaxError

_TOKEN = re.compile(r"[^\W_]+")  # what unicode61 keeps as a word: letters and digits
_MIN_PREFIX = 3  # shorter stems are searched as words (a prefix `ia*` would find every `iab...`)
_LIGATURES = (("oe", "œ"), ("ae", "æ"))


def fts_query(query: str) -> str:
    """The FTS5 MATCH string of a query in the topics' language; SearchSyntaxError when it cannot be read."""
    try:
        return _node(parse(query))
    except QuerySyntaxError as exc:
        raise SearchSyntaxError(f"cannot read the query {query!r}: {exc}") from None


def _index_words(text: str) -> list[str]:
    """The words of a text as the index holds them: lower case, accents removed, ligatures kept."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    return _TOKEN.findall(bare)


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _variants(word: str) -> list[str]:
    """The word, and its spellings with ligatures (coeur, cœur) the other way round."""
    found = [word]
    for plain, ligature in _LIGATURES:
        if plain in word:
            found.append(word.replace(plain, ligature))
        if ligature in word:
            found.append(word.replace(ligature, plain))
    return list(dict.fromkeys(found))


def _either(alternatives: list[str]) -> str:
    unique = list(dict.fromkeys(alternatives))
    return unique[0] if len(unique) == 1 else "(" + " OR ".join(unique) + ")"


def _word(word: str, inflected: bool) -> list[str]:
    """One word's alternatives: its stem as a prefix when inflected (and long enough), and as written."""
    forms = []
    for variant in _variants(word):
        base = stem(variant) if inflected else variant
        if inflected and len(base) >= _MIN_PREFIX:
            forms.append(_quoted(base) + "*")
        if not forms or not variant.startswith(base) or not inflected or len(base) < _MIN_PREFIX:
            forms.append(_quoted(variant))
    return forms


def _term(term: Term, near: bool = False) -> str:
    """A term's FTS5 phrase (or the OR of its spellings); inside NEAR, one phrase (FTS5 has no OR there)."""
    if term.exact:
        tokens = _index_words(term.text)
        phrases = [" + ".join(_quoted(t) for t in variant.split()) for variant in _variants(" ".join(tokens))]
        return phrases[0] if near else _either(phrases)
    written = words(term.text.rstrip("*"))
    if term.prefix:
        last = [_quoted(w) + "*" for w in _variants(written[-1])]
    elif len(written) == 1:
        last = _word(written[0], inflected=True)
    else:
        last = [_quoted(stem(w)) + "*" if len(stem(w)) >= _MIN_PREFIX else _quoted(w) for w in _variants(written[-1])]
    head = " + ".join(_quoted(w) for w in written[:-1])
    phrases = [f"{head} + {tail}" if head else tail for tail in last]
    return phrases[0] if near else _either(phrases)


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
