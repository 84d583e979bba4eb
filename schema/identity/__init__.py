"""Who the caller is and what it may touch (issue 12)."""
