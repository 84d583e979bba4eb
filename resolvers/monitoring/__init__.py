"""Monitoring queries, subscriptions and the monitoring switch."""
