"""An admin grants one of two systems to a user from the Access tab; the user then sees and reaches only
that one, in the console and in the API."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from integration_hub.models import AuditAction, AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN
from tests.factories import SystemFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_granted_user_sees_and_reaches_only_the_granted_system():
    admin = UserFactory(username="admin", roles=[INTEGRATION_ADMIN])
    agent = UserFactory(username="agent")
    shop, erp = SystemFactory(name="Main shop"), SystemFactory(name="Back-office ERP")

    admin_client = Client()
    admin_client.force_login(admin)
    page = admin_client.get(reverse("flows:system_access", args=[shop.pk]))
    assert page.status_code == 200 and b"No one has a grant" in page.content
    response = admin_client.post(
        reverse("flows:system_access", args=[shop.pk]), {"user": agent.pk, "permissions": ["view_system"]}
    )
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action=AuditAction.GRANT, object_id=str(shop.pk)).exists()
    assert b"agent" in admin_client.get(reverse("flows:system_access", args=[shop.pk])).content

    ui = Client()
    ui.force_login(agent)
    listing = ui.get(reverse("flows:system_list")).content.decode()
    assert "Main shop" in listing and "Back-office ERP" not in listing
    assert ui.get(shop.get_absolute_url()).status_code == 200
    assert ui.get(erp.get_absolute_url()).status_code == 404
    assert ui.get(reverse("flows:system_edit", args=[shop.pk])).status_code == 403
    dashboard = ui.get(reverse("home")).content.decode()
    assert "Main shop" in dashboard and "Back-office ERP" not in dashboard

    api = APIClient()
    api.force_login(agent)
    rows = api.get(reverse("flows-api:system-list")).json()["results"]
    assert [r["name"] for r in rows] == ["Main shop"]
    assert api.get(reverse("flows-api:system-detail", args=[shop.pk])).status_code == 200
    assert api.get(reverse("flows-api:system-detail", args=[erp.pk])).status_code == 404
    assert (
        api.patch(
            reverse("flows-api:system-detail", args=[shop.pk]), {"name": "x"}, format="json"
        ).status_code
        == 403
    )

    # Revoking takes it away again.
    admin_client.post(reverse("flows:system_access", args=[shop.pk]), {"revoke_user": agent.pk})
    assert ui.get(shop.get_absolute_url()).status_code == 404
    assert ui.get(reverse("flows:system_list")).status_code == 403


def test_grant_form_names_the_problem():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    shop = SystemFactory()
    client = Client()
    client.force_login(admin)
    response = client.post(reverse("flows:system_access", args=[shop.pk]), {"permissions": ["fly_system"]})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "Choose either a user or a group." in errors["__all__"]
    assert "fly_system" in str(errors["permissions"])
