"""Keyword matching as a French reader expects: folded, whole words, plurals, only title and text."""

from datetime import UTC, datetime, timedelta

from alerts.config import Topic
from alerts.matcher import Rule, is_recent, match_article
from storage.text import fold, stem, stems


def matches(text: str, keywords: list[str], require: list[str] | None = None,
            exclude: list[str] | None = None, title: str = "") -> list[str] | None:
    rule = Rule.compile(Topic(name="t", keywords=keywords, require=require or [], exclude=exclude or []))
    found = match_article([rule], title, text)
    return found[0][1] if found else None


def test_folding_removes_case_accents_and_ligatures() -> None:
    assert fold("Gaïa-X ŒUVRE Été") == "gaia-x oeuvre ete"


def test_accent_and_case_and_hyphen_insensitive() -> None:
    for text in ("Le projet GAIA-X avance", "le projet Gaïa-X avance", "le projet Gaia X avance"):
        assert matches(text, ["Gaïa-X"]) == ["Gaïa-X"], text


def test_whole_words_only() -> None:
    assert matches("un bleuet dans le champ", ["Bleu"]) is None
    assert matches("la coentreprise Bleu d'Orange et Capgemini", ["Bleu"]) == ["Bleu"]


def test_plurals_and_feminine_forms_match() -> None:
    assert matches("des clouds souverains pour l'État", ["cloud souverain"]) == ["cloud souverain"]
    assert matches("des offres souveraines", ["offre souveraine"]) == ["offre souveraine"]
    assert matches("les réseaux nationaux", ["réseau national"]) == ["réseau national"]


def test_souverainete_is_not_souverain() -> None:
    assert stem("souverainete") != stem("souverain")
    assert matches("la souveraineté numérique", ["souverain"]) is None


def test_phrases_need_adjacent_words() -> None:
    assert matches("le cloud est souverain", ["cloud souverain"]) is None


def test_phrase_does_not_span_title_and_text() -> None:
    assert matches("souverain de la France", ["cloud souverain"], title="Le cloud") is None


def test_require_and_exclude() -> None:
    assert matches("SecNumCloud pour l'ANSSI", ["SecNumCloud"], require=["ANSSI"]) == ["SecNumCloud", "ANSSI"]
    assert matches("SecNumCloud seul", ["SecNumCloud"], require=["ANSSI"]) is None
    assert matches("SecNumCloud et football", ["SecNumCloud"], exclude=["football"]) is None


def test_apostrophes_separate_words_and_elisions_drop() -> None:
    assert stems("l'ANSSI") == ["anssi"]
    assert matches("selon l'ANSSI, les offres", ["ANSSI"]) == ["ANSSI"]


def test_title_alone_can_match() -> None:
    assert matches("rien ici", ["SecNumCloud"], title="SecNumCloud : la liste") == ["SecNumCloud"]


def test_recent_by_publication_date_else_fetch_date() -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    old = {"published": "2026-11-20T10:00:00+00:00", "fetched_at": "2026-11-29T11:00:00+00:00"}
    new = {"published": None, "fetched_at": "2026-11-29T11:00:00+00:00"}
    assert not is_recent(old, timedelta(hours=48), now)
    assert is_recent(new, timedelta(hours=48), now)
