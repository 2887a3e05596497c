"""config.yaml validation: each mistake is one line naming the key path, and a non-zero exit."""

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_veille
from veille.config import ConfigError, load

FEED = "https://example.org/rss.xml"
TOPIC = {"name": "t", "keywords": ["cloud"], "chats": [1]}


def config_error(tmp_path: Path, data: object) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    return caught.value.problems


def test_unknown_key_names_its_path_and_suggests(tmp_path: Path) -> None:
    problems = config_error(tmp_path, {"sources": [{"name": "a", "feed": FEED, "intervall": "5m"}]})
    assert problems == ["sources[0].intervall: unknown key (did you mean 'interval'?)"]


def test_unknown_section(tmp_path: Path) -> None:
    assert config_error(tmp_path, {"topicz": []})[0].startswith("topicz: unknown key")


def test_bad_duration(tmp_path: Path) -> None:
    problems = config_error(tmp_path, {"crawl": {"interval": "quinze minutes"}})
    assert problems == ["crawl.interval: 'quinze minutes' is not a duration: write it like 30s, 15m, 2h or 7d"]


def test_bad_size(tmp_path: Path) -> None:
    assert config_error(tmp_path, {"crawl": {"max_bytes": "big"}})[0].startswith("crawl.max_bytes: 'big' is not")


def test_source_without_url(tmp_path: Path) -> None:
    problems = config_error(tmp_path, {"sources": [{"name": "a", "feed": FEED}, {"name": "b"}]})
    assert problems == ["sources[1]: a source needs one of feed:, page:, sitemap: or watch: (its URL)"]


def test_source_with_a_bad_url(tmp_path: Path) -> None:
    problems = config_error(tmp_path, {"sources": [{"name": "a", "feed": "not a url"}]})
    assert len(problems) == 1 and problems[0].startswith("sources[0].feed: ")


def test_page_source_needs_a_link_selector(tmp_path: Path) -> None:
    problems = config_error(tmp_path, {"sources": [{"name": "a", "page": FEED}]})
    assert problems == ["sources[0]: a page: source needs links: (a CSS selector for its article links)"]


def test_topic_without_keywords(tmp_path: Path) -> None:
    problems = config_error(tmp_path, {"topics": [TOPIC, {"name": "empty", "keywords": [], "chats": [1]}]})
    assert problems == ["topics[1]: topic 'empty' is empty: give it keywords or a query"]


def test_duplicate_source_names(tmp_path: Path) -> None:
    sources = [{"name": "a", "feed": FEED}, {"name": "b", "feed": FEED}, {"name": "a", "feed": FEED}]
    assert config_error(tmp_path, {"sources": sources}) == [
        "sources[2].name: duplicate name 'a' (first at sources[0])"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = config_error(tmp_path, {"crawl": {"timeout": "x"}, "sources": [{"name": "b"}]})
    assert len(problems) == 2


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("sources:\n  - name: a\n    feed: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "line " in caught.value.problems[0]


def test_durations_and_sizes_read_as_people_write_them(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"crawl": {"interval": "1h30m", "max_bytes": "10MB"},
                                    "alerts": {"max_age": "2d"}}), encoding="utf-8")
    config = load(path)
    assert config.crawl.interval.total_seconds() == 5400
    assert config.crawl.max_bytes == 10_000_000
    assert config.alerts.max_age.total_seconds() == 2 * 86400
    assert config.storage.path == tmp_path / "data" / "veille.db"


def test_config_check_command_reports_errors_and_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": "a", "feed": FEED, "colour": "red"}]}))
    result = run_veille("config", "check", "--config", str(path))
    assert result.returncode != 0
    assert "sources[0].colour: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_summarises_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": "a", "feed": FEED}], "topics": [TOPIC]}))
    result = run_veille("config", "check", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert "sources: 1 (1 feed)" in result.stdout
    assert "topics: 1 (t)" in result.stdout


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_veille("crawl", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode != 0
    assert "cannot read the file" in result.stderr
    assert "Traceback" not in result.stderr


def test_shipped_config_is_valid() -> None:
    load(Path(__file__).parent.parent / "config.yaml")
