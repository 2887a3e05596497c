"""`veille topics`: try a topic over the archive before deploying it, and see why an article matched.

`--diff` compares the topic in the config file with the "running config": the rule the matcher last ran
for that topic, which it records in the archive (table `topic_rules`) on every pass.
"""

from __future__ import annotations  # alerts' types (pydantic) are imported when a command runs

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from storage import Archive
from storage import topics as stored
from veille.options import config_option, load_config, open_db

if TYPE_CHECKING:
    from alerts.config import Topic
    from alerts.matcher import Hit, Rule
    from veille.config import Config


@click.group(name="topics")
def topics_group() -> None:
    """Try topics on the archive: what they would match, and why."""


def _topic(config: Config, name: str) -> Topic:
    for topic in config.topics:
        if topic.name == name:
            return topic
    known = ", ".join(t.name for t in config.topics) or "none"
    raise click.ClickException(f"no topic named {name!r} in the config (topics: {known})")


def _since(value: str) -> str:
    from storage.units import parse_duration

    try:
        return (datetime.now(UTC) - parse_duration(value)).replace(microsecond=0).isoformat()
    except ValueError:
        try:
            return datetime.fromisoformat(value).isoformat()
        except ValueError:
            raise click.BadParameter(f"{value!r}: write a duration (30d, 12h) or a date (2026-11-01)") from None


def _matches(rule: Rule, article: dict) -> list[Hit] | None:
    from alerts.matcher import ArticleIndex

    if not rule.covers(article):
        return None
    return rule.match(ArticleIndex(article["title"] or "", article["matching_text"]))


def _show(article: dict, hits: list[Hit], sign: str = "") -> None:
    from alerts.explain import highlight

    terms = ", ".join(dict.fromkeys(h.term for h in hits))
    click.echo(f"{sign}{(article['published'] or article['fetched_at'] or '')[:10]:10}  {article['source']:<16} "
               f"{highlight(article['title'], hits, 'title') or article['title']}")
    click.echo(f"{'':12}{article['canonical_url'] or article['url']}")  # the link search and alerts give
    if context := highlight(article["matching_text"], hits, "text"):
        click.echo(f"{'':12}{context}")
    click.echo(f"{'':12}hits: {terms}\n")


@topics_group.command(name="test")
@click.argument("name")
@config_option
@click.option("--since", "since", default="30d", show_default=True, help="A duration (30d) or a date.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0, 100000),
              help="How many matched articles to show (the counts cover them all).")
@click.option("--diff", is_flag=True, help="Compare with the rule the service last ran for this topic.")
def test(name: str, config_path: Path, since: str, limit: int, diff: bool) -> None:
    """Run topic NAME from the config file over the archive and show what it would have matched."""
    from alerts.matcher import Rule
    config = load_config(config_path)
    topic = _topic(config, name)
    rule = Rule.compile(topic)
    archive = open_db(config)
    start = _since(since)
    old = _running_rule(archive, topic) if diff else None
    scanned, shown = 0, 0
    per_source: Counter[str] = Counter()
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    for article in archive.iterate_now(stored.articles_since, start):
        scanned += 1
        hits = _matches(rule, article)
        before = _matches(old, article) if old is not None else None
        if hits:
            per_source[article["source"]] += 1
        sign = ""
        if diff:
            if hits and before is None:
                sign = "+ "
                added[article["source"]] += 1
            elif before and not hits:
                sign, hits = "- ", before
                removed[article["source"]] += 1
            else:
                continue
        if hits and shown < limit:
            shown += 1
            _show(article, hits, sign)
    total = sum(per_source.values())
    counts = ", ".join(f"{s} {n}" for s, n in per_source.most_common()) or "none"
    click.echo(f"{name}: {total} of {scanned} articles since {start[:10]} would match ({counts})")
    if diff:
        click.echo(f"compared with the running rule: +{sum(added.values())} added, "
                   f"-{sum(removed.values())} removed")
    if shown < (sum(added.values()) + sum(removed.values()) if diff else total):
        click.echo(f"(showing {shown}; use --limit to see more)")


def _running_rule(archive: Archive, topic: Topic) -> Rule | None:
    """The rule the matcher last ran for this topic (None if never), saying how it compares to the file."""
    from alerts.config import Topic
    from alerts.matcher import Rule
    running = archive.read_now(stored.running_rule, topic.name)
    if running is None:
        click.echo(f"topic {topic.name!r} has not run in the service yet: every match below is new.\n")
        return None
    if running["fingerprint"] == topic.fingerprint():
        click.echo(f"topic {topic.name!r} is unchanged since the service started running it"
                   f" ({running['since']}, rule {running['fingerprint']}).\n")
    try:
        return Rule.compile(Topic.model_validate({**json.loads(running["rule"]), "name": topic.name}))
    except (ValueError, TypeError):
        click.echo(f"the running rule of {topic.name!r} cannot be read: comparing with nothing.\n")
        return None


@topics_group.command(name="explain")
@click.argument("name")
@click.argument("url")
@config_option
def explain_command(name: str, url: str, config_path: Path) -> None:
    """Why topic NAME matches, or does not match, the stored article at URL."""
    from alerts.explain import explain, highlight
    from alerts.matcher import ArticleIndex, Rule
    config = load_config(config_path)
    rule = Rule.compile(_topic(config, name))
    article = open_db(config).read_now(stored.find_by_url, url)
    if article is None:
        raise click.ClickException(f"no article with the URL {url} in the archive")
    matched, lines = explain(rule, article)
    click.echo(f"{name} {'MATCHES' if matched else 'does not match'}: {article['title']}")
    for line in lines:
        click.echo(f"  {line}")
    if matched:
        hits = rule.match(ArticleIndex(article["title"] or "", article["matching_text"])) or []
        for field in rule.fields:
            if context := highlight(article["matching_text" if field == "text" else field] or "", hits, field):
                click.echo(f"  {field}: {context}")

