"""The workers domain: what their inspect replies say (replies) and who is known (directory)."""
