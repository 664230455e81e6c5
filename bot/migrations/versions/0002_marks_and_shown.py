"""Dislikes and seen movies (marks), and the recommendation list each chat was shown.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``marks`` and ``shown_lists``; favorites are untouched."""
    op.create_table(
        "marks",
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("movie_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "movie_id", name="marks_pkey"),
    )
    op.create_table(
        "shown_lists",
        sa.Column("chat_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("serial", sa.Integer, nullable=False),
        sa.Column("query", sa.String(200), nullable=False),
        sa.Column("movies", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop the two tables (favorites stay)."""
    op.drop_table("shown_lists")
    op.drop_table("marks")
