"""Periodic-task types: entries with their health and runs, beat's liveness, the payloads."""
