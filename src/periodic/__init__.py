"""The periodic-tasks domain: every beat schedule entry, read where it lives (the app's
`beat_schedule`, RedBeat's keys in Redis, django-celery-beat's tables), joined with the task history
to tell whether each entry runs on time, whether a beat process is alive, and to run an entry now or
switch it on and off where its store allows."""
