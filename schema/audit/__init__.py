"""Audit trail types."""
