"""The request pages and API: who may see and act (DPO yes; Support, Viewer, Integration admin no),
identifiers masked unless shown on purpose (audited), the DPO's path from intake to evidence, and the
public intake page (CSRF, honeypot, code, rate limit)."""

import json
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from gdpr import requests
from gdpr.models import DataSubjectRequest
from gdpr.models.choices import RequestState
from integration_hub.models import AuditAction, AuditEntry
from integration_hub.roles import DPO, INTEGRATION_ADMIN, SUPPORT, VIEWER
from tests.factories import SystemFactory, UserFactory
from tests.gdpr import fake_connector  # noqa: F401  (registers the in-memory connector)
from tests.gdpr.fake_connector import DOWN, STORES

pytestmark = pytest.mark.django_db(databases="__all__")

EMAIL = "jeanne.martin@example.org"


@pytest.fixture(autouse=True)
def stores():
    STORES.clear()
    DOWN.clear()
    STORES["shop"] = {"customers": {"101": {"id": "101", "email": EMAIL, "name": "Jeanne Martin"}}}
    STORES["crm"] = {"customers": {"c-7": {"id": "c-7", "email": EMAIL}}}


@pytest.fixture
def systems(db):
    return [
        SystemFactory(name=name.upper(), slug=name, connector="gdpr-fake", parameters={"store": name})
        for name in ("shop", "crm")
    ]


def client_for(*roles, username=None):
    user = UserFactory(username=username or f"u-{'-'.join(roles) or 'none'}", roles=list(roles))
    client = Client()
    client.force_login(user)
    return client, user


def api_for(*roles):
    user = UserFactory(username=f"api-{'-'.join(roles)}", roles=list(roles))
    client = APIClient()
    client.force_authenticate(user)
    return client


def new_request():
    return requests.create_request("erasure", "email", timezone.localdate(), {"email": [EMAIL]})


@pytest.mark.parametrize("role", [SUPPORT, VIEWER, INTEGRATION_ADMIN])
def test_only_the_dpo_reaches_requests_in_the_console(role):
    obj = new_request()
    client, _user = client_for(role)
    assert client.get(reverse("gdpr:datasubjectrequest_list")).status_code == 403
    assert client.get(obj.get_absolute_url()).status_code == 404
    assert client.get(reverse("gdpr:datasubjectrequest_add")).status_code == 403
    assert client.post(reverse("gdpr:request_verify", args=[obj.pk]), {"method": "x"}).status_code == 404
    assert client.get(reverse("gdpr:suppressedsubject_list")).status_code == 403
    dpo, _user = client_for(DPO, username="the-dpo")
    assert dpo.get(reverse("gdpr:datasubjectrequest_list")).status_code == 200


@pytest.mark.parametrize("role", [SUPPORT, VIEWER, INTEGRATION_ADMIN])
def test_only_the_dpo_reaches_requests_in_the_api(role):
    obj = new_request()
    api = api_for(role)
    assert api.get("/api/gdpr/requests/").status_code == 403
    assert api.get(f"/api/gdpr/requests/{obj.pk}/").status_code in (403, 404)
    body = {"received_on": "2026-01-31", "identifiers": {"email": ["x@example.org"]}}
    assert api.post("/api/gdpr/requests/", body, format="json").status_code == 403
    assert api.post(f"/api/gdpr/requests/{obj.pk}/plan/").status_code in (403, 404)
    assert DataSubjectRequest.objects.count() == 1


