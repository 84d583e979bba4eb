"""audit rows carry flags (a super_admin acting from a subject or IP not seen for N days)

Revision ID: 0004_identity
Revises: 0003_task_args_status
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_identity"
down_revision = "0003_task_args_status"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("celery_audit_logs") as batch:
        batch.add_column(sa.Column("flags", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("celery_audit_logs") as batch:
        batch.drop_column("flags")
