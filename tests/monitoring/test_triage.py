"""The triage inbox: failed records grouped by cause into error groups that count, re-open when the
error comes back and resolve themselves once every record went through; seen only with the flow, masked
without the personal-data right, acted on only with the triage right (bulk, assign, comment, replay)."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows import designer, failures
from flows.models import FailedRecord, FlowVersion, RunStatus
from integration_hub import services
from integration_hub.models import AuditEntry
from integration_hub.roles import DPO, SUPPORT, VIEWER
from monitoring import triage
from monitoring.models import ErrorGroup
from tests.factories import FlowFactory, UserFactory
from tests.flows.test_failures import fail


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def failed(flow, source_id, message, **kwargs):
    """A failure saved as the engine saves it, counted into its group as the engine's page commit does."""
    record = fail(flow, source_id, message, **kwargs)
    triage.record_failures(flow, [record])
    return record


def group_of(record) -> ErrorGroup:
    return ErrorGroup.objects.get(signature=record.signature)


@pytest.fixture
def customers(db):
    """A CRM → shop customers flow: two customers refused for one cause (an e-mail address), one other."""
    flow = FlowFactory(name="Customers", source_entity="contacts", target_entity="customers")
    FlowVersion.objects.create(flow=flow, number=1, definition={})
    jane = fail(
        flow,
        "C-1",
        "email: 'jane.doe@example.com' is not a valid address",
        payload={
            "source": {"id": "C-1", "email": "jane.doe@example.com"},
            "mapped": {"email": "jane.doe@example.com", "firstname": "Jane"},
        },
    )
    bob = fail(flow, "C-2", "email: 'bob@example.com' is not a valid address")
    triage.record_failures(flow, [jane, bob])  # one page commit, two records of one cause
    price = failed(flow, "C-3", "price: 0 is below the minimum 1", error_class="rule", stage="rule")
    return {"flow": flow, "jane": jane, "bob": bob, "price": price}


# --- grouping -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_failures_of_one_cause_make_one_group_that_counts_events_and_records(customers):
    flow, jane = customers["flow"], customers["jane"]
    assert ErrorGroup.objects.filter(flow=flow).count() == 2
    group = triage.visible_groups(UserFactory(roles=[VIEWER])).get(signature=jane.signature)
    assert (group.count, group.records_open, group.records_total) == (2, 2, 2)
    assert group.status == ErrorGroup.Status.OPEN and group.first_seen == group.last_seen
    # Plain language, from the target system, the count and the remote message — stored masked.
    assert group.title.startswith(f"{flow.target_system.name} rejected 2 customers: email:")
    assert (
        "jane.doe@example.com" not in group.title + group.message and "bob@example.com" not in group.message
    )

    # The same record fails again (a rerun): one more event, still two records affected.
    jane.attempts += 1
    jane.save()  # the engine keeps one open failure per record
    triage.record_failures(flow, [jane])
    group = triage.visible_groups(UserFactory(roles=[VIEWER])).get(pk=group.pk)
    assert (group.count, group.records_open, group.records_total) == (3, 2, 2)
    assert group.last_seen > group.first_seen


@pytest.mark.django_db
def test_a_resolved_group_reopens_when_its_error_comes_back_an_ignored_one_stays_ignored(customers):
    flow, jane, price = customers["flow"], customers["jane"], customers["price"]
    support = UserFactory(username="sam", roles=[SUPPORT])
    triage.resolve([group_of(jane)], user=support)
    triage.ignore([group_of(price)], user=support)
    assert FailedRecord.objects.get(pk=price.pk).status == FailedRecord.Status.IGNORED

    failed(flow, "C-9", "email: 'carl@example.com' is not a valid address")
    failed(flow, "C-8", "price: 7 is below the minimum 10", error_class="rule", stage="rule")

    group = group_of(jane)
    assert group.status == ErrorGroup.Status.OPEN and group.regressed
    assert group.resolved_at is None and group.resolved_by is None and group.count == 3
    assert AuditEntry.objects.for_object(group).filter(message__contains="came back").exists()
    ignored = group_of(price)
    assert ignored.status == ErrorGroup.Status.IGNORED and ignored.count == 2


