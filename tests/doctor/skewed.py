"""`python -m tests.doctor.skewed ARGS`: `celery ARGS` with a wall clock `DOCTOR_CLOCK_OFFSET`
seconds off, set before Celery is imported (its event timestamps bind `time.time` then): a worker
on a host whose clock is wrong."""

from __future__ import annotations

import os
import sys
import time

_offset = float(os.environ.get("DOCTOR_CLOCK_OFFSET", "0"))
_real = time.time
time.time = lambda: _real() + _offset

from celery.__main__ import main  # noqa: E402  (after the clock is set)

if __name__ == "__main__":
    sys.argv[0] = "celery"
    sys.exit(main())
