"""The event collector: Celery events in, task rows and worker state out.

Data flow: a reader thread (direct Redis pub/sub, or kombu's EventReceiver for other brokers)
decodes messages and hands batches to asyncio through a bounded hand-off (`intake`); the event
loop merges them per task (`merge`) and per worker (`workers`), and a flusher upserts the merged
rows at most about a second behind (`store`). Nothing on the reader side ever waits on the database.
"""
