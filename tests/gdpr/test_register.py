"""The register of processing: derived from the flows, drift, completeness, approval snapshots, the
privacy-by-design gate (UI and API), exports and who may see what."""

import csv
import io

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from flows import designer
from gdpr import register
from gdpr.models import (
    ControllerProfile,
    DataCategory,
    ProcessingActivity,
    Purpose,
    SubjectCategory,
    SystemPrivacy,
)
from gdpr.models.choices import ActivityState
from gdpr.register_export import ART30_COLUMNS
from gdpr.taxonomy import ensure_taxonomy
from integration_hub.roles import DPO, INTEGRATION_ADMIN, SUPPORT, VIEWER
from integration_hub.testing.api import APIViewTestCases
from integration_hub.testing.views import ViewTestCases
from monitoring import alerts
from tests.factories import SystemFactory, UserFactory, approved_activity_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def taxonomy():
    ensure_taxonomy()


@pytest.fixture
def systems():
    return SystemFactory(slug="shop", name="Shop"), SystemFactory(slug="crm", name="CRM")


def definition(*personal: tuple[str, str], enabled=False, name="Customers") -> dict:
    mappings = [{"target": "id", "source": "id", "transforms": [], "personal": ""}]
    mappings += [{"target": t, "source": t, "transforms": [], "personal": tag} for t, tag in personal]
    return {
        "name": name,
        "source_system": "shop",
        "source_entity": "items",
        "target_system": "crm",
        "target_entity": "items",
        "trigger": "manual",
        "criticality": "normal",
        "sync_mode": "full",
        "match_strategy": "links",
        "write_mode": "update",
        "enabled": enabled,
        "mappings": mappings,
    }


def entry(**fields) -> ProcessingActivity:
    activity = ProcessingActivity.objects.create(
        reference=register.next_reference(), name="Customer service", **fields
    )
    return activity


def test_taxonomy_maps_every_personal_tag_and_is_idempotent():
    from flows.choices import PersonalData
    from gdpr.taxonomy import tag_categories

    before = DataCategory.objects.count()
    assert ensure_taxonomy() == {"data_categories": 0, "subject_categories": 0, "purposes": 0}
    assert DataCategory.objects.count() == before
    mapping = tag_categories()
    for tag in PersonalData.values:
        if tag:
            assert mapping[tag], tag
    assert {c.key for c in mapping["email"]} == {"email"}
    assert DataCategory.objects.get(key="email").parent.key == "contact"
    assert DataCategory.objects.get(key="health").special
    assert DataCategory.objects.get(key="offences").criminal
    assert DataCategory.objects.get(key="national_id").national_id
    assert Purpose.objects.get(key="marketing_email").default_legal_basis == "consent"
    assert Purpose.objects.get(key="invoicing").default_legal_basis == "legal_obligation"
    assert SubjectCategory.objects.filter(key="supplier_contacts").exists()


def test_adding_a_mapped_email_raises_drift_until_contact_is_declared(systems):
    flow = designer.save_flow(definition(("firstname", "name")))
    activity = entry()
    activity.data_categories.set(DataCategory.objects.filter(key="identity"))
    activity.flows.add(flow)
    activity.refresh_from_db()
    assert activity.drift == []

    designer.save_flow(definition(("firstname", "name"), ("email", "email")), flow=flow)  # a new version
    activity.refresh_from_db()
    assert [(d["kind"], d["flow"], d["tag"]) for d in activity.drift] == [("category", "Customers", "email")]

    activity.data_categories.add(DataCategory.objects.get(key="contact"))  # the parent covers e-mail
    activity.refresh_from_db()
    assert activity.drift == []


def test_drift_alert_fires_for_approved_entries_only(systems):
    flow = designer.save_flow(definition(("email", "email")))
    activity = approved_activity_for(flow)
    assert alerts.get_condition("register_drift").evaluate(None) == []
    designer.save_flow(definition(("email", "email"), ("phone", "phone"), ("ip", "ip_address")), flow=flow)
    breaches = alerts.get_condition("register_drift").evaluate(None)
    assert [key for key, _summary, _details in breaches] == [f"activity:{activity.pk}"]
    assert "ip_address" in breaches[0][1] or "IP" in breaches[0][1]


