"""alert deliveries; all-time task totals kept by triggers

Revision ID: 0002_alerting
Revises: 0001
Create Date: 2026-11-30

`celery_alert_deliveries` is the outbox and record of alert notifications (src/monitoring/delivery).
`celery_task_totals` and `celery_task_runtime_totals` are the monotonic counters behind /metrics,
kept by triggers on `celery_task_results_ext` (see src/db/models/task_totals.py for what is
counted) and filled here from the rows already there. On PostgreSQL the triggers run once per
statement over its transition tables (one grouped upsert per batch the collector writes); SQLite has
only row triggers. The buckets below are src/monitoring/task_stats.py's DURATION_BUCKETS as of this
revision (tests/monitoring/test_task_totals.py checks they agree).
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_alerting"
down_revision = "0001"
branch_labels = None
depends_on = None

TASKS = "celery_task_results_ext"
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
FINAL = "('SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED', 'LOST')"
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _bucket(column: str) -> str:
    whens = " ".join(f"WHEN {column} <= {bound!r} THEN {i}" for i, bound in enumerate(BUCKETS))
    return f"(CASE {whens} ELSE {len(BUCKETS)} END)"


def _q(prefix: str) -> str:
    return f"coalesce({prefix}queue, 'unknown')"


def _n(prefix: str) -> str:
    return f"coalesce({prefix}name, 'unknown')"


COUNTS_UPSERT = "ON CONFLICT (queue, name, state) DO UPDATE SET tasks = {t}tasks + excluded.tasks"
RUNTIME_UPSERT = (
    "ON CONFLICT (queue, name, bucket) DO UPDATE SET tasks = {t}tasks + excluded.tasks, "
    "runtime_sum = {t}runtime_sum + excluded.runtime_sum"
)


def upgrade() -> None:
    _create_deliveries()
    _create_totals()
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()
    _backfill()


def _create_deliveries() -> None:
    op.create_table(
        "celery_alert_deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("sink", sa.String(length=64), nullable=False),
        sa.Column("sink_kind", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("alert_key", sa.String(length=512), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("alert", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claim_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_celery_alert_deliveries")),
        sa.UniqueConstraint(
            "notification_id",
            "sink",
            name=op.f("uq_celery_alert_deliveries_notification_id_sink"),
        ),
    )
    with op.batch_alter_table("celery_alert_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_deliveries_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_deliveries_sink_created", ["sink", "created_at"], unique=False)
        batch_op.create_index("ix_deliveries_alert", ["alert_key", "created_at"], unique=False)


def _create_totals() -> None:
    op.create_table(
        "celery_task_totals",
        sa.Column("queue", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tasks", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("queue", "name", "state", name=op.f("pk_celery_task_totals")),
    )
    op.create_table(
        "celery_task_runtime_totals",
        sa.Column("queue", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("tasks", sa.BigInteger(), nullable=False),
        sa.Column("runtime_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "queue", "name", "bucket", name=op.f("pk_celery_task_runtime_totals")
        ),
    )


def _counts_select(updated: bool) -> str:
    """(queue, name, state, k) rows to add for a statement's rows: `nw` the rows as written and,
    on updates, `od` the same rows before (aliases: NEW and OLD are PL/pgSQL variables)."""
    q, n = _q("nw."), _n("nw.")
    if not updated:
        parts = [
            f"SELECT {q} AS q, {n} AS n, 'SEEN' AS s, 1 AS k FROM new_rows nw",
            f"SELECT {q}, {n}, nw.state, 1 FROM new_rows nw WHERE nw.state IN {FINAL}",
            f"SELECT {q}, {n}, 'RETRY', nw.retries FROM new_rows nw WHERE nw.retries > 0",
        ]
    else:
        join = "FROM new_rows nw JOIN old_rows od USING (task_id)"
        parts = [
            f"SELECT {q} AS q, {n} AS n, nw.state AS s, 1 AS k {join} "
            f"WHERE nw.state IN {FINAL} AND nw.state IS DISTINCT FROM od.state",
            f"SELECT {q}, {n}, 'RETRY', nw.retries - coalesce(od.retries, 0) {join} "
            "WHERE nw.retries > coalesce(od.retries, 0)",
        ]
    return " UNION ALL ".join(parts)


def _postgres_function(kind: str, updated: bool) -> str:
    runtime_from = (
        "FROM new_rows nw JOIN old_rows od USING (task_id) "
        "WHERE nw.runtime IS NOT NULL AND od.runtime IS NULL"
        if updated
        else "FROM new_rows nw WHERE nw.runtime IS NOT NULL"
    )
    # ORDER BY: every statement takes the counters' row locks in one order (no deadlocks
    # between the collector's flush and marking tasks LOST). enable_nestloop off: the planner
    # may take a transition table for one row (it does under INSERT .. ON CONFLICT) and join
    # the two with a nested loop, quadratic in the batch (4,000 rows: seconds instead of ms).
    return f"""
