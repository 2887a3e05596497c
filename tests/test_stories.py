"""Exact duplicates stored once, near duplicates grouped into persistent stories, one alert per story."""

import asyncio
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
import yaml

from alerts.config import Topic
from alerts.matcher import match_pending
from storage import articles, boilerplate, open_archive, stories
from storage import db as db_module
from tests.conftest import VOCABULARY, distinct_text, port
from veille.config import ConfigError, load

WIRE = [
    "Le gouvernement a présenté mardi une nouvelle doctrine pour le cloud souverain des administrations, "
    "qui impose les offres qualifiées SecNumCloud pour les données les plus sensibles de l'État.",
    "Selon le ministère, les ministères disposent de dix-huit mois pour migrer leurs applications critiques "
    "vers des hébergeurs qualifiés, sous le contrôle de l'Agence nationale de la sécurité des systèmes.",
    "Les acteurs français du secteur saluent une clarification attendue depuis des années, tandis que les "
    "fournisseurs américains annoncent des partenariats avec des industriels européens pour se conformer.",
]
OTHER = [  # the same topic, another story
    "Le fournisseur lyonnais a obtenu la qualification SecNumCloud pour son offre de cloud souverain après "
    "deux ans d'audit, une première pour un hébergeur de taille moyenne dans la région.",
    "L'entreprise compte recruter cinquante ingénieurs cette année et ouvrir un second centre de données "
    "près de Grenoble pour accueillir les collectivités territoriales et les hôpitaux.",
]
TOPIC = Topic(name="cloud", keywords=["cloud souverain"], chats=[-1001])


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_archive(tmp_path / "veille.db")


def item(source: str, url: str, paragraphs: list[str], title: str = "Doctrine du cloud souverain",
         **extra: Any) -> dict[str, Any]:
    return {"source": source, "url": url, "canonical_url": url, "title": title, "text": "\n".join(paragraphs),
            **extra}


def rewrite(paragraphs: list[str]) -> list[str]:
    """An outlet's light rewrite: the wire text, a paragraph of its own and its own boilerplate."""
    return ["Par notre rédaction, avec AFP.", *paragraphs,
            "Contacté, le syndicat professionnel n'a pas souhaité commenter ces annonces dans l'immédiat.",
            "Abonnez-vous à notre lettre d'information pour ne rien manquer de l'actualité numérique."]


def test_the_same_canonical_url_from_two_sources_is_stored_once_with_both_sources(db: Any) -> None:
    first = articles.store(db, item("a", "https://x.fr/1", WIRE))
    second = articles.store(db, item("b", "https://x.fr/1", WIRE))
    assert first.new and not second.new and first.article_id == second.article_id
    assert articles.get(db, first.article_id)["sources"] == ["a", "b"]


def test_the_same_guid_within_a_source_is_the_same_article(db: Any) -> None:
    first = articles.store(db, item("a", "https://x.fr/1", WIRE[:1], guid="g1"))
    second = articles.store(db, item("a", "https://x.fr/1-moved", WIRE[:1], guid="g1"))
    other = articles.store(db, item("b", "https://y.fr/9", OTHER[:1], guid="g1"))
    assert second.article_id == first.article_id and not second.new
    assert other.new


def test_the_same_text_elsewhere_is_stored_once_and_its_url_becomes_known(db: Any) -> None:
    first = articles.store(db, item("a", "https://x.fr/1", WIRE))
    copy = articles.store(db, item("b", "https://y.fr/copie", [p.upper() + "  " for p in WIRE], title="Autre"))
    assert copy.article_id == first.article_id and not copy.new and not copy.updated
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    assert articles.get(db, first.article_id)["sources"] == ["a", "b"]
    assert articles.known(db, "b", ["https://y.fr/copie", "https://y.fr/new"], []) == {"https://y.fr/copie"}


def test_the_feeds_link_is_known_when_the_page_declared_another_canonical(db: Any) -> None:
    articles.store(db, item("a", "https://x.fr/amp/1", WIRE, canonical_url="https://x.fr/1",
                            aliases=["https://x.fr/amp/1"]))
    assert articles.known(db, "a", ["https://x.fr/amp/1", "https://x.fr/1", "https://x.fr/2"], []) == {
        "https://x.fr/amp/1", "https://x.fr/1"}
    again = articles.store(db, item("a", "https://x.fr/amp/1", WIRE, canonical_url="https://x.fr/amp/1"))
    assert not again.new


