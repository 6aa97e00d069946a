"""The breach register (Art. 33/34): the 72-hour clock, late notifications, the register prefill, the
"notified" actions, the printable sheet, the API and the "breach not notified" alert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from gdpr import breaches
from gdpr.models import Breach, DataCategory, ProcessingActivity
from gdpr.models.choices import ActivityState, CnilGroup
from integration_hub.models import AuditEntry
from integration_hub.models.audit import AuditAction
from integration_hub.roles import DPO, INTEGRATION_ADMIN
from monitoring import alerts
from monitoring.models import Alert, AlertRule
from monitoring.models.alerts import AlertState
from tests.factories import FlowFactory, SystemFactory, UserFactory


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def local(dt) -> str:
    """A moment as a datetime-local input sends it."""
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def breach(hours_ago: float, **fields) -> Breach:
    fields.setdefault("title", "Lost laptop")
    return breaches.save_breach(Breach(aware_at=timezone.now() - timedelta(hours=hours_ago), **fields))


def category(key: str, name: str) -> DataCategory:
    return DataCategory.objects.get_or_create(
        key=key, defaults={"name": name, "cnil_group": CnilGroup.IDENTITY}
    )[0]


@pytest.fixture
def shop_register(db):
    """A shop whose customers flow is in an approved activity declaring e-mail and postal address, and a
    draft activity (not yet the register's word) declaring bank details."""
    crm, shop, erp = SystemFactory(name="CRM"), SystemFactory(name="Shop"), SystemFactory(name="ERP")
    customers = FlowFactory(name="Customers", source_system=crm, target_system=shop)
    email, address = category("email", "E-mail address"), category("address", "Postal address")
    bank = category("bank_details_test", "Bank details")
    approved = ProcessingActivity.objects.create(reference="PA-1", name="Customer accounts")
    approved.flows.add(customers)
    approved.data_categories.add(email, address)
    ProcessingActivity.objects.filter(pk=approved.pk).update(state=ActivityState.APPROVED)
    draft = ProcessingActivity.objects.create(reference="PA-2", name="Refunds")
    draft.flows.add(customers)
    draft.data_categories.add(bank)
    return {"crm": crm, "shop": shop, "erp": erp, "email": email, "address": address, "bank": bank}


# --- the 72-hour clock -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("hours_ago", "state", "css"),
    [(10, "running", "info"), (50, "due_soon", "warning"), (80, "overdue", "danger")],
)
def test_the_clock_counts_72_hours_from_awareness(hours_ago, state, css):
    b = breach(hours_ago)
    clock = breaches.clock(b)
    assert (clock.state, clock.css, clock.ticking) == (state, css, True)
    assert clock.deadline == b.aware_at + timedelta(hours=72)
    assert clock.hours_left == pytest.approx(72 - hours_ago, abs=0.1)


@pytest.mark.django_db
def test_a_notified_breach_stops_the_clock_and_says_whether_it_was_late():
    in_time = breach(80)
    breaches.notify_authority(in_time, at=in_time.aware_at + timedelta(hours=30))
    assert breaches.clock(in_time).state == "notified" and not breaches.clock(in_time).ticking

    late = breach(100)
    breaches.notify_authority(late, at=late.aware_at + timedelta(hours=90), late_reason="Scope unclear")
    clock = breaches.clock(late)
    assert clock.state == "notified_late" and "18 h" in clock.label


