"""Who may see the GDPR pages and personal data, on the console and the API.

The DPO sees every GDPR page and payloads in clear; integration admins read the register (masked
payloads); support staff see masked payloads and no GDPR page; viewers neither; superusers all. Every
display of personal data in clear writes a "personal data viewed" audit entry: who saw which record.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from flows.models import FlowVersion, RecordLink
from gdpr import breaches
from gdpr.models import Breach
from gdpr.models.choices import HubStore
from integration_hub import personal
from integration_hub.models import AuditEntry
from integration_hub.models.audit import AuditAction
from integration_hub.roles import DPO, INTEGRATION_ADMIN, SUPPORT, VIEWER
from monitoring import trace, triage
from monitoring.models import ErrorGroup
from tests.factories import FlowFactory, UserFactory
from tests.flows.test_failures import fail

JANE = "jane.doe@example.com"

# Who may open what: (pages integration admins read too, the DPO's own pages) — 200 or 403. The DPO's
# own pages: every change, and data-subject requests (they name the persons).
ROLES = {
    "dpo": (200, 200),
    "superuser": (200, 200),
    "integration admin": (200, 403),
    "support": (403, 403),
    "viewer": (403, 403),
}


def user_for(role: str):
    if role == "superuser":
        return UserFactory(username="root", is_superuser=True, is_staff=True)
    name = {"dpo": DPO, "integration admin": INTEGRATION_ADMIN, "support": SUPPORT, "viewer": VIEWER}[role]
    return UserFactory(roles=[name])


def url(name: str, *args) -> str:
    """The page's address; a GDPR page that should exist and does not fails the test loudly."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        pytest.fail(f"The GDPR page or endpoint {name!r} is missing: every GDPR page must answer per role.")


@pytest.fixture
def breach(db):
    return breaches.save_breach(Breach(title="Lost laptop", aware_at=timezone.now()))


def read_pages(breach) -> list[str]:
    return [
        url("gdpr:index"),
        url("gdpr:processingactivity_list"),
        url("gdpr:taxonomy"),
        url("gdpr:controller"),
        url("gdpr:breach_list"),
        url("gdpr:breach", breach.pk),
        url("gdpr:breach_print", breach.pk),
        url("gdpr:breach_history", breach.pk),
        url("gdpr:breach_categories"),
        url("gdpr:retention"),
    ]


def dpo_pages(breach) -> list[str]:
    return [
        url("gdpr:datasubjectrequest_list"),
        url("gdpr:processingactivity_add"),
        url("gdpr:datasubjectrequest_add"),
        url("gdpr:breach_add"),
        url("gdpr:breach_edit", breach.pk),
        url("gdpr:retention_purge", HubStore.RUNS),
    ]


def read_endpoints(breach) -> list[str]:
    return [
        url("gdpr-api:processingactivity-list"),
        url("gdpr-api:breach-list"),
        url("gdpr-api:breach-detail", breach.pk),
        url("gdpr-api:retentionrule-list"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLES))
def test_gdpr_pages_answer_per_role(role, breach):
    read, write = ROLES[role]
    client = Client()
    client.force_login(user_for(role))
    answers = {page: client.get(page).status_code for page in read_pages(breach)}
    assert answers == dict.fromkeys(answers, read)
    answers = {page: client.get(page).status_code for page in dpo_pages(breach)}
    assert answers == dict.fromkeys(answers, write)


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLES))
def test_gdpr_api_answers_per_role(role, breach):
    read, write = ROLES[role]
    api = APIClient()
    api.force_login(user_for(role))
    answers = {endpoint: api.get(endpoint).status_code for endpoint in read_endpoints(breach)}
    assert answers == dict.fromkeys(answers, read)
    created = api.post(
        url("gdpr-api:breach-list"),
        {"title": "Stolen phone", "aware_at": timezone.now().isoformat()},
        format="json",
    )
    assert created.status_code == (201 if write == 200 else 403)
    changed = api.patch(url("gdpr-api:breach-detail", breach.pk), {"measures": "Wiped"}, format="json")
    assert changed.status_code == write


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_login_page(breach):
    for page in read_pages(breach):
        assert Client().get(page).status_code in (302, 401, 403)
    assert APIClient().get(url("gdpr-api:breach-list")).status_code in (401, 403)


# --- payloads ----------------------------------------------------------------------------------------


