"""Data-subject request services against an in-memory connector speaking the GDPR contract: intake,
identity verification, the state machine, plan before acting, execution with post-checks, the hub's own
purge, the suppression list, evidence packs chained by hash, and the deadline alert."""

import copy
import json
import re
from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from flows.models import FailedRecord, FlowVersion, RecordLink, Run, RunLogLine, WebhookEvent
from gdpr import evidence, requests
from gdpr.models import DataSubjectRequest, ErasureStrategy, EvidencePack, PurgeLog, SuppressedSubject
from gdpr.models.choices import RequestState, Strategy, TaskAction, TaskStatus
from gdpr.suppression import subject_key
from integration_hub import crypto
from integration_hub.roles import DPO
from monitoring import alerts
from monitoring.models import Alert, AlertRule
from tests.factories import FlowFactory, SystemFactory, UserFactory
from tests.gdpr import fake_connector
from tests.gdpr.fake_connector import DOWN, STORES

pytestmark = pytest.mark.django_db(databases="__all__")

EMAIL = "Jeanne.Martin@example.org"


@pytest.fixture(autouse=True)
def stores():
    STORES.clear()
    DOWN.clear()
    STORES["shop"] = {
        "customers": {
            "101": {"id": "101", "email": "jeanne.martin@example.org", "name": "Jeanne Martin"},
            "102": {"id": "102", "email": "paul@example.org", "name": "Paul"},
        },
        "orders": {
            "5001": {"id": "5001", "customer_email": "jeanne.martin@example.org", "name": "Jeanne Martin"},
        },
        "invoices": {"9001": {"id": "9001", "email": "jeanne.martin@example.org"}},
    }
    STORES["crm"] = {
        "customers": {"c-7": {"id": "c-7", "email": "JEANNE.MARTIN@example.org", "phone": "0601"}}
    }
    STORES["erp"] = {"customers": {}}
    yield


@pytest.fixture
def dpo(db):
    return UserFactory(username="dpo", roles=[DPO])


@pytest.fixture
def systems(db):
    assert fake_connector.FakeSubjectConnector.key == "gdpr-fake"
    return {
        name: SystemFactory(name=name.upper(), slug=name, connector="gdpr-fake", parameters={"store": name})
        for name in ("shop", "crm", "erp")
    }


def new_request(kind="erasure", received_on=None, **identifiers):
    return requests.create_request(
        kind, "email", received_on or timezone.localdate(), identifiers or {"email": [EMAIL]}
    )


def verified(request, user):
    return requests.verify_identity(request, "ID document seen", user=user)


@pytest.fixture
def execute(django_capture_on_commit_callbacks):
    """execute_request, with its queued task run (the queue runs inline once the transaction commits)."""

    def run(request, user=None):
        with django_capture_on_commit_callbacks(execute=True):
            requests.execute_request(request, user=user)
        request.refresh_from_db()
        return request

    return run


def code_from_mail() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


# --- intake and verification ------------------------------------------------------------------------


def test_intake_numbers_the_request_sets_the_deadline_and_keeps_identifiers_encrypted():
    first = new_request(received_on=date(2026, 1, 31))
    second = new_request(received_on=date(2026, 3, 2), phone=["06 01"])
    assert first.reference == "DSR-2026-0001" and second.reference == "DSR-2026-0002"
    assert first.due_on == date(2026, 2, 28)
    assert first.state == RequestState.RECEIVED
    stored = DataSubjectRequest.objects.get(pk=first.pk)
    assert "jeanne" not in stored.identifiers_encrypted.casefold()
    assert stored.identifiers == {"email": ["jeanne.martin@example.org"]}
    assert stored.subject_keys.split() == [subject_key("email", EMAIL)]
    assert stored.pseudonym.startswith("subject ") and "jeanne" not in stored.pseudonym


