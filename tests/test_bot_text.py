"""The bot's pure parts: what it says, and its flood limit, tested with plain inputs."""

from alerts.access import Refusals, TokenBucket
from alerts.replies import fit, help_text, highlight, language, plain_query, say


def test_language_is_english_only_for_english_speakers() -> None:
    assert [language(c) for c in ("en", "en-US", "EN-gb", "fr", "de", None, "")] == [
        "en", "en", "en", "fr", "fr", "fr", "fr"]
    assert "/latest" in help_text("fr") and "/latest" in help_text("en")


def test_values_are_escaped_wherever_they_go() -> None:
    assert say("fr", "search_none", query="<b>&") == "Aucun résultat pour &lt;b&gt;&amp;."


def test_snippet_hits_are_bold_and_stray_brackets_stay_text() -> None:
    assert highlight("le [cloud] <souverain> [x") == "le <b>cloud</b> &lt;souverain&gt; [x"


def test_an_unreadable_query_is_suggested_as_quoted_words() -> None:
    assert plain_query("l'État AND (") == '"l" "État" "AND"'
    assert plain_query("((") == '"veille"'


def test_long_messages_are_cut_on_a_line() -> None:
    text = fit(["a" * 10] * 10, limit=35)
    assert text == "aaaaaaaaaa\naaaaaaaaaa\naaaaaaaaaa\n…"


def test_long_messages_are_measured_as_telegram_does() -> None:
    """Telegram counts UTF-16 units: a flag is four, so 50 lines of 30 flags hold 6,050 units, not 3,050 characters."""
    text = fit(["🇫🇷" * 30] * 50)
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    assert text.endswith("…")


def test_token_bucket_refills_with_time_and_warns_once_per_flood() -> None:
    now = [0.0]
    bucket = TokenBucket(capacity=2, rate=0.5, clock=lambda: now[0])
    assert [bucket.take(1), bucket.take(1), bucket.take(1)] == [True, True, False]
    assert bucket.take(2), "each user has a bucket"
    assert [bucket.warn(1), bucket.warn(1)] == [True, False]
    now[0] = 2.0  # one token back
    assert [bucket.take(1), bucket.take(1)] == [True, False]
    assert bucket.warn(1), "a new flood is warned again"


def test_a_stranger_is_refused_once() -> None:
    refusals = Refusals()
    assert [refusals.first(5), refusals.first(5), refusals.first(6)] == [True, False, True]
