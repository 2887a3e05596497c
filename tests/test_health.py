"""Source health in the archive: failures in a row, backoff until the next attempt, reset by a success."""

from datetime import timedelta
from pathlib import Path

from storage import health, open_archive

HOUR = timedelta(hours=1)


def test_failures_back_off_and_a_success_resets(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "veille.db")
    assert health.backing_off(db, "s") is None
    health.record_crawl(db, "s", error="HTTP 503", seen=0, new=0, interval=HOUR, ceiling=6 * HOUR)
    assert health.backing_off(db, "s") is not None
    assert health.backing_off(db, "s", slack=2 * HOUR) is None, "a run due within the slack goes ahead"
    first = health.all_sources(db)["s"]["next_attempt"]
    health.record_crawl(db, "s", error="HTTP 503", seen=0, new=0, interval=HOUR, ceiling=6 * HOUR)
    row = health.all_sources(db)["s"]
    assert row["consecutive_failures"] == 2 and row["next_attempt"] > first
    assert health.backing_off(db, "s", slack=90 * timedelta(minutes=1)) is not None, "two hours after two failures"
    health.record_crawl(db, "s", error=None, seen=3, new=2, interval=HOUR, ceiling=6 * HOUR)
    row = health.all_sources(db)["s"]
    assert row["consecutive_failures"] == 0 and row["next_attempt"] is None and row["last_error"] is None
    assert (row["items_seen"], row["items_new"]) == (3, 2)
    assert health.backing_off(db, "s") is None
