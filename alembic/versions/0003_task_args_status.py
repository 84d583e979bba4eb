"""task args status: whether the exact args/kwargs of a task are stored, and if not, why

Revision ID: 0003_task_args_status
Revises: 0002_alerting
Create Date: 2026-11-30

`args_json`/`kwargs_json` are written by the durable event source (celery_admin_events records
each task's exact call). `args_status` says what they hold: `exact`, `redacted` (secret-looking
keys masked: not re-sendable as is), `too_large` or `opaque` (not JSON-able), with the reason in
`args_note`. NULL when the task was never seen by the extension.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0003_task_args_status"
down_revision = "0002_alerting"
branch_labels = None
depends_on = None

TASKS = "celery_task_results_ext"


def upgrade() -> None:
    # Plain ALTER TABLE on both dialects: a batch (copy) on SQLite would drop 0002's triggers.
    op.add_column(TASKS, sa.Column("args_status", sa.String(length=16), nullable=True))
    op.add_column(TASKS, sa.Column("args_note", sa.String(length=255), nullable=True))


def downgrade() -> None:
    for column in ("args_note", "args_status"):
        op.execute(f"ALTER TABLE {TASKS} DROP COLUMN {column}")
