"""Alembic environment: migrations run on the connection the store hands over (see bot.store).

The store calls ``alembic.command.upgrade`` with ``config.attributes["connection"]`` set to a
synchronous connection inside its own transaction (on PostgreSQL the asyncio engine's
``run_sync`` facade), so a migration commits together with nothing else and replicas starting
together take turns on the store's schema lock. Offline (SQL script) mode is not supported.
"""

from __future__ import annotations

from alembic import context

from bot.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the store always passes its connection
    raise RuntimeError("run the migrations through bot.store.FavoritesStore.open")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