def test_a_light_rewrite_joins_the_story_and_another_story_on_the_topic_does_not(db: Any) -> None:
    first = articles.store(db, item("afp", "https://afp.fr/1", WIRE))
    rewritten = articles.store(db, item("lemonde", "https://lemonde.fr/a", rewrite(WIRE),
                                        title="Cloud : l'État durcit le ton"))
    other = articles.store(db, item("lemonde", "https://lemonde.fr/b", OTHER))
    assert rewritten.new and other.new
    story = articles.get(db, first.article_id)["story_id"]
    assert story == first.article_id
    assert articles.get(db, rewritten.article_id)["story_id"] == story
    assert articles.get(db, other.article_id)["story_id"] == other.article_id
    assert [m["id"] for m in stories.members(db, story)] == [first.article_id, rewritten.article_id]
    assert stories.outlets(db, story) == ["afp", "lemonde"]


def test_a_story_survives_a_restart_and_a_copy_arriving_later_joins_it(tmp_path: Path) -> None:
    path = tmp_path / "veille.db"
    db = open_archive(path)
    first = articles.store(db, item("afp", "https://afp.fr/1", WIRE))
    for n in range(5):
        articles.store(db, item("misc", f"https://misc.fr/{n}", [f"{OTHER[0]} Numéro {n}.", OTHER[1]]))
    db.close()
    db = open_archive(path)
    later = articles.store(db, item("ouest", "https://ouest.fr/z", rewrite(WIRE[1:]) + WIRE[:1]))
    assert articles.get(db, later.article_id)["story_id"] == first.article_id


def test_one_alert_per_story_however_many_copies_arrive(db: Any) -> None:
    articles.store(db, item("afp", "https://afp.fr/1", WIRE))
    assert asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650))) == 1
    articles.store(db, item("lemonde", "https://lemonde.fr/a", rewrite(WIRE), title="Autre titre"))
    articles.store(db, item("figaro", "https://figaro.fr/a", WIRE))
    assert asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650))) == 0
    articles.store(db, item("lemonde", "https://lemonde.fr/b", OTHER))
    assert asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650))) == 1
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 2


def test_an_updated_article_updates_the_archive_without_a_second_alert(db: Any) -> None:
    first = articles.store(db, item("afp", "https://afp.fr/1", WIRE))
    assert asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650))) == 1
    update = articles.store(db, item("afp", "https://afp.fr/1", [*WIRE, "Mise à jour : le décret est paru."],
                                     title="Doctrine du cloud souverain (mis à jour)"))
    assert update.updated and not update.new and update.article_id == first.article_id
    stored = articles.get(db, first.article_id)
    assert stored["title"].endswith("(mis à jour)") and "décret est paru" in stored["text"]
    assert asyncio.run(match_pending(port(db), [TOPIC], timedelta(days=3650))) == 0
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1


def test_changing_the_threshold_rebands_the_stored_signatures(db: Any) -> None:
    first = articles.store(db, item("afp", "https://afp.fr/1", WIRE))
    before = db.execute("SELECT count(*) FROM story_bands").fetchone()[0]
    assert stories.configure(db, 0.5)
    after = db.execute("SELECT count(*) FROM story_bands").fetchone()[0]
    assert (before, after) == (stories.scheme_for(0.6).bands, stories.scheme_for(0.5).bands)
    assert not stories.configure(db, 0.5)
    later = articles.store(db, item("lemonde", "https://lemonde.fr/a", rewrite(WIRE)))
    assert articles.get(db, later.article_id)["story_id"] == first.article_id


def test_a_high_threshold_keeps_a_rewrite_apart(db: Any) -> None:
    stories.configure(db, 0.95)
    first = articles.store(db, item("afp", "https://afp.fr/1", WIRE))
    later = articles.store(db, item("lemonde", "https://lemonde.fr/a", rewrite(WIRE)))
    assert articles.get(db, later.article_id)["story_id"] != first.article_id


