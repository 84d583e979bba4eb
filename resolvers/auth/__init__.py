"""revokeToken."""
