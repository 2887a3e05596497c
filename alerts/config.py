"""The `alerts:`, `topics:` and `telegram:` sections of config.yaml."""

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import apprise
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    field_validator,
    model_validator,
)

from alerts.schedule import Digest, QuietHours
from storage.query import QuerySyntaxError, Term, parse
from storage.units import Duration

DigestSchedule = Annotated[Digest, BeforeValidator(Digest.parse), PlainSerializer(str)]
QuietWindow = Annotated[QuietHours, BeforeValidator(QuietHours.parse), PlainSerializer(str)]

DEFAULT_API_URL = "https://api.telegram.org/bot"


_VARIABLE = re.compile(r"\$\{(\w+)\}")


def expand(url: str) -> str:
    """The URL with each `${NAME}` replaced by that environment variable; ValueError naming one not set."""
    def value(match: re.Match[str]) -> str:
        if match[1] not in os.environ:
            raise ValueError(f"${{{match[1]}}} is not set in the environment")
        return os.environ[match[1]]
    return _VARIABLE.sub(value, url)


def check(url: str) -> str:
    """The URL if Apprise knows how to send to it (parsed, nothing sent); ValueError otherwise."""
    if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
        raise ValueError(f"{masked(url)!r} is not an Apprise URL that can be sent to (see docs/channels.md)")
    return url


def masked(url: int | str) -> str:
    """A recipient as logs and `veille status` show it: a chat id as it is, a URL without its secrets."""
    if isinstance(url, int):
        return str(url)
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is not None:  # without the query: Apprise's defaults, its own secrets masked, only blur it
        return str(plugin.url(privacy=True)).partition("?")[0]
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***" if rest else "***"


def _recipient(value: object) -> int | str:
    """A Telegram chat id as it is, or an Apprise URL with its `${VARIABLES}` expanded and checked."""
    if isinstance(value, str) and "://" in value:
        return check(expand(value.strip()))
    if isinstance(value, bool):
        raise ValueError("a recipient is a Telegram chat id or an Apprise URL")
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is neither a Telegram chat id nor an Apprise URL (scheme://...)") from None


# where alerts go: a Telegram chat id (the bot), or an Apprise URL (mailtos://, matrixs://, json://...)
Recipient = Annotated[int | str, BeforeValidator(_recipient)]


class ChatDelivery(BaseModel):
    """How one recipient wants its alerts, overriding `alerts:` and the topic (under `telegram.chats:` for a
    Telegram chat, `alerts.recipients:` for any address)."""

    model_config = ConfigDict(extra="forbid")

    digest: DigestSchedule | None = None
    quiet_hours: QuietWindow | None = None
    max_per_hour: int | None = Field(default=None, ge=1)


class AlertsConfig(BaseModel):
    """When to alert."""

    model_config = ConfigDict(extra="forbid")

    max_age: Duration = timedelta(hours=48)
    timezone: str = "Europe/Paris"
    digest: DigestSchedule | None = None
    quiet_hours: QuietWindow | None = None
    max_per_hour: int | None = Field(default=30, ge=1)
    recipients: dict[Recipient, ChatDelivery] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
            raise ValueError(f"{name!r} is not a time zone: write it like Europe/Paris") from None
        return name


class Topic(BaseModel):
    """Terms that make an article worth telling these chats about, and where to look for them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    require: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    query: str | None = None
    fields: list[Literal["title", "text"]] = Field(default_factory=lambda: ["title", "text"])  # type: ignore[arg-type]
    sources: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    chats: list[Recipient] = Field(default_factory=list)
    digest: DigestSchedule | None = None

    @field_validator("keywords", "require", "exclude", "sources", "languages")
    @classmethod
    def _no_blank_terms(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if not str(term).strip():
                raise ValueError("an entry cannot be empty")
        return [str(t) for t in terms]

    @model_validator(mode="after")
    def _is_a_valid_rule(self) -> Self:
        if not self.keywords and not (self.query or "").strip():
            raise ValueError(f"topic {self.name!r} is empty: give it keywords or a query")
        if not self.fields:
            raise ValueError(f"topic {self.name!r}: fields cannot be empty (title, text)")
        try:
            for key in ("keywords", "require", "exclude"):
                for term in getattr(self, key):
                    try:
                        Term.of(term)
                    except QuerySyntaxError as exc:
                        raise QuerySyntaxError(f"{key}: {exc}") from None
            if self.query is not None:
                try:
                    parse(self.query)
                except QuerySyntaxError as exc:
                    raise QuerySyntaxError(f"query: {exc}") from None
        except QuerySyntaxError as exc:
            raise ValueError(f"topic {self.name!r}: {exc}") from None
        return self

    def rule_json(self) -> str:
        """What decides matches (not the name, description or chats), as canonical JSON."""
        return json.dumps(self.model_dump(include={"keywords", "require", "exclude", "query", "fields",
                                                   "sources", "languages"}),
                          ensure_ascii=False, sort_keys=True)

    def fingerprint(self) -> str:
        """A short hash of rule_json: two topics with the same fingerprint match the same articles."""
        return hashlib.sha256(self.rule_json().encode()).hexdigest()[:12]


class TelegramConfig(BaseModel):
    """How to reach Telegram; the token and API URL come from the environment when set there."""

    model_config = ConfigDict(extra="forbid")

    token: SecretStr | None = None
    api_url: str = DEFAULT_API_URL
    timeout: Duration = timedelta(seconds=20)
    allowed_chats: list[int] = Field(default_factory=list)
    admins: list[int] = Field(default_factory=list)
    chats: dict[Recipient, ChatDelivery] = Field(default_factory=dict)

    def resolved_token(self) -> str | None:
        """TELEGRAM_BOT_TOKEN, else telegram.token, else None (console delivery)."""
        token = os.environ.get("TELEGRAM_BOT_TOKEN") or (self.token.get_secret_value() if self.token else "")
        return token.strip() or None

    def resolved_api_url(self) -> str:
        """TELEGRAM_API_URL, else telegram.api_url."""
        return os.environ.get("TELEGRAM_API_URL") or self.api_url


@dataclass(frozen=True)
class Policy:
    """What applies to one (chat, topic): a digest or not, quiet hours, the hourly cap."""

    digest: Digest | None = None
    quiet_hours: QuietHours | None = None
    max_per_hour: int | None = None


@dataclass(frozen=True)
class DeliveryRules:
    """The delivery settings of the whole config, to look up the policy of a chat and topic."""

    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    topic_digests: dict[str, Digest] = field(default_factory=dict)
    chats: dict[int | str, ChatDelivery] = field(default_factory=dict)

    @classmethod
    def build(cls, alerts: AlertsConfig, topics: list[Topic], telegram: TelegramConfig) -> "DeliveryRules":
        """Gather the `digest:`, `quiet_hours:` and `max_per_hour:` keys from where they are written."""
        return cls(alerts=alerts, chats={**telegram.chats, **alerts.recipients},
                   topic_digests={t.name: t.digest for t in topics if t.digest is not None})

    def policy(self, chat_id: int | str, topic: str) -> Policy:
        """The chat's own setting, else the topic's (digest only), else the `alerts:` default."""
        chat = self.chats.get(chat_id) or ChatDelivery()
        return Policy(
            digest=chat.digest or self.topic_digests.get(topic) or self.alerts.digest,
            quiet_hours=chat.quiet_hours or self.alerts.quiet_hours,
            max_per_hour=chat.max_per_hour or self.alerts.max_per_hour)
