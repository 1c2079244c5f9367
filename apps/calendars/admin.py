from django.contrib import admin

from apps.calendars import services
from apps.calendars.models import CalendarFeed
from hipclinic.admin_writes import service_action


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Managers see who has a feed and revoke any of them; therapists make theirs on /calendars/.

    Nothing here shows the token: only its first characters and a hash are stored.
    """

    list_display = ("user", "prefix", "created_at", "revoked_at", "revoked_by")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user", "revoked_by")
    search_fields = ("user__username", "user__first_name", "user__last_name", "prefix")
    fields = readonly_fields = ("user", "prefix", "created_at", "created_by", "revoked_at", "revoked_by")
    actions = [service_action(services.revoke_feed, argument="feed", description="Revoke the selected calendar feeds",
                              done="Calendar feeds revoked", describe=lambda feed: f"{feed.user} ({feed.prefix}…)")]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
