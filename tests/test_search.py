"""Search: phrases, accents, filters, sort, syntax errors and story collapse, through storage and the CLI."""

import csv
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from storage import SearchSyntaxError, open_archive
from storage import db as db_module
from storage import search as search_module
from storage.articles import store
from storage.fts_query import fts_query
from storage.search import search
from tests.archive_fixtures import build
from tests.conftest import run_veille, search_json, write_config
from tests.test_archive_tools import veille_serve


def titles(rows: list[dict]) -> list[str]:
    return [r["title"] for r in rows]


def test_a_phrase_matches_only_the_words_side_by_side(tmp_path: Path) -> None:
    _, db, ids = build(tmp_path)
    found = {r["id"] for r in search(db, '"cloud souverain"', all_copies=True)}
    assert found == {ids["doctrine"], ids["doctrine-reprise"]}
    assert ids["bleu"] in {r["id"] for r in search(db, "cloud confiance")}


def test_accents_and_case_are_ignored_both_ways(tmp_path: Path) -> None:
    _, db, ids = build(tmp_path)
    assert {r["id"] for r in search(db, "securite")} == {ids["bleu"], ids["fibre"]}
    assert {r["id"] for r in search(db, "qualifiees")} == {ids["doctrine"]}
    assert {r["id"] for r in search(db, "ÉTAT")} == {ids["doctrine"]}


def test_prefix_and_near(tmp_path: Path) -> None:
    _, db, ids = build(tmp_path)
    assert ids["eucs"] in {r["id"] for r in search(db, "certif*")}
    assert {r["id"] for r in search(db, "NEAR(fibre Cantal, 5)")} == {ids["fibre"]}


def test_migration_9_rebuilds_an_existing_index_with_prefixes_and_keeps_it_in_sync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:  # an archive made before migration 9
        m.delitem(db_module.MIGRATIONS, 9)
        _, old, ids = build(tmp_path)
        old.conn.close()
    db = open_archive(tmp_path / "veille.db")
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'").fetchone()[0]
    assert "prefix=" in sql
    db.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")  # raises if stale
    assert ids["doctrine"] in {r["id"] for r in search(db, "souver*", all_copies=True)}
    url = "https://new.example/a"
    new = store(db, {"source": "new", "url": url, "canonical_url": url, "title": "Hébergement qualifié",
                     "text": "Un hébergeur obtient SecNumCloud", "published": "2025-04-01T08:00:00+00:00"})
    assert {r["id"] for r in search(db, "heberg*")} == {new.article_id}
    db.execute("UPDATE articles SET title = 'Autre titre' WHERE id = ?", [new.article_id])
    assert {r["id"] for r in search(db, "heberg*")} == {new.article_id}, "the text still says hébergeur"
    assert search(db, "qualif*", source="new") == []


def test_filters_by_date_source_topic_and_language(tmp_path: Path) -> None:
    _, db, ids = build(tmp_path)
    query = "souverain OR securite"
    assert ids["fibre"] not in {r["id"] for r in search(db, query, since="2025-01-01")}
    assert {r["id"] for r in search(db, query, until="2024-12-31")} == {ids["fibre"]}
    assert {r["id"] for r in search(db, query, until="2024-06-01")} == {ids["fibre"]}, "until is inclusive"
    assert {r["source"] for r in search(db, query, source="usine", all_copies=True)} == {"usine"}
    assert {r["id"] for r in search(db, query, lang="en")} == {ids["eucs"]}
    assert ids["fibre"] not in {r["id"] for r in search(db, query, topic="cloud-souverain")}


def test_sort_by_date_is_newest_first_and_relevance_weights_the_title(tmp_path: Path) -> None:
    _, db, ids = build(tmp_path)
    by_date = search(db, "souverain OR securite", sort="date")
    dates = [r["published"] for r in by_date]
    assert dates == sorted(dates, reverse=True)
    # "cantal" is in the title of one article only; "fibre" in its title and text, ranked first
    assert search(db, "fibre OR souverain")[0]["id"] == ids["fibre"]


def test_snippets_mark_the_hits(tmp_path: Path) -> None:
    _, db, _ = build(tmp_path)
    assert "[SÉCURITÉ]" in search(db, "securite", source="lemagit")[0]["snippet"]


def test_copies_of_a_story_collapse_into_one_result_with_its_outlets(tmp_path: Path) -> None:
    _, db, ids = build(tmp_path)
    results = search(db, '"cloud souverain"')
    assert len(results) == 1
    assert results[0]["id"] in {ids["doctrine"], ids["doctrine-reprise"]}
    assert results[0]["outlets"] == 2
    assert len(search(db, '"cloud souverain"', all_copies=True)) == 2


