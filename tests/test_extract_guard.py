"""The precision guard: the article is kept when precision mode keeps a short block instead of it, and the
precise text is kept when what the balanced mode adds is boilerplate."""

from pathlib import Path

import pytest
import trafilatura

from crawler.extract import extract
from tests.conftest import Article, Site, recent, run_veille, search_json, write_config

URL = "https://journal.example/articles/cloud-souverain-doctrine"
ARTICLE = [f"Paragraphe {n} : le cloud souverain progresse dans les administrations, qui migrent leurs données "
           "sensibles vers des offres qualifiées SecNumCloud, selon le rapport publié mardi." for n in range(6)]
NOTICE = ("<p>Cette copie est réservée à votre usage personnel et non commercial. Pour commander des copies à "
          "distribuer à vos collègues, clients ou partenaires, rendez-vous sur https://reprints.journal.example.</p>"
          f"<p>{URL}</p>")


def indented(html: str) -> str:
    """The page as sites serve it, one tag a line and indented (trafilatura's scores count that space)."""
    return html.replace("><", ">\n        <")


def reprinted_page() -> str:
    """A page as on a real news site: a print-only reprint notice (just over trafilatura's 250 characters of
    minimum text) before the article, whose body's class says "barre" (trafilatura drops classes with "bar",
    as in sidebar), followed by empty ad slots."""
    body = "".join(f"<p>{p}</p>" for p in ARTICLE)
    slots = "<div></div>" * 12
    return indented(f"<html><body><div><div class='print-header'>{NOTICE}</div><div><article id='article-contents'>"
                    f"<div class='article__contenu avec-barre-partage'>{body}</div>{slots}</article></div></div>"
                    "</body></html>")


def text(html: str, precise: bool) -> str:
    doc = trafilatura.bare_extraction(html, favor_precision=precise, include_comments=False, include_tables=True)
    return doc.text if doc and doc.text else ""


def test_an_article_that_precision_mode_reduces_to_a_reprint_notice_is_kept() -> None:
    page = reprinted_page()
    assert text(page, precise=True).startswith("Cette copie") and ARTICLE[0] not in text(page, precise=True)
    found = extract(page, URL)
    assert found is not None
    assert all(paragraph in found.text for paragraph in ARTICLE)


def teased_page(paragraphs: int, teasers: int) -> str:
    """A short article about the fibre followed by a "lire aussi" block of teasers about the sovereign cloud
    (class "related link": precision mode drops it, the balanced mode keeps it)."""
    body = "".join(f"<p>Phrase {n} de l'article sur la fibre optique dans le Cantal : les opérateurs poursuivent le "
                   "déploiement dans les villages et les élus attendent un calendrier.</p>" for n in range(paragraphs))
    teased = "".join(f"<p>Le cloud souverain, épisode {n} : notre dossier complet sur SecNumCloud, les offres "
                     "qualifiées et la doctrine de l'État pour les données sensibles.</p>" for n in range(teasers))
    return indented(f"<html lang='fr'><body><main><article><h1>La fibre arrive</h1>{body}"
                    f"<div class='related link'><h3>À lire aussi</h3>{teased}</div></article></main></body></html>")


@pytest.mark.parametrize(("paragraphs", "teasers"), [
    (8, 10),   # a short precise text, but not far shorter than the balanced one (0.46 of it)
    (16, 60),  # far shorter (0.22 of it), but long enough to be an article
], ids=["not-far-shorter", "long-enough"])
def test_boilerplate_that_only_the_balanced_mode_keeps_stays_out(paragraphs: int, teasers: int) -> None:
    page = teased_page(paragraphs, teasers)
    assert "souverain" in text(page, precise=False) and "souverain" not in text(page, precise=True)
    found = extract(page, URL)
    assert found is not None
    assert "Phrase 0 de l'article" in found.text and f"Phrase {paragraphs - 1} de l'article" in found.text
    assert "souverain" not in found.text


def test_a_watcher_is_alerted_to_an_article_that_precision_mode_reduced_to_its_reprint_notice(
        site: Site, tmp_path: Path) -> None:
    article = Article("rapport-dinum", "Le rapport annuel de la direction du numérique", ARTICLE, recent(1),
                      summary="Le rapport annuel est paru.")  # the feed's own text says nothing of the topic
    site.page(f"/articles/{article.slug}", reprinted_page())
    config = write_config(tmp_path / "config.yaml", [{"name": "journal", "feed": site.feed("/rss.xml", [article])}])

    result = run_veille("crawl", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert article.title in result.stdout and "#cloud-souverain" in result.stdout
    [found] = search_json(config, "SecNumCloud")
    assert found["title"] == article.title
