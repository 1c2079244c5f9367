from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.ops import health


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the broker both answer, 503 when either does not."""
    body, healthy = health.report()
    return JsonResponse(body, status=200 if healthy else 503)
