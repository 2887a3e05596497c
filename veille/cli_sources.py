"""`veille sources discover URL` and `veille sources test NAME|URL`: finding and trying sources."""

from pathlib import Path
from typing import Any

import click

from veille.options import config_option, load_config


@click.group(name="sources")
def sources_group() -> None:
    """Find feeds on a site, and try a source without storing anything."""


def _in_loop(main: Any) -> Any:
    from veille import loop  # the reactor is installed there, before Scrapy is imported

    return loop.run(main)


@sources_group.command()
@click.argument("url")
@config_option
def discover(url: str, config_path: Path) -> None:
    """List the feeds a home page advertises and the sitemaps of its robots.txt, as config lines to paste."""
    defaults = load_config(config_path).crawl if config_path.exists() else None

    async def run() -> Any:
        from crawler.config import CrawlConfig
        from crawler.discover import discover as find

        return await find(url, defaults or CrawlConfig())

    found, error = _in_loop(run)
    if error:
        raise click.ClickException(f"cannot read {url}: {error}")
    if not found:
        raise click.ClickException(f"{url} advertises no feed and no sitemap: try a page: source (with links:)")
    from crawler.discover import source_name

    click.echo("sources:")
    for feed in found:
        click.echo(f"  - name: {source_name(feed.title, feed.url)}      # {feed.kind}: {feed.title or '-'}")
        click.echo(f"    {feed.key}: {feed.url}")


def _source_for(target: str, config: Any, links: str | None) -> Any:
    from pydantic import ValidationError

    from crawler.config import Source

    named = {s.name: s for s in config.sources}
    if target in named:
        return named[target]
    if "://" not in target:
        raise click.ClickException(f"no source named {target!r} in the config (names: "
                                   f"{', '.join(named) or 'none'}), and not a URL")
    kind = "page" if links else "sitemap" if "sitemap" in target.lower() else "feed"
    try:
        return Source.model_validate({"name": "test", kind: target, "links": links})
    except ValidationError as exc:
        raise click.ClickException(f"{target}: {exc.errors()[0]['msg']}") from None


@sources_group.command(name="test")
@click.argument("target", metavar="NAME|URL")
@config_option
@click.option("--links", help="For a URL: treat it as a listing page with this CSS selector for article links.")
def test_source(target: str, config_path: Path, links: str | None) -> None:
    """Fetch one source now and show what it would yield, without storing or alerting."""
    config = load_config(config_path)
    source = _source_for(target, config, links)

    async def run() -> Any:
        from crawler.runner import run_spider

        return await run_spider(source, config.crawl, None)

    report, items = _in_loop(run)
    from alerts.format import DAY_TIME_ZONE, local_time
    from alerts.matcher import Rule, match_article

    rules = [Rule.compile(topic) for topic in config.topics]
    for item in items:
        topics = [rule.topic.name for rule, _ in match_article(rules, item.title, item.text)]
        text = f"{len(item.text)} chars" + ("" if item.full_text else " (feed text: page not read)")
        when = local_time(item.published, config.alerts.timezone, DAY_TIME_ZONE)
        click.echo(f"{when:22}  {item.title or '(no title)'}\n{'':24}{item.canonical_url or item.url}\n"
                   f"{'':24}{text}; topics: {', '.join(topics) or '-'}")
    click.echo(f"{source.name}: {len(items)} articles in {report.seconds:.1f}s (nothing stored)")
    if report.error:
        raise click.ClickException(f"{source.name}: {report.error}")
