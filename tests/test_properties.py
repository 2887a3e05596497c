"""Properties that hold for any input: URLs, topic rules and matching, config files, Telegram messages.

Deterministic in CI (profile `ci`: derandomized, no example database). For a long local session:

    HYPOTHESIS_PROFILE=fuzz .venv/bin/python -m pytest -p no:timeout tests/test_properties.py
    (20,000 examples per property; HYPOTHESIS_EXAMPLES=N for another number)

Each input that once broke a property is kept as an `@example`.
"""

import copy
import os
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from alerts.config import Topic
from alerts.digest import digest_heading, folded_heading, summary
from alerts.format import TELEGRAM_LIMIT, alert_message
from alerts.matcher import Matcher, Rule, match_article
from crawler.canonical import TRACKING, article_url, canonical_url, tracking_params
from storage.query import QuerySyntaxError, Term, parse, positive
from storage.records import QueuedAlert
from storage.text import fold, words
from tests.conftest import run_veille
from veille.config import KNOWN_KEYS, Config, ConfigError, load
from veille.config import parse as parse_config

settings.register_profile("ci", max_examples=200, derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
FUZZ_EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "20000"))
settings.register_profile("fuzz", max_examples=FUZZ_EXAMPLES, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

SHIPPED = Path(__file__).parent.parent / "config.yaml"


def long(text: st.SearchStrategy[str], most: int = 3000) -> st.SearchStrategy[str]:
    """Short strings, and sometimes one repeated into a very long one."""
    return text | st.builds(lambda s, n: s * n, text.filter(bool), st.integers(1, most))


EMOJI = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
NASTY = st.sampled_from([*"<>&\"' \n\t*()#;:/?%=.,'’-_\u0301ßŒﬁİǅℌΣ²٣\u200b", "&amp;", "&lt;", "<b>", "</a>"])
# text without surrogates (which no UTF-8 source can hold), with markup, emoji and letters that fold oddly
TEXT = st.lists(st.characters(exclude_categories=["Cs"]) | EMOJI | NASTY, max_size=30).map("".join)

# ── URLs ──────────────────────────────────────────────────────────────────────────────────────────────────
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
IDN_LABEL = st.text(st.characters(categories=["Ll", "Lu", "Lo", "Nd"]), min_size=1, max_size=8)
HOST = st.one_of(
    st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(LABEL | IDN_LABEL, min_size=1, max_size=3),
              st.sampled_from(["fr", "com", "FR", "eu", "co.uk", "github.io", "gouv.fr", "xn--p1ai", "рф"])),
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.sampled_from(["", "localhost", "[::1", "::1]", "[]", "a..b", "-a.fr", "example.fr.", "EXAMPLE.FR", "x_y.fr"]),
    TEXT)
PORT = st.none() | st.integers(0, 70_000).map(str) | st.sampled_from(["", "abc", "-1", "٣", "80", "443", " 1"])
PCT = st.from_regex(r"%[0-9A-Fa-f]{2}", fullmatch=True) | st.sampled_from(["%", "%z", "%zz", "%2", "%25", "%00"])
PIECE = TEXT | PCT | st.sampled_from([".", "..", ";", "=", "+", "~", " ", "/", "?", "#", "&"])
SEGMENT = st.lists(PIECE, max_size=4).map("".join)
PARAM = st.sampled_from(["utm_source", "UTM_Medium", "fbclid", "gclid", "xtor", "at_medium", "id", "page", "from",
                         "utm%5Fsource", "a", ""]) | TEXT
QUERY = st.lists(st.tuples(PARAM, st.none() | SEGMENT), max_size=5).map(
    lambda pairs: "&".join(k if v is None else f"{k}={v}" for k, v in pairs))
SCHEME = st.sampled_from(["http", "https", "HTTP", "HtTpS", "ftp", "mailto", "javascript", "data", "file", ""])


@st.composite
def url_shaped(draw: st.DrawFn) -> str:
    """URLs as feeds write them, well-formed or not: schemes, user info, IDN and IP hosts, ports, escapes."""
    scheme, host, port = draw(SCHEME), draw(HOST), draw(PORT)
    user = draw(st.none() | st.sampled_from(["user@", "u:p@", "@", "a@b@"]))
    path = "/" + "/".join(draw(st.lists(SEGMENT, max_size=4)))
    query = draw(QUERY)
    fragment = draw(st.none() | SEGMENT)
    return (f"{scheme}://" if scheme else draw(st.sampled_from(["//", "", "///"]))) + (user or "") + host + (
        f":{port}" if port is not None else "") + path + (f"?{query}" if query or draw(st.booleans()) else "") + (
        f"#{fragment}" if fragment is not None else "")


