"""the seed's four tables

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _create_audit_logs()
    _create_monitoring_snapshots()
    _create_system_config()
    _create_task_results_ext()
    _create_monitoring_alerts()


def _create_audit_logs() -> None:
    op.create_table('celery_audit_logs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('subject', sa.String(length=255), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=512), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('request', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('response', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('state_before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('state_after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('observed', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=512), nullable=True),
    sa.Column('duration_ms', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_celery_audit_logs'))
    )
    with op.batch_alter_table('celery_audit_logs', schema=None) as batch_op:
        batch_op.create_index('ix_audit_action_created', ['action', 'created_at'], unique=False)
        batch_op.create_index('ix_audit_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_outcome_created', ['outcome', 'created_at'], unique=False)
        batch_op.create_index('ix_audit_subject_created', ['subject', 'created_at'], unique=False)
        batch_op.create_index('ix_audit_target', ['target'], unique=False)


def _create_monitoring_snapshots() -> None:
    op.create_table('celery_monitoring_snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workers_online', sa.Integer(), nullable=False),
    sa.Column('tasks_active', sa.Integer(), nullable=False),
    sa.Column('queued_total', sa.Integer(), nullable=False),
    sa.Column('succeeded_per_min', sa.Float(), nullable=False),
    sa.Column('failed_per_min', sa.Float(), nullable=False),
    sa.Column('cpu_percent', sa.Float(), nullable=True),
    sa.Column('memory_percent', sa.Float(), nullable=True),
    sa.Column('disk_percent', sa.Float(), nullable=True),
    sa.Column('max_wait_seconds', sa.Float(), nullable=True),
    sa.Column('runtime_p50', sa.Float(), nullable=True),
    sa.Column('runtime_p95', sa.Float(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_celery_monitoring_snapshots'))
    )
    with op.batch_alter_table('celery_monitoring_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_snapshots_taken', ['taken_at'], unique=False)


def _create_system_config() -> None:
    op.create_table('celery_system_config',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=255), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_celery_system_config'))
    )


def _create_task_results_ext() -> None:
    op.create_table('celery_task_results_ext',
    sa.Column('task_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('queue', sa.String(length=255), nullable=True),
    sa.Column('exchange', sa.String(length=255), nullable=True),
    sa.Column('routing_key', sa.String(length=255), nullable=True),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('args', sa.Text(), nullable=True),
    sa.Column('kwargs', sa.Text(), nullable=True),
    sa.Column('args_json', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('kwargs_json', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('exception', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('retries', sa.Integer(), nullable=False),
    sa.Column('eta', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('succeeded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retried_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('runtime', sa.Float(), nullable=True),
    sa.Column('parent_id', sa.String(length=255), nullable=True),
    sa.Column('root_id', sa.String(length=255), nullable=True),
    sa.Column('group_id', sa.String(length=255), nullable=True),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_celery_task_results_ext'))
    )
    with op.batch_alter_table('celery_task_results_ext', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_finished', ['finished_at', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_name_seen', ['name', 'seen_at', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_parent', ['parent_id', 'seen_at', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_queue_seen', ['queue', 'seen_at', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_received', ['received_at', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_root', ['root_id'], unique=False)
        batch_op.create_index('ix_tasks_runtime', ['runtime', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_seen', ['seen_at', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_started', ['started_at', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_state_name_seen', ['state', 'name', 'seen_at', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_state_seen', ['state', 'seen_at', 'task_id'], unique=False)
        batch_op.create_index('ix_tasks_worker_seen', ['worker', 'seen_at', 'task_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # Text search in args/kwargs/result/exception: a trigram GIN index on the same expression
        # as src.db.models.tasks.SEARCH_SQL (keep the two identical), used by ILIKE '%text%'.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute(
            "CREATE INDEX ix_tasks_search_trgm ON celery_task_results_ext USING gin "
            "((coalesce(args, '') || ' ' || coalesce(kwargs, '') || ' ' || coalesce(result, '')"
            " || ' ' || coalesce(exception, '')) gin_trgm_ops)"
        )


def _create_monitoring_alerts() -> None:
    op.create_table('celery_monitoring_alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_key', sa.String(length=512), nullable=False),
    sa.Column('rule_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_celery_monitoring_alerts'))
    )
    with op.batch_alter_table('celery_monitoring_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_raised', ['raised_at', 'id'], unique=False)
        batch_op.create_index('ix_alerts_key_resolved', ['alert_key', 'resolved_at'], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_tasks_search_trgm')
    with op.batch_alter_table('celery_task_results_ext', schema=None) as batch_op:
        for name in ('ix_tasks_worker_seen', 'ix_tasks_state_seen', 'ix_tasks_state_name_seen',
                     'ix_tasks_started', 'ix_tasks_seen', 'ix_tasks_runtime', 'ix_tasks_root',
                     'ix_tasks_received', 'ix_tasks_queue_seen', 'ix_tasks_parent',
                     'ix_tasks_name_seen', 'ix_tasks_finished'):
            batch_op.drop_index(name)

    op.drop_table('celery_task_results_ext')
    op.drop_table('celery_system_config')
    with op.batch_alter_table('celery_monitoring_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_snapshots_taken')

    op.drop_table('celery_monitoring_snapshots')
    with op.batch_alter_table('celery_audit_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_target')
        batch_op.drop_index('ix_audit_subject_created')
        batch_op.drop_index('ix_audit_outcome_created')
        batch_op.drop_index('ix_audit_created')
        batch_op.drop_index('ix_audit_action_created')

    op.drop_table('celery_audit_logs')

    with op.batch_alter_table('celery_monitoring_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_key_resolved')
        batch_op.drop_index('ix_alerts_raised')

    op.drop_table('celery_monitoring_alerts')