@pytest.mark.django_db
def test_a_group_whose_records_all_went_through_resolves_itself(customers):
    flow, jane = customers["flow"], customers["jane"]
    FailedRecord.objects.filter(signature=jane.signature).update(status=FailedRecord.Status.RESOLVED)
    resolved = triage.resolve_delivered(flow)
    assert [g.signature for g in resolved] == [jane.signature]
    group = group_of(jane)
    assert group.status == ErrorGroup.Status.RESOLVED and group.resolved_by is None and group.resolved_at
    assert group_of(customers["price"]).status == ErrorGroup.Status.OPEN  # its record still waits


# --- who sees what ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_user_sees_a_group_only_with_its_flow_in_the_inbox_and_the_api(customers):
    jane = customers["jane"]
    other = FlowFactory(name="Orders")
    FlowVersion.objects.create(flow=other, number=1, definition={})
    elsewhere = failed(other, "O-1", "total: must be positive")
    # Triage rights, but sees only the Orders flow (an object grant), not Customers.
    outsider = UserFactory(username="outsider")
    outsider.user_permissions.add(*Permission.objects.filter(content_type__app_label="monitoring"))
    services.grant_access(other, outsider, ["view_flow"])

    page = client_for(outsider).get(reverse("monitoring:triage"))
    assert page.status_code == 200
    rows = [row["group"].pk for row in page.context["rows"]]
    assert rows == [group_of(elsewhere).pk]
    assert (
        client_for(outsider).get(reverse("monitoring:errorgroup", args=[group_of(jane).pk])).status_code
        == 404
    )
    listed = api_for(outsider).get(reverse("monitoring-api:errorgroup-list")).json()["results"]
    assert [g["id"] for g in listed] == [group_of(elsewhere).pk]
    api = api_for(outsider)
    assert api.get(reverse("monitoring-api:errorgroup-detail", args=[group_of(jane).pk])).status_code == 404
    # Acting on a group it cannot see changes nothing.
    response = client_for(outsider).post(
        reverse("monitoring:triage"), {"action": "resolve", "selection": [group_of(jane).pk]}, follow=True
    )
    assert "Select at least one error group" in response.content.decode()
    assert group_of(jane).status == ErrorGroup.Status.OPEN

    nobody = UserFactory(username="nobody")
    assert client_for(nobody).get(reverse("monitoring:triage")).status_code == 403
    assert api_for(nobody).get(reverse("monitoring-api:errorgroup-list")).status_code == 403


@pytest.mark.django_db
def test_personal_data_is_masked_without_the_right(customers):
    jane = customers["jane"]
    failures.ignore(jane.flow, ids=[customers["bob"].pk])  # through the service: the group's counters follow
    url = reverse("monitoring:errorgroup", args=[group_of(jane).pk])
    support = UserFactory(roles=[SUPPORT])  # triages, but may not see personal data
    for page in (client_for(support).get(url), client_for(support).get(reverse("monitoring:triage"))):
        text = page.content.decode()
        assert "jane.doe@example.com" not in text and "bob@example.com" not in text
        assert "***@example.com" in text
        assert "Personal values are masked" in text
    detail = (
        api_for(support).get(reverse("monitoring-api:errorgroup-detail", args=[group_of(jane).pk])).json()
    )
    assert "jane.doe@example.com" not in str(detail) and detail["records_open"] == 1

    dpo = UserFactory(roles=[DPO])  # holds the personal-data right: the latest message and payloads in clear
    text = client_for(dpo).get(url).content.decode()
    assert "jane.doe@example.com" in text and "Jane" in text
    detail = api_for(dpo).get(reverse("monitoring-api:errorgroup-detail", args=[group_of(jane).pk])).json()
    assert "bob@example.com" in detail["message"]  # the latest record's message, in clear