ANY_URL = st.one_of(TEXT, url_shaped(), urls())


@given(ANY_URL, st.lists(PARAM, max_size=3))
@example("http://[::1", [])  # urlsplit: Invalid IPv6 URL
@example("http://example.fr:abc/", [])  # .port: could not be cast to integer
@example("http://example.fr:99999/", [])  # .port: out of range
@example("http://[::1]:8080/a", [])  # the host lost its brackets: "http://::1:8080/a"
@example("http://0.0.0.0/%2%31", [])  # w3lib decodes %31 and makes %21, which the next pass decodes
@example("http://////", [])  # an empty host and a path starting with // : a host on the next pass
@example("http://0.fr:65536/ ?", [])  # a bad port (kept): the path must still be normalised
def test_canonical_url_never_raises_and_is_idempotent(url: str, extra: list[str]) -> None:
    tracking = tracking_params(extra)
    once = canonical_url(url, tracking)
    assert canonical_url(once, tracking) == once
    if once.startswith(("http://", "https://")):
        assert not any(TRACKING.match(k) or k.lower() in tracking for k in _query_keys(once))


def _query_keys(url: str) -> list[str]:
    from urllib.parse import parse_qsl, urlsplit

    try:
        return [k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)]
    except ValueError:  # not a URL urlsplit can read: canonical_url keeps it as written
        return []


@given(ANY_URL, st.none() | ANY_URL)
@example("http://example.fr/a", "http://[::1")  # same_site on a canonical with a broken host
@example("http:////@", None)  # w3lib reads the path //@ as an empty user name
@example("http:///.//", None)  # w3lib resolves /./ and leaves // after an empty host
def test_article_url_never_raises_and_is_canonical(link: str, page_canonical: str | None) -> None:
    chosen = article_url(link, page_canonical)
    assert canonical_url(chosen) == chosen


# ── topic rules and matching ──────────────────────────────────────────────────────────────────────────────
OPERATORS = st.sampled_from(["AND", "OR", "NOT", "NEAR", "NEAR(", "(", ")", ",", '"', "*", "²", "10", "l'", "-",
                             "cloud", "souverain*", '"cloud souverain"', "Gaïa-X", "", "  "])
QUERY_TEXT = TEXT | st.lists(OPERATORS | TEXT, max_size=12).map(" ".join) | st.lists(OPERATORS, max_size=12).map(
    "".join)


@given(QUERY_TEXT)
@example("NEAR(a b, ²)")  # isdigit() accepts '²', int() does not: a bare ValueError
@example("(" * 5000 + "a" + ")" * 5000)  # RecursionError
@example("NOT " * 5000 + "a")  # RecursionError
def test_query_parser_raises_only_its_own_one_line_error(query: str) -> None:
    try:
        node = parse(query)
    except QuerySyntaxError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert positive(node)


WORD = st.from_regex(r"[a-zéèàçœ0-9]{1,8}", fullmatch=True).filter(lambda w: w.upper() not in ("AND", "OR", "NOT"))
QUERY_TERM = st.one_of(WORD, WORD.map(lambda w: w + "*"), st.lists(WORD, min_size=1, max_size=3).map(
    lambda ws: '"' + " ".join(ws) + '"'), st.lists(WORD, min_size=2, max_size=3).map("-".join))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, children).map(" AND ".join), st.tuples(children, children).map(" OR ".join),
        st.tuples(children, children).map(" ".join), children.map(lambda q: f"({q})"),
        st.tuples(children, children).map(" NOT ".join),
        st.builds(lambda ts, n: f"NEAR({' '.join(ts)}{'' if n is None else f', {n}'})",
                  st.lists(QUERY_TERM, min_size=2, max_size=3), st.none() | st.integers(0, 50)))


VALID_QUERY = st.recursive(QUERY_TERM, _combine, max_leaves=8)


@given(VALID_QUERY, long(TEXT, 200), long(TEXT, 200))
def test_generated_queries_parse_and_match_any_text_without_raising(query: str, title: str, text: str) -> None:
    assert positive(parse(query))
    rule = Rule.compile(Topic(name="t", query=query, keywords=["cloud"], exclude=["football"]))
    Matcher([rule]).match(title, text, {"source": "s", "language": "fr"})


@given(TEXT)
@example("ℌ")  # NFKD gives 'H', which casefold had already passed
@example("ǅ")
@example("ǣ")  # NFKD gives æ, a ligature
def test_folding_is_stable(text: str) -> None:
    assert fold(fold(text)) == fold(text)
    assert words(fold(text)) == words(text)


def _keyword(text: str) -> bool:
    try:
        Term.of(text)
    except QuerySyntaxError:
        return False
    return bool(text.strip())