def test_nothing_is_planned_before_the_identity_is_verified(systems):
    request = new_request()
    with pytest.raises(requests.RequestError):
        requests.plan_request(request)
    assert request.tasks.count() == 0
    with pytest.raises(requests.RequestError):
        requests.execute_request(request)


def test_verification_code_wrong_then_right():
    request = new_request()
    assert requests.send_verification_code(request)
    assert mail.outbox[-1].to == ["jeanne.martin@example.org"]
    code = code_from_mail()
    assert code not in request.verification_code_hash  # only a keyed hash is kept
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(requests.RequestError, match="Tries left: 4"):
        requests.check_verification_code(request, wrong)
    request.refresh_from_db()
    assert request.state == RequestState.RECEIVED and request.verification_attempts == 1
    requests.check_verification_code(request, code)
    request.refresh_from_db()
    assert request.state == RequestState.VERIFIED
    assert request.identity_verified_at is not None and request.verified_by is None
    assert "code" in request.verification_method


def test_verification_code_expires():
    request = new_request()
    requests.send_verification_code(request)
    code = code_from_mail()
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        verification_expires=timezone.now() - timedelta(seconds=1)
    )
    request.refresh_from_db()
    with pytest.raises(requests.RequestError, match="expired"):
        requests.check_verification_code(request, code)
    assert DataSubjectRequest.objects.get(pk=request.pk).state == RequestState.RECEIVED


def test_verification_code_refused_after_five_wrong_tries_even_when_right():
    request = new_request()
    requests.send_verification_code(request)
    code = code_from_mail()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(requests.CODE_MAX_ATTEMPTS):
        with pytest.raises(requests.RequestError):
            requests.check_verification_code(request, wrong)
    with pytest.raises(requests.RequestError, match="Too many"):
        requests.check_verification_code(request, code)
    assert DataSubjectRequest.objects.get(pk=request.pk).state == RequestState.RECEIVED
    # A new code starts over.
    requests.send_verification_code(request)
    requests.check_verification_code(request, code_from_mail())
    assert DataSubjectRequest.objects.get(pk=request.pk).state == RequestState.VERIFIED


def test_the_dpo_verifies_on_the_persons_behalf_saying_how(dpo):
    request = new_request()
    with pytest.raises(requests.RequestError):
        requests.verify_identity(request, "  ", user=dpo)
    verified(request, dpo)
    request.refresh_from_db()
    assert (request.state, request.verification_method, request.verified_by) == (
        RequestState.VERIFIED,
        "ID document seen",
        dpo,
    )


# --- extension, refusal, hold -----------------------------------------------------------------------


def test_extension_by_two_months_counts_from_receipt_and_three_are_refused():
    request = new_request(received_on=date(2026, 1, 31))
    with pytest.raises(requests.RequestError):
        requests.extend_request(request, 3, "complex request", date(2026, 2, 10))
    with pytest.raises(requests.RequestError):
        requests.extend_request(request, 2, "", date(2026, 2, 10))
    requests.extend_request(request, 2, "many systems to search", date(2026, 2, 10))
    request.refresh_from_db()
    assert request.due_on == date(2026, 4, 30) and request.extended_months == 2


def test_refuse_needs_a_reason_and_closes_the_request(dpo):
    request = new_request()
    with pytest.raises(requests.RequestError):
        requests.refuse_request(request, "")
    requests.refuse_request(request, "manifestly unfounded (Art. 12(5))")
    request.refresh_from_db()
    assert request.state == RequestState.REFUSED and not request.is_open
    with pytest.raises(requests.RequestError):
        requests.extend_request(request, 1, "x", date.today())


def test_hold_and_resume_come_back_to_the_same_state(dpo):
    request = verified(new_request(), dpo)
    requests.hold_request(request, "waiting for the person's answer")
    assert request.state == RequestState.ON_HOLD
    requests.resume_request(request)
    assert request.state == RequestState.VERIFIED


# --- plan and execute -------------------------------------------------------------------------------


