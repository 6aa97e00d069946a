"""Re-encrypt everything stored encrypted with the newest key of HUB_ENCRYPTION_KEYS (after a key rotation)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from flows import coordination
from flows.models import SharedValue, System, WebhookEvent
from integration_hub import crypto
from integration_hub.context import acting_as


def _rotate_column(queryset, field: str, label) -> int:
    """Re-encrypt ``field`` of every row (plain updates: the values do not change, only their encryption)."""
    count = 0
    for pk, token in queryset.exclude(**{field: ""}).values_list("pk", field).iterator():
        try:
            rotated = crypto.rotate(token)
        except crypto.DecryptionError as exc:
            raise CommandError(f"{label} {pk}: {exc}. Nothing was changed.") from exc
        queryset.model.objects.filter(pk=pk).update(**{field: rotated})
        count += 1
    return count


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets, webhook secrets, webhook payloads and cached tokens with the first key "
        "of HUB_ENCRYPTION_KEYS. Rotate by putting a new key first, running this command, then removing "
        "the old key."
    )

    def handle(self, *args, **options):
        with acting_as(None, source="command:rotate_encryption_keys"), transaction.atomic():
            systems = _rotate_column(System.objects.all(), "secrets_encrypted", "System")
            hooks = _rotate_column(System.objects.all(), "webhook_secret_encrypted", "System webhook secret")
            events = _rotate_column(WebhookEvent.objects.all(), "payload_encrypted", "Webhook event")
            for row in SharedValue.objects.exclude(value="").exclude(key__startswith="lock:"):
                try:
                    SharedValue.objects.filter(pk=row.pk).update(value=crypto.rotate(row.value))
                except crypto.DecryptionError:
                    row.delete()  # a cached token nobody can read any more: it will be fetched again
        cached = coordination.rotate_shared_values()
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {systems} system secret set(s), {hooks} webhook secret(s), {events} webhook "
                f"event(s) and {cached} cached value(s)."
            )
        )