@given(TEXT.filter(_keyword), TEXT, TEXT, st.sampled_from(["title", "text"]))
@example("ℌ", "", "", "text")
def test_a_keyword_matches_a_text_that_contains_it_verbatim_or_folded(keyword: str, before: str, after: str,
                                                                       field: str) -> None:
    rules = [Rule.compile(Topic(name="t", keywords=[keyword]))]
    for written in (keyword, fold(keyword)):
        content = f"{before} {written} {after}"
        title, text = (content, "") if field == "title" else ("", content)
        assert match_article(rules, title, text), (written, content)


# ── config files ──────────────────────────────────────────────────────────────────────────────────────────
KEY = st.sampled_from(sorted(KNOWN_KEYS)) | TEXT
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT, st.sampled_from([
    "15m", "1e400", "99999999999999999d", "9" * 400 + "MB", "10MB", "Europe/Paris", "a" * 300, "*/5 * * * *",
    "https://example.org/rss.xml", "daily 08:00", "22:00-07:00", "a{99999999999}"]))


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(KEY | st.integers(), children, max_size=4)


YAML_DATA = st.recursive(SCALAR, _containers, max_leaves=12)


def check_config_outcome(data: object, path: Path) -> None:
    """A Config, or ConfigError whose problems are each one line naming a key path."""
    try:
        result = parse_config(data, path)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem and "\n" not in problem and ": " in problem, problem
    else:
        assert isinstance(result, Config)


@given(YAML_DATA | st.dictionaries(st.sampled_from(list(Config.model_fields)), YAML_DATA, max_size=4))
@example({"crawl": {"interval": 1e300}})  # timedelta overflow
@example({"crawl": {"timeout": "99999999999999999d"}})
@example({"alerts": {"timezone": "a" * 300}})
@example({"sources": [{"name": "a", "feed": "https://e.org/", "match": "a{99999999999}"}]})
@example({"topics": [{"name": "t", "query": "(" * 5000 + "a" + ")" * 5000}]})
@example({"crawl": {"max_bytes": "9" * 400 + "MB"}})  # int(inf): OverflowError
@example({"\n": 1})  # a key with a line break made a problem of two lines
def test_any_yaml_data_gives_a_config_or_one_line_errors(data: object) -> None:
    check_config_outcome(data, Path("config.yaml"))


SHIPPED_DATA = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


@st.composite
def mutated_shipped_config(draw: st.DrawFn) -> Any:
    """The shipped config.yaml with a few changes: a value of the wrong type, a key unknown or missing."""
    data = copy.deepcopy(SHIPPED_DATA)
    for _ in range(draw(st.integers(1, 3))):
        node: Any = data
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node, key=str) if isinstance(node, dict) else range(len(node))))
            if not isinstance(node[key], dict | list):
                break
            node = node[key]
        if not isinstance(node, dict | list) or not node:
            continue
        key = draw(st.sampled_from(sorted(node, key=str) if isinstance(node, dict) else range(len(node))))
        action = draw(st.sampled_from(["replace", "delete", "unknown"]))
        if action == "replace":
            node[key] = draw(YAML_DATA)
        elif action == "delete":
            del node[key]
        elif isinstance(node, dict):
            node[draw(KEY)] = draw(YAML_DATA)
    return data


@given(mutated_shipped_config())
def test_a_mutated_shipped_config_gives_a_config_or_one_line_errors(data: object) -> None:
    check_config_outcome(data, SHIPPED)


def _write(directory: Path, document: str) -> Path:
    path = directory / "config.yaml"
    path.write_text(document, encoding="utf-8")
    return path


