"""Bylines to author names: no "Par", no date, one name per author."""

import pytest

from crawler.bylines import clean_author
from crawler.extract import extract
from crawler.items import ArticleItem
from tests.conftest import UNRELATED, article_page


@pytest.mark.parametrize(("byline", "names"), [
    ("Par Jeanne Martin; Le", "Jeanne Martin"),  # trafilatura's reading of "Par Jeanne Martin, le 02/12/2026"
    ("Par Jeanne Martin, le 02/12/2026", "Jeanne Martin"),
    ("Par Jeanne Martin et Paul Durand", "Jeanne Martin; Paul Durand"),
    ("Par Jeanne Martin; Paul Durand et Luc Petit; Publié Le", "Jeanne Martin; Paul Durand; Luc Petit"),
    ("Jeanne Martin, publié le 2 décembre 2026 à 14h35", "Jeanne Martin"),
    ("Jeanne Martin | Le 02/12/2026 à 14:35", "Jeanne Martin"),
    ("Par Jean Dupont, mis à jour le 3 déc.", "Jean Dupont"),
    ("Propos recueillis par Claire Dubois", "Claire Dubois"),
    ("De notre correspondante à Bruxelles, Claire Dubois", "Claire Dubois"),
    ("De Marie-Hélène d'Arcy", "Marie-Hélène d'Arcy"),
    ("By John Smith, updated on 2 Dec 2026", "John Smith"),
    ("Jeanne Martin, Paul Durand, JEANNE MARTIN", "Jeanne Martin; Paul Durand"),
])
def test_a_byline_gives_the_names_of_its_authors(byline: str, names: str) -> None:
    assert clean_author(byline) == names


@pytest.mark.parametrize("byline", ["Le", "Par", "Publié le 02/12/2026", " ; , "])
def test_a_byline_that_names_nobody_gives_no_author(byline: str) -> None:
    assert clean_author(byline) is None


def test_the_byline_of_a_page_is_the_article_s_author() -> None:
    html = article_page(UNRELATED).replace(
        "<h1>", '<p class="byline author">Par Jeanne Martin, le 02/12/2026</p><h1>').replace(
        '<meta name="author" content="Claire Martin">', "")
    found = extract(html, "https://journal.example/articles/fibre")
    assert found is not None
    item = ArticleItem(source="journal", url="https://journal.example/a", canonical_url="https://journal.example/a",
                       title="", text=found.text, author=found.author)
    assert item.author == "Jeanne Martin"


def test_a_hostile_byline_is_read_only_as_far_as_a_byline_goes() -> None:
    # 100,000 spaces before a name: read whole, the separators' pattern would take hours (quadratic)
    assert clean_author(" " * 100_000 + "Jeanne Martin, le 02/12/2026") == "Jeanne Martin"
    assert clean_author("Jeanne Martin" + ", x" * 100_000) == "Jeanne Martin; x"