def test_transfers_are_derived_from_a_us_hosted_system(systems):
    shop, crm = systems
    SystemPrivacy.objects.create(system=shop, hosting_country="FR", vendor="Shop Inc", is_processor=True)
    flow = designer.save_flow(definition(("email", "email")))
    activity = entry()
    activity.data_categories.set(DataCategory.objects.filter(key="contact"))
    activity.flows.add(flow)
    SystemPrivacy.objects.create(system=crm, hosting_country="US", vendor="CRM Corp", is_processor=True)

    facts = register.derived(activity)
    assert [(t["system"], t["country"], t["safeguard"]) for t in facts["transfers"]] == [("CRM", "US", "")]
    assert facts["transfers"][0]["finding"]  # no safeguard: a finding
    assert [(r["name"], r["kind"], r["vendor"]) for r in facts["recipients"]] == [
        ("CRM", "processor", "CRM Corp")
    ]
    assert [s["name"] for s in facts["sources"]] == ["Shop"]
    activity.refresh_from_db()
    assert {d["kind"] for d in activity.drift} == {"transfer", "safeguard"}

    crm.privacy.transfer_safeguard, crm.privacy.safeguard_document = "scc", "https://example.test/scc.pdf"
    crm.privacy.save()
    activity.transfers = [{"country": "US", "safeguard": "scc", "document": "https://example.test/scc.pdf"}]
    activity.save()
    activity.refresh_from_db()
    assert activity.drift == []


def test_completeness_goes_up_as_fields_are_filled(systems):
    activity = entry()
    scores = [activity.completeness]
    activity.purposes.set(Purpose.objects.filter(key="customer_service"))
    activity.legal_basis = "contract"
    activity.save()
    scores.append(ProcessingActivity.objects.get(pk=activity.pk).completeness)
    activity.subject_categories.set(SubjectCategory.objects.filter(key="customers"))
    activity.data_categories.set(DataCategory.objects.filter(key="contact"))
    scores.append(ProcessingActivity.objects.get(pk=activity.pk).completeness)
    activity.recipients = [{"name": "Sales", "kind": "internal"}]
    activity.retention = {"contact": "3 years"}
    activity.security_measures = {"backup": "daily"}
    activity.save()
    scores.append(ProcessingActivity.objects.get(pk=activity.pk).completeness)
    profile = ControllerProfile.load()
    profile.legal_name, profile.address, profile.dpo_email = "Merchant", "Paris", "dpo@example.test"
    profile.save()
    scores.append(ProcessingActivity.objects.get(pk=activity.pk).completeness)
    assert scores == sorted(scores) and len(set(scores)) == len(scores), scores
    assert scores[-1] < 100  # the should fields (owner, review date, source…) are still missing
    activity.owner = UserFactory()
    activity.source_of_data = "The customer"
    activity.review_date = "2027-01-01"
    activity.save()
    assert ProcessingActivity.objects.get(pk=activity.pk).completeness == 100


def test_approval_freezes_a_snapshot_and_later_edits_mark_it_changed(systems):
    flow = designer.save_flow(definition(("email", "email")))
    activity = approved_activity_for(flow)
    assert activity.state == ActivityState.APPROVED
    snapshot = activity.snapshots.get()
    assert snapshot.number == 1
    assert snapshot.data["declared"]["data_categories"] == ["email"]
    assert [f["name"] for f in snapshot.data["derived"]["flows"]] == ["Customers"]
    assert snapshot.data["controller"]["legal_name"]
    assert not register.changed_since_approval(activity)

    activity.retention_note = "Five years"
    activity.save()
    assert register.changed_since_approval(activity)
    assert ProcessingActivity.objects.get(pk=activity.pk).state == ActivityState.APPROVED
    register.approve_activity(activity, None)
    assert activity.snapshots.count() == 2
    assert not register.changed_since_approval(activity)


def test_approval_needs_the_permission_and_the_must_fields(systems):
    activity = entry()
    register.submit_activity(activity)
    with pytest.raises(register.WorkflowError, match="Purposes"):
        register.approve_activity(activity, None)
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        register.approve_activity(activity, admin)


# --- the privacy-by-design gate -----------------------------------------------------------------------