@given(st.text(max_size=200) | YAML_DATA.map(lambda d: yaml.safe_dump(d, allow_unicode=True)))
@example("a: \x00")  # a reader error: a message of several lines
@example("{a: [b}")
def test_any_yaml_document_loads_or_says_why_in_one_line(document: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = _write(Path(directory), document)
        try:
            load(path)
        except ConfigError as exc:
            assert exc.problems and all(p and "\n" not in p for p in exc.problems), exc.problems
            assert "\n" not in str(exc)


@settings(max_examples=2 if PROFILE == "ci" else 40)
@given(mutated_shipped_config().map(lambda d: yaml.safe_dump(d, allow_unicode=True)) | st.sampled_from([
    "crawl: {interval: 1e400}\n", "alerts: {timezone: " + "a" * 300 + "}\n", "a: \x00\n"]))
def test_config_check_exits_with_one_line_per_problem_and_no_traceback(document: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = _write(Path(directory), document)
        result = run_veille("config", "check", "--config", str(path))
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1), result.stderr
    if result.returncode:
        lines = result.stderr.strip().split("\n")
        assert lines[0].startswith(f"Error: {path}: ")
        assert all(line.startswith(f"{path}: ") for line in lines[1:]), lines


# ── Telegram messages ─────────────────────────────────────────────────────────────────────────────────────
# https://core.telegram.org/bots/api#html-style: the tags and attributes Telegram reads; nothing else is allowed
TELEGRAM_TAGS = {"b": set(), "strong": set(), "i": set(), "em": set(), "u": set(), "ins": set(), "s": set(),
                 "strike": set(), "del": set(), "span": {"class"}, "tg-spoiler": set(), "a": {"href"},
                 "tg-emoji": {"emoji-id"}, "code": {"class"}, "pre": set(), "blockquote": {"expandable"}}
TELEGRAM_ENTITIES = {"lt", "gt", "amp", "quot"}


class TelegramHTML(HTMLParser):
    """Checks a message as Telegram's HTML parse mode would read it, and collects the text it shows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in TELEGRAM_TAGS, tag
        assert {name for name, _ in attrs} <= TELEGRAM_TAGS[tag], (tag, attrs)
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"

    def handle_data(self, data: str) -> None:
        assert not set(data) & set("<>&"), data
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        assert name in TELEGRAM_ENTITIES, name
        self.text.append({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}[name])

    def handle_charref(self, name: str) -> None:
        self.text.append(chr(int(name[1:], 16) if name[0] in "xX" else int(name)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise AssertionError(f"<{tag}/>: Telegram has no self-closing tags")

    def handle_comment(self, data: str) -> None:
        raise AssertionError("a comment")


def assert_valid_telegram_html(message: str) -> None:
    """Only Telegram's tags, nested, entities escaped, and at most 4096 UTF-16 units of text once parsed."""
    parser = TelegramHTML()
    parser.feed(message)
    parser.close()
    assert not parser.open, f"unclosed {parser.open}"
    assert not parser.rawdata, f"unparsed {parser.rawdata[:50]!r}"
    shown = "".join(parser.text)
    assert shown.strip(), "Telegram refuses an empty message"
    assert len(shown.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT


WHEN = st.none() | st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()) | TEXT
ROW = st.fixed_dictionaries({"title": long(TEXT), "url": long(ANY_URL), "source": long(TEXT, 500),
                             "published": WHEN, "text": long(TEXT), "topic": long(TEXT, 500)})


@given(ROW, st.lists(TEXT | WORD, max_size=4), st.lists(long(TEXT, 300), max_size=15))
@example({"title": "🎉" * 4000, "url": "https://e.org/", "source": "s", "published": None, "text": "", "topic": "t"},
         [], [])
@example({"title": "t", "url": "https://e.org/", "source": "s" * 5000, "published": None, "text": "", "topic": "t"},
         [], [])  # the head alone was over the limit
@example({"title": "t", "url": "https://e.org/", "source": "s", "published": "9999-12-31T23:59:59-05:00", "text": "",
          "topic": "t"}, [], [])  # OverflowError: past the calendar once in Paris time
def test_an_alert_is_valid_telegram_html_within_the_limit(row: dict[str, Any], terms: list[str],
                                                           also_in: list[str]) -> None:
    assert_valid_telegram_html(alert_message(QueuedAlert(**row), terms, "Europe/Paris", also_in).html)


SUMMARY_ROW = st.fixed_dictionaries({"story_id": st.integers(1, 5), "title": long(TEXT, 500),
                                     "url": long(ANY_URL, 500), "source": long(TEXT, 200), "published": WHEN,
                                     "topic": long(TEXT, 200)})


@given(st.lists(SUMMARY_ROW, max_size=20), st.integers(1, 10_000), st.booleans())
@example([{"story_id": 1, "title": "🎉" * 300, "url": "https://e.org/" + "🎉" * 2000, "source": "s",
           "published": None, "topic": "t"}], 1, True)  # emoji count 2 UTF-16 units
@example([{"story_id": 1, "title": "t", "url": "u", "source": "s" * 5000, "published": "9999-12-31T23:59:59-05:00",
           "topic": "t"}], 1, True)
def test_a_digest_is_valid_telegram_html_within_the_limit_and_covers_every_row(
        rows: list[dict[str, Any]], count: int, digest: bool) -> None:
    alerts = [QueuedAlert(**row, id=i) for i, row in enumerate(rows)]
    parts = summary(alerts, digest_heading(count) if digest else folded_heading(count), "Europe/Paris")
    for part in parts:
        assert_valid_telegram_html(part.message.html)
    delivered = [i for part in parts for i in part.row_ids]
    assert sorted(delivered) == [alert.id for alert in alerts]
