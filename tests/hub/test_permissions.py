"""The one permission choke point: roles (global), object grants to users and to groups."""

import pytest
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm

from flows.models import System
from integration_hub.permissions import can, has_any_permission, restrict
from integration_hub.roles import INTEGRATION_ADMIN, SUPPORT, VIEWER
from tests.factories import SystemFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def systems():
    return SystemFactory(name="Shop"), SystemFactory(name="ERP")


def names(qs):
    return sorted(qs.values_list("name", flat=True))


def test_anonymous_and_inactive_users_get_nothing(systems):
    from django.contrib.auth.models import AnonymousUser

    assert not restrict(System.objects.all(), AnonymousUser()).exists()
    user = UserFactory(roles=[INTEGRATION_ADMIN])
    user.is_active = False
    user.save()
    assert not restrict(System.objects.all(), user).exists()


def test_roles_give_global_permissions(systems):
    viewer = UserFactory(roles=[VIEWER])
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    assert names(restrict(System.objects.all(), viewer, "view")) == ["ERP", "Shop"]
    assert not restrict(System.objects.all(), viewer, "change").exists()
    assert names(restrict(System.objects.all(), admin, "delete")) == ["ERP", "Shop"]


def test_object_grant_to_a_user_narrows_to_that_object(systems):
    shop, erp = systems
    agent = UserFactory()
    assert not has_any_permission(agent, System)
    assign_perm("flows.view_system", agent, shop)
    assert has_any_permission(agent, System)
    assert names(restrict(System.objects.all(), agent)) == ["Shop"]
    assert can(agent, "view", shop) and not can(agent, "view", erp)
    assert not can(agent, "change", shop)


def test_object_grant_to_a_group_reaches_its_members(systems):
    shop, _erp = systems
    team = Group.objects.create(name="Shop team")
    member = UserFactory()
    member.groups.add(team)
    assign_perm("flows.change_system", team, shop)
    assign_perm("flows.view_system", team, shop)
    assert names(restrict(System.objects.all(), member, "change")) == ["Shop"]


def test_a_support_agent_scoped_to_one_shop(systems):
    """Support role without the global permission on systems would see all; a scoped agent is a user
    without the role, granted one system."""
    shop, _ = systems
    support = UserFactory(roles=[SUPPORT])
    scoped = UserFactory()
    assign_perm("flows.view_system", scoped, shop)
    assert names(restrict(System.objects.all(), support)) == ["ERP", "Shop"]
    assert names(restrict(System.objects.all(), scoped)) == ["Shop"]


def test_superuser_sees_everything(systems):
    root = UserFactory(username="root")
    root.is_superuser = True
    root.save()
    assert names(restrict(System.objects.all(), root, "delete")) == ["ERP", "Shop"]
