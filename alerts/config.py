"""The `alerts:`, `topics:` and `telegram:` sections of config.yaml."""

import hashlib
import json
import os
from datetime import timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from alerts.query import QuerySyntaxError, Term, parse
from storage.units import Duration

DEFAULT_API_URL = "https://api.telegram.org/bot"


class AlertsConfig(BaseModel):
    """When to alert."""

    model_config = ConfigDict(extra="forbid")

    max_age: Duration = timedelta(hours=48)
    timezone: str = "Europe/Paris"


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
    chats: list[int] = Field(default_factory=list)

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

    def resolved_token(self) -> str | None:
        """TELEGRAM_BOT_TOKEN, else telegram.token, else None (console delivery)."""
        token = os.environ.get("TELEGRAM_BOT_TOKEN") or (self.token.get_secret_value() if self.token else "")
        return token.strip() or None

    def resolved_api_url(self) -> str:
        """TELEGRAM_API_URL, else telegram.api_url."""
        return os.environ.get("TELEGRAM_API_URL") or self.api_url
