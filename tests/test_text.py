"""One folding for every room: the same spellings give the same words to topics, to search and to stories."""

import ast
from pathlib import Path

import numpy as np
import pytest
import sqlite_utils

from alerts.config import Topic
from alerts.matcher import Rule, match_article
from storage import boilerplate, open_archive, stories
from storage.articles import store
from storage.search import search
from tests.conftest import search_json, write_config

# (as an article writes it, as a reader types it, the words both are); the first ones differ in the index
CASES = [
    ("ℌ", "h", ["h"]),
    ("Œuvre", "oeuvre", ["oeuvre"]),
    ("cœur", "coeur", ["coeur"]),
    ("ﬁnance", "finance", ["finance"]),
    ("Ｇａｉａ", "Gaia", ["gaia"]),
    ("Straße", "strasse", ["strasse"]),
    ("État", "etat", ["etat"]),
    ("l'ANSSI", "ANSSI", ["anssi"]),
    ("Gaia-X", "gaia x", ["gaia", "x"]),
]
# ℌ is a compatibility form the index keeps as written, one of many for "h" (ℌ ℍ 𝔥 𝐡...): search finds it
# when typed as written, not from "h"
INDEX_KEEPS = {"ℌ"}
FILLER = ("La commission a publié lundi un rapport détaillé sur les appels d'offres publics, qui recense "
          "les marchés attribués depuis trois ans et les critères retenus par chaque ministère")


def topic_matches(keyword: str, text: str) -> bool:
    rule = Rule.compile(Topic(name="t", keywords=[keyword]))
    return bool(match_article([rule], "", text))


@pytest.mark.parametrize(("written", "typed", "folded"), CASES)
def test_topics_read_both_spellings_as_the_same_words(written: str, typed: str, folded: list[str]) -> None:
    from storage.text import words

    assert words(written) == words(typed) == folded
    assert topic_matches(typed, f"Note sur {written}.")
    assert topic_matches(written, f"Note sur {typed}.")


@pytest.mark.parametrize(("written", "typed", "folded"), CASES)
def test_stories_read_both_spellings_as_the_same_words(written: str, typed: str, folded: list[str]) -> None:
    assert stories.words(written) == stories.words(typed) == folded
    one, other = f"{FILLER}, selon {written}.", f"{FILLER}, selon {typed}."
    assert boilerplate.key(stories.words(one)) == boilerplate.key(stories.words(other))
    one_signature, other_signature = stories.signature(one), stories.signature(other)
    assert one_signature is not None and other_signature is not None
    assert np.array_equal(one_signature, other_signature)


def archive(*texts: str) -> tuple[sqlite_utils.Database, list[int]]:
    db = open_archive(":memory:")
    ids = []
    for n, text in enumerate(texts):
        url = f"https://example.org/{n}"
        ids.append(store(db, {"url": url, "canonical_url": url, "guid": str(n), "source": "s", "title": text,
                              "text": text, "full_text": True}).article_id)
    return db, ids


@pytest.mark.parametrize(("written", "typed", "folded"), CASES)
def test_search_finds_either_spelling_whichever_is_typed(written: str, typed: str, folded: list[str]) -> None:
    db, (as_written, as_typed) = archive(f"Note sur {written}.", f"Autre note : {typed} !")
    assert {r["id"] for r in search(db, written, all_copies=True)} == {as_written, as_typed}
    assert {r["id"] for r in search(db, f'"{written}"', all_copies=True)} == {as_written, as_typed}
    found = {r["id"] for r in search(db, typed, all_copies=True)}
    assert found == ({as_typed} if written in INDEX_KEEPS else {as_written, as_typed})


def test_veille_search_finds_ligatures_and_full_width_letters_typed_plainly(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.yaml", [])
    db = open_archive(tmp_path / "veille.db")
    url = "https://example.org/ligatures"
    store(db, {"url": url, "canonical_url": url, "guid": "1", "source": "s", "title": "La ﬁnance de Ｇａｉａ-Ｘ",
               "text": "Une note de la Straße.", "full_text": True})
    db.conn.commit()
    for query in ("finances", "Gaia-X", "strasse"):
        assert [r["url"] for r in search_json(config, query)] == [url], query


def test_index_words_are_what_the_archive_index_holds() -> None:
    from storage.text import index_words

    text = " ".join(written for written, _, _ in CASES)
    db, _ = archive(text)
    db.execute("CREATE VIRTUAL TABLE temp.vocabulary USING fts5vocab(main, articles_fts, row)")
    held = {row[0] for row in db.execute("SELECT term FROM temp.vocabulary")}
    assert {"ℌ", "œuvre", "cœur", "ﬁnance", "ｇａｉａ", "straße"} <= held
    assert set(index_words(text)) == held


def test_discovered_source_names_fold_as_topics_do() -> None:
    from crawler.discover import source_name

    assert source_name("ℌebdo de l'Œuvre : ﬁnance & Ｇａｉａ, Łódź", "https://x.example/") == \
        "hebdo-de-l-oeuvre-finance-gaia-lodz"


def test_storage_imports_nothing_of_ours_but_storage() -> None:
    ours = {"alerts", "crawler", "veille"}
    for path in (Path(__file__).parents[1] / "storage").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.split(".")[0] in ours], f"{path.name} imports {names}"
