"""Main-text extraction: the article's own words, never "read also" blocks, sidebars, menus or footers."""

import pytest

from crawler.extract import extract
from tests.conftest import UNRELATED, article_page

READ_ALSO = ('<div class="read-also"><h3>Lire aussi</h3><ul><li><a href="/a">Le cloud souverain et SecNumCloud'
             " en 2025</a></li></ul></div>")
RELATED = ('<section class="related-articles"><h2>Sur le même sujet</h2><ul><li><a href="/b">Cloud souverain :'
           " ce que change SecNumCloud</a></li><li><a href='/c'>Cloud souverain, le dossier</a></li></ul></section>")
TAGS = '<div class="tags">Mots-clés : <a href="/t/cloud">cloud souverain</a>, <a href="/t/snc">SecNumCloud</a></div>'


@pytest.mark.parametrize("block", [READ_ALSO, RELATED, TAGS])
def test_boilerplate_inside_the_article_is_not_its_text(block: str) -> None:
    html = article_page(UNRELATED, sidebar="").replace(f"{UNRELATED.body[1]}</p>", f"{UNRELATED.body[1]}</p>{block}")
    html = html.replace("<footer>", "<footer><p>Nos dossiers : cloud souverain, SecNumCloud</p>")
    found = extract(html, "https://journal.example/articles/fibre")
    assert found is not None
    assert "Cantal" in found.text and UNRELATED.body[2] in found.text
    assert "souverain" not in found.text.lower() and "secnumcloud" not in found.text.lower()


def test_page_metadata_is_read() -> None:
    found = extract(article_page(UNRELATED), "https://journal.example/articles/fibre")
    assert found is not None
    assert (found.title, found.author) == (UNRELATED.title, "Claire Martin")
