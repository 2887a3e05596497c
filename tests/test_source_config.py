"""The source keys of config.yaml (links:, follow:, max_pages:, match:, recent:...): one clear line per mistake."""

from pathlib import Path

import pytest
import yaml

from veille.config import ConfigError, load

PAGE = "https://example.org/actualites/"


def problems(tmp_path: Path, source: dict[str, object], crawl: dict[str, object] | None = None) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": "s", **source}], "crawl": crawl or {}}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    return caught.value.problems


@pytest.mark.parametrize(("source", "expected"), [
    ({"page": PAGE, "links": "a[", "follow": "a.next"}, "sources[0]: links: is not a valid CSS selector"),
    ({"page": PAGE, "links": "a", "follow": "a..next"}, "sources[0]: follow: is not a valid CSS selector"),
    ({"feed": PAGE, "links": "a"}, "sources[0]: links: applies to page: sources only"),
    ({"sitemap": PAGE, "match": "(news"}, "sources[0]: match: is not a valid regular expression"),
    ({"page": PAGE, "links": "a", "max_pages": 0}, "sources[0].max_pages: Input should be greater than"),
    ({"sitemap": PAGE, "recent": "soon"}, "sources[0].recent: 'soon' is not a duration"),
])
def test_bad_source_keys_are_one_clear_line(tmp_path: Path, source: dict[str, object], expected: str) -> None:
    found = problems(tmp_path, source)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_bad_crawl_limits(tmp_path: Path) -> None:
    assert problems(tmp_path, {"feed": PAGE}, {"max_redirects": 50})[0].startswith("crawl.max_redirects:")
    assert problems(tmp_path, {"feed": PAGE}, {"max_backoff": "forever"})[0].startswith("crawl.max_backoff:")


def test_every_source_and_crawl_key_is_documented() -> None:
    from crawler.config import CrawlConfig, Source

    readme = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [k for k in (*CrawlConfig.model_fields, *Source.model_fields) if f"`{k}:`" not in readme]
    assert missing == []
