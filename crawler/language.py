"""The language of an article: the one its page declares, else the one its text is written in (py3langid).

    article_language(tree, text)     "fr"   (an ISO 639-1 code, as topics' `languages:` and `--lang` read it)

A text too short or too mixed to tell gives None (kept by every topic), never a guess. A declaration the text
clearly contradicts (a site's template saying lang="en" over French articles) gives way to the text.

The model takes seconds to load: the extraction pool's forkserver loads it once (crawler.forkserver), and
every worker it forks has it.
"""

import functools
import logging
import re
from typing import TYPE_CHECKING

from lxml.html import HtmlElement

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

# below this many characters of main text, or this probability, the detector is not trusted
MIN_CHARS = 200
MIN_CONFIDENCE = 0.9
# a declaration is overruled only by a long text the detector is all but sure of
OVERRULE_CHARS = 400
OVERRULE_CONFIDENCE = 0.999
# the detector reads this much: the language of an article is settled well before its end
SAMPLE_CHARS = 3000

log = logging.getLogger("veille.crawl")
_TAG = re.compile(r"([a-z]{2,3})(?:[-_][a-z0-9]+)*", re.IGNORECASE)


@functools.cache
def identifier() -> "LanguageIdentifier | None":
    """py3langid's identifier, with probabilities (loaded once per process); None, said once, when it cannot be
    loaded (py3langid unpacks its model into a temporary file: a full disk), and the text's language is then
    not detected: the crawl goes on."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # in the workers only (their forkserver's)

    try:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    except OSError as exc:
        log.warning("the language model cannot be loaded (%s): languages are only those pages declare", exc)
        return None


def declared_language(tree: HtmlElement) -> str | None:
    """The language the page declares (<html lang>, xml:lang, Content-Language), as its ISO 639 code."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
                  *tree.xpath("//meta[translate(@http-equiv, 'CONTENT-LANGUAGE', 'content-language')"
                              "='content-language']/@content")]
    for value in candidates:
        match = _TAG.fullmatch((value or "").strip())
        if match:
            return match.group(1).lower()
    return None


def detected_language(text: str, min_chars: int = MIN_CHARS,
                      min_confidence: float = MIN_CONFIDENCE) -> str | None:
    """The language a text is written in, or None when it is too short or the detector unsure."""
    if len(text) < min_chars:
        return None
    model = identifier()
    if model is None:
        return None
    language, confidence = model.classify(text[:SAMPLE_CHARS])
    # the model also knows languages without an ISO 639-1 code (gug, yue) and "zxx", no language at all
    return str(language) if confidence >= min_confidence and len(language) == 2 else None


def article_language(tree: HtmlElement, text: str) -> str | None:
    """The page's declared language unless its text clearly says another; the text's when none is declared."""
    declared = declared_language(tree)
    if declared is None:
        return detected_language(text)
    return detected_language(text, OVERRULE_CHARS, OVERRULE_CONFIDENCE) or declared
