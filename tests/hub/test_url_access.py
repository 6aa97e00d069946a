"""Walk every URL the project registers: anonymous visitors are refused everywhere but on an explicit
allow-list, and a Viewer cannot change anything anywhere. New views are covered without editing this file."""

import hashlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import serializers
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from flows.models import FailedRecord, FlowVersion, HealthScan, RecordLink, Run
from gdpr import retention
from gdpr.models import (
    ActivitySnapshot,
    Breach,
    DataCategory,
    DataSubjectRequest,
    ProcessingActivity,
    Purpose,
    RetentionRule,
    SuppressedSubject,
)
from integration_hub import services
from integration_hub.models import AuditEntry
from integration_hub.roles import VIEWER
from monitoring.models import Alert, AlertRule, ErrorGroup
from tests.factories import FlowFactory, SystemFactory, UserFactory, ValueMapFactory

# Reachable without logging in. Each is checked to exist and to answer anonymous visitors.
PUBLIC_URL_NAMES = {
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "set_language",
    "healthz",
    "readyz",
    "monitoring:metrics",  # Prometheus: HUB_METRICS_TOKEN as a bearer token (404 when not set)
    "hooks:receive",  # inbound webhooks: the token in the address and the HMAC signature authenticate
    "gdpr:request_intake",  # a person files a data-subject request (CSRF, honeypot, rate limit by address)
    "gdpr:request_intake_verify",  # …and confirms it with the code e-mailed to them (signed token)
}

# What a Viewer may change: only their own session, password, language and API tokens, and the
# status page's live-update test (it queues a message to themselves).
SELF_SERVICE_URL_NAMES = {
    "logout",
    "password_change",
    "password_change_done",
    "set_language",
    "users:token_list",
    "users:token_delete",
    "hub-api:apitoken-list",
    "hub-api:apitoken-detail",
    "status_live_ping",
    "monitoring:notification_read",  # their own notifications only
    "monitoring:notification_preferences",
}

WRITE_METHODS = ("post", "put", "patch", "delete")


def iter_urls(patterns=None, namespace=""):
    """(url name, pattern, view callback) for every named URL, namespaces included."""
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            child_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from iter_urls(entry.url_patterns, child_ns)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, entry, entry.callback


def kwarg_names(pattern: URLPattern) -> list[str]:
    p = pattern.pattern
    if hasattr(p, "converters") and p.converters:
        return list(p.converters)
    return list(p.regex.groupindex)


def view_model(callback):
    """The model a view works on, from its queryset (Django generic views and DRF viewsets)."""
    for cls in (getattr(callback, "view_class", None), getattr(callback, "cls", None)):
        queryset = getattr(cls, "queryset", None)
        if queryset is not None:
            return queryset.model
    initkwargs = getattr(callback, "view_initkwargs", None) or getattr(callback, "initkwargs", None) or {}
    queryset = initkwargs.get("queryset")
    return queryset.model if queryset is not None else None


def build_url(name, pattern, callback, objects):
    kwargs = {}
    for key in kwarg_names(pattern):
        if key == "format":
            kwargs[key] = "json"
        elif key == "uidb64":
            kwargs[key] = "MQ"
        elif key == "token":
            kwargs[key] = "set-password"
        elif key == "scan_pk":
            kwargs[key] = objects["health_scan"].pk
        elif key == "slug" and view_model(callback) is None:
            kwargs[key] = "no-such-system"
        else:
            model = view_model(callback)
            obj = objects.get(model)
            if obj is None:
                raise AssertionError(f"{name}: no sample object for URL argument {key!r} (model {model})")
            kwargs[key] = getattr(obj, key)
    return reverse(name, kwargs=kwargs)


def all_urls(objects):
    seen = set()
    for name, pattern, callback in iter_urls():
        url = build_url(name, pattern, callback, objects)
        if url not in seen:
            seen.add(url)
            yield name, url, callback


def is_api(callback) -> bool:
    return hasattr(callback, "cls")


def db_snapshot() -> str:
    """A fingerprint of every row of every model except the audit log (which records refusals)."""
    digest = hashlib.sha256()
    for model in apps.get_models():
        if model is AuditEntry or model._meta.proxy or not model._meta.managed:
            continue
        if model._meta.app_label in ("sessions", "channels_lite", "django_q"):
            continue
        rows = serializers.serialize("json", model._default_manager.order_by("pk"))
        digest.update(model._meta.label.encode() + rows.encode())
    return digest.hexdigest()


