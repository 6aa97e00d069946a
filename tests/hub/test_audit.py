"""The append-only audit log: every configuration change with its diff, who, when and the request id."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from integration_hub.audit import record
from integration_hub.context import acting_as
from integration_hub.models import AuditAction, AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN, SUPPORT, VIEWER
from tests.factories import SystemFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_edit_through_the_console_records_who_what_and_the_diff():
    admin = UserFactory(username="admin", roles=[INTEGRATION_ADMIN])
    system = SystemFactory(name="Shop", slug="shop")
    client = Client()
    client.force_login(admin)
    response = client.post(
        reverse("flows:system_edit", args=[system.pk]),
        {
            "name": "Shop FR",
            "slug": "shop",
            "role": "ecommerce",
            "criticality": "high",
            "connector": "rest",
            "timeout": "30",
            "verify_tls": "on",
            "param_base_url": system.parameters["base_url"],
            "param_auth_type": "bearer",
            "param_entities": json.dumps(system.parameters["entities"]),
            "secret_token": "s3cr3t-token-value",
        },
    )
    entry = AuditEntry.objects.for_object(system).get(action=AuditAction.UPDATE)
    assert entry.user == admin and entry.user_name == "admin"
    changes = {k: (a, b) for k, a, b in entry.changes}
    assert changes["name"] == ("Shop", "Shop FR")
    assert changes["criticality"] == ("normal", "high")
    assert changes["enabled"] == (True, False)
    assert changes["secrets_encrypted"] == ("", "[redacted, changed]")
    assert changes["parameters"][1]["auth_type"] == "bearer"
    assert "s3cr3t-token-value" not in json.dumps([entry.before, entry.after, entry.message])
    assert str(entry.request_id) == response["X-Request-ID"]
    assert entry.remote_addr == "127.0.0.1"


def test_saving_without_change_records_nothing():
    system = SystemFactory()
    system.save()
    assert AuditEntry.objects.for_object(system).filter(action=AuditAction.UPDATE).count() == 0


def test_delete_keeps_the_last_values():
    system = SystemFactory(name="Gone")
    pk = system.pk
    system.delete()
    entry = AuditEntry.objects.get(action=AuditAction.DELETE)
    assert entry.object_id == str(pk) and entry.before["name"] == "Gone" and entry.after is None


def test_entries_are_append_only():
    entry = record(AuditAction.LOGIN, message="x")
    entry.message = "rewritten"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    assert AuditEntry.objects.get(pk=entry.pk).message == "x"


def test_commands_record_their_source():
    with acting_as(None, source="command:test"):
        system = SystemFactory()
    entry = AuditEntry.objects.for_object(system).get()
    assert entry.source == "command:test" and entry.user is None


def test_audit_page_filters_and_permission():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    SystemFactory(name="Alpha")
    SystemFactory(name="Beta")
    client = Client()
    client.force_login(admin)
    response = client.get(reverse("integration_hub:auditentry_list"), {"q": "Alpha"})
    assert response.status_code == 200
    assert "Alpha" in response.content.decode() and "Beta" not in response.content.decode()
    entry = AuditEntry.objects.filter(object_repr="Alpha").get()
    detail = client.get(entry.get_absolute_url())
    assert detail.status_code == 200 and b"Alpha" in detail.content

    viewer = Client()
    viewer.force_login(UserFactory(roles=[VIEWER]))
    assert viewer.get(reverse("integration_hub:auditentry_list")).status_code == 403
    support = Client()
    support.force_login(UserFactory(roles=[SUPPORT]))
    assert support.get(reverse("integration_hub:auditentry_list")).status_code == 200


def test_history_tab_lists_the_objects_entries():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    system = SystemFactory(name="Tracked")
    system.name = "Tracked 2"
    system.save()
    client = Client()
    client.force_login(admin)
    response = client.get(reverse("flows:system_history", args=[system.pk]))
    assert response.context["table"].paginator.count == 2


def test_audit_api_is_read_only_and_filterable():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    system = SystemFactory(name="Api")
    client = APIClient()
    client.force_login(admin)
    rows = client.get(reverse("hub-api:auditentry-list"), {"object_type": "flows.system"}).json()["results"]
    assert [r["object_repr"] for r in rows] == ["Api"]
    assert rows[0]["object_type"] == "flows.system"
    assert client.post(reverse("hub-api:auditentry-list"), {}, format="json").status_code == 405
    url = reverse("hub-api:auditentry-detail", args=[rows[0]["id"]])
    assert client.delete(url).status_code == 405
    assert AuditEntry.objects.for_object(system).exists()


def test_redacted_fields_never_reach_the_log(settings):
    from integration_hub.audit import _redact

    class Fake:
        audit_redacted_fields = ("secret",)

    before, after = _redact(Fake(), {"secret": "hunter2", "a": 1}, {"secret": "hunter3", "a": 2})
    assert before == {"secret": "[redacted]", "a": 1}
    assert after == {"secret": "[redacted, changed]", "a": 2}
    _b, after = _redact(Fake(), {"secret": "same"}, {"secret": "same"})
    assert after == {"secret": "[redacted]"}
