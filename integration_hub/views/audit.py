from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from integration_hub.audit import visible_entries
from integration_hub.filtersets import AuditEntryFilterSet
from integration_hub.models import AuditEntry
from integration_hub.permissions import restrict
from integration_hub.tables import AuditEntryTable
from integration_hub.views import generic


class AuditEntryListView(generic.ObjectListView):
    queryset = AuditEntry.objects.select_related("user", "content_type")
    filterset = AuditEntryFilterSet
    table = AuditEntryTable
    empty_message = gettext_lazy("Nothing has been recorded yet.")

    def get_queryset(self):
        return visible_entries(self.queryset, self.request.user)


class AuditEntryView(View):
    """One entry with its before/after diff. Readable with the audit permission, or by anyone who may
    view the object it is about (the object's History tab links here)."""

    queryset = AuditEntry.objects.select_related("user", "content_type")

    def get(self, request, pk):
        entry = get_object_or_404(self.queryset, pk=pk)
        model = entry.content_type.model_class() if entry.content_type_id else None
        target = None
        if model is not None and hasattr(model, "get_absolute_url"):
            target = restrict(model._default_manager.filter(pk=entry.object_id), request.user, "view").first()
        if target is None and not visible_entries(self.queryset.filter(pk=entry.pk), request.user).exists():
            # 404, not 403: whether an entry exists is itself not for everyone to probe.
            raise Http404(_("No audit entry matches this address, or you may not see it."))
        return render(request, "audit/entry.html", {"entry": entry, "target": target})