@pytest.fixture
def objects(db):
    owner = UserFactory(username="viewer", roles=[VIEWER])
    token, _key = services.create_api_token(owner, name="walk")
    system = SystemFactory()
    flow = FlowFactory(source_system=system, target_system=system)
    value_map = ValueMapFactory()
    scan = HealthScan.objects.create(system=system, entity="products", key_path="id")
    version = FlowVersion.objects.create(flow=flow, number=1, definition={})
    run = Run.objects.create(flow=flow, version=version, trigger="manual", status="succeeded")
    link = RecordLink.objects.create(
        flow=flow,
        source_system=system,
        source_entity="products",
        source_id="SKU-1",
        target_system=system,
        target_entity="products",
        target_id="42",
        last_run=run,
    )
    failure = FailedRecord(
        flow=flow,
        run=run,
        source_id="SKU-2",
        stage="write",
        error_class="invalid",
        message="x",
        signature="s",
    )
    failure.payload = {"source": {"email": "jane@example.com"}}
    failure.save()
    group = ErrorGroup.objects.create(
        flow=flow, signature="s", stage="write", error_class="invalid", title="x"
    )
    rule = AlertRule.objects.create(name="Failed runs", condition="run_failed")
    alert = Alert.objects.create(rule=rule, scope_key=f"flow:{flow.pk}", summary="x")
    entry = AuditEntry.objects.first()
    breach = Breach.objects.create(reference="BR-1", title="x", aware_at=timezone.now())
    retention.ensure_rules()
    dsr = DataSubjectRequest.objects.create(
        reference="DSR-2026-0001", received_on=timezone.localdate(), due_on=timezone.localdate()
    )
    activity = ProcessingActivity.objects.create(reference="RT-001", name="Orders")
    snapshot = ActivitySnapshot.objects.create(
        activity=activity, number=1, data={}, approved_at=timezone.now()
    )
    category = DataCategory.objects.create(key="contact-x", name="Contact", cnil_group="identity")
    return {
        ProcessingActivity: activity,
        ActivitySnapshot: snapshot,
        DataCategory: category,
        Purpose: Purpose.objects.create(key="orders-x", name="Orders", default_legal_basis="contract"),
        DataSubjectRequest: dsr,
        SuppressedSubject: SuppressedSubject.objects.create(key="0" * 16, kind="email", request=dsr),
        Breach: breach,
        RetentionRule: RetentionRule.objects.get(store="runs"),
        AlertRule: rule,
        Alert: alert,
        ErrorGroup: group,
        get_user_model(): owner,
        type(system): system,
        type(flow): flow,
        type(value_map): value_map,
        AuditEntry: entry,
        type(token): token,
        "health_scan": scan,
        Run: run,
        RecordLink: link,
        FailedRecord: failure,
    }


@pytest.mark.django_db
def test_every_public_url_name_exists(objects):
    names = {name for name, _p, _c in iter_urls()}
    assert names >= PUBLIC_URL_NAMES, PUBLIC_URL_NAMES - names
    assert names >= SELF_SERVICE_URL_NAMES, SELF_SERVICE_URL_NAMES - names


@pytest.mark.django_db(databases="__all__")
def test_anonymous_visitors_are_refused_everywhere_but_public_urls(objects):
    client = Client()
    reachable = set()
    for name, url, callback in all_urls(objects):
        response = client.get(url)
        if is_api(callback) and name not in PUBLIC_URL_NAMES:
            if response.status_code == 302:  # HTML pages served by DRF (the API docs) redirect
                assert "/accounts/login/" in response["Location"], (name, url)
            else:
                assert response.status_code in (401, 403), (name, url, response.status_code)
            continue
        if response.status_code == 302 and "/accounts/login/" in response["Location"]:
            continue
        reachable.add(name)
    assert reachable == PUBLIC_URL_NAMES, reachable ^ PUBLIC_URL_NAMES


@pytest.mark.django_db
def test_anonymous_writes_are_refused_and_change_nothing(objects):
    client = Client()
    before = db_snapshot()
    for name, url, _callback in all_urls(objects):
        if name in PUBLIC_URL_NAMES:
            continue
        for method in WRITE_METHODS:
            response = getattr(client, method)(url, data="{}", content_type="application/json")
            assert response.status_code in (302, 401, 403, 405), (name, method, response.status_code)
    assert db_snapshot() == before


@pytest.mark.django_db(databases="__all__")
def test_a_viewer_can_read_but_change_nothing(objects):
    viewer = objects[get_user_model()]
    client, api = Client(), APIClient()
    client.force_login(viewer)
    api.force_login(viewer)
    before = db_snapshot()
    for name, url, callback in all_urls(objects):
        if name in SELF_SERVICE_URL_NAMES or name in PUBLIC_URL_NAMES:
            continue
        assert client.get(url).status_code < 500, (name, url)
        c = api if is_api(callback) else client
        for method in WRITE_METHODS:
            response = (
                getattr(c, method)(url, {"name": "x", "slug": "x", "role": "pim"}, format="json")
                if c is api
                else getattr(c, method)(url, {"name": "x", "slug": "x", "role": "pim"})
            )
            assert response.status_code in (403, 404, 405), (name, method, url, response.status_code)
    assert db_snapshot() == before


@pytest.mark.django_db
def test_self_service_urls_are_open_to_a_viewer(objects):
    """The allow-list is not dead: each self-service URL really accepts a Viewer's write."""
    viewer = objects[get_user_model()]
    client = Client()
    client.force_login(viewer)
    response = client.post(reverse("users:token_list"), {"name": "mine"})
    assert response.status_code == 200 and "ihub_" in response.content.decode()
    token = viewer.api_tokens.get(name="mine")
    assert client.post(reverse("users:token_delete", args=[token.pk])).status_code == 302
    assert client.post(reverse("set_language"), {"language": "fr", "next": "/"}).status_code == 302
    assert client.post(reverse("status_live_ping")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "correct horse battery staple",
            "new_password1": "n3w-Passw0rd!!",
            "new_password2": "n3w-Passw0rd!!",
        },
    )
    assert response.status_code == 302
    viewer.refresh_from_db()  # the new password changes the session hash
    api = APIClient()
    api.force_login(viewer)
    created = api.post(reverse("hub-api:apitoken-list"), {"name": "api"}, format="json")
    assert created.status_code == 201 and created.json()["key"].startswith("ihub_")
    assert api.delete(reverse("hub-api:apitoken-detail", args=[created.json()["id"]])).status_code == 204
    assert client.post(reverse("logout")).status_code == 302


def test_snapshot_detects_a_change(db):
    """The Viewer test relies on db_snapshot() noticing writes; prove it does."""
    before = db_snapshot()
    SystemFactory()
    assert db_snapshot() != before
