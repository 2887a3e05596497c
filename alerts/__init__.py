"""Deciding and telling: topic rules and matcher, message formatting, dispatcher, the Telegram bot."""
