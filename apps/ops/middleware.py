import logging
import time

logger = logging.getLogger("hipclinic.request")


def route_of(request, default: str = "-") -> str:
    """The URL pattern the request matched (``/p/<str:token>/``), never its path."""
    match = getattr(request, "resolver_match", None)
    return "/" + match.route if match is not None else default


class RequestLogMiddleware:
    """One log line per request: method, URL pattern, status, duration, user id.

    The URL *pattern* is logged (``/api/v1/patients/<int:pk>/``), never the path or the
    query string, which can carry names, searches or a patient's signed link token.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        elapsed = (time.monotonic() - started) * 1000
        route = route_of(request)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else "-"
        logger.info("%s %s %s %.0fms user=%s", request.method, route, response.status_code, elapsed, user_id)
        return response
