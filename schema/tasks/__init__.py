"""Task history types."""
