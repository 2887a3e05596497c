"""Main-text extraction: an article page's own words and metadata, without menus, sidebars and footers."""

from dataclasses import dataclass

import trafilatura

_DATE_OPTIONS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


@dataclass(frozen=True)
class Extracted:
    """What trafilatura found in a page."""

    title: str | None
    text: str
    author: str | None
    published: str | None
    language: str | None
    canonical: str | None


def extract(html: str | bytes, url: str) -> Extracted | None:
    """The main text and metadata of an article page, or None when the page has no main text."""
    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=True,
        favor_precision=True, date_extraction_params=_DATE_OPTIONS)
    if doc is None or isinstance(doc, dict) or not doc.text:
        return None
    return Extracted(title=doc.title, text=doc.text, author=doc.author, published=doc.date,
                     language=doc.language, canonical=doc.url)
