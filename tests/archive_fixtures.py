"""A small archive written straight through storage, for the search, export, trends and web UI tests."""

from pathlib import Path
from typing import Any

import sqlite_utils

from storage import open_archive
from storage.articles import store
from tests.conftest import write_config

ARTICLES: list[dict[str, Any]] = [
    {"source": "lemagit", "slug": "doctrine", "title": "L'État publie sa doctrine du cloud souverain",
     "text": "Les offres qualifiées SecNumCloud deviennent la règle pour les données sensibles de l'État.",
     "published": "2025-03-04T09:00:00+00:00", "language": "fr", "topics": ["cloud-souverain"]},
    {"source": "usine", "slug": "doctrine-reprise", "title": "Doctrine : le cloud souverain devient la règle",
     "text": "Reprise de la dépêche : le gouvernement impose le cloud souverain aux administrations.",
     "published": "2025-03-04T11:00:00+00:00", "language": "fr", "topics": ["cloud-souverain"]},
    {"source": "lemagit", "slug": "bleu", "title": "Bleu obtient la qualification",
     "text": "Le cloud de confiance de Capgemini et Orange franchit une étape. La SÉCURITÉ avant tout.",
     "published": "2025-01-15T08:00:00+00:00", "language": "fr", "topics": ["cloud-souverain"]},
    {"source": "enisa", "slug": "eucs", "title": "EUCS certification scheme update",
     "text": "The European cloud certification scheme drops sovereignty requirements, a souverain debate.",
     "published": "2025-02-10T08:00:00+00:00", "language": "en", "topics": []},
    {"source": "usine", "slug": "fibre", "title": "La fibre optique arrive dans le Cantal",
     "text": "Le déploiement de la fibre se poursuit. Souverain, le département décide de sa sécurité.",
     "published": "2024-06-01T08:00:00+00:00", "language": "fr", "topics": []},
]


def build(tmp_path: Path) -> tuple[Path, sqlite_utils.Database, dict[str, int]]:
    """A config file and its archive holding ARTICLES; the first two are one story. Returns ids by slug."""
    config = write_config(tmp_path / "config.yaml", [])
    db = open_archive(tmp_path / "veille.db")
    ids: dict[str, int] = {}
    for a in ARTICLES:
        url = f"https://{a['source']}.example/{a['slug']}"
        stored = store(db, {**a, "url": url, "canonical_url": url, "guid": a["slug"], "full_text": True})
        ids[a["slug"]] = stored.article_id
        for topic in a["topics"]:
            db.execute("INSERT INTO matches VALUES (?, ?, '[]', ?)", [stored.article_id, topic, a["published"]])
    # what the near-duplicate detector does: the copy joins the first article's story
    db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [ids["doctrine"], ids["doctrine-reprise"]])
    db.conn.commit()
    return config, db, ids
