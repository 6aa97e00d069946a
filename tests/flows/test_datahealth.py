"""Data health of an entity: a scan reads every record once through the connector, counts duplicates,
incomplete and stale records, shows examples (masked for those who may not see personal data) and
exports them as CSV."""

import csv
import io
from collections import Counter
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse

from flows import datahealth
from flows.demo import ensure_demo_systems
from flows.engine.health import months_before, parse_datetime
from flows.models import HealthScan, System
from integration_hub import realtime
from integration_hub.roles import DPO, INTEGRATION_ADMIN, VIEWER
from sandbox.testing import running
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(scope="module")
def crm_url():
    with running("crm") as url:
        yield url


@pytest.fixture
def crm(crm_url):
    ensure_demo_systems(urls={"crm": crm_url})
    return System.objects.get(slug="crm")


def all_contacts(system) -> list[dict]:
    """The baseline: every record, read plainly through the connector."""
    connector = system.get_connector()
    try:
        return [r for page in connector.read("contacts") for r in page.records]
    finally:
        connector.close()


def scan(system, django_capture_on_commit_callbacks, **settings) -> HealthScan:
    with django_capture_on_commit_callbacks(execute=True):
        started = datahealth.start_scan(system, **settings)
    started.refresh_from_db()
    return started


def test_a_scan_counts_what_a_plain_read_finds(crm, django_capture_on_commit_callbacks):
    contacts = all_contacts(crm)
    done = scan(
        crm,
        django_capture_on_commit_callbacks,
        entity="contacts",
        key_path="properties.country",
        required=["properties.phone", "properties.company"],
        updated_path="properties.lastmodifieddate",
        stale_months=6,
    )
    assert done.status == "done" and done.scanned == len(contacts) > 100
    report = done.result["report"]
    countries = Counter(c["properties"].get("country") for c in contacts if c["properties"].get("country"))
    assert report["duplicates"]["groups"] == sum(1 for n in countries.values() if n > 1)
    assert report["duplicates"]["records"] == sum(n for n in countries.values() if n > 1)
    no_company = sum(1 for c in contacts if not (c["properties"].get("company") or "").strip())
    assert report["missing"]["by_field"].get("properties.company", 0) == no_company
    cutoff = months_before(datetime.now(UTC), 6)
    stale = sum(1 for c in contacts if parse_datetime(c["properties"]["lastmodifieddate"]) < cutoff)
    assert report["stale"]["records"] == stale


def received(channel: str) -> list[dict]:
    """Every message waiting on ``channel`` of the channel layer."""
    import asyncio

    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    async def drain():
        out = []
        while True:
            try:
                out.append(await asyncio.wait_for(layer.receive(channel), timeout=0.5))
            except TimeoutError:
                return out

    return async_to_sync(drain)()


def test_progress_reaches_everyone_who_may_see_the_system(crm, django_capture_on_commit_callbacks):
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(realtime.object_group(crm), channel)
    done = scan(
        crm,
        django_capture_on_commit_callbacks,
        entity="contacts",
        key_path="id",
        required=[],
        updated_path="",
        stale_months=12,
    )
    events = [m["payload"] for m in received(channel) if m["type"] == "health.progress"]
    assert events[0]["status"] == "running" and events[-1] == {
        "scan": done.pk,
        "system": crm.pk,
        "status": "done",
        "scanned": done.scanned,
    }


def test_bad_settings_name_the_field(crm):
    with pytest.raises(datahealth.ScanError) as caught:
        datahealth.start_scan(
            crm,
            entity="contacts",
            key_path="properties.email[",
            required=[],
            updated_path="",
            stale_months=12,
        )
    assert set(caught.value.errors) == {"key_path"}
    with pytest.raises(datahealth.ScanError) as caught:
        datahealth.start_scan(
            crm, entity="tickets", key_path="", required=[], updated_path="", stale_months=0
        )
    assert {"entity", "key_path", "stale_months"} <= set(caught.value.errors)
    assert not HealthScan.objects.exists()


def test_a_system_that_cannot_be_read_fails_the_scan_with_its_reason(crm, django_capture_on_commit_callbacks):
    crm.parameters = {**crm.parameters, "base_url": "http://127.0.0.1:9"}
    crm.save()
    failed = scan(
        crm,
        django_capture_on_commit_callbacks,
        entity="contacts",
        key_path="properties.email",
        required=[],
        updated_path="",
        stale_months=12,
    )
    assert failed.status == "failed" and "refused" in failed.message.lower() and failed.result is None


def test_console_starts_a_scan_and_masks_personal_values(crm, django_capture_on_commit_callbacks):
    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    page = admin.get(reverse("flows:system_health", args=[crm.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and 'value="contacts"' in body
    # HubSpot declares companies, contacts, deals and products: choosing contacts proposes its fields
    chosen = admin.post(
        reverse("flows:system_health", args=[crm.pk]), {"_refresh": "1", "entity": "contacts"}
    )
    assert chosen.status_code == 200 and "properties.lastmodifieddate" in chosen.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        started = admin.post(
            reverse("flows:system_health", args=[crm.pk]),
            {
                "entity": "contacts",
                "key_path": "properties.lastname",
                "required": "properties.company",
                "updated_path": "",
                "stale_months": 12,
            },
        )
    assert started.status_code == 302
    done = HealthScan.objects.get()
    shown = admin.get(started["Location"]).content.decode()
    assert "Personal data is masked" in shown and "Download CSV" in shown
    names = Counter(
        c["properties"]["lastname"].strip().lower() for c in all_contacts(crm)
    )  # keys compare normalised
    repeated = [name for name, n in names.items() if n > 1]
    assert repeated and not any(f"<code>{name}</code>" in shown for name in repeated)
    dpo = Client()
    dpo.force_login(UserFactory(roles=[DPO]))
    clear = dpo.get(started["Location"]).content.decode()
    assert any(f"<code>{name}</code>" in clear for name in repeated)
    rows = list(
        csv.reader(
            io.StringIO(
                admin.get(reverse("flows:system_health_csv", args=[crm.pk, done.pk])).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert rows[0] == ["problem", "id", "field", "value", "detail"]
    duplicates = [r for r in rows[1:] if r[0] == "duplicate"]
    assert duplicates and all(r[3] not in repeated for r in duplicates)


def test_a_viewer_reads_reports_but_cannot_start_one(crm, django_capture_on_commit_callbacks):
    done = scan(
        crm,
        django_capture_on_commit_callbacks,
        entity="contacts",
        key_path="id",
        required=[],
        updated_path="",
        stale_months=12,
    )
    viewer = Client()
    viewer.force_login(UserFactory(roles=[VIEWER]))
    assert viewer.get(reverse("flows:system_health_scan", args=[crm.pk, done.pk])).status_code == 200
    refused = viewer.post(
        reverse("flows:system_health", args=[crm.pk]),
        {"entity": "contacts", "key_path": "id", "stale_months": 12},
    )
    assert refused.status_code == 403 and HealthScan.objects.count() == 1


def test_only_the_newest_scans_are_kept(crm, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(HealthScan, "KEEP", 2)
    monkeypatch.setattr(datahealth, "run_scan", lambda scan_id: None)
    for _ in range(4):
        datahealth.start_scan(
            crm, entity="contacts", key_path="id", required=[], updated_path="", stale_months=12
        )
    assert HealthScan.objects.count() == 2
