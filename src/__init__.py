"""celery-admin: a GraphQL control plane for Celery clusters."""

__version__ = "0.1.0"

__all__ = ["__version__"]
