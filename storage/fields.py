"""What a stored field may hold: printable text of a bounded size.

Whatever a source sends, and whatever a parser makes of it, an article's fields are cleaned once at the
archive's door (and what is shown is cleaned again at every output, for archives written before):

- control characters go: C0 and C1 (ESC starts a terminal's colours, clear screen or OSC 52 clipboard
  write; CSI is one C1 byte), except newline and tab; and the bidirectional overrides, embeddings,
  isolates and marks (U+202E makes a title read backwards);
- each field is cut to a size no article needs (a title past a few kilobytes is a parser surprise,
  not a title), so that nothing can blow up the archive.
"""

import re
from collections.abc import Mapping
from typing import Any

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# the most of each field kept, in characters
LIMITS = {
    "title": 1_000,
    "author": 500,
    "guid": 2_000,
    "language": 35,  # the longest BCP 47 tag in use
    "text": 1_000_000,  # a long report: about 150,000 words
    "published": 40,
}
URL_MAX = 8_000  # a URL past this is no article's: not cut (a cut URL is another URL), refused


def printable(text: str) -> str:
    """The text without control characters (newline and tab kept) and bidirectional controls."""
    return _CONTROLS.sub("", text) if not text.isprintable() else text


def one_line(text: str) -> str:
    """The text printable, on one line: for a title or a URL shown in a terminal."""
    return " ".join(printable(text).split())


def cleaned(row: Mapping[str, Any]) -> dict[str, Any]:
    """An article's fields printable and within LIMITS (other keys as they are); a title and an author on
    one line."""
    out = dict(row)
    for name, value in row.items():
        if not isinstance(value, str):
            continue
        value = one_line(value) if name in ("title", "author", "language", "published") else printable(value)
        limit = LIMITS.get(name)
        out[name] = value[:limit] if limit else value
    return out
