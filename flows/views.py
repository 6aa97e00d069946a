from django.utils.translation import gettext_lazy as _

from flows.filtersets import SystemFilterSet
from flows.forms import SystemForm
from flows.models import System
from flows.tables import SystemTable
from integration_hub.views import generic
from integration_hub.views.access import ObjectAccessView


class SystemListView(generic.ObjectListView):
    queryset = System.objects.select_related("owner")
    filterset = SystemFilterSet
    table = SystemTable
    empty_message = _("No system is connected yet. Add your ERP, PIM, CRM or shop to start building flows.")


class SystemView(generic.ObjectView):
    queryset = System.objects.select_related("owner")
    template_name = "flows/system.html"


class SystemEditView(generic.ObjectEditView):
    queryset = System.objects.all()
    form = SystemForm


class SystemDeleteView(generic.ObjectDeleteView):
    queryset = System.objects.all()


class SystemHistoryView(generic.ObjectHistoryView):
    queryset = System.objects.all()


class SystemAccessView(ObjectAccessView):
    queryset = System.objects.all()
