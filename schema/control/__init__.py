"""Payloads of the control mutations on tasks and workers."""
