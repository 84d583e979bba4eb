"""Queue types."""
