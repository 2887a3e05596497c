"""`veille archive copy --to postgresql://...`: the SQLite archive moved into an empty PostgreSQL one, ids and
every table's rows kept, checked by counts; then the same config with `storage.url` searches the copy."""

from pathlib import Path

import psycopg
import yaml

from storage import chats, open_archive
from tests.archive_fixtures import build
from tests.conftest import run_veille, search_json
from tests.outbox_helpers import queue


def archive_to_copy(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    config, db, ids = build(tmp_path)
    queue(db, 2, [1001, 1002])
    chats.subscribe(db, 1003, "cloud-souverain")
    db.close()
    return config, ids


def test_copy_moves_every_row_keeps_the_ids_and_the_copy_is_searched_through_storage_url(
        tmp_path: Path, pg_url: str) -> None:
    config, ids = archive_to_copy(tmp_path)
    lite = open_archive(tmp_path / "veille.db")
    expected = {t: lite.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("articles", "article_sources", "matches", "outbox", "subscriptions")}
    lite.close()
    copied = run_veille("archive", "copy", "--config", str(config), "--to", pg_url)
    assert copied.returncode == 0, copied.stderr
    assert f"{expected['articles']} articles" in copied.stderr and "counted on both sides" in copied.stderr
    with psycopg.connect(pg_url) as conn:
        for table, n in expected.items():
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (n,), table
        (story,) = conn.execute("SELECT story_id FROM articles WHERE id = %s", [ids["doctrine-reprise"]]).fetchone()
        assert story == ids["doctrine"], "stories keep their ids"
        # the identity sequence moved past the copied ids: a new article gets a new one
        conn.execute("INSERT INTO articles (source, url, canonical_url, fetched_at) VALUES ('x', 'u', 'u', now())")
    on_pg = tmp_path / "pg.yaml"
    on_pg.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "storage": {"url": pg_url}}))
    found = search_json(on_pg, "SecNumCloud")
    assert [r["url"] for r in found] == ["https://lemagit.example/doctrine"]


def test_copy_into_an_archive_that_holds_articles_is_refused_and_keeps_nothing(tmp_path: Path, pg_url: str) -> None:
    config, _ = archive_to_copy(tmp_path)
    assert run_veille("archive", "copy", "--config", str(config), "--to", pg_url).returncode == 0
    again = run_veille("archive", "copy", "--config", str(config), "--to", pg_url)
    assert again.returncode == 1 and "already holds articles: copy into an empty one" in again.stderr
    assert "Traceback" not in again.stderr


def test_copy_to_a_url_that_is_not_postgresql_says_so(tmp_path: Path) -> None:
    config, _ = archive_to_copy(tmp_path)
    result = run_veille("archive", "copy", "--config", str(config), "--to", "mysql://db/veille")
    assert result.returncode == 1 and "--to:" in result.stderr and "Traceback" not in result.stderr