def hub_rows_about_the_person(systems):
    """Links, failed records, log lines and webhook events naming Jeanne (as the sync engine keeps them)."""
    flow = FlowFactory(source_system=systems["shop"], source_entity="customers",
                       target_system=systems["erp"], target_entity="customers")  # fmt: skip
    version = FlowVersion.objects.create(flow=flow, number=1, definition={})
    run = Run.objects.create(
        flow=flow, version=version, trigger="manual", status="succeeded", record_ids=["101"]
    )
    key = subject_key("email", EMAIL)
    link = RecordLink.objects.create(
        flow=flow, source_system=systems["shop"], source_entity="customers", source_id="101",
        target_system=systems["erp"], target_entity="customers", target_id="E-55",
        last_values=crypto.encrypt(json.dumps({"email": "jeanne.martin@example.org"})), lookup_keys=key,
    )  # fmt: skip
    other = RecordLink.objects.create(
        flow=flow, source_system=systems["shop"], source_entity="customers", source_id="102",
        target_system=systems["erp"], target_entity="customers", target_id="E-56",
        lookup_keys=subject_key("email", "paul@example.org"),
    )  # fmt: skip
    failed = FailedRecord(flow=flow, run=run, source_id="101", stage="write", error_class="http",
                          message="refused", signature="x", lookup_keys=key)  # fmt: skip
    failed.payload = {"source": {"email": "jeanne.martin@example.org"}}
    failed.save()
    line = RunLogLine.objects.create(run=run, event="record.note", message="record E-55 written",
                                     context={"target_id": "E-55"})  # fmt: skip
    event = WebhookEvent.objects.create(
        system=systems["shop"], event_id="evt-1",
        payload_encrypted=crypto.encrypt(json.dumps({"customer": {"id": "101", "email": "jeanne.martin@example.org"}})),
    )  # fmt: skip
    return {"link": link, "other": other, "failed": failed, "line": line, "event": event, "run": run}


def test_plan_shows_where_the_person_is_before_anything_changes(systems, dpo):
    request = verified(new_request(), dpo)
    rows = hub_rows_about_the_person(systems)
    requests.plan_request(request, user=dpo)
    request.refresh_from_db()
    assert request.state == RequestState.PLANNED
    summary = requests.plan_summary(request)
    assert (summary["systems"], summary["records"]) == (2, 4)  # shop: customer, order, invoice; CRM: contact
    tasks = {
        (t.system.slug if t.system else "hub", t.entity): t for t in request.tasks.select_related("system")
    }
    assert (
        tasks["shop", "customers"].targets == ["101"]
        and tasks["shop", "customers"].action == TaskAction.ERASE
    )
    assert tasks["shop", "orders"].action == TaskAction.MASK
    assert tasks["shop", "invoices"].status == TaskStatus.EXEMPT
    assert "Art. 17(3)" in tasks["shop", "invoices"].exemption
    assert tasks["erp", "customers"].status == TaskStatus.NOT_FOUND
    assert tasks["hub", ""].records_found == 5  # link, failed record, log line, webhook event, run
    assert request.plan["hub"]["record_links"] == [rows["link"].pk]
    # Nothing changed yet.
    assert "101" in STORES["shop"]["customers"] and RecordLink.objects.count() == 2


def test_an_unreachable_system_is_a_failed_task_and_a_new_plan_finds_it(systems, dpo, execute):
    request = verified(new_request(), dpo)
    DOWN["crm"] = 1
    requests.plan_request(request)
    task = request.tasks.get(system=systems["crm"])
    assert task.status == TaskStatus.FAILED and "refused" in task.error
    assert requests.plan_summary(request)["unreachable"] == ["CRM"]
    # Executed as it is, the rest is erased but the request is only partially completed.
    execute(request)
    assert request.state == RequestState.PARTIAL
    assert "plan again" in request.tasks.get(system=systems["crm"]).error
    assert "101" not in STORES["shop"]["customers"] and "c-7" in STORES["crm"]["customers"]
    requests.plan_request(request)  # the CRM is back: only it is asked again
    assert request.tasks.get(system=systems["shop"], entity="customers").status == TaskStatus.SUCCEEDED
    assert request.tasks.get(system=systems["crm"], entity="customers").records_found == 1
    execute(request)
    assert request.state == RequestState.COMPLETED and STORES["crm"]["customers"] == {}