def test_gate_refuses_a_personal_flow_without_an_approved_entry(systems):
    with pytest.raises(designer.DefinitionError) as refused:
        designer.save_flow(definition(("email", "email"), enabled=True))
    assert "register" in refused.value.errors["enabled"]
    flow = designer.save_flow(definition(("email", "email")))
    with pytest.raises(designer.DefinitionError) as refused:
        designer.save_flow(definition(("email", "email"), enabled=True), flow=flow)
    assert f"/gdpr/register/add/?flows={flow.pk}" in refused.value.errors["enabled"]

    draft = entry()
    draft.flows.add(flow)
    with pytest.raises(designer.DefinitionError) as refused:
        designer.save_flow(definition(("email", "email"), enabled=True), flow=flow)
    assert draft.get_absolute_url() in refused.value.errors["enabled"]
    assert not type(flow).objects.get(pk=flow.pk).enabled

    approved_activity_for(flow)
    flow = designer.save_flow(definition(("email", "email"), enabled=True), flow=flow)
    assert flow.enabled
    # A flow without personal data needs no entry.
    other = designer.save_flow(definition(name="Stock", enabled=True))
    assert other.enabled


def test_gate_in_the_console_and_the_api(systems, client):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    flow = designer.save_flow(definition(("email", "email")))
    client.force_login(admin)
    response = client.post(reverse("flows:flow_toggle", args=[flow.pk]), follow=True)
    assert "register" in response.content.decode()
    flow.refresh_from_db()
    assert not flow.enabled

    api = APIClient()
    api.force_login(admin)
    response = api.patch(reverse("flows-api:flow-detail", args=[flow.pk]), {"enabled": True}, format="json")
    assert response.status_code == 400, response.content
    assert "register" in str(response.json())
    flow.refresh_from_db()
    assert not flow.enabled

    approved_activity_for(flow)
    response = api.patch(reverse("flows-api:flow-detail", args=[flow.pk]), {"enabled": True}, format="json")
    assert response.status_code == 200, response.content
    flow.refresh_from_db()
    assert flow.enabled


# --- pages, exports, API, access ----------------------------------------------------------------------


def test_csv_export_has_every_art30_column(systems, client):
    flow = designer.save_flow(definition(("email", "email")))
    activity = approved_activity_for(flow)
    client.force_login(UserFactory(roles=[DPO]))
    response = client.get(reverse("gdpr:register_csv"))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = rows[0]
    for expected in (
        "Controller",
        "Joint controller",
        "DPO",
        "Purposes",
        "Legal basis",
        "Legitimate-interest assessment",
        "Data-subject categories",
        "Data categories",
        "Recipients",
        "Transfers outside the EEA and safeguards",
        "Retention periods",
        "Security measures",
        "Source of the data",
        "DPIA",
        "Owner",
        "Next review",
        "State",
        "Completeness (%)",
        "Drift",
    ):
        assert expected in header, expected
    assert len(header) == len(ART30_COLUMNS)
    row = dict(zip(header, rows[1], strict=True))
    assert row["Reference"] == activity.reference
    assert row["Controller"].startswith("Test SAS")
    assert "E-mail address" in row["Data categories"]
    assert "CRM" in row["Recipients"]