# --- acting -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_viewer_sees_but_cannot_act(customers):
    jane = customers["jane"]
    group = group_of(jane)
    viewer = client_for(UserFactory(roles=[VIEWER]))
    inbox = viewer.get(reverse("monitoring:triage")).content.decode()
    assert group.title.split(":")[0] in inbox
    assert 'name="selection"' not in inbox and 'value="resolve"' not in inbox
    detail = viewer.get(reverse("monitoring:errorgroup", args=[group.pk])).content.decode()
    assert 'value="replay"' not in detail and 'id="comment-form"' not in detail
    for url, data in (
        (reverse("monitoring:triage"), {"action": "ignore", "selection": [group.pk]}),
        (reverse("monitoring:errorgroup", args=[group.pk]), {"action": "resolve"}),
        (reverse("monitoring:errorgroup", args=[group.pk]), {"action": "comment", "text": "hi"}),
    ):
        assert viewer.post(url, data).status_code == 403
    api = api_for(UserFactory(roles=[VIEWER]))
    assert (
        api.post(
            reverse("monitoring-api:errorgroup-bulk"), {"action": "ignore", "ids": [group.pk]}, format="json"
        )
    ).status_code == 403
    group.refresh_from_db()
    assert group.status == ErrorGroup.Status.OPEN and not group.comments.exists()
    assert FailedRecord.objects.get(pk=jane.pk).status == FailedRecord.Status.OPEN


@pytest.mark.django_db
def test_bulk_actions_assign_and_comment_are_audited(customers):
    jane, price = customers["jane"], customers["price"]
    both = [group_of(jane).pk, group_of(price).pk]
    support = UserFactory(username="sam", roles=[SUPPORT])
    colleague = UserFactory(username="kim", roles=[SUPPORT])
    client = client_for(support)
    inbox = reverse("monitoring:triage")

    response = client.post(inbox, {"action": "acknowledge", "selection": both}, follow=True)
    assert "2 error groups acknowledged" in response.content.decode()
    assert set(ErrorGroup.objects.filter(pk__in=both).values_list("status", flat=True)) == {"acknowledged"}

    client.post(inbox, {"action": "assign", "selection": both, "assignee": colleague.pk})
    assert set(ErrorGroup.objects.filter(pk__in=both).values_list("assignee__username", flat=True)) == {"kim"}
    mine = client_for(colleague).get(inbox, {"assignee": "me"}).context["rows"]
    assert sorted(r["group"].pk for r in mine) == sorted(both)
    assert client.get(inbox, {"assignee": "me"}).context["rows"] == []

    detail = reverse("monitoring:errorgroup", args=[both[0]])
    client.post(detail, {"action": "comment", "text": "The shop refuses +-addresses; asked the CRM team."})
    page = client.get(detail).content.decode()
    assert "asked the CRM team" in page and "sam" in page

    response = client.post(inbox, {"action": "ignore", "selection": both}, follow=True)
    assert "2 error groups ignored" in response.content.decode()
    assert not FailedRecord.objects.filter(flow=customers["flow"], status="open").exists()
    # Out of the default (open + acknowledged) inbox, still found by status.
    assert client.get(inbox).context["rows"] == []
    assert "every record went through" in client.get(inbox).content.decode()
    assert len(client.get(inbox, {"status": ["ignored"]}).context["rows"]) == 2

    group = ErrorGroup.objects.get(pk=both[0])
    messages = list(AuditEntry.objects.for_object(group).values_list("user_name", "message"))
    assert ("sam", "Error group acknowledged.") in messages
    assert ("sam", "Error group assigned to kim.") in messages
    assert ("sam", "Comment added.") in messages and ("sam", "Error group ignored.") in messages

    # The API runs the same service: re-open one, then nothing to do for an unknown id.
    api = api_for(support)
    response = api.post(
        reverse("monitoring-api:errorgroup-act", args=[both[0]]), {"action": "reopen"}, format="json"
    )
    assert response.status_code == 200 and response.json() == {"changed": 1}
    response = api.post(
        reverse("monitoring-api:errorgroup-bulk"), {"action": "resolve", "ids": [999]}, format="json"
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_assigning_to_someone_who_cannot_see_the_flow_is_refused(customers):
    group = group_of(customers["jane"])
    stranger = UserFactory(username="stranger")
    client = client_for(UserFactory(roles=[SUPPORT]))
    response = client.post(
        reverse("monitoring:errorgroup", args=[group.pk]),
        {"action": "assign", "assignee": stranger.pk},
        follow=True,
    )
    assert "cannot see the flow" in response.content.decode()
    group.refresh_from_db()
    assert group.assignee is None


@pytest.mark.django_db
def test_csrf_is_required(customers):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(roles=[SUPPORT]))
    group = group_of(customers["jane"])
    assert (
        client.post(reverse("monitoring:triage"), {"action": "ignore", "selection": [group.pk]}).status_code
        == 403
    )
    group.refresh_from_db()
    assert group.status == ErrorGroup.Status.OPEN


