"""make run registers the sandbox systems with working credentials: Test connection is green for all."""

import pytest
from django.core.management import call_command

from flows import services
from flows.demo import DEMO_SYSTEMS, ensure_demo_systems
from flows.models import System
from sandbox.testing import running

pytestmark = pytest.mark.django_db


def test_every_demo_system_connects_to_its_sandbox():
    # Each demo system's slug names its sandbox stand-in.
    with running([spec["slug"] for spec in DEMO_SYSTEMS]) as urls:
        created = ensure_demo_systems(urls=urls)
        assert {s.slug for s in created} == {spec["slug"] for spec in DEMO_SYSTEMS}
        for system in created:
            result = services.check_system(system)
            assert result.ok, (system.slug, result.message)
            assert System.objects.get(pk=system.pk).health_status == "up"
        # Idempotent: nothing new on a second run, and an admin's edit survives.
        System.objects.filter(slug="crm").update(name="Our CRM")
        assert ensure_demo_systems() == []
        assert System.objects.get(slug="crm").name == "Our CRM"


@pytest.mark.django_db(databases="__all__")
def test_bootstrap_registers_them_with_the_demo_admin_as_owner(capsys):
    call_command("bootstrap", demo_admin=True, demo_systems=True)
    out = capsys.readouterr().out
    assert "Demo admin account" in out and "Demo system registered: HubSpot CRM (sandbox)" in out
    assert set(System.objects.values_list("owner__username", flat=True)) == {"admin"}
    secrets = System.objects.get(slug="shop").secrets
    assert secrets == {"password": "shop-demo-pass"}