def test_execute_erases_checks_purges_suppresses_and_leaves_evidence(systems, dpo, execute):
    request = verified(new_request(), dpo)
    rows = hub_rows_about_the_person(systems)
    requests.plan_request(request)
    execute(request, user=dpo)
    request.refresh_from_db()
    assert request.state == RequestState.COMPLETED, list(request.tasks.values("entity", "status", "error"))
    # In the systems: deleted, masked, kept by law; Paul untouched.
    assert "101" not in STORES["shop"]["customers"] and "102" in STORES["shop"]["customers"]
    assert STORES["shop"]["orders"]["5001"]["customer_email"] == ""
    assert "9001" in STORES["shop"]["invoices"]
    assert STORES["crm"]["customers"] == {}
    tasks = {
        (t.system.slug if t.system else "hub", t.entity): t for t in request.tasks.select_related("system")
    }
    assert tasks["shop", "customers"].post_check == "passed"
    assert tasks["shop", "orders"].post_check == "passed"
    assert tasks["hub", ""].post_check == "passed"
    # The hub's own rows: gone or scrubbed; nothing decrypts to the address.
    assert list(RecordLink.objects.all()) == [rows["other"]]
    assert not FailedRecord.objects.exists() and not WebhookEvent.objects.exists()
    line = RunLogLine.objects.get(pk=rows["line"].pk)
    assert "E-55" not in line.message and "E-55" not in json.dumps(line.context)
    assert Run.objects.get(pk=rows["run"].pk).record_ids == []
    assert PurgeLog.objects.filter(reason=request.reference).count() >= 3
    # The suppression list and what is left of the person.
    assert SuppressedSubject.objects.filter(key=subject_key("email", EMAIL), request=request).exists()
    assert request.identifiers == {} and request.subject_keys
    # The evidence pack: every task with its post-check, no plain identifier.
    pack = EvidencePack.objects.get(request=request)
    text = json.dumps(pack.data).casefold()
    assert "jeanne" not in text and "0601" not in text
    assert {t["status"] for t in pack.data["tasks"]} >= {"succeeded", "exempt", "not_found"}
    assert evidence.verify_chain() == []
    # Safe to run twice.
    requests.run_request(request.pk)
    assert DataSubjectRequest.objects.get(pk=request.pk).state == RequestState.COMPLETED


def test_a_failing_system_leaves_the_request_partial_and_a_retry_completes_it(systems, dpo, execute):
    request = verified(new_request(), dpo)
    requests.plan_request(request)
    DOWN["crm"] = requests.TASK_ATTEMPTS
    execute(request)
    request.refresh_from_db()
    assert request.state == RequestState.PARTIAL
    task = request.tasks.get(system=systems["crm"], entity="customers")
    assert task.status == TaskStatus.FAILED and task.attempts == requests.TASK_ATTEMPTS
    assert request.identifiers  # kept for the retry
    assert not EvidencePack.objects.filter(request=request).exists()
    execute(request)
    request.refresh_from_db()
    assert request.state == RequestState.COMPLETED
    assert request.tasks.get(pk=task.pk).post_check == "passed"


def test_a_manual_strategy_waits_for_a_person(systems, dpo, execute):
    ErasureStrategy.objects.create(system=systems["crm"], entity="customers", strategy=Strategy.MANUAL)
    request = verified(new_request(), dpo)
    requests.plan_request(request)
    execute(request)
    request.refresh_from_db()
    assert request.state == RequestState.PARTIAL
    task = request.tasks.get(system=systems["crm"], entity="customers")
    assert task.status == TaskStatus.MANUAL and "c-7" in STORES["crm"]["customers"]
    requests.complete_manual_task(task, "deleted in the CRM's admin", user=dpo)
    request.refresh_from_db()
    assert request.state == RequestState.COMPLETED and EvidencePack.objects.filter(request=request).exists()


