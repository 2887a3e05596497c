"""The data behind the bot's buttons: written here, read back here, anything else refused.

Telegram hands back whatever a client puts in a button press, so the data is read as hostile input: a
known action, the right number of fields, small non-negative numbers in ASCII digits, a topic that exists.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

CALLBACK_BYTES = 64  # Telegram's limit on a button's callback data
MAX_OFFSET = 500  # "more" goes up to 100 pages of results, each page a bounded query
_NUMBER = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class Follow:
    """A topic button: this chat follows the topic (on) or stops."""

    topic: str
    on: bool


@dataclass(frozen=True)
class More:
    """A "more" button: the page of the search `search_id` that starts at `offset`."""

    search_id: int
    offset: int


def _fits(data: str) -> bool:
    return len(data.encode(errors="surrogatepass")) <= CALLBACK_BYTES


def follow_data(topic: str, *, on: bool) -> str | None:
    """The data of a topic's button; None when Telegram would not take it (too long a name)."""
    data = f"{'sub' if on else 'unsub'}:{topic}"
    return data if _fits(data) else None


def more_data(search_id: int, offset: int) -> str | None:
    """The data of a "more" button; None past the last offset the bot serves."""
    return f"more:{search_id}:{offset}" if 0 <= offset <= MAX_OFFSET else None


def parse(data: str | None, topics: Iterable[str]) -> Follow | More | None:
    """What a press asks for, or None for data the bot never writes."""
    if not data or not _fits(data):
        return None
    action, _, rest = data.partition(":")
    if action in ("sub", "unsub"):
        return Follow(rest, on=action == "sub") if rest in set(topics) else None
    fields = rest.split(":")
    if action == "more" and len(fields) == 2 and all(_NUMBER.fullmatch(f) for f in fields):
        search_id, offset = int(fields[0]), int(fields[1])
        if search_id >= 1 and offset <= MAX_OFFSET:
            return More(search_id, offset)
    return None
