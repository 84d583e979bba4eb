"""queues, queue, peekQueue, purgeQueue."""
