"""Topic rules against articles: which topics an article matches, where, and the pass that queues alerts.

An article is indexed once (ArticleIndex: each word's and each stem's positions, per field); each rule
then looks its terms up there, so the cost grows with the text's length and the number of terms, never
with text × terms. A rule is a pure function of its Topic (`Rule.compile`), so reloading the config is
recompiling it.
"""

import asyncio
import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.config import Topic
from storage import Archive, chats, outbox, topics
from storage.query import AllOf, AnyOf, Near, Node, Not, Term, parse
from storage.text import stem, words

FIELDS = ("title", "text")


class FieldIndex:
    """Where each folded word and each stem occurs in one field."""

    def __init__(self, text: str) -> None:
        self.words: dict[str, list[int]] = defaultdict(list)
        self.stems: dict[str, list[int]] = defaultdict(list)
        by_word, by_stem = self.words, self.stems  # local names: this loop is the hot path of matching
        for i, word in enumerate(words(text)):
            by_word[word].append(i)
            by_stem[stem(word)].append(i)
        self._sorted: list[str] | None = None

    def starting_with(self, prefix: str) -> list[int]:
        """Positions of every word that starts with `prefix` (bisect over the sorted distinct words)."""
        if self._sorted is None:
            self._sorted = sorted(self.words)
        found: list[int] = []
        for word in self._sorted[bisect.bisect_left(self._sorted, prefix):]:
            if not word.startswith(prefix):
                break
            found.extend(self.words[word])
        return sorted(found)

    def find(self, term: Term) -> list[int]:
        """Start positions of `term` here: its words in order, next to each other."""
        table = self.words if term.exact else self.stems
        last = len(term.words) - 1
        lists = [self.starting_with(w) if term.prefix and i == last else table.get(w, [])
                 for i, w in enumerate(term.words)]
        if not lists[0] or any(not p for p in lists[1:]):
            return []
        if len(lists) == 1:
            return lists[0]
        rest = [set(p) for p in lists[1:]]
        return [s for s in lists[0] if all(s + i + 1 in pos for i, pos in enumerate(rest))]


@dataclass(frozen=True)
class Hit:
    """One term found: as the admin wrote it, in which field, at which word (from 0)."""

    term: str
    field: str
    position: int
    length: int = 1


class ArticleIndex:
    """An article's title and text, indexed once for every rule; term look-ups are memoised."""

    def __init__(self, title: str, text: str) -> None:
        self.fields = {"title": FieldIndex(title), "text": FieldIndex(text)}
        self._memo: dict[tuple[tuple[str, ...], bool, bool, str], list[int]] = {}

    def keys(self) -> set[tuple[bool, str]]:
        """Every (exact, word) and (not exact, stem) present in the title or text, for Matcher's triggers."""
        found: set[tuple[bool, str]] = set()
        for index in self.fields.values():
            found.update((True, w) for w in index.words)
            found.update((False, s) for s in index.stems)
        return found

    def find(self, term: Term, field: str) -> list[int]:
        """Start positions of a term in one field."""
        key = (term.words, term.exact, term.prefix, field)  # cheaper to hash than the Term itself
        if key not in self._memo:
            self._memo[key] = self.fields[field].find(term)
        return self._memo[key]

    def hits(self, term: Term, fields: Sequence[str]) -> list[Hit]:
        """Every place a term occurs in these fields."""
        return [Hit(term.text, f, p, len(term.words)) for f in fields for p in self.find(term, f)]


def evaluate(node: Node, index: ArticleIndex, fields: Sequence[str]) -> list[Hit] | None:
    """The hits that make `node` hold for this article, or None when it does not hold."""
    if isinstance(node, Term):
        return index.hits(node, fields) or None
    if isinstance(node, Not):
        return None if evaluate(node.child, index, fields) is not None else []
    if isinstance(node, AllOf):
        found: list[Hit] = []
        for child in node.children:
            hits = evaluate(child, index, fields)
            if hits is None:
                return None
            found.extend(hits)
        return found
    if isinstance(node, AnyOf):
        results = [evaluate(child, index, fields) for child in node.children]
        held = [h for h in results if h is not None]
        return [hit for hits in held for hit in hits] if held else None
    return _near(node, index, fields)


def _near(node: Near, index: ArticleIndex, fields: Sequence[str]) -> list[Hit] | None:
    first, *others = node.terms
    for f in fields:
        for start in index.find(first, f):
            near = [[p for p in index.find(t, f) if abs(p - start) <= node.distance + len(t.words) - 1]
                    for t in others]
            if all(near):
                return [Hit(first.text, f, start, len(first.words))] + [
                    Hit(t.text, f, p[0], len(t.words)) for t, p in zip(others, near, strict=True)]
    return None


