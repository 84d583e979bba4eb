"""The audit trail of management actions (`celery_audit_logs`)."""
