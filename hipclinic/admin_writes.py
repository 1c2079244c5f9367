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
