"""tasks, task, taskStats."""
