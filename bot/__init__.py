"""The Telegram bot, its favorites store, texts and offline console."""
