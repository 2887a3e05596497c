"""The analysts' desk of `veille serve`: search, reading view, curation (star, tag, note) and the bulletin."""

import asyncio
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from datasette.app import Datasette
from datasette.plugins import pm

from storage import curation
from storage.articles import store
from tests.archive_fixtures import build
from tests.conftest import VEILLE, run_veille, write_config
from tests.test_archive_tools import CHROMIUM, CHROMIUM_ARGS, free_port, veille_serve
from veille import serve_desk, serve_guard, serve_search
from veille.cli import main
from veille.desk_pages import bulletin_html, grouped, marked

EXTRA = [
    {"source": "lemagit", "slug": "gaiax", "title": "Gaia-X : la fondation publie ses premiers labels",
     "text": "Les labels Gaïa-X distinguent les services qui respectent les règles européennes.",
     "published": "2025-03-05T09:00:00+00:00", "language": "fr"},
    {"source": "usine", "slug": "anssi", "title": "L'ANSSI qualifie une nouvelle offre",
     "text": "La qualification de l'ANSSI ouvre le marché public à ce fournisseur de cloud.",
     "published": "2025-03-06T09:00:00+00:00", "language": "fr"},
]
PLUGINS = (serve_guard, serve_search, serve_desk)


def desk_archive(tmp_path: Path) -> tuple[Path, Any, dict[str, int]]:
    """The archive of tests/archive_fixtures, plus a Gaia-X and an ANSSI article, and the terms of its matches."""
    config, db, ids = build(tmp_path)
    for a in EXTRA:
        url = f"https://{a['source']}.example/{a['slug']}"
        ids[a["slug"]] = store(db, {**a, "url": url, "canonical_url": url, "guid": a["slug"]}).article_id
    db.execute("""UPDATE matches SET terms = '["cloud souverain"]'""")
    db.conn.commit()
    return config, db, ids


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[Datasette, Any, dict[str, int]]]:
    """The desk in process (Datasette with our three plugins, as `veille serve` configures them)."""
    _, db, ids = desk_archive(tmp_path)
    for plugin in PLUGINS:
        pm.register(plugin, name=plugin.NAME)
    metadata = {"plugins": {serve_guard.NAME: {"database": "veille", "listen": "127.0.0.1"},
                            serve_search.NAME: {"database": "veille"},
                            serve_desk.NAME: {"database": "veille", "timezone": "Europe/Paris"}}}
    try:
        yield Datasette([str(tmp_path / "veille.db")], metadata=metadata), db, ids
    finally:
        for plugin in PLUGINS:
            pm.unregister(plugin)


def fetch(ds: Datasette, method: str, path: str, **kwargs: Any) -> Any:
    async def go() -> Any:
        await ds.invoke_startup()
        return await getattr(ds.client, method)(path, **kwargs)

    return asyncio.run(go())


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/desk/article/\d+">(.*?)</a></h2>', html)


def test_marked_escapes_the_snippet_and_marks_each_hit() -> None:
    assert marked("le <b>cloud</b> [souverain] et [Gaia-X]…") == (
        "le &lt;b&gt;cloud&lt;/b&gt; <mark>souverain</mark> et <mark>Gaia-X</mark>…")
    assert marked("un crochet [ ouvert") == "un crochet [ ouvert"


def test_the_bulletin_holds_what_was_kept_in_the_period_grouped_by_tag_with_the_notes(tmp_path: Path) -> None:
    _, db, ids = desk_archive(tmp_path)
    curation.star(db, ids["doctrine"], "alice")
    curation.tag(db, ids["doctrine"], "  hebdo ", "alice")
    curation.tag(db, ids["doctrine"], "cloud", "bob")
    curation.note(db, ids["doctrine"], "À lire : <script>alert(1)</script>", "alice")
    curation.star(db, ids["anssi"], "bob")
    curation.tag(db, ids["eucs"], "cloud", "bob")
    curation.star(db, ids["bleu"], "alice")
    db.execute("UPDATE curation_stars SET at = '2020-01-01T00:00:00+00:00' WHERE article_id = ?", [ids["bleu"]])
    db.conn.commit()

    kept = curation.bulletin(db, "2024-01-01")
    assert [a["id"] for a in kept] == [ids["anssi"], ids["doctrine"], ids["eucs"]]  # newest first, bleu too old
    assert [(name, [a["id"] for a in group]) for name, group in grouped(kept)] == [
        ("cloud", [ids["doctrine"], ids["eucs"]]), ("Starred", [ids["anssi"]])]  # once each, first tag
    assert [name for name, _ in grouped(kept, "topic")] == ["cloud-souverain", "Other"]
    html = bulletin_html(kept, since="2024-01-01", tag=None, by="tag", timezone="Europe/Paris")
    assert "À lire : &lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert 'href="https://lemagit.example/doctrine"' in html and "04/03/2025 10:00" in html
    assert "3 articles kept since 01/01/2024<" in html
    assert [a["id"] for a in curation.bulletin(db, "2024-01-01", "hebdo")] == [ids["doctrine"]]
    assert "Nothing was starred or tagged" in bulletin_html([], since="2024-01-01", tag="x", by="tag",
                                                            timezone="UTC")


