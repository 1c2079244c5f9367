"""Log filters that keep personal data and credentials out of log lines."""

import logging

from apps.ops.middleware import route_of


class RequestPathAsRoute(logging.Filter):
    """Write the URL pattern in place of the request's path in Django's own log lines.

    Django logs the path of a refused or failed request (``Forbidden (CSRF token
    missing.): /p/<signed token>/log/``, ``Not Found: ...``). Paths can hold a patient's
    signed link, which opens their program, so the line keeps only the route, as our
    request log does (apps/ops/middleware.py).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if path:
            route = route_of(request, default="<unmatched path>")
            message = record.getMessage()
            for raw in (request.get_full_path(), path):
                message = message.replace(raw, route)
            record.msg, record.args = message, ()
        return True