# --- through the real engine ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox():
    from sandbox.testing import running

    with running(["pim", "shop"]) as urls:
        yield urls


@pytest.mark.django_db(transaction=True, databases="__all__")
class TestEngine:
    @pytest.fixture
    def failing(self, sandbox):
        """The catalog with a price rule no chair meets: every enabled chair fails, one cause."""
        from flows.demo import ensure_demo_systems
        from tests.flows.test_sync import run_now, small_catalog

        ensure_demo_systems(urls=sandbox)
        flow = small_catalog()
        self.set_rule(flow, 1_000_000)
        run = run_now(flow)
        assert run.status == RunStatus.PARTIAL and run.failed > 0
        return flow, run

    def set_rule(self, flow, minimum):
        data = designer.definition_of(flow)
        data["quality_rules"] = (
            [{"kind": "range", "field": "price", "params": {"min": minimum}}] if minimum else []
        )
        designer.save_flow(data, flow=flow)

    def test_a_run_groups_its_failures_replay_resolves_the_group_and_a_regression_reopens_it(self, failing):
        from tests.flows.test_sync import run_now

        flow, run = failing
        group = ErrorGroup.objects.get(flow=flow)  # one cause, one group
        assert group.count == run.failed and group.stage == "rule"
        assert group.title.startswith(f"{run.failed} products failed a data-quality rule: ")

        support = client_for(UserFactory(roles=[SUPPORT]))
        url = reverse("monitoring:errorgroup", args=[group.pk])
        # Not fixed yet: the replay fails again; the group stays open and counts the new events.
        support.post(url, {"action": "replay"})
        group.refresh_from_db()
        assert group.status == ErrorGroup.Status.OPEN and group.count == 2 * run.failed

        self.set_rule(flow, None)  # the cause is fixed
        response = support.post(url, {"action": "replay"}, follow=True)
        assert "Replaying in run" in response.content.decode()
        group.refresh_from_db()
        assert group.status == ErrorGroup.Status.RESOLVED and group.resolved_by is None
        assert not FailedRecord.objects.filter(flow=flow, status__in=["open", "retrying"]).exists()
        assert (
            AuditEntry.objects.for_object(group)
            .filter(message__contains="every record went through")
            .exists()
        )

        # The error comes back (the rule returns; one record is synced again): the group re-opens, regressed.
        self.set_rule(flow, 1_000_000)
        source_id = FailedRecord.objects.filter(flow=flow).first().source_id
        again = run_now(flow, record_ids=[source_id])
        assert again.failed == 1
        group.refresh_from_db()
        assert group.status == ErrorGroup.Status.OPEN and group.regressed
        assert group.count == 2 * run.failed + 1
