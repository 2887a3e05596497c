"""The language of an article: declared by its page, else detected in its text; a short text gets none."""

import pytest

from alerts.config import Topic
from alerts.matcher import Rule
from crawler import language
from crawler.extract import extract
from crawler.language import detected_language
from tests.conftest import Article, article_page, recent

FRENCH = Article("fibre", "La fibre optique arrive dans les villages du Cantal", [
    "Le déploiement de la fibre optique se poursuit dans les zones rurales du Cantal, où les opérateurs "
    "promettent une couverture complète du département d'ici deux ans.",
    "Les élus locaux demandent un calendrier plus précis et s'inquiètent du coût des raccordements pour les "
    "habitants des hameaux les plus isolés.",
    "La région rappelle que le plan très haut débit est financé pour moitié par l'État et par l'Union européenne."],
    recent())
ENGLISH = Article("fibre-en", "Fibre broadband reaches the villages of Cantal", [
    "The roll-out of fibre broadband continues across the rural areas of Cantal, where operators promise "
    "full coverage of the department within two years.",
    "Local councillors are asking for a more precise timetable and worry about the cost of connections for "
    "residents of the most isolated hamlets.",
    "The region points out that the very high speed plan is funded half by the State and half by the European "
    "Union."], recent())


def language_of(article: Article, lang: str | None) -> str | None:
    html = article_page(article, lang=lang or "")
    if lang is None:
        html = html.replace(' lang=""', "")
    found = extract(html, f"https://journal.example/{article.slug}")
    assert found is not None
    return found.language


@pytest.mark.parametrize(("article", "language"), [(FRENCH, "fr"), (ENGLISH, "en")])
def test_a_page_that_declares_no_language_gets_its_text_s(article: Article, language: str) -> None:
    assert language_of(article, None) == language


def test_a_template_s_wrong_declaration_gives_way_to_a_long_clear_text() -> None:
    assert language_of(FRENCH, "en-US") == "fr"


@pytest.mark.parametrize("text", ["Appel d'offres", "Newsletter", "SecNumCloud OVHcloud Gaia-X"])
def test_a_short_text_gets_no_language_rather_than_a_guess(text: str) -> None:
    assert detected_language(text) is None


def test_a_topic_in_french_skips_the_detected_english_article() -> None:
    rule = Rule.compile(Topic(name="fibre", keywords=["fibre"], languages=["fr"], chats=[1]))
    covered = {a.slug: rule.covers_language({"language": language_of(a, None)}) for a in (FRENCH, ENGLISH)}
    assert covered == {"fibre": True, "fibre-en": False}


def test_a_model_that_cannot_be_unpacked_leaves_languages_undetected_and_the_crawl_going(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(27, "File too large")

    from py3langid.langid import LanguageIdentifier

    monkeypatch.setattr(LanguageIdentifier, "from_model_file", disk_full)
    language.identifier.cache_clear()
    try:
        assert detected_language(" ".join(ENGLISH.body)) is None
        assert language_of(ENGLISH, None) is None, "no language rather than a crash"
    finally:
        language.identifier.cache_clear()
    assert "language model cannot be loaded" in caplog.text
