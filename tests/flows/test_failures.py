"""A flow's failed records in the console and the API: grouped by cause, filtered, masked for users
without the personal-data right, replayed (one, a selection, a whole signature) once the cause is fixed,
or ignored — and only by users who may run the flow."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows import designer, sync
from flows.models import FailedRecord, FlowVersion, Run, RunStatus
from integration_hub.models import AuditEntry
from integration_hub.roles import DPO, INTEGRATION_ADMIN, SUPPORT, VIEWER
from tests.factories import FlowFactory, UserFactory


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def fail(flow, source_id, message, *, error_class="invalid", stage="write", payload=None, **kwargs):
    record = FailedRecord(
        flow=flow,
        source_id=source_id,
        stage=stage,
        error_class=error_class,
        message=message,
        signature=sync.signature(flow.pk, error_class, message),
        **kwargs,
    )
    record.payload = payload or {"source": {"id": source_id}, "mapped": {"id": source_id}}
    record.save()
    return record


@pytest.fixture
def customers(db):
    """A CRM → shop customers flow with failures: two of one cause (a refused e-mail), one of another."""
    flow = FlowFactory(name="Customers", source_entity="contacts", target_entity="customers")
    FlowVersion.objects.create(flow=flow, number=1, definition={})
    jane = fail(
        flow,
        "C-1",
        "email: 'jane.doe@example.com' is not a valid address",
        payload={
            "source": {"id": "C-1", "email": "jane.doe@example.com", "phone": "+33 6 12 34 56 78"},
            "mapped": {"email": "jane.doe@example.com", "firstname": "Jane"},
        },
    )
    fail(flow, "C-2", "email: 'bob@example.com' is not a valid address")
    fail(flow, "C-3", "price: 0 is below the minimum 1", error_class="rule", stage="rule")
    fail(flow, "C-4", "old problem", status=FailedRecord.Status.RESOLVED)
    return {"flow": flow, "jane": jane}


@pytest.mark.django_db
def test_the_page_groups_open_failures_by_cause_and_filters_them(customers):
    flow = customers["flow"]
    viewer = client_for(UserFactory(roles=[VIEWER]))
    response = viewer.get(reverse("flows:flow_failures", args=[flow.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "3 records wait for a decision" in page
    groups = response.context["groups"]
    assert [(g["error_class"], g["open"]) for g in groups] == [("invalid", 2), ("rule", 1)]
    assert "C-4" not in page  # resolved: not shown unless asked
    assert 'name="selection"' not in page  # a Viewer may not act: no checkboxes, no buttons

    signature = customers["jane"].signature
    page = viewer.get(
        reverse("flows:flow_failures", args=[flow.pk]), {"signature": signature}
    ).content.decode()
    assert "C-1" in page and "C-2" in page and "C-3" not in page
    page = viewer.get(reverse("flows:flow_failures", args=[flow.pk]), {"stage": "rule"}).content.decode()
    assert "C-3" in page and "C-1" not in page
    page = viewer.get(
        reverse("flows:flow_failures", args=[flow.pk]), {"status": ["resolved"]}
    ).content.decode()
    assert "C-4" in page and "C-1" not in page

    api = api_for(UserFactory(roles=[VIEWER]))
    listed = api.get(reverse("flows-api:failedrecord-list"), {"flow": flow.pk, "error_class": "rule"}).json()[
        "results"
    ]
    assert [r["source_id"] for r in listed] == ["C-3"]
    groups = api.get(
        reverse("flows-api:failedrecord-signatures"), {"flow": flow.pk, "status": ["open"]}
    ).json()
    assert [g["open"] for g in groups] == [2, 1]


@pytest.mark.django_db
def test_payloads_and_messages_are_masked_without_the_personal_data_right(customers):
    flow = customers["flow"]
    url = reverse("flows:flow_failures", args=[flow.pk])
    support = UserFactory(roles=[SUPPORT])  # triages, but does not see personal data
    page = client_for(support).get(url).content.decode()
    assert "jane.doe@example.com" not in page and "+33 6 12 34 56 78" not in page
    assert "j***@example.com" in page
    assert "personal data masked" in page.lower()

    record = (
        api_for(support).get(reverse("flows-api:failedrecord-detail", args=[customers["jane"].pk])).json()
    )
    assert "jane.doe@example.com" not in str(record)
    assert record["payload"]["source"]["id"] == "C-1"

    dpo = UserFactory(roles=[DPO])  # holds the personal-data right
    page = client_for(dpo).get(url).content.decode()
    assert "jane.doe@example.com" in page
    record = api_for(dpo).get(reverse("flows-api:failedrecord-detail", args=[customers["jane"].pk])).json()
    assert record["payload"]["source"]["email"] == "jane.doe@example.com"


@pytest.mark.django_db
def test_ignore_a_selection_is_audited_and_needs_the_run_permission(customers):
    flow = customers["flow"]
    url = reverse("flows:flow_failures", args=[flow.pk])
    jane = customers["jane"]
    viewer = client_for(UserFactory(roles=[VIEWER]))
    assert viewer.post(url, {"action": "ignore", "selection": [jane.pk]}).status_code == 403
    assert FailedRecord.objects.get(pk=jane.pk).status == FailedRecord.Status.OPEN

    support = client_for(UserFactory(username="sam", roles=[SUPPORT]))
    response = support.post(url, {"action": "ignore", "selection": [jane.pk]}, follow=True)
    assert "1 failed record ignored" in response.content.decode()
    assert FailedRecord.objects.get(pk=jane.pk).status == FailedRecord.Status.IGNORED
    entry = AuditEntry.objects.for_object(flow).latest("pk")
    assert entry.user_name == "sam" and "ignored" in entry.message
    # Nothing ticked: said plainly, nothing changes.
    response = support.post(url, {"action": "ignore"}, follow=True)
    assert "Select at least one" in response.content.decode()


@pytest.mark.django_db
def test_api_ignore_by_signature_and_permissions(customers):
    flow = customers["flow"]
    signature = customers["jane"].signature
    body = {"flow": flow.pk, "signature": signature}
    assert (
        api_for(UserFactory(roles=[VIEWER]))
        .post(reverse("flows-api:failedrecord-ignore"), body, format="json")
        .status_code
        == 403
    )
    nobody = api_for(UserFactory(username="nobody"))
    assert nobody.get(reverse("flows-api:failedrecord-list")).status_code == 403
    assert nobody.post(reverse("flows-api:failedrecord-ignore"), body, format="json").status_code == 403
    assert (
        client_for(UserFactory(username="nobody2"))
        .get(reverse("flows:flow_failures", args=[flow.pk]))
        .status_code
        == 404
    )

    response = api_for(UserFactory(roles=[SUPPORT])).post(
        reverse("flows-api:failedrecord-ignore"), body, format="json"
    )
    assert response.status_code == 200 and response.json() == {"ignored": 2}
    assert set(FailedRecord.objects.filter(flow=flow, status="open").values_list("source_id", flat=True)) == {
        "C-3"
    }


@pytest.mark.django_db
def test_empty_page_says_what_happens_when_a_record_fails(db):
    flow = FlowFactory()
    page = client_for(UserFactory(roles=[VIEWER])).get(reverse("flows:flow_failures", args=[flow.pk]))
    assert "No failed record" in page.content.decode()


@pytest.mark.django_db
def test_csrf_is_required_to_replay(customers):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    url = reverse("flows:flow_failures", args=[customers["flow"].pk])
    assert client.post(url, {"replay_record": customers["jane"].pk}).status_code == 403
    assert not Run.objects.filter(flow=customers["flow"], trigger="retry").exists()


# --- over real HTTP, with the sandbox -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox():
    from sandbox.testing import running

    with running(["pim", "shop"]) as urls:
        yield urls


@pytest.mark.django_db(transaction=True, databases="__all__")
class TestReplay:
    @pytest.fixture
    def failing(self, sandbox):
        """The catalog with a price rule no chair meets: every enabled chair fails, one signature."""
        from flows.demo import ensure_demo_systems
        from tests.flows.test_sync import run_now, small_catalog

        ensure_demo_systems(urls=sandbox)
        flow = small_catalog()
        data = designer.definition_of(flow)
        data["quality_rules"] = [{"kind": "range", "field": "price", "params": {"min": 1_000_000}}]
        designer.save_flow(data, flow=flow)
        run = run_now(flow)
        assert run.status == RunStatus.PARTIAL and run.failed > 0
        return flow

    def fix(self, flow):
        data = designer.definition_of(flow)
        data["quality_rules"] = []
        designer.save_flow(data, flow=flow)

    def test_replay_all_of_a_signature_resolves_them_once_the_cause_is_fixed(self, failing):
        flow = failing
        open_ = FailedRecord.objects.filter(flow=flow, status="open")
        count = open_.count()
        signature = open_.first().signature
        support = client_for(UserFactory(roles=[SUPPORT]))
        url = reverse("flows:flow_failures", args=[flow.pk])

        # Not fixed yet: the replay fails again, the records stay open with one more attempt.
        support.post(url, {"action": "replay", "scope": "signature", "signature": signature})
        assert FailedRecord.objects.filter(flow=flow, status="open").count() == count
        assert set(FailedRecord.objects.filter(flow=flow).values_list("attempts", flat=True)) == {2}

        self.fix(flow)
        response = support.post(
            url, {"action": "replay", "scope": "signature", "signature": signature}, follow=True
        )
        assert f"Replaying {count} records" in response.content.decode()
        run = Run.objects.filter(flow=flow, trigger="retry").order_by("-pk").first()
        assert run.status == RunStatus.SUCCEEDED, run.message
        assert not FailedRecord.objects.filter(flow=flow, status__in=["open", "retrying"]).exists()
        assert FailedRecord.objects.filter(flow=flow, status="resolved").count() == count
        page = support.get(url).content.decode()
        assert "Nothing is waiting" in page

    def test_replay_one_and_a_selection(self, failing):
        flow = failing
        self.fix(flow)
        first, second, third = FailedRecord.objects.filter(flow=flow, status="open").order_by("pk")[:3]
        support = client_for(UserFactory(roles=[SUPPORT]))
        url = reverse("flows:flow_failures", args=[flow.pk])

        support.post(url, {"replay_record": first.pk, "selection": [second.pk]})  # the row's button wins
        assert FailedRecord.objects.get(pk=first.pk).status == "resolved"
        assert FailedRecord.objects.get(pk=second.pk).status == "open"
        assert Run.objects.filter(flow=flow, trigger="retry").latest("pk").record_ids == [first.source_id]

        support.post(url, {"action": "replay", "selection": [second.pk, third.pk]})
        assert set(
            FailedRecord.objects.filter(pk__in=[second.pk, third.pk]).values_list("status", flat=True)
        ) == {"resolved"}

    def test_api_replay(self, failing):
        flow = failing
        self.fix(flow)
        record = FailedRecord.objects.filter(flow=flow, status="open").first()
        api = api_for(UserFactory(roles=[SUPPORT]))
        response = api.post(
            reverse("flows-api:failedrecord-replay"), {"flow": flow.pk, "ids": [record.pk]}, format="json"
        )
        assert response.status_code == 202, response.content
        assert response.json()["replayed"] == 1
        record.refresh_from_db()
        assert record.status == "resolved"
        # Nothing left with that id: refused with a reason.
        response = api.post(
            reverse("flows-api:failedrecord-replay"), {"flow": flow.pk, "ids": [record.pk]}, format="json"
        )
        assert response.status_code == 400
