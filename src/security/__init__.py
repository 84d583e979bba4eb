"""What keeps secrets in: the masking function, the task-data permission, safe deserialisation."""
