from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.ops import health


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the broker both answer, 503 when either does not."""
    body, healthy = health.report()
    return JsonResponse(body, status=200 if healthy else 503)


def page_not_found(request, exception):
    """Django's not-found page, but under /api/ the JSON every other API answer is (an API path
    that matched no route, such as /api/v1/patients/-2.5e-84/, got the HTML page)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
