"""Bylines to author names: "Par Jeanne Martin, le 02/12/2026" -> "Jeanne Martin".

    clean_author("Par Jeanne Martin; Le")                  "Jeanne Martin"
    clean_author("Par Jeanne Martin et Paul Durand")       "Jeanne Martin; Paul Durand"
    clean_author("By John Smith, updated on 2 Dec 2026")   "John Smith"

Pages and feeds give a byline, not a name: trafilatura splits it on commas and keeps the "Par" and the
"le" of the date that followed. Names are joined with "; ", as trafilatura joins them.
"""

import re

# longer than any byline (storage keeps 500 characters of it): what follows is not read
MAX_CHARS = 1000
# between two names of one byline
_SEPARATORS = re.compile(r"\s*(?:[;,|·•/&\n]|\bet\b|\band\b)\s*", re.IGNORECASE)
# what a byline says before the name: "Par", "By", "Propos recueillis par", "De notre correspondante à Lyon"
_LEAD = re.compile(
    r"^(?:(?:propos recueillis|texte|textes|photos?|reportage|interview|entretien|written|reported|story)\s+)?"
    r"(?:par|by|de|d'|d’|from|avec|with)\s+"
    r"(?:(?:notre|nos|votre|our)\s+(?:envoy[ée]e?s?\s+sp[ée]ciale?s?|correspondante?s?|correspondents?)"
    r"(?:\s+(?:à|au|aux|en|in)\s+\S+)?\s*)?",
    re.IGNORECASE)
# what follows the name: a date or a time, and the words that announce it
_DATED = re.compile(
    r"(?:\b(?:publi[ée]e?|mis\s+à\s+jour|modifi[ée]e?|actualis[ée]e?|updated|published|posted)\b|\d).*$",
    re.IGNORECASE)
# the words left of a date once its digits are gone ("le", "à", "on", a month), and a lead with no name after
# it: no name is made of them alone
_NOT_NAME_WORDS = """par by de le la du à a on at the il y a hier aujourd'hui today yesterday h min
    janvier février fevrier mars avril mai juin juillet août aout septembre octobre novembre décembre decembre
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    lundi mardi mercredi jeudi vendredi samedi dimanche
    monday tuesday wednesday thursday friday saturday sunday"""
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())


def _name(part: str) -> str:
    """One part of a byline as a name: its lead ("Par") and trailing date cut; "" when nothing is left."""
    part = _DATED.sub("", _LEAD.sub("", part.strip())).strip(" \t.:-–—")
    if not any(c.isalpha() for c in part) or all(w.casefold() in _NOT_NAMES for w in part.split()):
        return ""
    return part


def clean_author(byline: str | None) -> str | None:
    """The author names of a byline, joined with "; "; None when it names nobody."""
    byline = re.sub(r"[^\S\n]+", " ", byline)[:MAX_CHARS] if byline else ""  # a run of spaces read once
    if not byline:
        return None
    # a lone "De Rugy" is a name: "De" only leads a byline of two words or more
    names = [_name(p) if not re.fullmatch(r"(?i)de\s+\S+", p.strip()) else p.strip()
             for p in _SEPARATORS.split(byline)]
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.casefold(), name)  # a name repeated keeps its first spelling
    return "; ".join(n for n in unique.values() if n) or None
