"""Regression tests for the hardening after the foundation's security review."""

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from guardian.models import UserObjectPermission
from rest_framework.test import APIClient

from flows.models import System
from integration_hub import services
from integration_hub.middleware import client_ip
from integration_hub.models import AuditAction, AuditEntry
from integration_hub.roles import DPO, INTEGRATION_ADMIN, SUPPORT, VIEWER
from tests.factories import SystemFactory, UserFactory, system_api_data

pytestmark = pytest.mark.django_db


def logged_in(user, api=False):
    client = APIClient() if api else Client()
    client.force_login(user)
    return client


def role(name):
    return Group.objects.get(name=name)


def test_an_admin_cannot_take_over_a_superuser_or_a_more_powerful_account():
    admin = UserFactory(username="adm", roles=[INTEGRATION_ADMIN])
    root = UserFactory(username="root")
    root.is_superuser = True
    root.save()
    # An account holding a right the admin lacks (here a global one given directly).
    dpo = UserFactory(username="dpo", roles=[DPO])
    from django.contrib.auth.models import Permission

    dpo.user_permissions.add(Permission.objects.get(codename="delete_user"))
    client = logged_in(admin)
    for target in (root, dpo):
        response = client.post(
            reverse("auth:user_edit", args=[target.pk]), {"email": "evil@example.test", "is_active": "on"}
        )
        assert response.status_code == 403
        target.refresh_from_db()
        assert target.email != "evil@example.test"
        assert client.post(reverse("auth:user_resend_invitation", args=[target.pk])).status_code == 403
    # The user page does not offer the edit button either.
    assert (
        reverse("auth:user_edit", args=[root.pk])
        not in client.get(reverse("auth:user", args=[root.pk])).content.decode()
    )
    # A superuser may.
    superuser_client = logged_in(root)
    response = superuser_client.post(
        reverse("auth:user_edit", args=[dpo.pk]),
        {"email": "dpo2@example.test", "is_active": "on", "roles": [role(DPO).pk]},
    )
    assert response.status_code == 302
    dpo.refresh_from_db()
    assert dpo.email == "dpo2@example.test"
    entry = AuditEntry.objects.filter(action=AuditAction.UPDATE, object_repr="dpo").latest("pk")
    assert ("email", "dpo@example.test", "dpo2@example.test") in entry.changes


def test_roles_offered_are_only_those_the_admin_holds_entirely():
    admin = UserFactory(username="adm2", roles=[INTEGRATION_ADMIN])
    from django.contrib.auth.models import Permission

    Group.objects.create(name="Superpowers").permissions.set(role(INTEGRATION_ADMIN).permissions.all())
    role(DPO).permissions.add(Permission.objects.get(codename="delete_user"))  # a right admins lack
    offered = {g.name for g in services.assignable_roles(admin)}
    assert offered == {INTEGRATION_ADMIN, SUPPORT, VIEWER}  # not DPO (GDPR rights), not a custom group
    target = UserFactory(username="t", roles=[VIEWER])
    client = logged_in(admin)
    response = client.post(
        reverse("auth:user_edit", args=[target.pk]),
        {
            "email": "t@example.test",
            "is_active": "on",
            "roles": [role(DPO).pk, Group.objects.get(name="Superpowers").pk],
        },
    )
    assert response.status_code == 400
    assert "roles" in response.context["form"].errors
    assert [g.name for g in target.groups.all()] == [VIEWER]


def test_changing_an_email_tells_the_old_address(django_capture_on_commit_callbacks):
    admin = UserFactory(username="adm3", roles=[INTEGRATION_ADMIN])
    target = UserFactory(username="moving", email="old@example.test", roles=[VIEWER])
    with django_capture_on_commit_callbacks(execute=True):
        logged_in(admin).post(
            reverse("auth:user_edit", args=[target.pk]),
            {"email": "new@example.test", "is_active": "on", "roles": [role(VIEWER).pk]},
        )
    assert [m.to for m in mail.outbox] == [["old@example.test"]]
    assert "new@example.test" in mail.outbox[0].body


def test_email_must_stay_unique_on_edit():
    admin = UserFactory(username="adm4", roles=[INTEGRATION_ADMIN])
    UserFactory(username="a", email="taken@example.test")
    b = UserFactory(username="b", email="b@example.test", roles=[VIEWER])
    response = logged_in(admin).post(
        reverse("auth:user_edit", args=[b.pk]), {"email": "TAKEN@example.test", "is_active": "on"}
    )
    assert response.status_code == 400 and "already exists" in response.context["form"].errors["email"][0]


def test_audit_readers_see_only_changes_to_kinds_of_objects_they_may_view():
    admin = UserFactory(username="adm5", roles=[INTEGRATION_ADMIN])
    support = UserFactory(username="sup", roles=[SUPPORT])
    logged_in(admin).post(reverse("auth:user_add"), {"username": "hidden", "email": "hidden@example.test"})
    SystemFactory(name="Visible shop")
    user_entry = AuditEntry.objects.get(object_repr="hidden")
    page = logged_in(support).get(reverse("integration_hub:auditentry_list")).content.decode()
    assert "Visible shop" in page and "hidden@example.test" not in page and ">hidden<" not in page
    assert logged_in(support).get(user_entry.get_absolute_url()).status_code == 404
    rows = logged_in(support, api=True).get(reverse("hub-api:auditentry-list")).json()["results"]
    assert "hidden" not in {r["object_repr"] for r in rows}
    assert "Visible shop" in {r["object_repr"] for r in rows}
    # Sign-in events are about no object: every audit reader sees them.
    Client().post(reverse("login"), {"username": "sup", "password": "wrong"})
    assert any(
        r["action"] == "login_failed"
        for r in logged_in(support, api=True).get(reverse("hub-api:auditentry-list")).json()["results"]
    )


