"""Task history queries over `celery_task_results_ext`: filters, keyset pages, stats, retention.

Everything here is plain async SQLAlchemy on PostgreSQL and SQLite; nothing knows GraphQL.
"""
