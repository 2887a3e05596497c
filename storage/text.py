"""Text as a French reader compares it: case, accents and ligatures folded, words and their plurals.

The one place text is folded and cut into words, for topics (alerts), search (storage.fts_query), stories
and their boilerplate, and the names of discovered sources.

    "Les Clouds Souverains de l'Œuvre Gaïa-X" ─► fold ─► "les clouds souverains de l'oeuvre gaia-x"
                                              ─► words ─► les clouds souverains de oeuvre gaia x
                                              ─► stems ─► les cloud souverain de oeuvre gaia x

Hyphens, apostrophes and spaces all separate words, so `Gaia X`, `Gaïa-X` and `GAIA-X` are the same
words; an elided article or pronoun (`l'`, `d'`, `qu'`, `jusqu'`...) is dropped, so `l'ANSSI` is `anssi`.

The archive's FTS5 index folds less (case and accents only): `index_words` says what it holds, and
`index_spellings` the spellings a search asks it for, so that search finds what topics match.
"""

import re
import string
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

_LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"}
_LIGATURES_FOLDED = [c for c in _LIGATURES if c.casefold() == c]  # ß, Œ and Æ are folded to ss, œ and æ first
# the combining marks NFKD leaves after a letter (a regex is much faster than a loop per character)
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_WORD = re.compile(r"[^\W_]+")
# an elided word is a whole word (not the end of `aujourd'hui`) followed by an apostrophe
_ELIDED = ("l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu")
_APOSTROPHES = "'’ʼ`´"
_ELISION = re.compile(rf"(?<![^\W_])(?:{'|'.join(_ELIDED)})[{_APOSTROPHES}]")


def fold(text: str) -> str:
    """Lower case, without accents or ligatures, compatibility forms written plainly (ℌ → h, ﬁ → fi, Ｇ → g)."""
    if text.isascii():
        return text.lower()
    # decomposed before and after case folding, since each can give work to the other (ℌ → H → h, ǣ → æ + ¯)
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    for ligature in _LIGATURES_FOLDED:
        if ligature in folded:
            folded = folded.replace(ligature, _LIGATURES[ligature])
    return _MARKS.sub("", folded)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A folded word without its plural or feminine ending: `souveraines` and `souverains` → `souverain`.

    Only endings are removed (`-s`, `-x`, `-aux`, then `-e`), so `souverainete` stays apart from
    `souverain`, `bleute` from `bleu`, and short words (acronyms like AWS, DSA) are kept whole.
    """
    if word.endswith("eaux"):
        return word[:-1]
    if len(word) > 4 and word.endswith("aux"):
        return word[:-3] + "al"
    if len(word) > 3 and word[-1] in "sx" and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 4 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """The folded words of a text, without elided articles; hyphens, apostrophes and punctuation are spaces."""
    return _WORD.findall(_ELISION.sub(" ", fold(text)))


def stems(text: str) -> list[str]:
    """The stems of a text's words, in order."""
    return [stem(w) for w in words(text)]


def word_spans(text: str) -> list[tuple[int, int]]:
    """Where each of `words(text)` sits in the original text (start, end), to highlight hits in it."""
    spans = []
    for m in _WORD.finditer(text):
        after = text[m.end():m.end() + 1]
        if not (after and after in _APOSTROPHES and m.group().casefold() in _ELIDED):
            spans.append(m.span())
    return spans


# letters without a decomposition, written in ASCII where only ASCII will do: "Ørsted" → "orsted"
_ASCII = str.maketrans({"ø": "o", "đ": "d", "ł": "l"})


def ascii_fold(text: str) -> str:
    """The folded text with the letters NFKD does not take apart (ø, đ, ł) in ASCII, for names and slugs."""
    return fold(text).translate(_ASCII)


# The archive's FTS5 index (unicode61, remove_diacritics 2) lower-cases words and removes their accents, but
# keeps ligatures and compatibility forms as written: it holds "cœur", "straße", "ﬁnance", "ℌ", "ｇａｉａ".
_INDEX_LIGATURES = (("oe", "œ"), ("ae", "æ"), ("ss", "ß"), ("fi", "ﬁ"), ("fl", "ﬂ"), ("ff", "ﬀ"),
                    ("ffi", "ﬃ"), ("ffl", "ﬄ"))
_FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in string.ascii_lowercase + string.digits})


def index_words(text: str) -> list[str]:
    """The words of a text as the archive's FTS5 index holds them."""
    return _WORD.findall(_MARKS.sub("", unicodedata.normalize("NFD", text)).lower())


def index_spellings(folded: Sequence[str]) -> list[tuple[str, ...]]:
    """The spellings the FTS5 index may hold folded words in: as folded, with a ligature for its letters
    (coeur → cœur, finance → ﬁnance), in full-width letters (gaia → ｇａｉａ)."""
    found = [tuple(folded)]
    joined = " ".join(folded)
    for letters, ligature in _INDEX_LIGATURES:
        if letters in joined:
            found.append(tuple(w.replace(letters, ligature) for w in folded))
    if joined.isascii():
        found.append(tuple(w.translate(_FULL_WIDTH) for w in folded))
    return list(dict.fromkeys(found))