def test_a_tag_or_note_that_cannot_be_stored_is_refused_with_the_reason(tmp_path: Path) -> None:
    _, db, ids = desk_archive(tmp_path)
    with pytest.raises(curation.CurationError, match="a tag is 1 to 40 characters, not 0"):
        curation.tag(db, ids["doctrine"], "   ", "local")
    with pytest.raises(curation.CurationError, match="a note is 1 to 4000 characters"):
        curation.note(db, ids["doctrine"], "x" * 4001, "local")
    assert db.execute("SELECT count(*) FROM curation_notes").fetchone()[0] == 0


def test_the_desk_searches_in_the_topics_language_one_story_each_with_marks_and_facets(desk: Any) -> None:
    ds, _, _ = desk
    page = fetch(ds, "get", "/?q=souverain")
    assert page.status_code == 200
    assert titles(page.text) == ["Doctrine : le cloud souverain devient la règle", "EUCS certification scheme update",
                                 "La fibre optique arrive dans le Cantal"]  # newest first, the doctrine story once
    assert "cloud <mark>souverain</mark> aux administrations" in page.text
    assert "also in 1 other outlet" in page.text and '<span class="topic">cloud-souverain</span>' in page.text
    assert '<a href="/?q=souverain&amp;sort=date&amp;source=usine">usine</a> 2' in page.text  # stories per source
    assert '<a href="/veille">Tables and SQL</a>' in page.text
    assert titles(fetch(ds, "get", "/?q=souverain&source=usine").text) == [
        "Doctrine : le cloud souverain devient la règle", "La fibre optique arrive dans le Cantal"]
    assert titles(fetch(ds, "get", "/?q=souverain&lang=en").text) == ["EUCS certification scheme update"]
    assert titles(fetch(ds, "get", "/?q=Gaia-X").text) == ["Gaia-X : la fondation publie ses premiers labels"]
    assert titles(fetch(ds, "get", "/?q=l'ANSSI").text) == ["L&#39;ANSSI qualifie une nouvelle offre"]
    assert titles(fetch(ds, "get", "/?q=cloud+OR+fibre&sort=relevance").text)[0] == (
        "La fibre optique arrive dans le Cantal")  # the title weighs most


def test_without_a_query_the_desk_shows_the_newest_stories_and_a_histogram_of_months_that_filters(desk: Any) -> None:
    ds, _, _ = desk
    page = fetch(ds, "get", "/")
    assert titles(page.text) == [
        "L&#39;ANSSI qualifie une nouvelle offre", "Gaia-X : la fondation publie ses premiers labels",
        "Doctrine : le cloud souverain devient la règle", "EUCS certification scheme update",
        "Bleu obtient la qualification", "La fibre optique arrive dans le Cantal"]  # the doctrine story once
    assert "also in 1 other outlet" in page.text and "Le déploiement de la fibre se poursuit." in page.text
    months = re.findall(r'<a href="([^"]+)">(\d{4}-\d{2})</a> <span class="bar"[^>]*></span> (\d+)', page.text)
    assert [(month, n) for _, month, n in months] == [("2024-06", "1"), ("2025-01", "1"), ("2025-02", "1"),
                                                     ("2025-03", "3")]
    march = {month: href for href, month, _ in months}["2025-03"].replace("&amp;", "&")
    assert march == "/?sort=date&since=2025-03-01&until=2025-03-31"
    assert len(titles(fetch(ds, "get", march).text)) == 3
    assert titles(fetch(ds, "get", "/?q=souverain&since=2025-02-01&until=2025-02-28").text) == [
        "EUCS certification scheme update"]
    assert titles(fetch(ds, "get", "/?since=7d").text) == []
    assert fetch(ds, "get", "/?since=soon").status_code == 400


def test_a_query_the_desk_cannot_read_is_a_400_saying_why(desk: Any) -> None:
    page = fetch(desk[0], "get", "/?q=cloud+AND")
    assert page.status_code == 400 and "cannot read the query &#39;cloud AND&#39;" in page.text


