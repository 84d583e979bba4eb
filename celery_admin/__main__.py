"""`python -m celery_admin` is the `celery-admin` command."""

from celery_admin import main

main()
