"""Fixtures owned by the engine part (see docs/architecture.md)."""
