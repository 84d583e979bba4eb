"""How a celery-admin process starts and stops (serve, collect, demo).

- `checks`: everything a command needs is checked before any server or job starts; each problem is
  one line on stderr (secrets masked) and the command exits 2.
- `listen`: the listening socket is bound before anything starts, so a busy port is one of those
  lines instead of a failure half-way through start-up.
- `server`: uvicorn's Server with our stop semantics (bounded, exit 0 after a clean stop).
- `watchdog`: the last resort: a stop that takes longer than the promise is logged and forced.
- `bounded`: awaiting things on the way out without trusting them to honour cancellation.
"""
