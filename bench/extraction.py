"""Main-text extraction: veille's against raw trafilatura and readability-lxml, in one run (`python -m bench
extraction`).

    python -m bench extraction                a generated site: 50 articles sharing three boilerplate blocks
    python -m bench extraction --pages DIR    and a folder of real pages with their ground truth (repeatable)

Extractors, each page through all of them in turn: veille's (crawler.extract) as a feed entry giving title,
author and date has it run (no metadata pass), with the metadata pass (what every page cost before), with the
date search too (an entry giving nothing), and without its precision guard; trafilatura.extract in its
defaults (comments left out); readability-lxml (its summary's text), when installed (the `bench` extra).

Scores: precision, recall and F1 of each page's text against its truth, over token 4-grams (the metric of
Zyte's article-extraction benchmark: per page, then averaged over pages), and ms per page (median, p90).

The generated site: 50 articles whose pages all carry an "about us" paragraph closing the article, a reprint
notice under the title and a tag list, each with a keyword found nowhere else; reported, per extractor, how
many articles match that keyword (veille's matcher, as a topic would): every match is a false alert.

--pages DIR reads either layout, and names the set with its figures:
- Zyte's article-extraction-benchmark: DIR/ground-truth.json ({id: {"articleBody", "url"}}), DIR/html/ID.html.gz
- trafilatura's evaluation set (its tests/): DIR/evaldata.json ({url: {"file", "with", "without"}}), DIR/eval/
  FILE; no full text there, so its own metric: snippets that must be found and snippets that must not, counted
  over the whole set.
Such pages are other people's writing: keep them out of the repository.
"""

import argparse
import gzip
import json
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import trafilatura
from lxml import html as lxml_html

import crawler.extract
from alerts.config import Topic
from alerts.matcher import Rule, match_article
from bench.dedup import vocabulary

Extractor = Callable[[str | bytes, str], str]
SHINGLE = 4
_TOKEN = re.compile(r"\w+")


@dataclass
class Page:
    """One page and what its text should be: the article's text, or snippets it must and must not hold."""

    url: str
    html: str | bytes
    truth: str | None = None
    expected: list[str] = field(default_factory=list)
    unwanted: list[str] = field(default_factory=list)


# --- extractors


def veille(find_date: bool = False, metadata: bool = False) -> Extractor:
    def run(html: str | bytes, url: str) -> str:
        found = crawler.extract.extract(html, url, find_date=find_date, metadata=metadata)
        return found.text if found else ""
    return run


def unguarded(html: str | bytes, url: str) -> str:
    """veille's extraction with the precision guard off (precision mode alone, as before the guard)."""
    with _setting(crawler.extract, "PRECISE_ENOUGH", 0):
        return veille()(html, url)


@contextmanager
def _setting(module: object, name: str, value: object) -> Iterator[None]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def raw_trafilatura(html: str | bytes, url: str) -> str:
    return trafilatura.extract(html, url=url, include_comments=False) or ""


def readability_lxml(html: str | bytes, url: str) -> str:
    from readability import Document  # the `bench` extra: optional

    summary = Document(html, url=url).summary(html_partial=True)
    return "\n".join(lxml_html.fromstring(summary).itertext()) if summary.strip() else ""


def extractors() -> dict[str, Extractor]:
    found: dict[str, Extractor] = {
        "veille (feed gave title, author, date)": veille(),
        "veille + metadata pass (as before)": veille(metadata=True),
        "veille + metadata + date search": veille(find_date=True, metadata=True),
        "veille without the precision guard": unguarded,
        f"trafilatura {trafilatura.__version__} (defaults)": raw_trafilatura,
    }
    try:
        found[f"readability-lxml {version('readability-lxml')}"] = readability_lxml
    except PackageNotFoundError:
        print("readability-lxml is not installed (pip install -e '.[bench]'): left out")
    return found


# --- scores


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i:i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1)) if tokens)


