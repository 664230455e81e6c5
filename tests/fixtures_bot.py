"""Fixtures owned by the bot part (see docs/architecture.md)."""