def test_the_reading_view_shows_the_text_the_original_the_other_copies_and_the_matched_terms(desk: Any) -> None:
    ds, _, ids = desk
    page = fetch(ds, "get", f"/desk/article/{ids['doctrine']}")
    assert page.status_code == 200
    assert "Les offres qualifiées SecNumCloud deviennent la règle" in page.text
    assert 'class="original" href="https://lemagit.example/doctrine"' in page.text
    assert f'<a href="/desk/article/{ids["doctrine-reprise"]}">usine</a>' in page.text
    assert "cloud-souverain</span> matched on cloud souverain" in page.text
    assert fetch(ds, "get", "/desk/article/999").status_code == 404


def post_form(ds: Datasette, article_id: int, data: dict[str, str], *, cookie: bool = True,
              actor: str | None = None) -> Any:
    """POST a curation form as a browser does: the token of the article's page, with its cookie."""
    token = fetch(ds, "get", f"/desk/article/{article_id}").cookies["ds_csrftoken"]
    cookies = [f"ds_csrftoken={token}"] if cookie else []
    if actor:
        cookies.append(f"ds_actor={ds.sign({'a': {'id': actor}}, 'actor')}")
    headers = {"cookie": "; ".join(cookies)} if cookies else {}
    return fetch(ds, "post", f"/desk/article/{article_id}/curate", data={**data, "csrftoken": token}, headers=headers)


def test_curation_takes_the_csrf_token_and_records_who_did_it(desk: Any) -> None:
    ds, db, ids = desk
    assert post_form(ds, ids["bleu"], {"action": "star"}, cookie=False).status_code == 403  # a cross-site form
    forged = fetch(ds, "post", f"/desk/article/{ids['bleu']}/curate", data={"action": "star", "csrftoken": "x"},
                   headers={"cookie": "ds_csrftoken=y"})
    assert forged.status_code == 403
    assert db.execute("SELECT count(*) FROM curation_stars").fetchone()[0] == 0

    assert post_form(ds, ids["bleu"], {"action": "star"}).headers["location"] == f"/desk/article/{ids['bleu']}"
    post_form(ds, ids["bleu"], {"action": "tag", "tag": "hebdo"}, actor="alice")
    post_form(ds, ids["bleu"], {"action": "note", "note": "Bleu passe SecNumCloud"}, actor="alice")
    assert post_form(ds, ids["bleu"], {"action": "tag", "tag": " "}).status_code == 400
    assert db.execute("SELECT who FROM curation_stars").fetchall() == [("local",)]
    assert db.execute("SELECT tag, who FROM curation_tags").fetchall() == [("hebdo", "alice")]
    page = fetch(ds, "get", f"/desk/article/{ids['bleu']}").text
    assert "★ Starred" in page and "Bleu passe SecNumCloud" in page and '<span class="tag">hebdo</span>' in page
    post_form(ds, ids["bleu"], {"action": "unstar"})
    post_form(ds, ids["bleu"], {"action": "untag", "tag": "hebdo"})
    assert db.execute("SELECT count(*) FROM curation_stars").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM curation_tags").fetchone()[0] == 0


def test_the_desk_answers_only_an_actor_datasette_lets_view_the_archive(desk: Any) -> None:
    ds, _, ids = desk
    ds._metadata_local["allow"] = {"id": "alice"}  # what a team's metadata says behind an auth plugin
    for path in ("/?q=cloud", f"/desk/article/{ids['bleu']}", "/desk/bulletin"):
        assert fetch(ds, "get", path).status_code == 403, path
    alice = ds.sign({"a": {"id": "alice"}}, "actor")
    assert fetch(ds, "get", "/?q=cloud", headers={"cookie": f"ds_actor={alice}"}).status_code == 200


