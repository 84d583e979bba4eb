"""Control mutations on tasks and workers, one module per mutation or small group."""
