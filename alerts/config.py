"""The `alerts:`, `topics:` and `telegram:` sections of config.yaml."""

import os
from datetime import timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from storage.units import Duration

DEFAULT_API_URL = "https://api.telegram.org/bot"


class AlertsConfig(BaseModel):
    """When to alert."""

    model_config = ConfigDict(extra="forbid")

    max_age: Duration = timedelta(hours=48)
    timezone: str = "Europe/Paris"


class Topic(BaseModel):
    """Keywords that make an article worth telling these chats about."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    require: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    chats: list[int] = Field(default_factory=list)

    @field_validator("keywords", "require", "exclude")
    @classmethod
    def _no_blank_terms(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if not str(term).strip():
                raise ValueError("a term cannot be empty")
        return [str(t) for t in terms]

    @model_validator(mode="after")
    def _has_keywords(self) -> Self:
        if not self.keywords:
            raise ValueError(f"topic {self.name!r} has no keywords: give at least one")
        return self


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
