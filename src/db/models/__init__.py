"""ORM models, one module per table; `Base.metadata` is what Alembic migrates."""

from src.db.models.alerts import AlertRecord
from src.db.models.audit import AuditLog
from src.db.models.base import Base
from src.db.models.config import SystemConfigEntry
from src.db.models.deliveries import AlertDelivery
from src.db.models.snapshots import MonitoringSnapshot
from src.db.models.task_totals import TaskRuntimeTotal, TaskTotal
from src.db.models.tasks import TaskRecord

__all__ = [
    "AlertDelivery",
    "AlertRecord",
    "AuditLog",
    "Base",
    "MonitoringSnapshot",
    "SystemConfigEntry",
    "TaskRecord",
    "TaskRuntimeTotal",
    "TaskTotal",
]
