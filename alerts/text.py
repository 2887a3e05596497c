"""Text as a French reader compares it: case, accents and ligatures folded, words and their plurals.

    "Les Clouds Souverains de Gaïa-X" ─► fold ─► "les clouds souverains de gaia x"
                                      ─► stems ─► les cloud souverain de gaia x
"""

import re
import unicodedata

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case, without accents or ligatures."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A folded word without its plural or feminine ending: `souveraines` and `souverains` → `souverain`.

    Only endings are removed (`-s`, `-x`, `-aux`, then `-e`), so `souverainete` stays apart from
    `souverain`, and short words (acronyms like AWS, DSA) are kept whole.
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
    """The folded words of a text, hyphens, apostrophes and punctuation being spaces."""
    return _WORD.findall(fold(text))


def stems(text: str) -> list[str]:
    """The stems of a text's words, in order."""
    return [stem(w) for w in words(text)]