def test_dedup_threshold_and_tracking_params_are_config_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"dedup": {"threshold": 0.7}, "crawl": {"tracking_params": ["from"]}}))
    config = load(path)
    assert config.dedup.threshold == 0.7 and config.crawl.tracking_params == ["from"]
    path.write_text(yaml.safe_dump({"dedup": {"threshold": 2}}))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == ["dedup.threshold: Input should be less than 1"]


def test_an_archive_from_before_stories_is_indexed_by_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    for number in (1, 2):
        db_module.MIGRATIONS[number](old)
    old.execute("CREATE TABLE _migrations (number INTEGER PRIMARY KEY, applied_at TEXT)")
    old.execute("INSERT INTO _migrations VALUES (1, 'then'), (2, 'then')")
    old.execute("INSERT INTO articles (id, source, url, canonical_url, title, text, fetched_at, story_id)"
                " VALUES (1, 'afp', 'https://afp.fr/1?x', 'https://afp.fr/1', 'T', ?, 'then', 1)", ["\n".join(WIRE)])
    old.conn.commit()
    old.close()
    db = open_archive(path)
    assert articles.known(db, "b", ["https://afp.fr/1"], []) == {"https://afp.fr/1"}
    later = articles.store(db, item("lemonde", "https://lemonde.fr/a", rewrite(WIRE)))
    assert articles.get(db, later.article_id)["story_id"] == 1


ABOUT = ("À propos de Nuagia : fondée en 2012 à Lyon, Nuagia est un hébergeur français qualifié SecNumCloud "
         "qui accompagne plus de trois cents collectivités, hôpitaux et entreprises dans leur transformation "
         "numérique. Ses six centres de données, situés en France, sont alimentés par une énergie bas carbone. "
         "L'entreprise emploie quatre cent vingt personnes et a réalisé un chiffre d'affaires de quatre-vingts "
         "millions d'euros l'an dernier. Nuagia est membre de l'association des acteurs du cloud de confiance "
         "et du pôle de compétitivité régional. Pour en savoir plus, rendez-vous sur le site de l'entreprise "
         "ou contactez son service de presse, joignable du lundi au vendredi.")


def closing(site: str) -> str:
    """A site's standard closing lines (its own words, longer than a brief), the same under each of its articles."""
    rng = random.Random(site)
    return f"{site} vous informe. " + " ".join(" ".join(rng.sample(VOCABULARY, 16)) + "." for _ in range(5))


def release(seed: int, title: str) -> tuple[str, list[str]]:
    """A short press release from Nuagia: two sentences of its own and its long "About us"."""
    return title, [*distinct_text(seed, 2), ABOUT]


def story_of(db: Any, source: str, url: str, title: str, paragraphs: list[str]) -> int:
    stored = articles.store(db, item(source, url, paragraphs, title=title))
    return int(articles.get(db, stored.article_id)["story_id"])


def test_press_releases_sharing_an_about_us_with_other_titles_and_leads_are_separate_stories(db: Any) -> None:
    found = [story_of(db, f"site{n}", f"https://site{n}.fr/{n}", *release(n, f"Nuagia annonce {subject}"))
             for n, subject in enumerate(["un contrat", "une levée de fonds", "un rachat", "un partenariat"])]
    assert len(set(found)) == 4


def test_an_about_us_seen_in_several_stories_is_learnt_and_left_out(db: Any) -> None:
    for n, subject in enumerate(["un contrat", "une levée de fonds", "un rachat"]):
        story_of(db, f"site{n}", f"https://site{n}.fr/{n}", *release(n, f"Nuagia annonce {subject}"))
    assert boilerplate.learnt(db, {boilerplate.key(stories.words(ABOUT))})
    # titled alike, as some press feeds do: only the boilerplate left out tells them apart
    found = [story_of(db, f"site{n}", f"https://site{n}.fr/cp", *release(n, "Communiqué de presse"))
             for n in (10, 11)]
    assert found[0] != found[1]


def test_a_sites_closing_lines_are_learnt_and_do_not_group_its_briefs(db: Any) -> None:
    for n in range(3):
        story_of(db, "gazette", f"https://gazette.fr/{n}", f"Sujet {n} du jour",
                 [*distinct_text(100 + n), closing("La Gazette")])
    briefs = [story_of(db, "gazette", f"https://gazette.fr/breve{n}", "En bref",
                       [*distinct_text(200 + n, 1), closing("La Gazette")]) for n in range(2)]
    assert briefs[0] != briefs[1]


