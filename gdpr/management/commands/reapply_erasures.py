"""``manage.py reapply_erasures``: after a backup restore, erase again what completed erasures erased.

What it can do: for every completed (or partially completed) erasure request, erase again, in each
system, the records the plan found — by their ids, kept encrypted in the request's tasks — with the
same strategy; purge the hub's own links and failed records again by the person's keyed hashes and
those ids. The suppression list (keyed hashes, kept) goes on stopping every flow from bringing the
person back.

What it cannot do: the identifiers (e-mail, phone…) were dropped when each erasure completed, so the
person cannot be looked up again. A record a restored system holds under a new id, or one re-created
by hand, is not found; a masked record cannot be checked for the identifiers. Restore, run this, and
only then let the flows run.
"""

from django.core.management.base import BaseCommand

from gdpr import requests
from gdpr.models import DataSubjectRequest
from gdpr.models.choices import RequestKind, RequestState
from integration_hub.context import acting_as


class Command(BaseCommand):
    help = "Re-apply completed erasures (by the record ids kept in their tasks) after a backup restore."

    def add_arguments(self, parser):
        parser.add_argument(
            "--request", action="append", default=None, help="Only this reference (repeatable)."
        )

    def handle(self, *args, **options):
        queryset = DataSubjectRequest.objects.filter(
            kind=RequestKind.ERASURE, state__in=[RequestState.COMPLETED, RequestState.PARTIAL]
        ).order_by("completed_at", "pk")
        if options["request"]:
            queryset = queryset.filter(reference__in=options["request"])
        total = 0
        with acting_as(None, source="command:reapply_erasures"):
            for request in queryset:
                outcome = requests.reapply_erasure(request)
                total += 1
                self.stdout.write(
                    f"{request.reference}: {outcome['erased']} erased again, {outcome['unchanged']} already gone, "
                    f"{outcome['failed']} failed, {outcome['hub_rows']} hub rows purged"
                )
        self.stdout.write(f"{total} erasure(s) re-applied.")