@dataclass(frozen=True)
class Rule:
    """A topic, compiled: one tree of terms, the fields it reads, and the sources and languages it covers."""

    topic: Topic
    tree: Node
    fields: tuple[str, ...] = FIELDS
    sources: frozenset[str] = field(default_factory=frozenset)
    languages: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def compile(cls, topic: Topic) -> "Rule":
        """The rule of a topic (a pure function of it: recompiling is all a config reload needs)."""
        parts: list[Node] = []
        if topic.keywords:
            parts.append(AnyOf(tuple(Term.of(k) for k in topic.keywords), "keywords (any of)"))
        if topic.require:
            parts.append(AllOf(tuple(Term.of(k) for k in topic.require), "require (all of)"))
        if topic.exclude:
            parts.append(AllOf(tuple(Not(Term.of(k)) for k in topic.exclude), "exclude (none of)"))
        if topic.query:
            parts.append(AllOf((parse(topic.query),), "query"))
        return cls(topic, AllOf(tuple(parts), "topic"), tuple(topic.fields or FIELDS),
                   frozenset(topic.sources), frozenset(lang.casefold() for lang in topic.languages))

    def covers_source(self, article: dict[str, Any]) -> bool:
        """Whether the article comes from one of this topic's sources (any source when none is given)."""
        return not self.sources or article.get("source") in self.sources

    def covers_language(self, article: dict[str, Any]) -> bool:
        """Whether the article is in one of this topic's languages; an unknown language is kept."""
        language = (article.get("language") or "").casefold().replace("_", "-").split("-")[0]
        return not (self.languages and language and language not in self.languages)

    def covers(self, article: dict[str, Any]) -> bool:
        """Whether the article is in this topic's scope: its source, and its language when known."""
        return self.covers_source(article) and self.covers_language(article)

    def match(self, index: ArticleIndex) -> list[Hit] | None:
        """Where the terms that made this article match occur, or None when it does not match."""
        hits = evaluate(self.tree, index, self.fields)
        return hits if hits else None


def hit_terms(hits: Sequence[Hit]) -> list[str]:
    """The distinct terms of some hits, in the order they were found."""
    return list(dict.fromkeys(h.term for h in hits))


def triggers(node: Node) -> set[tuple[bool, str]] | None:
    """Words one of which must be in an article for `node` to hold, or None when no such set is known.

    `(exact, key)`: a folded word when exact, else a stem. A prefix or a NOT gives no trigger.
    """
    if isinstance(node, Term):
        return None if node.prefix and len(node.words) == 1 else {(node.exact, node.words[0])}
    if isinstance(node, Near):
        return triggers(node.terms[0])
    if isinstance(node, AnyOf):
        found: set[tuple[bool, str]] = set()
        for child in node.children:
            child_triggers = triggers(child)
            if child_triggers is None:
                return None
            found |= child_triggers
        return found
    if isinstance(node, AllOf):
        known = [t for t in map(triggers, node.children) if t is not None]
        return min(known, key=len) if known else None
    return None


class Matcher:
    """Rules indexed by their trigger words, so that an article only runs the rules its words can fire.

    The cost per article is its indexing (its length) plus the rules it may match, not topics × terms.
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self.always: list[int] = []
        self.by_key: dict[tuple[bool, str], list[int]] = defaultdict(list)
        for i, rule in enumerate(self.rules):
            keys = triggers(rule.tree)
            if keys is None:
                self.always.append(i)
            for key in keys or ():
                self.by_key[key].append(i)

    def match(self, title: str, text: str,
              article: dict[str, Any] | None = None) -> list[tuple[Rule, list[Hit]]]:
        """Every rule this article matches (among those whose scope covers it), with its hits."""
        index = ArticleIndex(title, text)
        candidates = set(self.always)
        for key in index.keys() & self.by_key.keys():
            candidates.update(self.by_key[key])
        found = []
        for i in sorted(candidates):
            rule = self.rules[i]
            if article is not None and not rule.covers(article):
                continue
            if hits := rule.match(index):
                found.append((rule, hits))
        return found


def match_article(rules: Sequence[Rule] | Matcher, title: str, text: str,
                  article: dict[str, Any] | None = None) -> list[tuple[Rule, list[str]]]:
    """Every rule this article matches (among those whose scope covers it), with its hit terms."""
    matcher = rules if isinstance(rules, Matcher) else Matcher(rules)
    return [(rule, hit_terms(hits)) for rule, hits in matcher.match(title, text, article)]


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


async def match_pending(archive: Archive, topic_list: Sequence[Topic], max_age: timedelta,
                        now: datetime | None = None) -> int:
    """Run every article not yet matched through the topics; queue alerts for recent ones.

    Each article's matches and alerts are written in one transaction with its matched mark, so a
    pass killed halfway resumes where it stopped; the matching itself runs in a thread, off the loop.
    The rule each topic ran with is recorded, for `veille topics test --diff`. Returns the number of
    alerts queued.
    """
    rules = Matcher([Rule.compile(t) for t in topic_list])
    await archive.write(topics.record_rules, {t.name: t.rule_json() for t in topic_list})
    subscribed = await archive.read(chats.subscribers)
    queued = 0
    while batch := await archive.read(outbox.unmatched):
        found = await asyncio.to_thread(_match_batch, rules, batch, subscribed, max_age, now or datetime.now(UTC))
        for article, matches, recent in found:
            queued += await archive.write(outbox.record_matches, article, matches, alert=recent)
    return queued


def _match_batch(rules: Matcher, batch: list[dict[str, Any]], subscribed: dict[str, set[int]],
                 max_age: timedelta, now: datetime) -> list[tuple[dict[str, Any], list[outbox.Match], bool]]:
    """Each article of the batch with its matches (and the chats to tell), and whether it is recent."""
    found = []
    for article in batch:
        matches = [outbox.Match(rule.topic.name, hits,
                                sorted(set(rule.topic.chats) | subscribed.get(rule.topic.name, set()), key=str))
                   for rule, hits in match_article(rules, article["title"], article["matching_text"], article)]
        found.append((article, matches, is_recent(article, max_age, now)))
    return found
