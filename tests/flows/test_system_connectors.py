"""Systems with connectors in the console and the API: configuration forms, secrets, Test connection,
Discover, health history, key rotation and the scheduled check."""

import json
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows import services
from flows.models import System, SystemCheck
from integration_hub.models import AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN, SUPPORT, VIEWER
from tests.factories import UserFactory
from tests.flows.rest_server import entity, make_app
from tests.live import serve_in_thread

pytestmark = pytest.mark.django_db

SECRET = "TOPSECRET-token-7d1f"


@pytest.fixture
def api_server():
    app = make_app(auth="bearer", secret=SECRET)
    with serve_in_thread(app) as url:
        yield url, app.state.api


def logged_in(role, api=False):
    client = APIClient() if api else Client()
    client.force_login(UserFactory(roles=[role]))
    return client


def form_data(url, **overrides):
    data = {
        "name": "Demo API",
        "slug": "demo-api",
        "role": "erp",
        "criticality": "normal",
        "enabled": "on",
        "connector": "rest",
        "timeout": "10",
        "verify_tls": "on",
        "param_base_url": url,
        "param_auth_type": "bearer",
        "param_entities": json.dumps([entity("page"), entity("cursor")]),
        "secret_token": SECRET,
    }
    data.update(overrides)
    return data


def test_secrets_are_encrypted_and_never_shown_logged_or_audited(api_server, caplog):
    url, _ = api_server
    admin = logged_in(INTEGRATION_ADMIN)
    caplog.set_level(logging.DEBUG)
    assert admin.post(reverse("flows:system_add"), form_data(url)).status_code == 302
    system = System.objects.get()
    assert system.secrets == {"token": SECRET}
    assert SECRET not in system.secrets_encrypted

    pages = [
        system.get_absolute_url(),
        reverse("flows:system_edit", args=[system.pk]),
        reverse("flows:system_history", args=[system.pk]),
        reverse("flows:system_list"),
        reverse("integration_hub:auditentry_list"),
        reverse("flows:system_list") + "?export=csv",
    ]
    for entry in AuditEntry.objects.all():
        pages.append(entry.get_absolute_url())
    admin.post(reverse("flows:system_check", args=[system.pk]))
    admin.post(reverse("flows:system_discover", args=[system.pk]))
    for page in pages:
        response = admin.get(page)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert SECRET.encode() not in body, page
    api = logged_in(INTEGRATION_ADMIN, api=True)
    for url_ in (
        reverse("flows-api:system-list"),
        reverse("flows-api:system-detail", args=[system.pk]),
        reverse("hub-api:auditentry-list"),
    ):
        assert SECRET not in api.get(url_).content.decode(), url_
    assert SECRET not in caplog.text
    created = AuditEntry.objects.get(action="create", object_id=str(system.pk), object_repr=str(system))
    assert "bearer" in json.dumps(created.after)


def test_edit_keeps_a_secret_left_empty_and_clears_on_request(api_server):
    url, _ = api_server
    admin = logged_in(INTEGRATION_ADMIN)
    admin.post(reverse("flows:system_add"), form_data(url))
    system = System.objects.get()
    page = admin.get(reverse("flows:system_edit", args=[system.pk])).content.decode()
    assert "A value is stored; leave empty to keep it." in page and SECRET not in page
    admin.post(
        reverse("flows:system_edit", args=[system.pk]), form_data(url, name="Renamed", secret_token="")
    )
    system.refresh_from_db()
    assert system.name == "Renamed" and system.secrets == {"token": SECRET}
    # Clearing a secret the bearer auth needs is refused with the field named.
    response = admin.post(
        reverse("flows:system_edit", args=[system.pk]), form_data(url, secret_token="", clear_token="on")
    )
    assert response.status_code == 400
    assert response.context["form"].errors["secret_token"] == ["Required for this authentication."]
    response = admin.post(
        reverse("flows:system_edit", args=[system.pk]),
        form_data(url, secret_token="", clear_token="on", param_auth_type="none"),
    )
    assert response.status_code == 302
    system.refresh_from_db()
    assert system.secrets == {}


