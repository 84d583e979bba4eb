"""Talking to workers: inspect (read) and control (write) broadcasts, off the event loop."""
