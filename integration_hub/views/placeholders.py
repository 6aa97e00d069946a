"""Sections of the console that later work fills in. Each page says what will be here and what to do now."""

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views import View

SECTIONS = {
    "triage": (_("Triage"), _("Failed records grouped by cause, to replay, ignore or assign.")),
    "map": (_("Flow map"), _("A live map of systems and the flows between them, with impact analysis.")),
    "gdpr": (_("GDPR"), _("The register of processing and data-subject requests (erasure, access).")),
}


class SectionPendingView(View):
    section = ""

    def get(self, request):
        title, description = SECTIONS[self.section]
        return render(request, "section_pending.html", {"title": title, "description": description})