@pytest.fixture
def refused_customer(db):
    """A failed record holding a customer's e-mail address, counted into its triage group."""
    flow = FlowFactory(name="Customers", source_entity="contacts", target_entity="customers")
    FlowVersion.objects.create(flow=flow, number=1, definition={})
    record = fail(
        flow,
        "C-1",
        "the shop refused the record",
        payload={"source": {"id": "C-1", "email": JANE}, "mapped": {"email": JANE, "firstname": "Jane"}},
    )
    triage.record_failures(flow, [record])
    return record


def payload_displays(record, user) -> dict[str, str]:
    """Every place a failed record's payload is shown: the triage group page, the flow's failures page,
    and the API's failed record."""
    client, api = Client(), APIClient()
    client.force_login(user)
    api.force_login(user)
    group = ErrorGroup.objects.get(signature=record.signature)
    return {
        "triage page": client.get(reverse("monitoring:errorgroup", args=[group.pk])).content.decode(),
        "failures page": client.get(reverse("flows:flow_failures", args=[record.flow_id])).content.decode(),
        "API": api.get(reverse("flows-api:failedrecord-detail", args=[record.pk])).content.decode(),
    }


def personal_views(user, obj=None):
    entries = AuditEntry.objects.filter(action=AuditAction.PERSONAL_VIEW, user=user)
    return entries.filter(object_id=str(obj.pk)) if obj is not None else entries


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["support", "integration admin"])
def test_payloads_are_masked_for_support_and_integration_admins(role, refused_customer):
    user = user_for(role)
    for where, text in payload_displays(refused_customer, user).items():
        assert "Jane" not in text and JANE not in text, where
        assert "@example.com" in text, where  # masked, not dropped: the shape stays readable
    assert not personal_views(user).exists()  # nothing personal was shown


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["dpo", "superuser"])
def test_the_dpo_sees_payloads_in_clear_and_each_display_is_audited(role, refused_customer):
    user = user_for(role)
    for where, text in payload_displays(refused_customer, user).items():
        assert JANE in text, where
    entries = personal_views(user, refused_customer)
    assert entries.count() == 3  # one per display: triage page, failures page, API
    entry = entries.first()
    assert entry.object_repr == str(refused_customer) and "failed record payload" in entry.message
    assert entry.content_type.model == "failedrecord" and entry.user_name == user.get_username()


@pytest.mark.django_db
def test_a_trace_in_clear_is_audited_per_link_and_masked_for_support(refused_customer):
    flow = refused_customer.flow
    link = RecordLink.objects.create(
        flow=flow,
        source_system=flow.source_system,
        source_entity="contacts",
        source_id="C-9",
        target_system=flow.target_system,
        target_entity="customers",
        target_id="T-9",
        last_synced=timezone.now(),
        last_values='{"email": "jane.doe@example.com", "firstname": "Jane"}',
    )
    support, dpo = user_for("support"), user_for("dpo")
    masked = trace.trace("C-9", support)
    assert JANE not in str(masked.records[0].values) and not personal_views(support).exists()

    clear = trace.trace("C-9", dpo)
    assert clear.records[0].values[link.pk]["email"] == JANE
    assert personal_views(dpo, link).get().message.startswith("trace")


@pytest.mark.django_db
def test_the_helper_writes_nothing_for_nobody_or_nothing(refused_customer):
    assert personal.shown_unmasked(None, [refused_customer], what="x") == 0
    assert personal.shown_unmasked(user_for("dpo"), [], what="x") == 0
    assert not AuditEntry.objects.filter(action=AuditAction.PERSONAL_VIEW).exists()


@pytest.mark.django_db
def test_error_messages_holding_personal_data_are_audited_when_shown_in_clear(refused_customer):
    flow = refused_customer.flow
    quoted = fail(flow, "C-2", f"email: '{JANE}' is not a valid address")
    triage.record_failures(flow, [quoted])
    group = ErrorGroup.objects.get(signature=quoted.signature)
    dpo, support = user_for("dpo"), user_for("support")
    for user in (dpo, support):
        client = Client()
        client.force_login(user)
        client.get(reverse("monitoring:triage"))
        client.get(reverse("monitoring:errorgroup", args=[group.pk]))
    assert not personal_views(support).exists()
    assert personal_views(dpo, group).filter(message="error message").exists()  # the inbox's latest message
    assert personal_views(dpo, quoted).filter(message="failed record message").exists()
    # A message with nothing personal in it is not a personal-data display.
    assert not personal_views(dpo, refused_customer).filter(message="failed record message").exists()
