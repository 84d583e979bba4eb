"""auditLogs."""
