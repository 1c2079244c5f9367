"""Admin pages whose object and inlines are written by one service call, not by the admin's own saves."""

from __future__ import annotations


class WrittenByService:
    """A ModelAdmin mixin: ``write(request, form, formsets, change)`` saves ``form.instance`` and
    its inlines through the app's service; the admin only validates and shows the forms.

    ``write`` must save the very object ``form.instance`` holds (the admin's confirmation and
    its change log name it). The change log lists the fields changed on the main form;
    what changed in the inlines is the service's to record (program versions, history).
    """

    def save_model(self, request, obj, form, change):
        pass  # written with its inlines by save_related

    def save_related(self, request, form, formsets, change):
        self.write(request, form, formsets, change)
        for formset in formsets:  # what formset.save() would have recorded for the change message
            for name in ("new_objects", "changed_objects", "deleted_objects"):
                if not hasattr(formset, name):
                    setattr(formset, name, [])

    def write(self, request, form, formsets, change) -> None:
        raise NotImplementedError


def service_action(service, *, argument: str, description: str, done: str, describe=str):
    """An admin list action calling ``service(**{argument: row, "by": user})`` for each selected row.

    What the service refuses is listed with its reason (``describe(row)`` names the row); what it
    did is counted in one message.
    """
    from django.contrib import admin, messages
    from django.core.exceptions import ValidationError

    def action(modeladmin, request, queryset):
        changed = 0
        for row in queryset.order_by("pk"):
            try:
                service(**{argument: row, "by": request.user})
                changed += 1
            except ValidationError as error:
                modeladmin.message_user(request, f"{describe(row)}: {' '.join(error.messages)}", messages.ERROR)
        if changed:
            modeladmin.message_user(request, f"{done}: {changed}.", messages.SUCCESS)

    action.__name__ = service.__name__
    return admin.action(description=description, permissions=["change"])(action)
