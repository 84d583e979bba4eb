"""Benchmarks: one command each, printing figures beside a named baseline."""
