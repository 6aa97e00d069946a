"""Re-encrypt every secret at rest with the newest key of HUB_ENCRYPTION_KEYS (after a key rotation)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from flows.models import SharedValue, System
from integration_hub import crypto
from integration_hub.context import acting_as


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets with the first key of HUB_ENCRYPTION_KEYS. Rotate by putting a new key "
        "first, running this command, then removing the old key."
    )

    def handle(self, *args, **options):
        systems = values = 0
        with acting_as(None, source="command:rotate_encryption_keys"), transaction.atomic():
            for system in System.objects.exclude(secrets_encrypted="").select_for_update():
                try:
                    rotated = crypto.rotate(system.secrets_encrypted)
                except crypto.DecryptionError as exc:
                    raise CommandError(f"System {system.pk} ({system}): {exc}. Nothing was changed.") from exc
                # A plain update: the secrets did not change, only their encryption.
                System.objects.filter(pk=system.pk).update(secrets_encrypted=rotated)
                systems += 1
            for row in SharedValue.objects.exclude(value="").exclude(key__startswith="lock:"):
                try:
                    SharedValue.objects.filter(pk=row.pk).update(value=crypto.rotate(row.value))
                    values += 1
                except crypto.DecryptionError:
                    row.delete()  # a cached token nobody can read any more: it will be fetched again
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted the secrets of {systems} system(s) and {values} cached value(s)."
            )
        )