def test_identifiers_are_masked_until_shown_on_purpose_and_each_showing_is_audited():
    obj = new_request()
    # A user who may view requests but not personal data sees them masked, with no way to unmask.
    client, user = client_for(VIEWER, username="reader")
    user.user_permissions.add(
        *__import__("django.contrib.auth.models", fromlist=["Permission"]).Permission.objects.filter(
            codename="view_datasubjectrequest"
        )
    )
    page = client.get(obj.get_absolute_url())
    assert page.status_code == 200
    assert EMAIL not in page.content.decode() and "j***@e***.org" in page.content.decode()
    assert EMAIL not in client.get(obj.get_absolute_url() + "?reveal=1").content.decode()
    # The DPO sees them masked too, and unmasked on demand, which is audited.
    dpo, _user = client_for(DPO, username="the-dpo")
    assert EMAIL not in dpo.get(obj.get_absolute_url()).content.decode()
    assert not AuditEntry.objects.filter(action=AuditAction.PERSONAL_VIEW).exists()
    assert EMAIL in dpo.get(obj.get_absolute_url() + "?reveal=1").content.decode()
    entry = AuditEntry.objects.get(action=AuditAction.PERSONAL_VIEW)
    assert entry.user_name == "the-dpo" and entry.object_id == str(obj.pk)


def test_the_dpo_records_verifies_plans_executes_and_downloads_the_evidence(
    systems, django_capture_on_commit_callbacks
):
    client, _user = client_for(DPO, username="the-dpo")
    response = client.post(
        reverse("gdpr:datasubjectrequest_add"),
        {"kind": "erasure", "channel": "email", "received_on": "2026-01-31", "email": EMAIL.upper()},
    )
    obj = DataSubjectRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == obj.get_absolute_url()
    assert obj.due_on.isoformat() == "2026-02-28"
    # Planning before verification is refused.
    client.post(reverse("gdpr:request_plan", args=[obj.pk]))
    assert DataSubjectRequest.objects.get().state == RequestState.RECEIVED
    client.post(reverse("gdpr:request_verify", args=[obj.pk]), {"method": "ID document seen"})
    client.post(reverse("gdpr:request_plan", args=[obj.pk]))
    page = client.get(obj.get_absolute_url()).content.decode()
    assert "Found in 2 systems, 2 records" in page
    assert "101" in STORES["shop"]["customers"]  # nothing changed by the plan
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("gdpr:request_execute", args=[obj.pk]))
    obj.refresh_from_db()
    assert obj.state == RequestState.COMPLETED
    assert STORES["shop"]["customers"] == {} and STORES["crm"]["customers"] == {}
    evidence = client.get(reverse("gdpr:request_evidence", args=[obj.pk]) + "?format=json")
    assert evidence.status_code == 200
    text = evidence.content.decode()
    assert "jeanne" not in text.casefold()
    pack = json.loads(text)
    assert {t["system"] for t in pack["data"]["tasks"]} >= {"SHOP", "CRM"}
    assert all(t["post_check"] == "passed" for t in pack["data"]["tasks"] if t["status"] == "succeeded")
    printable = client.get(reverse("gdpr:request_evidence", args=[obj.pk]))
    assert "Chain verified" in printable.content.decode()
    client.post(reverse("gdpr:request_sign_off", args=[obj.pk]))
    assert DataSubjectRequest.objects.get().signed_off_by is not None


def test_the_dpo_assigns_a_request():
    obj = new_request()
    client, dpo = client_for(DPO, username="the-dpo")
    client.post(reverse("gdpr:request_assign", args=[obj.pk]), {"assignee": dpo.pk})
    assert DataSubjectRequest.objects.get().assignee == dpo
    listed = client.get(reverse("gdpr:datasubjectrequest_list") + f"?assignee={dpo.pk}").content.decode()
    assert obj.reference in listed


def test_the_extension_is_refused_beyond_two_months_in_the_console():
    obj = new_request()
    client, _user = client_for(DPO, username="the-dpo")
    url = reverse("gdpr:request_extend", args=[obj.pk])
    client.post(url, {"months": 3, "reason": "complex", "notified_on": "2026-02-01"})
    assert DataSubjectRequest.objects.get().extended_months == 0
    client.post(url, {"months": 2, "reason": "complex", "notified_on": "2026-02-01"})
    assert DataSubjectRequest.objects.get().extended_months == 2


