"""Monitoring types: samples, history, alerts, the dashboard."""