def test_a_window_full_of_copies_is_widened_until_enough_stories(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, db, ids = build(tmp_path)
    for outlet in ("a", "b", "c"):  # the newest hits are all copies of one story
        url = f"https://{outlet}.example/copie"
        copy = store(db, {"source": outlet, "url": url, "canonical_url": url, "title": "Le cloud souverain",
                          "text": f"Copie {outlet}", "published": "2025-03-05T08:00:00+00:00"})
        db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [ids["doctrine"], copy.article_id])
    monkeypatch.setattr(search_module, "FIRST_WINDOW", 1)
    found = search(db, '"cloud souverain" OR fibre', limit=2)
    assert len(found) == 2 and ids["fibre"] in {r["id"] for r in found}
    assert max(r["outlets"] for r in found) == 5


@pytest.mark.parametrize("query", ['"cloud souverain', "cloud AND", "NOT football", "a OR NOT b", "NEAR(", "   "])
def test_a_query_the_language_cannot_read_raises_a_search_syntax_error(tmp_path: Path, query: str) -> None:
    _, db, _ = build(tmp_path)
    with pytest.raises(SearchSyntaxError):
        search(db, query)


def test_cli_says_what_is_wrong_with_a_query_without_a_traceback(tmp_path: Path) -> None:
    config, _, _ = build(tmp_path)
    for query, hint in (('"cloud souverain', "unclosed quote at column 1"),
                        ("cloud AND", "ends where a term was expected")):
        result = run_veille("search", query, "--config", str(config))
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert hint in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_json_csv_and_new_filters(tmp_path: Path) -> None:
    config, _, ids = build(tmp_path)
    rows = search_json(config, "souverain", "--sort", "date", "--lang", "fr", "--until", "2025-03-31")
    assert {"url", "title", "source", "published", "snippet", "outlets"} <= set(rows[0])
    assert rows[0]["outlets"] == 2 and len(rows) == 2
    copies = search_json(config, "souverain", "--all-copies", "--since", "2025-03-01")
    assert {r["id"] for r in copies} == {ids["doctrine"], ids["doctrine-reprise"]}
    result = run_veille("search", "cantal", "--config", str(config), "--csv")
    assert next(iter(csv.DictReader(io.StringIO(result.stdout))))["title"] == "La fibre optique arrive dans le Cantal"
    bad = run_veille("search", "cantal", "--config", str(config), "--since", "last tuesday")
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_the_terminal_table_shows_each_result_with_its_hits_highlighted(tmp_path: Path) -> None:
    from veille.archive_output import marked, results_table

    _, db, _ = build(tmp_path)
    text = results_table(search(db, "cantal"), width=120)
    assert "La fibre optique arrive dans le Cantal" in text and "https://usine.example/fibre" in text
    highlighted = marked("la [fibre] et le [Cantal]")
    assert highlighted.plain == "la fibre et le Cantal"
    assert [highlighted.plain[s.start:s.end] for s in highlighted.spans] == ["fibre", "Cantal"]


def test_dates_are_read_as_iso_or_as_time_back_from_now() -> None:
    from datetime import UTC, datetime, timedelta

    from veille.archive_output import when

    assert when("2025-03-01") == "2025-03-01"
    week_ago = datetime.fromisoformat(when("7d"))
    assert abs(datetime.now(UTC) - timedelta(days=7) - week_ago) < timedelta(minutes=1)
    assert datetime.fromisoformat(when("1y")) < datetime.now(UTC) - timedelta(days=364)
    with pytest.raises(ValueError, match="not a date"):
        when("hier")


def test_a_costly_query_is_ranked_over_its_window_with_the_title_weighted(tmp_path: Path) -> None:
    _, db, _ = build(tmp_path)
    said: dict[str, int] = {}
    for slug, title, text in (
            ("in-text-twice", "Les hébergeurs se préparent", "Le cloud souverain, puis encore le cloud souverain."),
            ("in-title", "Un cloud souverain pour la santé", "Les hôpitaux migrent leurs données."),
            ("in-long-text", "Les hébergeurs se préparent", "Le cloud souverain. " + "Des mots. " * 200)):
        url = f"https://hebergeurs.example/{slug}"
        said[slug] = store(db, {"source": "hebergeurs", "url": url, "canonical_url": url, "title": title,
                                "text": text, "published": "2025-03-05T08:00:00+00:00"}).article_id
    found = [r["id"] for r in search(db, '"cloud souverain"', source="hebergeurs")]
    assert found == [said["in-title"], said["in-text-twice"], said["in-long-text"]]
    costly = [search_module._costly_to_rank(fts_query(q)) for q in
              ('"cloud souverain"', "NEAR(a b)", "cloud OR souver*", "souverainete*")]
    assert costly == [True, True, False, True], "a phrase, a NEAR, short prefixes, a prefix past the indexes"


