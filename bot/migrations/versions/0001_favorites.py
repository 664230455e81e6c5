"""Favorites and applied updates: the schema every release before migrations created.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two tables of the first release (a database made by it is stamped 0001)."""
    op.create_table(
        "applied_updates",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("applied_at", sa.DateTime, nullable=False),
        sa.Column("result", sa.Integer, nullable=False),
    )
    op.create_index("ix_applied_updates_applied_at", "applied_updates", ["applied_at"])
    op.create_table(
        "favorites",
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("movie_id", sa.Integer, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "movie_id", name="favorites_pkey"),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("favorites")
    op.drop_index("ix_applied_updates_applied_at", "applied_updates")
    op.drop_table("applied_updates")