def test_bad_input_names_the_field_and_saves_nothing(api_server):
    url, _ = api_server
    admin = logged_in(INTEGRATION_ADMIN)
    cases = [
        ({"connector": "mainframe"}, "connector", "not one of the available choices"),
        ({"param_base_url": "ftp//nope"}, "param_base_url", "Enter a valid URL."),
        ({"secret_token": ""}, "secret_token", "Required for this authentication."),
        ({"param_entities": "[{"}, "param_entities", "Enter a valid JSON."),
        ({"param_entities": '[{"key": "x"}]'}, "param_entities", "needs a “path”"),
        ({"timeout": "0"}, "timeout", "greater than or equal to 1"),
    ]
    for overrides, field, message in cases:
        response = admin.post(reverse("flows:system_add"), form_data(url, **overrides))
        assert response.status_code == 400, overrides
        assert message in " ".join(response.context["form"].errors[field]), (
            field,
            response.context["form"].errors,
        )
    assert not System.objects.exists()


def test_changing_the_connector_redraws_the_form_without_saving(api_server):
    _url, _ = api_server
    admin = logged_in(INTEGRATION_ADMIN)
    response = admin.post(
        reverse("flows:system_add"), {"name": "Typed", "connector": "rest", "_refresh": "1"}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "param_base_url" in form.fields and "secret_token" in form.fields
    assert form["name"].value() == "Typed" and not form.is_bound
    assert not System.objects.exists()


def test_test_connection_records_health_and_explains_failures(api_server):
    url, state = api_server
    admin = logged_in(INTEGRATION_ADMIN)
    admin.post(reverse("flows:system_add"), form_data(url))
    system = System.objects.get()
    response = admin.post(reverse("flows:system_check", args=[system.pk]))
    assert b'data-ok="true"' in response.content
    system.refresh_from_db()
    assert system.health_status == "up" and system.last_latency_ms is not None

    state.secret = "rotated-elsewhere"  # the remote no longer accepts our token
    response = admin.post(reverse("flows:system_check", args=[system.pk]))
    assert b'data-ok="false"' in response.content and b"401" in response.content
    system.refresh_from_db()
    assert system.health_status == "down"
    assert list(SystemCheck.objects.values_list("status", flat=True)) == ["down", "up"]
    # Health changes are observations: no audit entry for them.
    assert not AuditEntry.objects.filter(action="update").exists()
    detail = admin.get(system.get_absolute_url()).content.decode()
    assert "latency-chart" in detail and "credentials were refused" in detail


def test_discover_lists_fields_flags_personal_data_and_masks_samples(api_server):
    url, _ = api_server
    admin = logged_in(INTEGRATION_ADMIN)
    admin.post(reverse("flows:system_add"), form_data(url))
    system = System.objects.get()
    html = admin.post(reverse("flows:system_discover", args=[system.pk])).content.decode()
    assert 'data-entity="page"' in html and 'data-entity="cursor"' in html
    system.refresh_from_db()
    page = next(e for e in system.discovered if e["key"] == "page")
    fields = {f["name"]: f for f in page["fields"]}
    assert fields["contact.email"]["personal"] == "email"
    assert fields["contact.phone"]["personal"] == "phone"
    assert fields["sku"]["personal"] == "" and fields["id"]["type"] == "integer"
    assert len(page["samples"]) == 5
    assert page["samples"][0]["contact"]["email"] == "b***@example.test"
    assert "buyer1@example.test" not in json.dumps(system.discovered)


def test_api_check_and_discover_follow_permissions(api_server):
    url, _ = api_server
    Client().force_login(UserFactory())
    admin = logged_in(INTEGRATION_ADMIN, api=True)
    body = {
        "name": "API made",
        "slug": "api-made",
        "role": "erp",
        "connector": "rest",
        "parameters": {"base_url": url, "auth_type": "bearer", "entities": [entity("page")]},
        "secrets": {"token": SECRET},
    }
    created = admin.post(reverse("flows-api:system-list"), body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["secret_names"] == ["token"] and "secrets" not in created.json()
    pk = created.json()["id"]
    check = admin.post(reverse("flows-api:system-check", args=[pk]))
    assert check.status_code == 200 and check.json()["ok"] is True and check.json()["health_status"] == "up"
    discovered = admin.post(reverse("flows-api:system-discover", args=[pk])).json()
    assert [e["key"] for e in discovered["entities"]] == ["page"]
    assert logged_in(VIEWER, api=True).post(reverse("flows-api:system-check", args=[pk])).status_code == 403
    assert logged_in(SUPPORT, api=True).post(reverse("flows-api:system-check", args=[pk])).status_code == 200
    history = admin.get(reverse("flows-api:system-checks", args=[pk])).json()
    assert len(history) == 2
    # Secrets: null removes, absent keeps; unknown names and bad parameters are named.
    bad = admin.patch(
        reverse("flows-api:system-detail", args=[pk]), {"secrets": {"nonsense": "x"}}, format="json"
    )
    assert bad.status_code == 400 and "nonsense" in str(bad.json()["secrets"])
    bad = admin.patch(
        reverse("flows-api:system-detail", args=[pk]),
        {"parameters": {"base_url": "nope", "auth_type": "bearer", "entities": [entity("page")]}},
        format="json",
    )
    assert bad.status_code == 400 and "base_url" in bad.json()["parameters"]
    cleared = admin.patch(
        reverse("flows-api:system-detail", args=[pk]), {"secrets": {"token": None}}, format="json"
    )
    assert cleared.status_code == 400 and "token" in cleared.json()["secrets"]  # bearer needs it
    ok = admin.patch(reverse("flows-api:system-detail", args=[pk]), {"name": "Renamed"}, format="json")
    assert ok.status_code == 200 and System.objects.get(pk=pk).secrets == {"token": SECRET}


def test_key_rotation_re_encrypts_every_secret(settings, api_server):
    from flows import coordination, webhooks
    from flows.models import WebhookEvent

    url, _ = api_server
    old, new = settings.HUB_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    logged_in(INTEGRATION_ADMIN).post(reverse("flows:system_add"), form_data(url))
    system = System.objects.get()
    system.webhook_enabled, system.webhook_signature_header, system.webhook_token = True, "", "tok"
    system.webhook_secret = "hook-secret"
    system.save()
    assert webhooks.receive(system.slug, "tok", b'{"a": 1}', {}).status == 202
    coordination.set_shared("oauth-token:cached", "tok-123", 600)
    entries = AuditEntry.objects.count()
    settings.HUB_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.HUB_ENCRYPTION_KEYS = [new]
    system = System.objects.get()
    assert system.secrets == {"token": SECRET} and system.webhook_secret == "hook-secret"
    assert WebhookEvent.objects.get().payload == {"a": 1}
    assert coordination.get_shared("oauth-token:cached") == "tok-123"
    assert AuditEntry.objects.count() == entries  # re-encryption is not a configuration change
    # A value encrypted with a key that is gone is a cache miss, never a crash.
    settings.HUB_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert coordination.get_shared("oauth-token:cached") is None


def test_scheduled_health_check_covers_enabled_systems(api_server):
    from django_q.models import Schedule

    from flows.schedules import HEALTH_CHECK

    url, _ = api_server
    admin = logged_in(INTEGRATION_ADMIN)
    admin.post(reverse("flows:system_add"), form_data(url))
    admin.post(reverse("flows:system_add"), form_data(url, name="Off", slug="off", enabled=""))
    assert Schedule.objects.filter(name=HEALTH_CHECK, func="flows.tasks.check_all_systems").exists()
    assert services.check_all_systems() == {"up": 1}
    assert SystemCheck.objects.get().trigger == "schedule"


def test_masking_reaches_nested_lists_and_secret_looking_keys():
    from flows.services import mask_record

    order = {
        "increment_id": "000000042",
        "customer_email": "jane.doe@example.test",
        "extension_attributes": {
            "shipping_assignments": [
                {
                    "shipping": {
                        "address": {"firstname": "Jane", "telephone": "+33 6 12 34 56 78", "city": "Lyon"}
                    }
                }
            ]
        },
        "items": [{"sku": "CHR-1", "name": "Chair"}],
        "payment": {"additional_information": ["jane.doe@example.test"], "api_token": "tok_live_123"},
    }
    masked = json.dumps(mask_record(order))
    for secret in ("jane.doe@example.test", "+33 6 12 34 56 78", "Lyon", "tok_live_123"):
        assert secret not in masked, secret
    assert "CHR-1" in masked and "Chair" in masked and "000000042" in masked
