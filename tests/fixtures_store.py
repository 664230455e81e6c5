"""Fixtures owned by the store part (see docs/architecture.md)."""
