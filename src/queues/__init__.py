"""The queues domain: the cluster's queues (catalog) and what can be done to them (purge)."""
