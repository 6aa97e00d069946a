import pytest
from django.contrib.auth.models import Group, Permission

from integration_hub.roles import DPO, INTEGRATION_ADMIN, ROLE_POLICIES, SUPPORT, VIEWER, ensure_roles

pytestmark = pytest.mark.django_db


def perms(role):
    return set(Group.objects.get(name=role).permissions.values_list("content_type__app_label", "codename"))


def test_migration_seeds_the_four_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {INTEGRATION_ADMIN, SUPPORT, DPO, VIEWER}


def test_each_role_holds_what_its_job_needs_and_no_more():
    assert ("flows", "change_system") in perms(INTEGRATION_ADMIN)
    assert ("integration_hub", "manage_access") in perms(INTEGRATION_ADMIN)
    assert ("auth", "add_user") in perms(INTEGRATION_ADMIN)
    viewer = perms(VIEWER)
    assert ("flows", "view_system") in viewer
    assert all(codename.startswith("view_") for _app, codename in viewer)
    assert ("integration_hub", "view_auditentry") in perms(SUPPORT)
    assert ("flows", "change_system") not in perms(SUPPORT)
    assert ("auth", "add_user") not in perms(DPO)


def test_ensure_roles_is_additive_and_idempotent():
    viewer = Group.objects.get(name=VIEWER)
    extra = Permission.objects.get(codename="view_auditentry")
    viewer.permissions.add(extra)  # an admin's own addition survives
    Group.objects.filter(name=DPO).delete()
    ensure_roles()
    ensure_roles()
    assert Group.objects.filter(name=DPO).count() == 1
    assert extra in Group.objects.get(name=VIEWER).permissions.all()
    assert set(ROLE_POLICIES) <= set(Group.objects.values_list("name", flat=True))
