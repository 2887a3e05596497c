"""Topic rules against articles: which topics an article matches, and the pass that queues alerts.

A term matches whole words, case-, accent- and plural-insensitively, in the title or main text. A topic
matches when any keyword, every `require` term and no `exclude` term is found.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from alerts.config import Topic
from alerts.text import stems
from storage import chats, outbox

Term = tuple[str, ...]


class ArticleIndex:
    """Where each word stem occurs in an article's title and text, to look terms up in constant time."""

    def __init__(self, title: str, text: str) -> None:
        self.positions: dict[str, list[int]] = defaultdict(list)
        # the title and the text are one sequence with a gap, so that a phrase never spans both
        for i, word in enumerate([*stems(title), "", *stems(text)]):
            self.positions[word].append(i)

    def has(self, term: Term) -> bool:
        """Whether the words of `term` occur here, in order and next to each other."""
        first = self.positions.get(term[0])
        if not first:
            return False
        if len(term) == 1:
            return True
        rest = [set(self.positions.get(word, ())) for word in term[1:]]
        return any(all(start + i + 1 in pos for i, pos in enumerate(rest)) for start in first)


@dataclass(frozen=True)
class Rule:
    """A topic, compiled: its terms as stem sequences, each kept with the words the admin wrote."""

    topic: Topic
    keywords: tuple[tuple[str, Term], ...]
    require: tuple[tuple[str, Term], ...]
    exclude: tuple[tuple[str, Term], ...]

    @classmethod
    def compile(cls, topic: Topic) -> "Rule":
        def terms(words: Iterable[str]) -> tuple[tuple[str, Term], ...]:
            return tuple((w, tuple(stems(w))) for w in words if stems(w))

        return cls(topic, terms(topic.keywords), terms(topic.require), terms(topic.exclude))

    def match(self, index: ArticleIndex) -> list[str] | None:
        """The terms that made this article match, or None when it does not."""
        hits = [word for word, term in self.keywords if index.has(term)]
        if not hits or any(index.has(term) for _, term in self.exclude):
            return None
        for word, term in self.require:
            if not index.has(term):
                return None
            hits.append(word)
        return hits


def match_article(rules: Sequence[Rule], title: str, text: str) -> list[tuple[Rule, list[str]]]:
    """Every rule this article matches, with its hit terms."""
    index = ArticleIndex(title, text)
    found = ((rule, rule.match(index)) for rule in rules)
    return [(rule, hits) for rule, hits in found if hits]


def is_recent(article: dict[str, Any], max_age: timedelta, now: datetime) -> bool:
    """Whether an article is young enough to alert on (by its publication date, else when fetched)."""
    stamp = article.get("published") or article["fetched_at"]
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return now - when <= max_age


def match_pending(db: sqlite_utils.Database, topics: Sequence[Topic], max_age: timedelta,
                  now: datetime | None = None) -> int:
    """Run every article not yet matched through the topics; queue alerts for recent ones.

    Each article's matches and alerts are written in one transaction with its matched mark, so a
    pass killed halfway resumes where it stopped. Returns the number of alerts queued.
    """
    rules = [Rule.compile(t) for t in topics]
    subscribed = chats.subscribers(db)
    queued = 0
    while batch := outbox.unmatched(db):
        for article in batch:
            found = match_article(rules, article["title"], article["text"])
            matches = [outbox.Match(rule.topic.name, hits,
                                    sorted(set(rule.topic.chats) | subscribed.get(rule.topic.name, set())))
                       for rule, hits in found]
            recent = is_recent(article, max_age, now or datetime.now(UTC))
            queued += outbox.record_matches(db, article, matches, alert=recent)
    return queued
