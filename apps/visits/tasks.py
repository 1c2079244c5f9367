import logging

from celery import shared_task

from apps.visits.selectors import check_hashes

log = logging.getLogger("hipclinic.visits")

# At most this many mismatch lines in the log entry; the command lists them all.
LOGGED_MISMATCHES = 20


@shared_task
def verify_signed_notes() -> str:
    """The weekly run of ``manage.py verify_signed_notes``: a mismatch is an ERROR log line (ids only)."""
    check = check_hashes()
    if check.mismatches:
        shown = check.mismatches[:LOGGED_MISMATCHES]
        more = len(check.mismatches) - len(shown)
        log.error("signed-note hash check: %s: %s%s; run manage.py verify_signed_notes", check.summary,
                  "; ".join(shown), f"; and {more} more" if more else "")
    else:
        log.info("signed-note hash check: %s", check.summary)
    return check.summary