def page_counts(page: Page, text: str) -> tuple[float, float, float]:
    """True positives, false positives, false negatives of one page's text: shares of its 4-grams (each page
    weighs the same), or counts of snippets."""
    if page.truth is None:
        found = sum(s in text for s in page.expected)
        return found, sum(s in text for s in page.unwanted), len(page.expected) - found
    truth, got = shingles(page.truth), shingles(text)
    tp, fp, fn = sum((truth & got).values()), sum((got - truth).values()), sum((truth - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def scores(counts: list[tuple[float, float, float]], per_page: bool) -> tuple[float, float, float]:
    """F1, precision, recall: averaged over pages (token metric), or over all snippets of the set."""
    if not per_page:
        tp, fp, fn = (sum(c[i] for c in counts) for i in range(3))
        precision, recall = tp / ((tp + fp) or 1), tp / ((tp + fn) or 1)
    else:  # an empty text and an empty truth agree
        precision = statistics.mean(1.0 if fp == fn == 0 else tp / (tp + fp) for tp, fp, fn in counts if tp + fp)
        recall = statistics.mean(1.0 if fp == fn == 0 else tp / (tp + fn) for tp, fp, fn in counts if tp + fn)
    return 2 * precision * recall / ((precision + recall) or 1), precision, recall


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Run:
    texts: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def run_all(pages: list[Page], chosen: dict[str, Extractor]) -> dict[str, Run]:
    """Every page through every extractor, in turn (a load change on the machine weighs on all alike)."""
    runs = {name: Run() for name in chosen}
    for page in pages:
        for name, func in chosen.items():
            started = time.perf_counter()
            text = func(page.html, page.url)
            runs[name].seconds.append(time.perf_counter() - started)
            runs[name].texts.append(text)
    return runs


def report(title: str, pages: list[Page], runs: dict[str, Run]) -> None:
    per_page = all(p.truth is not None for p in pages)
    print(f"\n{title}")
    print(f"{'':42} {'F1':>6} {'prec.':>6} {'recall':>6} {'ms median':>10} {'ms p90':>7}")
    for name, run in runs.items():
        f1, precision, recall = scores([page_counts(p, t) for p, t in zip(pages, run.texts, strict=True)], per_page)
        print(f"{name:42} {f1:6.3f} {precision:6.3f} {recall:6.3f} {statistics.median(run.seconds) * 1000:10.1f} "
              f"{percentile(run.seconds, 0.9) * 1000:7.1f}")
    guarded, plain = runs["veille (feed gave title, author, date)"], runs["veille without the precision guard"]
    switched = sum(a != b for a, b in zip(guarded.texts, plain.texts, strict=True))
    print(f"the precision guard kept the balanced text on {switched} of {len(pages)} pages, at "
          f"{_paired(plain, guarded)} (its balanced pass runs on the pages whose precise text is short)")
    metadata = runs["veille + metadata pass (as before)"]
    print(f"the metadata pass (needless when the feed gives title, author and date) costs {_paired(guarded, metadata)}")


def _paired(base: Run, other: Run) -> str:
    """What `other` costs more than `base`, page by page: the mean and median of the differences."""
    extra = [b - a for a, b in zip(base.seconds, other.seconds, strict=True)]
    mean, median, share = statistics.mean(extra), statistics.median(extra), statistics.mean(extra) / statistics.mean(
        base.seconds)
    return f"{mean * 1000:+.1f} ms a page on average ({median * 1000:+.1f} median; {share:+.0%})"


# --- the generated site

ABOUT = ("À propos de Numéria : premier éditeur indépendant d'information sur le numérique public, Numéria est lu "
         "chaque mois par quarante mille décideurs publics. Contact presse : presse@numeria.example.")
REPRINT = ("Cet article est réservé à votre usage personnel. Toute reproduction ou diffusion, même partielle, est "
           "soumise à l'autorisation du Centre français d'exploitation du droit de copie.")
TAGS = ["calendrier stock car 2018", "stock car brasil", "résultats stock car", "pilotes stock car", "agenda"]
KEYWORDS = {"about us": "Numéria", "reprint notice": "droit de copie", "tag list": "stock car"}


def generated_site(articles: int = 50, seed: int = 25) -> list[Page]:
    """Article pages of one site: distinct text, the site's three blocks on every page, a menu and a footer."""
    rng = random.Random(seed)
    words = [w for w in vocabulary(rng, 6000) if len(w) > 2]

    def sentence() -> str:
        return " ".join(rng.choices(words, k=rng.randint(10, 22))).capitalize() + "."

    pages = []
    for n in range(articles):
        title = sentence()[:-1]
        paragraphs = [" ".join(sentence() for _ in range(rng.randint(3, 6))) for _ in range(rng.randint(5, 12))]
        body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        tags = ", ".join(f"<a href='/tag/{k}'>{escape(t)}</a>" for k, t in enumerate(TAGS))
        html = (f"<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
                "<body><header><nav><a href='/'>Accueil</a> <a href='/cloud'>Cloud</a> <a href='/cyber'>Cyber</a>"
                f"</nav></header><main><article><h1>{escape(title)}</h1><p class='reprint'>{REPRINT}</p>{body}"
                f"<p>{ABOUT}</p><div class='tags'>Mots-clés : {tags}</div></article></main>"
                "<footer><p>Mentions légales. Newsletter. Nous contacter.</p></footer></body></html>")
        pages.append(Page(url=f"https://numeria.example/articles/{n}", html=html, truth="\n".join(paragraphs)))
    return pages


def leaks(pages: list[Page], runs: dict[str, Run]) -> None:
    """How many articles match each block's keyword, per extractor."""
    rules = {block: Rule.compile(Topic(name=block.replace(" ", "-"), keywords=[keyword], chats=[1]))
             for block, keyword in KEYWORDS.items()}
    print(f"\narticles (of {len(pages)}) matching a keyword found only in a block the site repeats:")
    print(f"{'':42} " + " ".join(f"{f'{b} ({k!r})':>26}" for b, k in KEYWORDS.items()))
    for name, run in runs.items():
        counts = [sum(bool(match_article([rule], "", text)) for text in run.texts) for rule in rules.values()]
        print(f"{name:42} " + " ".join(f"{c:>26}" for c in counts))


# --- real pages


def real_pages(folder: Path) -> tuple[str, list[Page]]:
    """The set's name and its pages, from either layout (see the module's docstring)."""
    if (folder / "ground-truth.json").exists():
        truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
        pages = [Page(url=item.get("url", ""), truth=item.get("articleBody", ""),
                      html=gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8"))
                 for key, item in sorted(truth.items())]
        return f"Zyte's article-extraction-benchmark ({len(pages)} pages, token 4-grams)", pages
    if (folder / "evaldata.json").exists():
        data = json.loads((folder / "evaldata.json").read_text(encoding="utf-8"))
        pages = [Page(url=url, html=(folder / "eval" / item["file"]).read_bytes(), expected=item.get("with", []),
                      unwanted=item.get("without", []))
                 for url, item in data.items() if (folder / "eval" / item["file"]).exists()]
        return f"trafilatura's evaluation set ({len(pages)} pages, its snippet metric)", pages
    raise SystemExit(f"{folder}: neither ground-truth.json (Zyte's layout) nor evaldata.json (trafilatura's)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench extraction")
    parser.add_argument("--pages", type=Path, action="append", default=[],
                        help="a folder of real pages with their ground truth (repeatable)")
    args = parser.parse_args()
    chosen = extractors()
    crawler.extract.extract(generated_site(1)[0].html, "https://numeria.example/")  # first-call loading
    site = generated_site()
    runs = run_all(site, chosen)
    report(f"Generated site: {len(site)} articles sharing an 'about us' paragraph, a reprint notice and a tag list",
           site, runs)
    leaks(site, runs)
    for folder in args.pages:
        name, pages = real_pages(folder)
        report(name, pages, run_all(pages, chosen))


if __name__ == "__main__":
    main()
