"""storage.watch through the port, as the crawler calls it, on SQLite and on PostgreSQL alike."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Archive, outbox, watch

URL = "https://example.org/offres"


@pytest.fixture(params=["sqlite", "postgres"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Archive]:
    url = request.getfixturevalue("pg_archive") if request.param == "postgres" else None
    opened = Archive.open(tmp_path / "veille.db", url=url)
    yield opened
    opened.close()


async def _versions_and_gone(archive: Archive) -> None:
    assert await archive.read(watch.latest, "w") is None
    await archive.write(watch.record_version, "w", URL, "Offres", ["a"], [], [], [-5])
    second = await archive.write(watch.record_version, "w", URL, "Offres", ["a", "b"], ["b"], [], [-5], ["+ b"])
    assert second.number == 2 and second.article_id is not None
    latest = await archive.read(watch.latest, "w")
    assert latest is not None and (latest.lines, latest.added, latest.removed) == (["a", "b"], ["b"], [])
    assert [v.number for v in await archive.read(watch.history, "w")] == [2, 1]
    pending = await archive.read(outbox.pending)
    assert [(p.title, p.url, p.chat_id, p.terms) for p in pending] == [
        ("Changed: Offres", f"{URL}#version-2-w", -5, ("+ b",))]
    gone = [await archive.write(watch.record_gone, "w", URL, 410, [-5]) for _ in range(4)]
    assert gone == [False, False, True, False]
    assert [p.title for p in await archive.read(outbox.pending)] == ["Changed: Offres", "Gone: Offres"]


def test_versions_changes_and_gone_through_the_port(archive: Archive) -> None:
    asyncio.run(_versions_and_gone(archive))