def test_access_request_assembles_every_systems_data(systems, dpo, execute):
    request = verified(new_request(kind="access"), dpo)
    requests.plan_request(request)
    execute(request)
    request.refresh_from_db()
    assert request.state == RequestState.COMPLETED
    exported = {(s["system"], s["entity"]): s["records"] for s in request.export["systems"]}
    assert exported["SHOP", "customers"][0]["data"]["name"] == "Jeanne Martin"
    assert exported["CRM", "customers"][0]["data"]["phone"] == "0601"
    assert "101" in STORES["shop"]["customers"]  # nothing erased


# --- evidence chain -------------------------------------------------------------------------------------


def test_tampering_with_a_pack_breaks_the_chain(systems, dpo, execute):
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        request = verified(new_request(email=[email]), dpo)
        requests.plan_request(request)
        execute(request)
    packs = list(EvidencePack.objects.order_by("sequence"))
    assert [p.sequence for p in packs] == [1, 2, 3]
    assert packs[1].previous_hash == packs[0].hash
    assert evidence.verify_chain() == []
    original = copy.deepcopy(packs[1].data)
    data = packs[1].data
    data["tasks"][0]["status"] = "succeeded"
    data["tasks"][0]["post_check"] = "passed (edited)"
    EvidencePack.objects.filter(pk=packs[1].pk).update(data=data)
    problems = evidence.verify_chain()
    assert problems and "#2" in problems[0]
    EvidencePack.objects.filter(pk=packs[1].pk).update(data=original)
    assert evidence.verify_chain() == []
    EvidencePack.objects.filter(pk=packs[0].pk).delete()
    assert any("#2" in p for p in evidence.verify_chain())


# --- the deadline alert ---------------------------------------------------------------------------------


def test_deadline_alert_fires_for_overdue_and_due_soon_requests_only(dpo):
    today = timezone.localdate()
    overdue = new_request(received_on=today - timedelta(days=40))
    soon = new_request(received_on=today - timedelta(days=27))
    later = new_request(received_on=today)
    closed = new_request(received_on=today - timedelta(days=60))
    requests.refuse_request(closed, "unfounded")
    rule = AlertRule.objects.create(name="DSR deadlines", condition="gdpr_request_deadline", threshold=7)
    rule.email_users.add(dpo)
    alerts.evaluate(rule)
    firing = {a.scope_key for a in Alert.objects.filter(rule=rule, state="firing")}
    assert firing == {f"dsr:{overdue.pk}", f"dsr:{soon.pk}"}
    assert f"dsr:{later.pk}" not in firing
    assert any(overdue.reference in m.body or overdue.reference in m.subject for m in mail.outbox)


# --- after a restore ------------------------------------------------------------------------------------


def test_reapply_erasures_erases_restored_records_again_by_their_ids(systems, dpo, execute):
    from django.core.management import call_command

    request = verified(new_request(), dpo)
    rows = hub_rows_about_the_person(systems)
    requests.plan_request(request)
    execute(request)
    assert request.state == RequestState.COMPLETED and request.identifiers == {}
    # A backup restore brings the shop's account and the hub's link back.
    STORES["shop"]["customers"]["101"] = {"id": "101", "email": "jeanne.martin@example.org", "name": "Jeanne"}
    link = rows["link"]
    link.pk = None
    link.save()
    out = __import__("io").StringIO()
    call_command("reapply_erasures", stdout=out)
    assert "101" not in STORES["shop"]["customers"]
    assert not RecordLink.objects.filter(source_id="101").exists()
    assert f"{request.reference}: 1 erased again, 2 already gone" in out.getvalue()
