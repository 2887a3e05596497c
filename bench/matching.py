"""Matching throughput: topics × articles, against a raw baseline over the same folded text.

    .venv/bin/python -m bench.matching            # 1,000 articles (about a minute)
    .venv/bin/python -m bench.matching --full     # the full size: 10,000 articles

Each row times, on one core, the same articles through:
- veille: `match_article` (index the article's words and stems once, then every topic's rule);
- regex: fold the text, then one compiled alternation of every folded term with word boundaries;
- aho-corasick: fold the text, then a pyahocorasick automaton of every folded term (no word check).
The baselines only find which terms occur; veille also does plurals, exact phrases, rules and scope.
Articles are synthetic French-like text (seeded), so runs are comparable.
"""

import argparse
import random
import re
import time
from collections.abc import Callable, Sequence

from alerts.config import Topic
from alerts.matcher import Matcher, Rule, match_article
from storage.text import fold

try:
    import ahocorasick
except ImportError:  # the baseline is optional: install the test extras to get it
    ahocorasick = None

SYLLABLES = ["sou", "ve", "rain", "clo", "ud", "na", "tio", "nal", "ré", "seau", "don", "nées", "pu", "bli",
             "que", "mi", "nis", "tère", "sé", "cu", "ri", "té", "in", "fra", "struc", "ture", "lo", "gi",
             "ciel", "é", "tat", "eu", "ro", "pé", "en", "ne", "ser", "vi", "ce", "of", "fre", "mar", "ché"]
COMMON = ["le", "la", "les", "de", "des", "du", "un", "une", "et", "en", "pour", "sur", "dans", "par", "avec",
          "qui", "que", "est", "sont", "a", "ont", "au", "aux", "l'État", "d'Orange", "ce", "cette", "plus"]


def vocabulary(rng: random.Random, size: int = 30_000) -> list[str]:
    """Pseudo-French words of two to four syllables, some capitalised, some plural."""
    found: set[str] = set()
    while len(found) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        found.add(word.capitalize() if rng.random() < 0.1 else word)
    words = sorted(found)
    rng.shuffle(words)  # the rank of a word (its frequency in articles) is its place in this list
    return words


def zipf(size: int) -> list[float]:
    """Cumulative weights of a Zipf law over `size` ranks: a few words are frequent, most are rare."""
    total, cumulative = 0.0, []
    for rank in range(1, size + 1):
        total += 1 / rank
        cumulative.append(total)
    return cumulative


def article(rng: random.Random, vocab: Sequence[str], weights: list[float], chars: int) -> tuple[str, str]:
    """A title and a text of about `chars` characters: common words and Zipf-distributed vocabulary."""
    out: list[str] = []
    length = 0
    while length < chars:
        batch = rng.choices(vocab, cum_weights=weights, k=50)
        for word in batch:
            if rng.random() < 0.4:
                word = rng.choice(COMMON)
            elif rng.random() < 0.1:
                word += "s"
            out.append(word + ("." if rng.random() < 0.06 else ""))
            length += len(word) + 1
    title = " ".join(rng.choices(vocab, cum_weights=weights, k=8))
    return title, " ".join(out)[:chars]


def topics(rng: random.Random, vocab: Sequence[str], count: int, terms: int = 10) -> list[Topic]:
    """Topics of `terms` keywords each: single words and two-word phrases, none of the 100 commonest words."""
    pool = vocab[100:]
    return [Topic(name=f"t{i}", keywords=[
        " ".join(rng.sample(pool, 2)) if rng.random() < 0.3 else rng.choice(pool) for _ in range(terms)])
        for i in range(count)]


def regex_baseline(topic_list: Sequence[Topic]) -> Callable[[str, str], set[str]]:
    """One compiled alternation of every folded term, longest first, with word boundaries."""
    terms = sorted({fold(k) for t in topic_list for k in t.keywords}, key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b")
    return lambda title, text: set(pattern.findall(fold(title) + "\n" + fold(text)))


def aho_baseline(topic_list: Sequence[Topic]) -> Callable[[str, str], set[str]] | None:
    """A pyahocorasick automaton of every folded term (substring hits, no word boundaries)."""
    if ahocorasick is None:
        return None
    automaton = ahocorasick.Automaton()
    for term in {fold(k) for t in topic_list for k in t.keywords}:
        automaton.add_word(term, term)
    automaton.make_automaton()
    return lambda title, text: {v for _, v in automaton.iter(fold(title) + "\n" + fold(text))}


def rate(articles: Sequence[tuple[str, str]], run: Callable[[str, str], object]) -> float:
    """Articles per second of `run` over the articles (best of the pass, timed once)."""
    start = time.perf_counter()
    for title, text in articles:
        run(title, text)
    return len(articles) / (time.perf_counter() - start)


def row(label: str, articles: Sequence[tuple[str, str]], topic_list: Sequence[Topic]) -> None:
    """Time veille and the baselines on the same articles and print one line of the table."""
    rules = Matcher([Rule.compile(t) for t in topic_list])
    veille = rate(articles, lambda title, text: match_article(rules, title, text))
    regex = rate(articles, regex_baseline(topic_list))
    aho = aho_baseline(topic_list)
    aho_rate = rate(articles, aho) if aho else float("nan")
    print(f"| {label:<34} | {veille:>8.0f} | {regex:>8.0f} | {aho_rate:>8.0f} | {veille / regex:>12.2f} |"
          f" {veille / aho_rate:>10.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10,000 articles (default 1,000)")
    parser.add_argument("--articles", type=int, help="how many articles for the main row")
    args = parser.parse_args()
    count = args.articles or (10_000 if args.full else 1_000)
    rng = random.Random(5)
    vocab = vocabulary(rng)
    weights = zipf(len(vocab))
    base_topics = topics(rng, vocab, 200)
    main_articles = [article(rng, vocab, weights, 5000) for _ in range(count)]
    rules = Matcher([Rule.compile(t) for t in base_topics])
    matched = sum(len(rules.match(title, text)) for title, text in main_articles[:200])
    print(f"each article matches {matched / 200:.1f} of the 200 topics on average\n"
          "articles per second on one core (higher is better);"
          " 'veille/x' = veille's rate / baseline x's rate (above 1: veille is faster)\n")
    print(f"| {'run':<34} | {'veille':>8} | {'regex':>8} | {'aho':>8} | {'veille/regex':>12} | {'veille/aho':>10} |")
    print(f"|{'-' * 36}|{'-' * 10}:|{'-' * 10}:|{'-' * 10}:|{'-' * 13}:|{'-' * 11}:|")
    row(f"200 topics x 10 terms, {count} x 5k", main_articles, base_topics)
    small = max(count // 5, 100)
    for chars in (1000, 20000):
        sized = [article(rng, vocab, weights, chars) for _ in range(small)]
        row(f"200 topics, {small} x {chars // 1000}k chars", sized, base_topics)
    sample = main_articles[:small]
    for n in (20, 1000):
        row(f"{n} topics, {small} x 5k chars", sample, topics(rng, vocab, n))


if __name__ == "__main__":
    main()
