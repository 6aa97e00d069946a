"""Regressions the permission matrix and schemathesis found: each answered 500 before."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows.models import Flow, System
from integration_hub.roles import INTEGRATION_ADMIN
from tests.factories import FlowFactory, SystemFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api():
    api = APIClient()
    api.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    return api


def test_deleting_a_system_flows_still_use_is_a_409_naming_them(admin_api):
    system = SystemFactory()
    FlowFactory(name="Stock to shop", source_system=system, target_system=system)
    response = admin_api.delete(reverse("flows-api:system-detail", args=[system.pk]))
    assert response.status_code == 409
    assert "Stock to shop" in response.json()["detail"]
    assert System.objects.filter(pk=system.pk).exists()


def test_cloning_a_flow_that_no_longer_fits_its_systems_says_why(admin_api):
    """A factory flow names an entity its REST system does not declare: saving a copy is refused."""
    system = SystemFactory()
    flow = FlowFactory(source_system=system, target_system=system)
    response = admin_api.post(reverse("flows-api:flow-clone", args=[flow.pk]))
    assert response.status_code == 400 and "source_entity" in response.json()
    ui = Client()
    ui.force_login(UserFactory(username="ui-admin", roles=[INTEGRATION_ADMIN]))
    page = ui.post(reverse("flows:flow_clone", args=[flow.pk]), follow=True)
    assert page.status_code == 200 and "cannot be cloned" in page.content.decode()
    assert Flow.objects.count() == 1


def test_triage_bulk_refuses_ids_no_database_key_can_hold(admin_api):
    response = admin_api.post(
        reverse("monitoring-api:errorgroup-bulk"), {"action": "resolve", "ids": [2**70]}, format="json"
    )
    assert response.status_code == 400 and "ids" in response.json()


def test_failure_signatures_are_documented_as_the_list_they_are(admin_api):
    response = admin_api.get(reverse("flows-api:failedrecord-signatures"))
    assert response.status_code == 200 and response.json() == []
    schema = admin_api.get(reverse("api-schema"), {"format": "json"}, HTTP_ACCEPT="application/json").json()
    documented = schema["paths"]["/api/failed-records/signatures/"]["get"]["responses"]["200"]
    assert documented["content"]["application/json"]["schema"]["type"] == "array"


@pytest.mark.parametrize(
    "bound", ["0619-04-09T04:00:45-20:31", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_a_date_filter_at_the_edge_of_the_calendar_is_answered_not_a_500(admin_api, bound):
    for name in ("time_before", "time_after"):
        response = admin_api.get("/api/audit/", {name: bound})
        assert response.status_code in (200, 400), (name, response.status_code)


def test_a_value_the_database_cannot_hold_is_a_400_not_a_500():
    admin_api = APIClient()
    admin_api.force_login(UserFactory(is_superuser=True))  # the register is the DPO's
    body = {"name": "Marketing", "legal_basis": "contract", "flows": [1044705111111859328]}
    response = admin_api.post("/api/gdpr/activities/", body, format="json")
    assert response.status_code == 400, response.content
    body = {"name": "Marketing", "legal_basis": "contract", "data_categories": ["a\x00b"]}
    response = admin_api.post("/api/gdpr/activities/", body, format="json")
    assert response.status_code == 400, response.content
