"""Stable movie identity next to each stored movie, the catalog the ids refer to, imports.

Revision ID: 0003
Revises: 0002

``favorites`` and ``marks`` get ``identity`` (:meth:`recsys.identity.MovieIdentity.encode`),
``release`` (the release that identity was taken from), ``missing`` (the movie is not in the
loaded catalog: kept, hidden, its ``movie_id`` a negative placeholder), ``reported`` (the chat was
told it is missing) and ``import_id`` (the import that added it, for "Undo import"). The rows of
an existing database get their identity at the next start, from the catalog loaded then
(:meth:`bot.store.FavoritesStore.align_catalog`); ``store_catalog`` records which catalog the
stored movie ids refer to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

_TABLES = ("favorites", "marks")


def upgrade() -> None:
    """Add the identity columns (empty until the next start) and ``store_catalog``."""
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("identity", sa.Text, nullable=True))
            batch.add_column(sa.Column("release", sa.String(64), nullable=True))
            batch.add_column(
                sa.Column("missing", sa.Boolean, nullable=False, server_default=sa.false())
            )
            batch.add_column(
                sa.Column("reported", sa.Boolean, nullable=False, server_default=sa.false())
            )
            batch.add_column(sa.Column("import_id", sa.BigInteger, nullable=True))
    op.create_table(
        "store_catalog",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("release", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop them (movie ids of missing rows are negative placeholders: delete those first)."""
    op.drop_table("store_catalog")
    for table in _TABLES:
        op.execute(sa.text(f"DELETE FROM {table} WHERE missing"))
        with op.batch_alter_table(table) as batch:
            for column in ("import_id", "reported", "missing", "release", "identity"):
                batch.drop_column(column)
