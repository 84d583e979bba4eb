"""workers, worker."""