def test_the_api_runs_the_same_services(systems, django_capture_on_commit_callbacks):
    api = api_for(DPO)
    created = api.post(
        "/api/gdpr/requests/",
        {"received_on": "2026-01-31", "identifiers": {"email": [EMAIL]}},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["due_on"] == "2026-02-28" and EMAIL not in json.dumps(body)
    pk = body["id"]
    assert api.post(f"/api/gdpr/requests/{pk}/plan/").status_code == 400  # not verified
    assert (
        api.post(f"/api/gdpr/requests/{pk}/extend/", {"months": 3, "reason": "x"}, format="json").status_code
        == 400
    )
    assert (
        api.post(f"/api/gdpr/requests/{pk}/verify/", {"method": "ID seen"}, format="json").status_code == 200
    )
    planned = api.post(f"/api/gdpr/requests/{pk}/plan/").json()
    assert planned["plan_summary"]["systems"] == 2 and planned["state"] == "planned"
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/gdpr/requests/{pk}/execute/").status_code == 200
    done = api.get(f"/api/gdpr/requests/{pk}/").json()
    assert done["state"] == "completed"
    assert api.get("/api/gdpr/suppression/").json()["count"] == 1


# --- the public intake page ---------------------------------------------------------------------------


def test_a_person_files_a_request_and_confirms_it_with_the_code():
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("gdpr:request_intake"))
    assert page.status_code == 200
    token = page.cookies["csrftoken"].value
    # Without the CSRF token: refused.
    assert client.post(reverse("gdpr:request_intake"), {"kind": "erasure", "email": EMAIL}).status_code == 403
    response = client.post(
        reverse("gdpr:request_intake"), {"kind": "erasure", "email": EMAIL, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    obj = DataSubjectRequest.objects.get()
    assert obj.channel == "form" and obj.state == RequestState.RECEIVED
    assert mail.outbox[-1].to == [EMAIL]
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    verify_url = response["Location"]
    wrong = client.post(
        verify_url, {"code": "000000" if code != "000000" else "111111", "csrfmiddlewaretoken": token}
    )
    assert wrong.status_code == 400 and "Wrong code" in wrong.content.decode()
    right = client.post(verify_url, {"code": code, "csrfmiddlewaretoken": token})
    assert right.status_code == 200 and "confirmed" in right.content.decode()
    assert DataSubjectRequest.objects.get().state == RequestState.VERIFIED
    # A forged token finds nothing.
    assert client.get(reverse("gdpr:request_intake_verify", args=["forged"])).status_code == 404


def test_the_honeypot_and_the_rate_limit_stop_bots():
    client = Client()
    url = reverse("gdpr:request_intake")
    bot = client.post(url, {"kind": "erasure", "email": "bot@example.org", "website": "http://spam"})
    assert bot.status_code == 200 and not DataSubjectRequest.objects.exists() and not mail.outbox
    for n in range(5):
        assert client.post(url, {"kind": "erasure", "email": f"p{n}@example.org"}).status_code == 302
    throttled = client.post(url, {"kind": "erasure", "email": "p6@example.org"})
    assert throttled.status_code == 429
    assert DataSubjectRequest.objects.count() == 5


def test_an_access_request_gives_the_data_as_json_and_a_printable_answer(
    systems, django_capture_on_commit_callbacks
):
    obj = requests.create_request("access", "email", timezone.localdate(), {"email": [EMAIL]})
    requests.verify_identity(obj, "ID document seen", user=None)
    requests.plan_request(obj)
    with django_capture_on_commit_callbacks(execute=True):
        requests.execute_request(obj)
    client, _user = client_for(DPO, username="the-dpo")
    data = client.get(reverse("gdpr:request_access", args=[obj.pk]) + "?format=json")
    assert data.status_code == 200 and data["Content-Type"] == "application/json"
    systems_data = {(s["system"], s["entity"]): s["records"] for s in data.json()["systems"]}
    assert systems_data["SHOP", "customers"][0]["data"]["name"] == "Jeanne Martin"
    printable = client.get(reverse("gdpr:request_access", args=[obj.pk]))
    assert "Jeanne Martin" in printable.content.decode()
    assert AuditEntry.objects.filter(action=AuditAction.PERSONAL_VIEW, object_id=str(obj.pk)).count() == 2
    assert "101" in STORES["shop"]["customers"]  # an access request erases nothing
