"""A source's crawls under `veille run`: a phase of its own, then exactly every interval, however late a run."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import write_config
from veille.config import load
from veille.service import trigger_for

INTERVAL = timedelta(seconds=30)


def test_crawls_keep_the_interval_on_a_phase_of_each_source(tmp_path: Path) -> None:
    config = load(write_config(tmp_path / "config.yaml", [
        {"name": f"s{i}", "feed": f"http://127.0.0.1:9/feed/{i}", "interval": "30s"} for i in range(50)]))
    first = datetime(2026, 1, 5, 8, 0, 0, tzinfo=UTC)
    seconds = []
    for source in config.sources:
        trigger = trigger_for(source, config, first)
        # as APScheduler asks: the run that just happened, and the time it is now (runs are often late)
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=0.3))
        assert second is not None
        assert first + INTERVAL / 2 <= second <= first + INTERVAL
        seconds.append((second - first).total_seconds())
        previous = second
        for late in (0.0, 2.9, 0.4, 12.0, 29.9):
            following = trigger.get_next_fire_time(previous, previous + timedelta(seconds=late))
            assert following == previous + INTERVAL
            previous = following
    assert max(seconds) - min(seconds) > INTERVAL.total_seconds() / 10  # sources are spread, not in step
