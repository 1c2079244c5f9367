from celery import shared_task

from apps.reports.services import refresh_figures


@shared_task
def refresh_stored_figures(full: bool = False) -> str:
    """Beat's run of ``manage.py refresh_figures``: the recent days every quarter hour, every day at night."""
    return refresh_figures(full=full).summary
