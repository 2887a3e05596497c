"""The typed records storage hands to the other rooms (rather than rows named after columns)."""

from dataclasses import dataclass

# where an alert goes: a Telegram chat id, or an Apprise URL (mailto://, matrixs://, json://...)
Address = int | str


def address(value: int | str) -> Address:
    """An address as a TEXT column holds it, back to what it is: a chat id's digits become the integer."""
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


@dataclass(frozen=True)
class QueuedAlert:
    """One outbox row due to be sent: the article as the alert shows it, the topic and the words it matched.

    `id` is the outbox row's, `attempts` how many sends failed before; `url` is the canonical link; `text` the
    one the topics matched, without the site's boilerplate (the snippet is quoted from it).
    """

    title: str
    url: str
    source: str
    topic: str
    published: str | None = None
    text: str = ""
    terms: tuple[str, ...] = ()
    id: int = 0
    chat_id: Address = 0
    story_id: int = 0
    article_id: int = 0
    attempts: int = 0
    queued_at: str = ""