def test_the_bulletin_page_and_veille_bulletin_write_the_same_html(desk: Any, tmp_path: Path) -> None:
    ds, db, ids = desk
    curation.star(db, ids["gaiax"], "local")
    curation.tag(db, ids["anssi"], "hebdo", "local")
    page = fetch(ds, "get", "/desk/bulletin?since=2025-01-01")
    assert page.status_code == 200
    out = tmp_path / "bulletin.html"
    result = CliRunner().invoke(main, ["bulletin", "--config", str(tmp_path / "config.yaml"), "--since", "2025-01-01",
                                        "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == page.text
    assert page.text.index("hebdo") < page.text.index("L&#39;ANSSI") < page.text.index("Starred") < page.text.index(
        "Gaia-X")
    only = fetch(ds, "get", "/desk/bulletin?tag=hebdo").text  # since 7d, by default
    assert "L&#39;ANSSI" in only and "Gaia-X" not in only
    assert fetch(ds, "get", "/desk/bulletin?since=soon").status_code == 400


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (make browser installs Debian's)")
def test_a_browser_searches_reads_curates_and_finds_the_article_in_both_bulletins(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    config, db, _ = desk_archive(tmp_path)
    db.close()
    note = "L'ANSSI ouvre le marché public : à suivre"
    for served_port in veille_serve(config):
        base = f"http://127.0.0.1:{served_port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(base + "/")
                for query, title in (("Gaia-X", "Gaia-X : la fondation publie ses premiers labels"),
                                     ("l'ANSSI", "L'ANSSI qualifie une nouvelle offre")):
                    page.fill("input[name=q]", query)
                    page.press("input[name=q]", "Enter")
                    page.wait_for_url(f"**q={query.replace(chr(39), '%27')}*")
                    assert page.locator(".result h2").all_inner_texts() == [title]
                page.click(".result h2 a")
                page.wait_for_url("**/desk/article/*")
                page.click("button[value=star]")
                page.wait_for_selector("button[value=unstar]")
                page.fill("input[name=tag]", "hebdo")
                page.click("button[value=tag]")
                page.wait_for_selector("span.tag")
                page.fill("textarea[name=note]", note)
                page.click("button[value=note]")
                page.wait_for_selector(".note")
                page.goto(base + "/desk/bulletin?since=7d")
                assert page.locator("h2").all_inner_texts() == ["hebdo"]
                item = page.locator(".item").inner_text()
                assert "L'ANSSI qualifie une nouvelle offre" in item and note in item
                shown = page.locator(".item > a").evaluate_all("links => links.map(a => a.href)")
            finally:
                browser.close()
    out = tmp_path / "bulletin.html"
    result = run_veille("bulletin", "--config", str(config), "--since", "7d", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert shown == ["https://usine.example/anssi"]
    assert re.findall(r'<div class="item"[^>]*>\s*<a href="([^"]+)"', out.read_text(encoding="utf-8")) == shown


def refusal(url: str) -> int:
    """The status of a page that `veille serve`, once it has started, refuses."""
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).close()
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            time.sleep(0.2)
            continue
        pytest.fail(f"{url} was served")
    pytest.fail(f"veille serve did not start on {url}")


def test_serve_takes_a_teams_metadata_and_the_desk_obeys_its_allow_block(tmp_path: Path) -> None:
    config, db, _ = desk_archive(tmp_path)
    db.close()
    team = tmp_path / "team.yaml"
    team.write_text("allow:\n  id: alice\nplugins:\n  datasette-auth-headers:\n    id-header-name: X-User\n",
                    encoding="utf-8")
    served_port = free_port()
    process = subprocess.Popen([*VEILLE, "serve", "--config", str(config), "--port", str(served_port),
                                "--metadata", str(team)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        refused = [refusal(f"http://127.0.0.1:{served_port}{path}") for path in ("/", "/desk/bulletin", "/veille")]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert refused == [403, 403, 403]
    team.write_text("plugins:\n  veille-desk: {database: other}\n", encoding="utf-8")
    result = run_veille("serve", "--config", str(config), "--metadata", str(team))
    assert result.returncode == 2 and "configures veille-desk, which veille serve sets itself" in result.stderr


def test_a_curation_write_the_crawlers_lock_holds_up_fails_as_the_archive_being_busy(tmp_path: Path) -> None:
    from storage.db import connect
    from storage.errors import ArchiveBusyError

    _, db, ids = desk_archive(tmp_path)
    db.execute("BEGIN IMMEDIATE")  # a crawl writing
    datasettes = connect(tmp_path / "veille.db", timeout=0)
    with pytest.raises(ArchiveBusyError):
        curation.on(curation.star, ids["bleu"], "local")(datasettes.conn)
    db.conn.rollback()
    curation.on(curation.star, ids["bleu"], "local")(datasettes.conn)
    assert db.execute("SELECT who FROM curation_stars").fetchall() == [("local",)]


def test_the_reading_view_says_why_each_topic_matched_as_topics_explain_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, ids = desk_archive(tmp_path)
    config = write_config(tmp_path / "config.yaml", [],
                          [{"name": "cloud-souverain", "keywords": ["cloud souverain"], "chats": [1]}])
    for plugin in PLUGINS:
        pm.register(plugin, name=plugin.NAME)
    metadata = {"plugins": {serve_guard.NAME: {"database": "veille", "listen": "127.0.0.1"},
                            serve_search.NAME: {"database": "veille"},
                            serve_desk.NAME: {"database": "veille", "timezone": "UTC"}}}
    monkeypatch.setattr(serve_desk, "CONFIG_FILE", config)
    try:
        page = fetch(Datasette([str(tmp_path / "veille.db")], metadata=metadata), "get",
                     f"/desk/article/{ids['doctrine']}").text
    finally:
        for plugin in PLUGINS:
            pm.unregister(plugin)
    assert "why cloud-souverain matched" in page
    assert "looking in: title, text" in page
