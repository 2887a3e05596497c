"""veille: a news-monitoring crawler and Telegram alerting bot (the shell: config, CLI, service)."""

__version__ = "0.1.0"
