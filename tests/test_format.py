"""Alert messages: escaped Telegram HTML, hit terms in bold, Paris time, other outlets, never too long."""

from html.parser import HTMLParser
from typing import Any

from alerts.format import TELEGRAM_LIMIT, alert_message
from storage.records import QueuedAlert

TITLE = "Cloud <b>souverain</b> & <script>alert(1)</script> : AT&T <fake-tag>"


class Telegramish(HTMLParser):
    """Reads a message the way Telegram does: the tags it sees and the text shown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def read(html_text: str) -> Telegramish:
    parser = Telegramish()
    parser.feed(html_text)
    return parser


def row(**changes: Any) -> QueuedAlert:
    return QueuedAlert(**{"title": TITLE, "url": "https://example.org/a?x=1&y=<2>", "source": "journal",
                          "published": "2026-11-20T09:05:00+00:00", "topic": "cloud-souverain",
                          "text": "Premier point. Le cloud souverain <i>progresse</i> & vite. Fin.", **changes})


def test_title_with_markup_arrives_as_text() -> None:
    message = alert_message(row(), ["cloud souverain"], "Europe/Paris", ["Le Monde", "L'<Usine>"])
    shown = read(message.html)
    assert set(shown.tags) <= {"a", "b"}, shown.tags
    assert TITLE in shown.text
    assert "L'<Usine>" in shown.text
    assert 'href="https://example.org/a?x=1&amp;y=&lt;2&gt;"' in message.html


def test_message_carries_source_paris_time_topic_snippet_in_bold_and_outlets() -> None:
    message = alert_message(row(), ["cloud souverain"], "Europe/Paris", ["Le Monde"])
    assert "journal · 20/11/2026 10:05" in message.html
    assert "#cloud-souverain" in message.html
    assert "<b>cloud</b> <b>souverain</b> &lt;i&gt;progresse" in message.html
    assert "Premier point" not in message.html, "the snippet is the sentence that matched"
    assert "Le Monde" in message.html
    for part in (TITLE, "journal · 20/11/2026 10:05", "#cloud-souverain", "Le Monde"):
        assert part in message.plain


def test_huge_texts_are_shortened_never_over_the_limit() -> None:
    message = alert_message(row(title="<&>" * 3000, text="cloud " * 5000, url="https://e.org/" + "a" * 5000),
                            ["cloud"], "Europe/Paris", [f"outlet {i}" for i in range(1000)])
    assert len(message.html) <= TELEGRAM_LIMIT
    assert len(read(message.html).text) <= TELEGRAM_LIMIT
    message = alert_message(row(text="cloud " * 5000), ["cloud"], "Europe/Paris",
                            [f"outlet {i}" for i in range(1000)])
    assert len(message.html) <= TELEGRAM_LIMIT


def test_an_elided_keyword_bolds_the_word_not_every_stray_letter() -> None:
    from alerts.format import snippet

    text, spans = snippet("Selon l'ANSSI, la liste est longue.", ["l'ANSSI"])
    assert [text[a:b] for a, b in spans] == ["ANSSI"]
