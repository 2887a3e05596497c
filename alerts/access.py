"""Who may talk to the bot, and how fast: the chat allow-list, one refusal per stranger, a flood limit,
and who may change what a whole group receives."""

import logging
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden

from alerts.config import TelegramConfig, Topic

log = logging.getLogger("veille.bot")
GROUP_ADMINS = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})


def known_chats(telegram: TelegramConfig, topics: Iterable[Topic]) -> set[int]:
    """The chats config.yaml lets in: those named in topics, allowed_chats and the admins' own chats."""
    chats = set(telegram.allowed_chats) | set(telegram.admins)
    for topic in topics:
        chats |= {chat for chat in topic.chats if isinstance(chat, int)}  # Apprise URLs are no chats
    return chats


@dataclass
class Refusals:
    """Remembers whom the bot already turned away, so that a stranger is told once, not per message."""

    told: set[int] = field(default_factory=set)

    def first(self, chat_id: int) -> bool:
        """True the first time this chat is refused."""
        if chat_id in self.told:
            return False
        self.told.add(chat_id)
        return True


@dataclass
class TokenBucket:
    """Per-user flood limit: a burst of `capacity` updates, then `rate` per second.

    `take` says whether an update may go through; `warn` is True once per flood, so that the user is
    told to slow down a single time.
    """

    capacity: float = 8.0
    rate: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _tokens: dict[int, tuple[float, float]] = field(default_factory=dict)
    _warned: set[int] = field(default_factory=set)

    def take(self, user_id: int) -> bool:
        """Spend one token of this user's bucket; False when it is empty."""
        now = self.clock()
        tokens, last = self._tokens.get(user_id, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._tokens[user_id] = (tokens, now)
            return False
        self._tokens[user_id] = (tokens - 1, now)
        self._warned.discard(user_id)
        return True

    def warn(self, user_id: int) -> bool:
        """True the first time in a flood that this user is held back."""
        if user_id in self._warned:
            return False
        self._warned.add(user_id)
        return True


async def manages_chat(update: Update, admins: Collection[int]) -> bool:
    """Whether the sender may change what this whole chat receives.

    Anyone in their private chat; veille's admins anywhere; in a group, its creator and administrators,
    as Telegram tells them (getChatMember), including an anonymous administrator.
    """
    chat, user, message = update.effective_chat, update.effective_user, update.message
    if chat is None:
        return False
    if chat.type == ChatType.PRIVATE or (user is not None and user.id in admins):
        return True
    if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True  # Telegram sends an anonymous administrator's messages as from the group itself
    if user is None:
        return False
    try:
        member = await update.get_bot().get_chat_member(chat.id, user.id)
    except (BadRequest, Forbidden) as exc:
        log.warning("cannot tell whether user %s administers chat %s: %s", user.id, chat.id, exc.message)
        return False
    return member.status in GROUP_ADMINS
