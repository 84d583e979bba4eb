"""Helpers shared by resolvers of several domains (no root fields)."""