def test_ranking_over_the_window_counts_rarity_among_the_window_hits() -> None:
    hits = [{"id": 1, "title_hits": "Le \x01cloud\x02", "text_hits": "du \x01cloud\x02 et du \x01Cloud\x02"},
            {"id": 2, "title_hits": "Rien", "text_hits": "la \x01Fibre\x02 optique"},
            {"id": 3, "title_hits": "Rien", "text_hits": "le \x01cloud\x02"}]
    search_module._rank_window(hits)
    ranks = {hit["id"]: hit["rank"] for hit in hits}
    assert ranks[1] < ranks[3], "the title weighs, and counts add up"
    assert ranks[2] < ranks[3], "fibre is rarer among these hits than cloud"
    assert all("title_hits" not in hit for hit in hits)


# The same words in a topic and in search: what the topic matches, search finds (issue 23's cases)
ARTICLES_SAID = {
    "pluriel": ("Les clouds souverains séduisent les ministères", "Un texte sur l'hébergement."),
    "gaiax": ("Gaïa-X accueille trois membres", "Le projet Gaia-X grandit."),
    "anssi": ("L'ANSSI qualifie une offre", "Selon l'ANSSI, la qualification SecNumCloud avance."),
    "coeur": ("Au cœur du réseau", "Le cœur de la doctrine."),
    "etats": ("Les États-Unis et le cloud", "Washington et les états-unis."),
    "foot": ("Le cloud souverain du football", "Un club de football et son cloud souverain."),
}


SAME_WORDS = [
    ('"cloud souverain" AND NOT football', set()),
    ("cloud souverain NOT football", {"pluriel"}),
    ("cloud souverain", {"pluriel", "foot"}),
    ("Gaia-X", {"gaiax"}), ("Gaïa-X", {"gaiax"}), ("gaia x", {"gaiax"}),
    ("etats-unis", {"etats"}), ("États-Unis", {"etats"}),
    ("l'ANSSI", {"anssi"}), ('"l\'ANSSI"', {"anssi"}), ("ANSSI", {"anssi"}),
    ("coeur", {"coeur"}), ("cœur", {"coeur"}),
    ("NEAR(club cloud, 5)", {"foot"}), ("NEAR(club cloud, 2)", set()),
]


def said_archive(path: Path) -> dict[int, str]:
    """An archive of ARTICLES_SAID at this path; their slugs by article id."""
    db = open_archive(path)
    ids = {}
    for slug, (title, text) in ARTICLES_SAID.items():
        url = f"https://example.org/{slug}"
        ids[store(db, {"source": "s", "url": url, "canonical_url": url, "title": title, "text": text,
                       "published": "2025-03-05T08:00:00+00:00"}).article_id] = slug
    db.close()
    return ids


@pytest.mark.parametrize(("query", "expected"), SAME_WORDS)
def test_the_same_words_match_in_a_topic_and_in_search(tmp_path: Path, query: str, expected: set[str]) -> None:
    from alerts.config import Topic
    from alerts.matcher import Rule, match_article

    ids = said_archive(tmp_path / "veille.db")
    db = open_archive(tmp_path / "veille.db")
    rule = Rule.compile(Topic(name="t", query=query, chats=[1]))
    in_topic = {slug for slug, (title, text) in ARTICLES_SAID.items() if match_article([rule], title, text)}
    found = {ids[r["id"]] for r in search(db, query, all_copies=True)}
    assert in_topic == expected, "the topic"
    assert found == expected, "search finds what the topic matches"


def test_an_unknown_source_or_topic_is_an_error_with_the_closest_name(tmp_path: Path) -> None:
    config, _, _ = build(tmp_path)
    for option, typo, hint in (("--source", "lemagi", "did you mean lemagit?"),
                               ("--topic", "cloud-souverin", "did you mean cloud-souverain?")):
        result = run_veille("search", "cloud", "--config", str(config), option, typo)
        assert result.returncode == 2 and hint in result.stderr, result.stderr


def test_the_web_ui_search_box_reads_the_same_words(tmp_path: Path) -> None:
    ids = said_archive(tmp_path / "veille.db")
    config = write_config(tmp_path / "config.yaml", [])
    for port in veille_serve(config):
        base = f"http://127.0.0.1:{port}/veille/articles_explore"
        for query, expected in SAME_WORDS:
            url = f"{base}.json?_shape=array&_search={urllib.parse.quote(query)}"
            with urllib.request.urlopen(url, timeout=10) as response:
                found = {ids[row["id"]] for row in json.load(response)}
            assert found == expected, query
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}?_search={urllib.parse.quote('cloud AND')}", timeout=10)
        page = refused.value.read().decode()
        assert refused.value.code == 400 and "cannot read the query" in page and "Invalid SQL" not in page