def test_dpo_uses_the_register_pages(systems, client):
    flow = designer.save_flow(definition(("email", "email")))
    client.force_login(UserFactory(roles=[DPO]))
    assert client.get(reverse("gdpr:index")).status_code == 200
    response = client.get(reverse("gdpr:processingactivity_add"), {"flows": flow.pk})
    assert response.status_code == 200
    data = {
        "name": "Newsletter",
        "legal_basis": "consent",
        "purposes": [Purpose.objects.get(key="marketing_email").pk],
        "subject_categories": [SubjectCategory.objects.get(key="prospects").pk],
        "data_categories": [DataCategory.objects.get(key="identity").pk],
        "flows": [flow.pk],
        "recipients-0-name": "Marketing team",
        "recipients-0-kind": "internal",
        "transfers-0-country": "",
        "retention-0-category": "email",
        "retention-0-period": "3 years",
        "security-access_control": "Roles",
        "security-encryption": "TLS",
    }
    response = client.post(reverse("gdpr:processingactivity_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    activity = ProcessingActivity.objects.get(name="Newsletter")
    assert activity.reference == "RT-001"
    assert activity.recipients == [{"name": "Marketing team", "kind": "internal"}]
    assert activity.retention == {"email": "3 years"}
    assert activity.security_measures == {"access_control": "Roles", "encryption": "TLS"}
    assert [d["kind"] for d in activity.drift] == ["category"]  # e-mail is not declared
    page = client.get(activity.get_absolute_url()).content.decode()
    assert "drift-list" in page and "E-mail address" in page
    client.post(reverse("gdpr:activity_submit", args=[activity.pk]))
    client.post(reverse("gdpr:activity_approve", args=[activity.pk]))
    activity.refresh_from_db()
    assert activity.state == ActivityState.APPROVED and activity.snapshots.count() == 1
    snapshot = activity.snapshots.get()
    assert "Newsletter" in client.get(reverse("gdpr:activitysnapshot", args=[snapshot.pk])).content.decode()
    crm = systems[1]
    response = client.post(
        reverse("gdpr:systemprivacy_edit", args=[crm.pk]),
        {"hosting_country": "us", "vendor": "CRM Corp", "is_processor": "on", "transfer_safeguard": "scc"},
    )
    assert response.status_code == 302
    assert crm.privacy.hosting_country == "US"
    activity.refresh_from_db()
    assert "transfer" in {d["kind"] for d in activity.drift}  # the entry declares no transfer to the US
    for name in (
        "gdpr:register_print",
        "gdpr:taxonomy",
        "gdpr:controller",
        "gdpr:systems",
        "gdpr:controller_edit",
    ):
        assert client.get(reverse(name)).status_code == 200, name
    page = client.get(reverse("gdpr:register_print")).content.decode()
    assert "page-break-after" in page and activity.name in page


def test_support_and_viewer_get_403_everywhere(systems, client):
    flow = designer.save_flow(definition(("email", "email")))
    activity = approved_activity_for(flow)
    urls = [
        reverse("gdpr:index"),
        reverse("gdpr:processingactivity_list"),
        activity.get_absolute_url(),
        reverse("gdpr:register_csv"),
        reverse("gdpr:register_print"),
        reverse("gdpr:controller"),
        reverse("gdpr:taxonomy"),
        reverse("gdpr:systems"),
    ]
    api_urls = [
        reverse("gdpr-api:processingactivity-list"),
        reverse("gdpr-api:processingactivity-detail", args=[activity.pk]),
        reverse("gdpr-api:datacategory-list"),
        reverse("gdpr-api:purpose-list"),
    ]
    for role in (SUPPORT, VIEWER):
        user = UserFactory(roles=[role])
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403, (role, url)
        api = APIClient()
        api.force_login(user)
        for url in api_urls:
            assert api.get(url).status_code == 403, (role, url)
        assert "/gdpr/" not in client.get(reverse("home")).content.decode()


def test_integration_admin_reads_but_does_not_edit(systems, client):
    flow = designer.save_flow(definition(("email", "email")))
    activity = approved_activity_for(flow)
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    client.force_login(admin)
    assert client.get(reverse("gdpr:processingactivity_list")).status_code == 200
    page = client.get(activity.get_absolute_url())
    assert page.status_code == 200 and reverse("gdpr:processingactivity_edit", args=[activity.pk]) not in (
        page.content.decode()
    )
    assert client.get(reverse("gdpr:processingactivity_edit", args=[activity.pk])).status_code == 403
    assert client.post(reverse("gdpr:activity_archive", args=[activity.pk])).status_code == 403
    assert client.get(reverse("gdpr:controller_edit")).status_code == 403
    api = APIClient()
    api.force_login(admin)
    assert api.get(reverse("gdpr-api:processingactivity-list")).status_code == 200
    response = api.patch(
        reverse("gdpr-api:processingactivity-detail", args=[activity.pk]), {"name": "x"}, format="json"
    )
    assert response.status_code == 403
    assert (
        api.post(reverse("gdpr-api:processingactivity-list"), {"name": "x"}, format="json").status_code == 403
    )
    activity.refresh_from_db()
    assert activity.state == ActivityState.APPROVED and activity.name == "Test processing"


def test_api_creates_and_updates_with_the_form_validation(systems):
    flow = designer.save_flow(definition(("email", "email")))
    dpo = UserFactory(roles=[DPO])
    api = APIClient()
    api.force_login(dpo)
    body = {
        "name": "Orders",
        "legal_basis": "contract",
        "purposes": ["order_fulfilment"],
        "subject_categories": ["customers"],
        "data_categories": ["contact"],
        "flows": [flow.pk],
        "transfers": [{"country": "USA", "safeguard": "scc"}],
        "security_measures": {"backup": "daily"},
    }
    response = api.post(reverse("gdpr-api:processingactivity-list"), body, format="json")
    assert response.status_code == 400
    assert "transfers-0-country" in response.json()
    body["transfers"] = [{"country": "us", "safeguard": "scc", "document": ""}]
    response = api.post(reverse("gdpr-api:processingactivity-list"), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["transfers"] == [{"country": "US", "safeguard": "scc", "document": ""}]
    assert data["derived"]["categories"][0]["key"] == "email"
    assert data["drift"] == []
    response = api.patch(
        reverse("gdpr-api:processingactivity-detail", args=[data["id"]]),
        {"retention_note": "5 years"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["purposes"] == ["order_fulfilment"]  # a PATCH keeps what it leaves out
    assert api.get(reverse("gdpr-api:datacategory-list")).json()["count"] >= 20
    assert api.get(reverse("gdpr-api:purpose-list")).status_code == 200


@pytest.mark.django_db(databases="__all__")
def test_the_demo_approves_one_entry_per_personal_demo_flow(django_capture_on_commit_callbacks):
    from django.core.management import call_command

    from flows.models import Flow

    with django_capture_on_commit_callbacks(execute=True):
        call_command("bootstrap", demo_systems=True, stdout=io.StringIO())
    entries = ProcessingActivity.objects.filter(reference__startswith="DEMO-")
    assert {a.reference: a.state for a in entries} == {
        "DEMO-ORDERS": "approved",
        "DEMO-CUSTOMERS": "approved",
        "DEMO-MARKETING": "approved",
    }
    assert all(a.drift == [] and a.snapshots.count() == 1 for a in entries)
    for name in ("Orders: shop → ERP", "Customers: shop → CRM", "Marketing consent: CRM → shop"):
        assert Flow.objects.get(name=name).enabled, name
    crm = entries.get(reference="DEMO-CUSTOMERS")
    assert crm.transfers == [
        {"country": "US", "safeguard": "scc", "document": "https://example.invalid/demo-scc.pdf"}
    ]


class ActivityViewTest(ViewTestCases.ListObjectsViewTestCase):
    model = ProcessingActivity

    def create_object(self, **overrides):
        return ProcessingActivity.objects.create(
            reference=register.next_reference(),
            name=f"Entry {ProcessingActivity.objects.count()}",
            **overrides,
        )


class ActivityAPITest(APIViewTestCases.APIViewTestCase):
    model = ProcessingActivity
    basename = "gdpr-api:processingactivity"
    create_data = {"name": "Invoicing", "legal_basis": "legal_obligation", "purposes": ["invoicing"]}
    invalid_create_data = {"name": "", "legal_basis": "whim"}
    update_data = {"name": "Renamed"}

    def setUp(self):
        super().setUp()
        ensure_taxonomy()

    def create_object(self, **overrides):
        return ProcessingActivity.objects.create(
            reference=register.next_reference(),
            name=f"Entry {ProcessingActivity.objects.count()}",
            **overrides,
        )


def test_api_state_changes_go_through_the_services(systems):
    flow = designer.save_flow(definition(("email", "email")))
    activity = approved_activity_for(flow)
    register.reopen_activity(register.archive_activity(activity))
    admin, dpo = APIClient(), APIClient()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    dpo.force_login(UserFactory(roles=[DPO]))
    approve = reverse("gdpr-api:processingactivity-approve", args=[activity.pk])
    submit = reverse("gdpr-api:processingactivity-submit", args=[activity.pk])
    assert admin.post(submit).status_code == 403
    response = dpo.post(approve)
    assert response.status_code == 400 and "review" in str(response.json())
    assert dpo.post(submit).json()["state"] == "in_review"
    assert admin.post(approve).status_code == 403
    assert dpo.post(approve).json()["state"] == "approved"
    assert activity.snapshots.count() == 2
