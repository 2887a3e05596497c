"""Commands that need neither the crawler nor the bot start without importing them (issue 23).

Not timed: the real `veille` command runs with Python's import profiler on (PYTHONPROFILEIMPORTTIME), and
the test reads which packages it imported.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import archive_fixtures
from tests.conftest import run_veille

# the crawler's, the bot's, the web UI's, the charts' and the near-duplicate detector's libraries
HEAVY = {"scrapy", "twisted", "telegram", "datasette", "matplotlib", "trafilatura", "numpy",
         "scipy", "apscheduler", "feedparser", "lxml", "pebble", "prometheus_client"}


def imported(*args: str) -> set[str]:
    """The top-level packages the real `veille ARGS` imported; the command must succeed."""
    result = run_veille(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    return {m.group(1).strip().split(".")[0]
            for m in re.finditer(r"^import time:[^|]*\|[^|]*\|(.*)$", result.stderr, re.M)}


def test_help_imports_click_and_no_room_library() -> None:
    loaded = imported("--help")
    assert "click" in loaded  # the profile was read
    assert not loaded & (HEAVY | {"pydantic", "rich", "yaml"})


@pytest.mark.parametrize("command", [["search", "cloud", "--json"], ["search", "cloud"], ["status", "--json"],
                                     ["config", "check"]], ids=" ".join)
def test_archive_and_config_commands_import_no_crawler_bot_or_chart_library(tmp_path: Path,
                                                                             command: list[str]) -> None:
    config, db, _ = archive_fixtures.build(tmp_path)  # an archive already made: no migration to run
    db.close()
    loaded = imported(*command, "--config", str(config))
    assert {"sqlite_utils", "pydantic"} & loaded  # the profile was read
    assert not loaded & HEAVY


def test_numpy_is_importable_once_storage_is_loaded() -> None:
    # storage hides numpy from sqlite_utils only while that loads; the story detector needs it afterwards
    code = "import storage, numpy, storage.stories; print(storage.stories.signature('un deux trois quatre ' * 9).dtype)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "uint32", result.stderr


def test_the_crawlers_process_leaves_trafilatura_and_the_language_model_to_the_workers() -> None:
    # extraction and language detection run in the pool's workers: their libraries (38 MiB and more) stay there
    code = ("import sys, veille.service, crawler.spiders, crawler.extract, crawler.language;"
            " print(sorted(m for m in ('trafilatura', 'py3langid', 'htmldate', 'courlan') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