CREATE FUNCTION celery_task_totals_{kind}() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
BEGIN
  INSERT INTO celery_task_totals AS t (queue, name, state, tasks)
  SELECT q, n, s, sum(k) FROM ({_counts_select(updated)}) c
  GROUP BY q, n, s HAVING sum(k) > 0 ORDER BY q, n, s
  {COUNTS_UPSERT.format(t="t.")};
  INSERT INTO celery_task_runtime_totals AS t (queue, name, bucket, tasks, runtime_sum)
  SELECT {_q("nw.")}, {_n("nw.")}, {_bucket("nw.runtime")}, count(*), sum(nw.runtime)
  {runtime_from}
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  {RUNTIME_UPSERT.format(t="t.")};
  RETURN NULL;
END $$
"""


def _postgres_triggers() -> None:
    op.execute(_postgres_function("inserted", False))
    op.execute(_postgres_function("updated", True))
    op.execute(
        f"CREATE TRIGGER celery_task_totals_inserted AFTER INSERT ON {TASKS} "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION celery_task_totals_inserted()"
    )
    op.execute(
        f"CREATE TRIGGER celery_task_totals_updated AFTER UPDATE ON {TASKS} "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION celery_task_totals_updated()"
    )


def _sqlite_count(q: str, n: str, state: str, k: str, where: str) -> str:
    # "WHERE" keeps SQLite from reading ON CONFLICT as part of a join (its UPSERT rule).
    return (
        f"INSERT INTO celery_task_totals (queue, name, state, tasks) "
        f"SELECT {q}, {n}, {state}, {k} WHERE {where} {COUNTS_UPSERT.format(t='')};"
    )


def _sqlite_triggers() -> None:
    q, n = _q("NEW."), _n("NEW.")
    runtime = (
        "INSERT INTO celery_task_runtime_totals (queue, name, bucket, tasks, runtime_sum) "
        f"SELECT {q}, {n}, {_bucket('NEW.runtime')}, 1, NEW.runtime WHERE {{where}} "
        f"{RUNTIME_UPSERT.format(t='')};"
    )
    inserted = [
        _sqlite_count(q, n, "'SEEN'", "1", "1"),
        _sqlite_count(q, n, "NEW.state", "1", f"NEW.state IN {FINAL}"),
        _sqlite_count(q, n, "'RETRY'", "NEW.retries", "NEW.retries > 0"),
        runtime.format(where="NEW.runtime IS NOT NULL"),
    ]
    updated = [
        _sqlite_count(
            q, n, "NEW.state", "1", f"NEW.state IN {FINAL} AND NEW.state IS NOT OLD.state"
        ),
        _sqlite_count(
            q,
            n,
            "'RETRY'",
            "NEW.retries - coalesce(OLD.retries, 0)",
            "NEW.retries > coalesce(OLD.retries, 0)",
        ),
        runtime.format(where="NEW.runtime IS NOT NULL AND OLD.runtime IS NULL"),
    ]
    op.execute(
        f"CREATE TRIGGER celery_task_totals_inserted AFTER INSERT ON {TASKS} "
        f"BEGIN {' '.join(inserted)} END"
    )
    op.execute(
        f"CREATE TRIGGER celery_task_totals_updated AFTER UPDATE ON {TASKS} "
        f"BEGIN {' '.join(updated)} END"
    )


def _backfill() -> None:
    """Counters start from the rows already kept (their passage through earlier states is not
    known: each row counts once as SEEN, once in its state if final, and its retries)."""
    q, n = _q(""), _n("")
    op.execute(
        "INSERT INTO celery_task_totals (queue, name, state, tasks) "
        f"SELECT q, n, s, sum(k) FROM ("
        f"SELECT {q} AS q, {n} AS n, 'SEEN' AS s, 1 AS k FROM {TASKS} "
        f"UNION ALL SELECT {q}, {n}, state, 1 FROM {TASKS} WHERE state IN {FINAL} "
        f"UNION ALL SELECT {q}, {n}, 'RETRY', retries FROM {TASKS} WHERE retries > 0"
        f") c GROUP BY q, n, s"
    )
    op.execute(
        "INSERT INTO celery_task_runtime_totals (queue, name, bucket, tasks, runtime_sum) "
        f"SELECT {q}, {n}, {_bucket('runtime')}, count(*), sum(runtime) FROM {TASKS} "
        "WHERE runtime IS NOT NULL GROUP BY 1, 2, 3"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS celery_task_totals_inserted ON {TASKS}")
        op.execute(f"DROP TRIGGER IF EXISTS celery_task_totals_updated ON {TASKS}")
        op.execute("DROP FUNCTION IF EXISTS celery_task_totals_inserted()")
        op.execute("DROP FUNCTION IF EXISTS celery_task_totals_updated()")
    else:
        op.execute("DROP TRIGGER IF EXISTS celery_task_totals_inserted")
        op.execute("DROP TRIGGER IF EXISTS celery_task_totals_updated")
    op.drop_table("celery_task_runtime_totals")
    op.drop_table("celery_task_totals")
    with op.batch_alter_table("celery_alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_alert")
        batch_op.drop_index("ix_deliveries_sink_created")
        batch_op.drop_index("ix_deliveries_created")
        batch_op.drop_index("ix_deliveries_due")
    op.drop_table("celery_alert_deliveries")
