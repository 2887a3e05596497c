"""The topic rule language and the finer points of French matching: queries, scope, config errors."""

from pathlib import Path

import pytest
import yaml

from alerts.config import Topic
from alerts.matcher import ArticleIndex, Rule, match_article
from storage.query import QuerySyntaxError, parse
from veille.config import ConfigError, load

QUERY = '"cloud souverain" OR (Bleu AND (Orange OR Capgemini)) NOT football'


def hits(text: str, title: str = "", **rule: object) -> list[str] | None:
    topic = Topic.model_validate({"name": "t", **rule})
    found = match_article([Rule.compile(topic)], title, text)
    return found[0][1] if found else None


def test_query_any_of_groups() -> None:
    assert hits("Bleu, la coentreprise d'Orange", query=QUERY) == ["Bleu", "Orange"]
    assert hits("le cloud souverain avance", query=QUERY) == ["cloud souverain"]
    assert hits("Bleu comme le ciel", query=QUERY) is None


def test_query_not_excludes() -> None:
    assert hits("Bleu et Capgemini sponsorisent le football", query=QUERY) is None


def test_quoted_phrase_is_exact_but_bare_words_inflect() -> None:
    assert hits("des clouds souverains", query='"cloud souverain"') is None
    assert hits("des clouds souverains", query="cloud souverain") == ["cloud", "souverain"]
    assert hits("des clouds souverains", keywords=["cloud souverain"]) == ["cloud souverain"]


def test_prefix_matches_words_that_start_with_it() -> None:
    assert hits("la souveraineté numérique", query="souverain*") == ["souverain*"]
    assert hits("un souvenir", query="souverain*") is None


def test_near_counts_words_between() -> None:
    text = "Orange et Capgemini ont créé ensemble une société nommée Bleu"
    assert hits(text, query="NEAR(Orange Bleu, 10)") == ["Orange", "Bleu"]
    assert hits(text, query="NEAR(Orange Bleu, 3)") is None


def test_bleu_is_not_bleuet_nor_bleute() -> None:
    assert hits("un bleuet et un reflet bleuté", keywords=["Bleu"]) is None
    assert hits("des offres Bleues", keywords=["Bleu"]) == ["Bleu"]


def test_ligatures_elisions_and_hyphens_are_equivalent() -> None:
    assert hits("Le CŒUR du réseau", keywords=["coeur"]) == ["coeur"]
    assert hits("selon l’ANSSI", keywords=["l'ANSSI"]) == ["l'ANSSI"]
    assert hits("le projet Gaia X", keywords=["GAÏA-X"]) == ["GAÏA-X"]
    assert hits("aujourd'hui", keywords=["hui"]) == ["hui"]


def test_fields_restrict_to_title() -> None:
    assert hits("SecNumCloud", title="Rien", keywords=["SecNumCloud"], fields=["title"]) is None
    assert hits("rien", title="SecNumCloud", keywords=["SecNumCloud"], fields=["title"]) == ["SecNumCloud"]


def test_sources_and_languages_scope() -> None:
    rule = Rule.compile(Topic(name="t", keywords=["x"], sources=["a"], languages=["fr"]))
    assert rule.covers({"source": "a", "language": "fr-FR"})
    assert rule.covers({"source": "a", "language": None})  # unknown language: kept, never lost
    assert not rule.covers({"source": "b", "language": "fr"})
    assert not rule.covers({"source": "a", "language": "en"})


def test_hits_say_where() -> None:
    rule = Rule.compile(Topic(name="t", keywords=["SecNumCloud"]))
    found = rule.match(ArticleIndex("SecNumCloud", "la qualification SecNumCloud"))
    assert found is not None
    assert [(h.field, h.position) for h in found] == [("title", 0), ("text", 2)]


@pytest.mark.parametrize(("query", "message"), [
    ("(Bleu OR Orange", "unbalanced parentheses: '(' at column 1 is never closed"),
    ("Bleu)", "unbalanced parentheses: ')' at column 5 closes nothing"),
    ("(Bleu OR", "unbalanced parentheses: '(' at column 1 is never closed"),
    ("NEAR(Bleu Orange, 3", "unbalanced parentheses: '(' at column 5 is never closed"),
    ("NOT football", "the query only says what must be absent"),
    ('"cloud', "unclosed quote"),
    ("NEAR(Bleu, 3)", "needs at least two terms"),
])
def test_bad_queries(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(query)


def config_problems(tmp_path: Path, topics: list[dict[str, object]]) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": "lemagit", "feed": "http://127.0.0.1/f"}],
                                    "topics": topics}), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load(path)
    return exc.value.problems


def test_config_errors_name_the_topic(tmp_path: Path) -> None:
    assert config_problems(tmp_path, [{"name": "t", "query": "(Bleu OR Orange"}]) == [
        "topics[0]: topic 't': query: unbalanced parentheses: '(' at column 1 is never closed"]
    assert config_problems(tmp_path, [{"name": "vide"}]) == [
        "topics[0]: topic 'vide' is empty: give it keywords or a query"]
    assert config_problems(tmp_path, [{"name": "t", "keywords": ["x"], "sources": ["lemagi"]}]) == [
        "topics[0].sources: unknown source 'lemagi' in topic 't' (did you mean 'lemagit'?)"]


def test_rules_are_triggered_by_their_keywords_only() -> None:
    from alerts.matcher import triggers

    rule = Rule.compile(Topic(name="t", keywords=["clouds souverains", '"x"'], require=["ANSSI"]))
    assert triggers(rule.tree) in ({(False, "anssi")}, {(False, "cloud"), (False, "x")})
    assert triggers(Rule.compile(Topic(name="p", query="souverain* OR Bleu")).tree) is None  # always run
    assert triggers(Rule.compile(Topic(name="q", query='"Gaia X" OR Bleu')).tree) == {(True, "gaia"),
                                                                                        (False, "bleu")}
