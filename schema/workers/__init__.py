"""Worker types."""
