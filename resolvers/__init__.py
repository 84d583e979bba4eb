"""Thin functions behind root fields: check the caller, call src/, map to schema types."""