def test_token_api_writes_are_attributed_to_the_token_owner():
    admin = UserFactory(username="scripter", roles=[INTEGRATION_ADMIN])
    _token, key = services.create_api_token(admin, name="rw", write_enabled=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    created = client.post(
        reverse("flows-api:system-list"), system_api_data(name="Tok", slug="tok"), format="json"
    )
    assert created.status_code == 201
    entry = AuditEntry.objects.get(action=AuditAction.CREATE, object_repr="Tok")
    assert entry.user == admin and entry.user_name == "scripter"


def test_deleting_an_object_removes_its_grants():
    agent = UserFactory(username="agent")
    shop = SystemFactory()
    services.grant_access(shop, agent, ["view_system", "change_system"])
    shop.delete()
    assert not UserObjectPermission.objects.filter(user=agent).exists()
    assert logged_in(agent).get(reverse("flows:system_list")).status_code == 403


def test_revoking_logs_only_what_was_held():
    agent = UserFactory(username="agent2")
    shop = SystemFactory()
    services.grant_access(shop, agent, ["view_system"])
    services.revoke_access(shop, agent)
    entry = AuditEntry.objects.get(action=AuditAction.REVOKE)
    assert entry.before["permissions"] == ["view_system"]
    services.revoke_access(shop, agent)  # nothing left: no entry
    assert AuditEntry.objects.filter(action=AuditAction.REVOKE).count() == 1


def test_access_tab_and_user_page_query_counts_do_not_grow_with_grants(django_assert_max_num_queries):
    admin = UserFactory(username="adm6", roles=[INTEGRATION_ADMIN])
    shop = SystemFactory()
    client = logged_in(admin)
    users = [UserFactory(username=f"u{i}") for i in range(12)]
    for u in users:
        services.grant_access(shop, u, ["view_system", "change_system"])
    others = [SystemFactory() for _ in range(12)]
    for s in others:
        services.grant_access(s, users[0], ["view_system"])
    with django_assert_max_num_queries(20):
        assert client.get(reverse("flows:system_access", args=[shop.pk])).status_code == 200
    with django_assert_max_num_queries(20):
        assert client.get(reverse("auth:user", args=[users[0].pk])).status_code == 200


def test_csv_export_has_labels_and_follows_the_sort():
    viewer = UserFactory(username="v", roles=[VIEWER])
    SystemFactory(name="Alpha", role="pim")
    SystemFactory(name="Zulu", role="erp")
    body = b"".join(
        logged_in(viewer)
        .get(reverse("flows:system_list"), {"export": "csv", "sort": "-name"})
        .streaming_content
    ).decode()
    lines = body.splitlines()
    assert lines[1].startswith("Zulu,ERP") and lines[2].startswith("Alpha,PIM")
    assert "<span" not in body


def test_token_expiry_in_the_past_is_refused_by_the_api():
    client = logged_in(UserFactory(), api=True)
    response = client.post(
        reverse("hub-api:apitoken-list"), {"name": "old", "expires": "2001-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400 and "future" in response.json()["expires"][0]


def test_edit_form_ignores_prefill_from_a_link():
    admin = UserFactory(username="adm7", roles=[INTEGRATION_ADMIN])
    shop = SystemFactory(name="Real name")
    form = (
        logged_in(admin)
        .get(reverse("flows:system_edit", args=[shop.pk]), {"name": "Hijacked"})
        .context["form"]
    )
    assert form["name"].value() == "Real name"
    add_form = logged_in(admin).get(reverse("flows:system_add"), {"name": "Prefilled"}).context["form"]
    assert add_form["name"].value() == "Prefilled"


def test_readyz_gives_details_to_staff_only():
    anonymous = Client().get(reverse("readyz")).json()
    assert all("detail" not in c for c in anonymous["checks"].values())
    staff = logged_in(UserFactory()).get(reverse("readyz")).json()
    assert all("detail" in c for c in staff["checks"].values())


def test_client_address_behind_a_trusted_proxy():
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "10.0.0.1"
    with override_settings(HUB_BEHIND_PROXY=True):
        assert client_ip(request) == "203.0.113.7"  # the hop our proxy appended; the first is spoofable


def test_password_change_and_reset_are_audited():
    user = UserFactory(username="pw")
    client = logged_in(user)
    client.post(
        reverse("password_change"),
        {
            "old_password": "correct horse battery staple",
            "new_password1": "N3w-pass-word!",
            "new_password2": "N3w-pass-word!",
        },
    )
    assert AuditEntry.objects.filter(
        action=AuditAction.UPDATE, object_repr="pw", message="Password changed"
    ).exists()


def test_generic_detail_page_masks_redacted_fields():
    class Secretive(System):
        class Meta:
            proxy = True
            app_label = "flows"

        audit_redacted_fields = ("description",)

    obj = Secretive.objects.create(name="S", slug="s", description="hunter2")
    assert obj.display_snapshot()["description"] == "[redacted]"
    assert obj.display_snapshot()["name"] == "S"
