"""Tokens: revocation."""
