"""Subscription payloads and the event bus status."""