def test_copies_of_a_wire_story_with_each_sites_boilerplate_are_one_story(db: Any) -> None:
    sites = ["gazette", "courrier", "journal", "tribune", "echo"]
    for site in sites:  # each site's closing lines, learnt from articles of its own
        for n in range(3):
            story_of(db, site, f"https://{site}.fr/{n}", f"{site} sujet {n}",
                     [*distinct_text(300 + 10 * sites.index(site) + n), closing(site)])
    found = [story_of(db, site, f"https://{site}.fr/wire", f"Titre de {site} pour la doctrine",
                      [*rewrite(WIRE), closing(site)]) for site in sites]
    assert len(set(found)) == 1
    assert not boilerplate.learnt(db, {boilerplate.key(stories.words(p)) for p in WIRE})


def test_a_retitled_copy_with_an_introduction_of_its_own_is_told_as_the_same_news() -> None:
    wire = [stories.words(p) for p in WIRE]
    intro = stories.words(OTHER[1])
    assert stories.same_news(stories.told("Doctrine du cloud souverain", wire),
                             stories.told("Cloud : l'État durcit le ton", [intro, *wire]))
    assert not stories.same_news(stories.told("Doctrine du cloud souverain", wire),
                                 stories.told("Nuagia qualifiée", [stories.words(p) for p in OTHER]))


def test_an_article_signed_before_its_sites_closing_was_learnt_is_signed_again_without_it(db: Any) -> None:
    first = story_of(db, "gazette", "https://gazette.fr/wire", "Doctrine du cloud", [*WIRE, closing("gazette")])
    for site in ("gazette", "courrier"):  # the closing lines of both sites learnt from other articles
        for n in range(3):
            story_of(db, site, f"https://{site}.fr/{n}", f"{site} sujet {n}",
                     [*distinct_text(400 + 10 * len(site) + n), closing(site)])
    copy = story_of(db, "courrier", "https://courrier.fr/wire", "L'État durcit le ton", [*WIRE, closing("courrier")])
    assert copy == first


def test_an_archive_from_before_boilerplate_learns_it_from_the_articles_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "veille.db"
    db = open_archive(path)
    for n in range(3):
        story_of(db, "gazette", f"https://gazette.fr/{n}", f"Sujet {n}", [*distinct_text(500 + n), closing("gazette")])
    db.execute("DROP TABLE story_paragraphs")  # as the archive was before migration 11
    db.execute("DELETE FROM _migrations WHERE number = 11")
    db.conn.commit()
    db.close()
    db = open_archive(path)
    assert boilerplate.learnt(db, {boilerplate.key(stories.words(closing("gazette")))})


def test_stories_merged_before_boilerplate_was_learnt_are_taken_apart_by_migration_14(db: Any) -> None:
    about = ("À propos de Nuage SAS : hébergeur qualifié SecNumCloud depuis 2022, Nuage sert 400 clients publics "
             "dans toute la France et emploie deux cents personnes à Lyon et à Grenoble.")
    releases = [articles.store(db, item("nuage", f"https://nuage.example/{n}", [*distinct_text(n, 2), about],
                                        title=f"Communiqué numéro {n}")).article_id for n in range(4)]
    wire = articles.store(db, item("afp", "https://afp.fr/1", WIRE)).article_id
    copy = articles.store(db, item("lemonde", "https://lemonde.fr/a", rewrite(WIRE), title="Autre titre")).article_id
    assert articles.get(db, copy)["story_id"] == wire
    with db.atomic():  # what grouping did before boilerplate was learnt: the releases as one story
        db.execute(f"UPDATE articles SET story_id = ? WHERE id IN ({','.join('?' * 4)})", [releases[0], *releases])
    with db.atomic():
        db_module.MIGRATIONS[14](db)
    assert [articles.get(db, i)["story_id"] for i in releases] == releases, "each release its own story again"
    assert articles.get(db, copy)["story_id"] == wire, "a real copy stays in its story"