@pytest.mark.django_db
def test_a_late_notification_needs_its_reasons_in_the_service_the_form_and_the_api():
    b = breach(100)
    with pytest.raises(Exception, match="72 hours"):
        breaches.notify_authority(b, at=timezone.now())
    assert Breach.objects.get(pk=b.pk).authority_notified_at is None

    dpo = UserFactory(roles=[DPO])
    page = client_for(dpo).post(
        reverse("gdpr:breach_edit", args=[b.pk]),
        {
            "title": b.title,
            "aware_at": local(b.aware_at),
            "risk": "risk",
            "authority_notified_at": local(timezone.now()),
        },
    )
    assert page.status_code == 400 and "give the reasons for the delay" in page.content.decode()

    action = client_for(dpo).post(
        reverse("gdpr:breach_notify_authority", args=[b.pk]),
        {"authority-at": local(timezone.now())},
        follow=True,
    )
    assert "give the reasons for the delay" in action.content.decode()
    assert Breach.objects.get(pk=b.pk).authority_notified_at is None

    api = api_for(dpo)
    url = reverse("gdpr-api:breach-notify-authority", args=[b.pk])
    assert api.post(url, {}, format="json").status_code == 400
    answer = api.post(url, {"late_reason": "Forensics took four days", "reference": "CNIL-42"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["clock"]["state"] == "notified_late"
    assert answer.json()["authority_reference"] == "CNIL-42"


# --- console ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_dpo_records_a_breach_and_the_notifications(shop_register):
    dpo = UserFactory(roles=[DPO])
    client = client_for(dpo)
    aware = timezone.now() - timedelta(hours=60)
    page = client.post(
        reverse("gdpr:breach_add"),
        {
            "title": "Shop database exposed",
            "aware_at": local(aware),
            "systems": [shop_register["shop"].pk],
            "data_categories": [shop_register["email"].pk],
            "persons_affected": "1200",
            "risk": "high",
            "measures": "Access revoked, passwords reset",
        },
    )
    assert page.status_code == 302
    b = Breach.objects.get()
    assert b.reference.startswith("BR-") and b.created_by == dpo
    assert list(b.systems.all()) == [shop_register["shop"]]

    detail = client.get(b.get_absolute_url()).content.decode()
    assert "left</span>" in detail and "alert-warning" in detail  # under 24 h left: amber
    assert "Art. 34" in detail and "High risk" in detail  # the persons must be told
    assert AuditEntry.objects.for_object(b).filter(action=AuditAction.CREATE).exists()

    notified_at = timezone.now() - timedelta(hours=1)
    client.post(
        reverse("gdpr:breach_notify_authority", args=[b.pk]),
        {"authority-at": local(notified_at), "authority-reference": "CNIL-2026-7"},
    )
    client.post(reverse("gdpr:breach_notify_persons", args=[b.pk]), {"persons-at": local(timezone.now())})
    b.refresh_from_db()
    assert b.authority_reference == "CNIL-2026-7" and b.persons_notified_at is not None
    detail = client.get(b.get_absolute_url()).content.decode()
    assert "Authority notified in time" in detail and "High risk" not in detail

    sheet = client.get(reverse("gdpr:breach_print", args=[b.pk])).content.decode()
    assert "Shop database exposed" in sheet and "CNIL-2026-7" in sheet and "E-mail address" in sheet


@pytest.mark.django_db
def test_the_form_prefills_the_categories_the_register_declares_for_the_systems(shop_register):
    client = client_for(UserFactory(roles=[DPO]))
    shop, erp = shop_register["shop"], shop_register["erp"]

    found = client.get(reverse("gdpr:breach_categories"), {"systems": [shop.pk]}).json()["categories"]
    # The approved activity's categories; the draft's bank details are not yet the register's word.
    assert sorted(c["name"] for c in found) == ["E-mail address", "Postal address"]
    assert client.get(reverse("gdpr:breach_categories"), {"systems": [erp.pk]}).json() == {"categories": []}

    form = client.get(reverse("gdpr:breach_add"), {"systems": shop.pk}).content.decode()
    email_option = f'<option value="{shop_register["email"].pk}" selected>'
    assert email_option in form
    assert f'<option value="{shop_register["bank"].pk}" selected>' not in form

    # Without JavaScript: "fill from the register" re-renders the form with them, saving nothing.
    refill = client.post(
        reverse("gdpr:breach_add"),
        {"_prefill": "1", "title": "x", "aware_at": local(timezone.now()), "systems": [shop.pk]},
    )
    assert refill.status_code == 200 and email_option in refill.content.decode()
    assert not Breach.objects.exists()

    # The API fills them when a create leaves them out.
    created = api_for(UserFactory(roles=[DPO])).post(
        reverse("gdpr-api:breach-list"),
        {"title": "Stolen backup", "aware_at": timezone.now().isoformat(), "systems": [shop.pk]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert sorted(created.json()["data_categories"]) == sorted(
        [shop_register["email"].pk, shop_register["address"].pk]
    )


@pytest.mark.django_db
def test_integration_admins_read_the_register_but_change_nothing():
    b = breach(10)
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    client = client_for(admin)
    assert client.get(reverse("gdpr:breach_list")).status_code == 200
    detail = client.get(b.get_absolute_url()).content.decode()
    assert "Authority notified</button>" not in detail and "/edit/" not in detail
    assert client.get(reverse("gdpr:breach_add")).status_code == 403
    assert (
        client.post(
            reverse("gdpr:breach_notify_authority", args=[b.pk]), {"authority-at": local(timezone.now())}
        )
    ).status_code == 403
    api = api_for(admin)
    assert api.get(reverse("gdpr-api:breach-detail", args=[b.pk])).status_code == 200
    assert (
        api.patch(reverse("gdpr-api:breach-detail", args=[b.pk]), {"title": "x"}, format="json").status_code
        == 403
    )
    assert (
        api.post(reverse("gdpr-api:breach-notify-persons", args=[b.pk]), {}, format="json").status_code == 403
    )
    assert Breach.objects.get(pk=b.pk).title == "Lost laptop"


@pytest.mark.django_db
def test_the_register_cannot_be_deleted_through_the_api():
    b = breach(10)
    answer = api_for(UserFactory(roles=[DPO])).delete(reverse("gdpr-api:breach-detail", args=[b.pk]))
    assert answer.status_code == 405 and Breach.objects.filter(pk=b.pk).exists()


# --- alert -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_alert_fires_24_hours_before_the_deadline_and_resolves_once_notified():
    rule = AlertRule.objects.create(name="Breaches", condition=breaches.ALERT_CONDITION)
    fresh, due_soon, overdue = breach(10), breach(50), breach(80)
    not_notifying = breach(90, not_notified_reason="Encrypted laptop: unlikely to result in a risk")

    alerts.evaluate(rule)
    firing = set(Alert.objects.filter(rule=rule, state=AlertState.FIRING).values_list("scope_key", flat=True))
    assert firing == {f"breach:{due_soon.pk}", f"breach:{overdue.pk}"}
    summary = Alert.objects.get(scope_key=f"breach:{overdue.pk}").summary
    assert overdue.reference in summary and "Overdue" in summary
    alert = Alert.objects.get(scope_key=f"breach:{overdue.pk}")
    assert (
        overdue.reference in alert.scope_label
        and alerts.scope_url(alert.scope_key) == overdue.get_absolute_url()
    )
    assert f"breach:{fresh.pk}" not in firing and f"breach:{not_notifying.pk}" not in firing

    breaches.notify_authority(due_soon, at=timezone.now())
    alerts.evaluate(rule)
    assert Alert.objects.get(scope_key=f"breach:{due_soon.pk}").state == AlertState.RESOLVED
    assert Alert.objects.get(scope_key=f"breach:{overdue.pk}").state == AlertState.FIRING


@pytest.mark.django_db
def test_the_gdpr_overview_lists_the_breaches_still_to_notify():
    overdue, notified = breach(80, risk=Breach.Risk.HIGH), breach(5)
    breaches.notify_authority(notified, at=timezone.now())
    page = client_for(UserFactory(roles=[DPO])).get(reverse("gdpr:index")).content.decode()
    assert "2 open breaches" in page and "1 not notified to the authority" in page
    assert overdue.reference in page and "Overdue by" in page and "persons not told yet" in page
    assert reverse("gdpr:breach_add") in page


@pytest.mark.django_db
def test_the_register_filters_the_breaches_still_to_notify_on_the_page_and_the_api():
    pending, notified = breach(30, title="Stolen backup tape"), breach(20, title="Misdirected e-mail")
    breaches.notify_authority(notified, at=timezone.now())
    dpo = UserFactory(roles=[DPO])
    page = client_for(dpo).get(reverse("gdpr:breach_list"), {"notification": "pending"}).content.decode()
    assert pending.reference in page and notified.reference not in page
    rows = api_for(dpo).get(reverse("gdpr-api:breach-list"), {"notification": "notified"}).json()["results"]
    assert [r["reference"] for r in rows] == [notified.reference]
