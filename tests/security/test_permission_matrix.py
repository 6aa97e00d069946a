"""The permission matrix: the 4 roles, every URL pattern and API endpoint, GET and the write methods
(session with a valid CSRF token, and API token), then object grants, then websocket groups.

Nothing here lists outcomes by hand. The URLs come from walking the resolver (so new views are covered
without editing this file); what each needs comes from the view itself (its queryset's model and its
``action``, a viewset's ``permission_action`` and the HTTP method, as ``integration_hub.api.permissions``
reads them); what each role holds comes from the roles' declared permissions (the seeded groups built by
``roles.ensure_roles`` from ``ROLE_POLICIES``). The expected answer is their product:

* a role holding the permission the view needs is let through (not 401/403/404, never 5xx);
* a role without it is refused (403, or 404 for an object it may not see, or 405) and changes nothing.

Views whose requirement cannot be read off the view (no model, or a POST handled by a "view"-action view
that checks its own rules) are still walked for every role: never a 5xx, and a role that holds no
permission at all on the view's model is refused and changes nothing. The number of cases checked is
written to ``test-results/permission-cases.json`` and printed (``-s``) for the issue's closing note.
"""

import fcntl
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows.models import Flow, System
from integration_hub import realtime, services
from integration_hub.api.permissions import METHOD_ACTIONS
from integration_hub.permissions import permission_name
from integration_hub.roles import ROLE_POLICIES
from integration_hub.views import generic
from tests.factories import FlowFactory, SystemFactory, UserFactory
from tests.hub.test_url_access import (  # noqa: F401 — ``objects`` is the shared fixture of sample rows
    PUBLIC_URL_NAMES,
    SELF_SERVICE_URL_NAMES,
    all_urls,
    is_api,
    kwarg_names,
    objects,
    view_model,
)

ROLES = list(ROLE_POLICIES)
WRITES = ("post", "put", "patch", "delete")
REFUSED = {403, 404, 405}
RESULTS = Path(settings.BASE_DIR) / "test-results" / "permission-cases.json"
CASES: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _record_case_count():
    yield
    total = sum(CASES.values())
    print(f"\npermission cases checked: {total} ({dict(CASES)})")
    RESULTS.parent.mkdir(exist_ok=True)
    # One file per test session: pytest-xdist workers (same session, tests/settings.py) add theirs up.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    session = os.environ.get("HUB_NAMESPACE", "").removesuffix(worker)
    with RESULTS.open("a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # workers finish at about the same time
        file.seek(0)
        text = file.read()
        report = json.loads(text) if text.strip() else {}
        if report.get("session") != session:
            report = {"session": session, "workers": {}}
        report["workers"][worker or "main"] = {"total": total, **CASES}
        report["total"] = sum(w["total"] for w in report["workers"].values())
        file.seek(0)
        file.truncate()
        file.write(json.dumps(report, indent=2))


# Views whose access follows a rule of their own, stated in the view: walked for every role (never a 5xx)
# without a derived expectation.
OWN_RULES = {
    "integration_hub:auditentry": "an entry is readable by whoever may view the object it is about",
    "api-docs": "an HTML page for the browser session; a token is not a browser login",
}
# Views that answer 404 to a role that may see the object when a part of it does not exist yet.
NOT_YET = {"gdpr:request_evidence": "no evidence pack before the request is closed"}


def role_permissions(role: str) -> set[str]:
    """``app_label.codename`` of every permission the role's group holds (as seeded from its policy)."""
    group = Group.objects.get(name=role)
    return {
        f"{ct}.{code}" for ct, code in group.permissions.values_list("content_type__app_label", "codename")
    }


def model_permissions(model) -> set[str]:
    from django.contrib.auth.models import Permission

    return {
        f"{model._meta.app_label}.{code}"
        for code in Permission.objects.filter(
            content_type__app_label=model._meta.app_label, content_type__model=model._meta.model_name
        ).values_list("codename", flat=True)
    }


def table_snapshot() -> dict[str, str]:
    """A fingerprint per model (as ``db_snapshot``, which hashes them all together), to name what changed."""
    from django.apps import apps

    from integration_hub.models import AuditEntry

    result = {}
    for model in apps.get_models():
        if model is AuditEntry or model._meta.proxy or not model._meta.managed:
            continue
        if model._meta.app_label in ("sessions", "channels_lite", "django_q"):
            continue
        # An API token's last use is stamped once a minute whatever the answer: not a change.
        fields = [f.attname for f in model._meta.concrete_fields if f.name != "last_used"]
        rows = list(model._default_manager.order_by("pk").values_list(*fields))
        result[model._meta.label] = repr(rows)
    return result


def view_class(callback):
    return getattr(callback, "view_class", None) or getattr(callback, "cls", None)


def ui_requirement(name, pattern, callback, method: str):
    """The permission a console view needs for ``method``, or None when the view does not say."""
    cls, model = view_class(callback), view_model(callback)
    if model is None or cls is None or not issubclass(cls, generic.ObjectMixin):
        return None
    suffix = name.rsplit("_", 1)[-1] if "_" in name else ""
    if issubclass(cls, generic.ObjectEditView) or suffix in ("add", "edit"):
        # URL names follow the house convention (flows:flow_add, flows:flow_edit, flows:flow_delete).
        has_object = bool({"pk", "slug"} & set(kwarg_names(pattern)))
        return permission_name(model, "change" if has_object else "add")
    action = getattr(cls, "action", "view")
    if issubclass(cls, generic.ObjectListView):
        return permission_name(model, "view") if method == "get" else None
    if action == "view" and method != "get":
        return None  # a POST the view checks by its own rules (workflow steps, access tab…)
    if "access" in name.rsplit(":", 1)[-1]:
        return None  # the Access tab needs integration_hub.manage_access, checked below
    return permission_name(model, action)


def api_requirement(pattern, callback, method: str):
    """The permission an API endpoint needs for ``method`` (``ObjectPermission.action``), or None."""
    cls, model = view_class(callback), view_model(callback)
    actions = getattr(callback, "actions", None) or {}
    if model is None or method not in actions:
        return None
    action_name = actions[method]
    custom = getattr(cls, "permission_action", None)
    if isinstance(custom, dict):
        custom = custom.get(action_name)
    has_object = bool(set(kwarg_names(pattern)) - {"format"})
    if custom == "view" and method != "get":
        return None  # "view" only opens the gate; the action checks the rest (clone, import…)
    if custom:
        return owned_requirement(model, custom)
    if action_name in ("list", "retrieve"):
        return permission_name(model, "view")
    if action_name == "create":
        return permission_name(model, "add")
    if action_name in ("update", "partial_update", "destroy") and has_object:
        return permission_name(model, METHOD_ACTIONS[method.upper()])
    return None


def owned_requirement(model, action: str) -> str:
    """``app.action_model``; for records that have no permissions of their own (ID links, failed
    records, runs: ``flows.api.views.FlowRecordPermission``), the same action on their flow."""
    name = permission_name(model, action)
    if name not in model_permissions(model) and any(f.name == "flow" for f in model._meta.fields):
        return permission_name(Flow, action)
    return name


def allowed_by(granted: set[str], requirement: str) -> bool:
    return requirement in granted


@pytest.fixture
def role_users(db):
    users = {}
    for role in ROLES:
        user = UserFactory(username=f"matrix-{role.lower().replace(' ', '-')}", roles=[role])
        _token, key = services.create_api_token(user, name="matrix", write_enabled=True)
        users[role] = (user, key)
    return users


def session_client(user) -> tuple[Client, str]:
    """A browser session that sends a valid CSRF token with every write, as the console's forms do."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    token = _get_new_csrf_string()
    client.cookies[settings.CSRF_COOKIE_NAME] = token  # what the middleware sets on the first page
    return client, token


def send(client, method, url, csrf=None, api=False, token=None):
    kwargs = {}
    if csrf:
        kwargs["HTTP_X_CSRFTOKEN"] = csrf
    if token:
        kwargs["HTTP_AUTHORIZATION"] = f"Token {token}"
    if method == "get":
        return client.get(url, **kwargs)
    if api:
        return getattr(client, method)(url, data="{}", content_type="application/json", **kwargs)
    data = {"csrfmiddlewaretoken": csrf} if csrf else {}
    if method == "post":
        return client.post(url, data, **kwargs)
    return getattr(client, method)(url, **kwargs)


def rolled_back(*args):
    """``send(*args)`` in a savepoint undone afterwards: each case starts from the same rows."""
    with transaction.atomic():
        response = send(*args)
        transaction.set_rollback(True)
    return response


def supported_methods(callback) -> list[str]:
    if is_api(callback):
        return [m for m in WRITES if m in (getattr(callback, "actions", None) or {})]
    cls = view_class(callback)
    return [m for m in WRITES if cls is not None and hasattr(cls, m)]


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and "/accounts/login/" in response.get("Location", "")


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_what_its_permissions_allow(role, role_users, objects):  # noqa: F811
    user, key = role_users[role]
    granted = role_permissions(role)
    assert granted or role not in ROLE_POLICIES, role
    session, csrf = session_client(user)
    token_api = APIClient()
    mismatches = []
    # The token's first use stamps last_used (then at most once a minute): not a change to catch.
    token_api.get(reverse("api-root"), HTTP_AUTHORIZATION=f"Token {key}")
    before = table_snapshot()

    for name, url, callback in all_urls(objects):
        if name in PUBLIC_URL_NAMES:
            continue
        api = is_api(callback)
        pattern = _pattern_of(name)
        model = view_model(callback)
        no_permission_on_model = model is not None and not (model_permissions(model) & granted)
        methods = ["get", *supported_methods(callback)]
        if name in SELF_SERVICE_URL_NAMES:
            # Logging out or changing the password would end this session; each of these is tested
            # with a Viewer in tests/hub/test_url_access.py.
            methods = ["get"]
        for method in methods:
            requirement = (api_requirement if api else ui_requirement)(
                *((pattern, callback) if api else (name, pattern, callback)), method
            )
            if name in SELF_SERVICE_URL_NAMES or name in OWN_RULES:
                requirement = None  # anyone logged in, on their own things (tests/hub/test_url_access.py)
            clients = [("session", session, csrf, None)]
            if api:
                clients.append(("token", token_api, None, key))
            for mode, client, csrf_token, api_key in clients:
                expected = allowed_by(granted, requirement) if requirement else None
                if mode == "token" and name in OWN_RULES:
                    continue
                if (
                    expected is None
                    and no_permission_on_model
                    and name not in OWN_RULES
                    and name not in SELF_SERVICE_URL_NAMES
                ):
                    expected = False
                if expected is False:
                    # A refused request must not change anything: no savepoint to hide it.
                    response = send(client, method, url, csrf_token, api, api_key)
                else:
                    response = rolled_back(client, method, url, csrf_token, api, api_key)
                status = response.status_code
                CASES[f"{'api' if api else 'ui'}-{mode}"] += 1
                problem = None
                if status >= 500 and status != 502:  # 502: the remote system failed, said in words
                    problem = "server error"
                elif is_login_redirect(response) or status == 401:
                    problem = "treated as anonymous"
                elif expected is True and (status in (401, 403) or (status == 404 and name not in NOT_YET)):
                    problem = f"refused although the role holds {requirement}"
                elif (
                    expected is False
                    and status == 302
                    and method == "get"
                    and permission_name(model, "view") in granted
                ):
                    pass  # a POST-only step sends a GET back to the object's page, which they may see
                elif expected is False and status not in REFUSED:
                    problem = f"let through without {requirement or 'any permission on ' + str(model)}"
                if problem:
                    mismatches.append(f"{role} {mode} {method.upper()} {url} ({name}): {status} — {problem}")
    after = table_snapshot()
    changed = sorted(label for label in before if before[label] != after[label])
    assert not mismatches, "\n".join(mismatches)
    assert not changed, f"{role}: refused requests changed {changed}"


def _pattern_of(name):
    from tests.hub.test_url_access import iter_urls

    for url_name, pattern, _callback in iter_urls():
        if url_name == name:
            return pattern
    raise LookupError(name)


# --- object grants -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_object_grants_narrow_a_user_to_one_of_two_systems_and_flows(role):
    """A user whose access to systems and flows comes from object grants only (their role's model
    permissions on them taken away) sees and changes the granted system/flow and nothing of the other."""
    granted_role = role_permissions(role)
    group = Group.objects.create(name=f"{role} scoped")
    group.permissions.set(
        Group.objects.get(name=role)
        .permissions.exclude(content_type__app_label="flows", content_type__model__in=("system", "flow"))
        .values_list("pk", flat=True)
    )
    user = UserFactory(username=f"scoped-{group.pk}")
    user.groups.add(group)
    mine, other = SystemFactory(name="Granted shop"), SystemFactory(name="Other ERP")
    my_flow = FlowFactory(name="Granted flow", source_system=mine, target_system=mine)
    other_flow = FlowFactory(name="Other flow", source_system=other, target_system=other)
    actions = {"view", "change"}
    services.grant_access(mine, user, [f"{a}_system" for a in actions])
    services.grant_access(my_flow, user, [f"{a}_flow" for a in actions])

    ui = Client()
    ui.force_login(user)
    api = APIClient()
    api.force_login(user)
    checked = 0
    for model, obj, hidden, api_name in (
        (System, mine, other, "flows-api:system"),
        (Flow, my_flow, other_flow, "flows-api:flow"),
    ):
        meta = model._meta
        listing = ui.get(reverse(f"flows:{meta.model_name}_list")).content.decode()
        assert obj.name in listing and hidden.name not in listing, (role, meta.model_name)
        rows = api.get(reverse(f"{api_name}-list")).json()["results"]
        assert [r["id"] for r in rows] == [obj.pk], (role, rows)
        assert ui.get(obj.get_absolute_url()).status_code == 200
        assert ui.get(hidden.get_absolute_url()).status_code == 404
        assert api.get(reverse(f"{api_name}-detail", args=[obj.pk])).status_code == 200
        assert api.get(reverse(f"{api_name}-detail", args=[hidden.pk])).status_code == 404
        assert ui.get(reverse(f"flows:{meta.model_name}_edit", args=[obj.pk])).status_code == 200
        assert ui.get(reverse(f"flows:{meta.model_name}_edit", args=[hidden.pk])).status_code == 404
        # Delete was not granted, whatever the role says about other models.
        before = model.objects.count()
        assert ui.post(reverse(f"flows:{meta.model_name}_delete", args=[obj.pk])).status_code == 403
        assert api.delete(reverse(f"{api_name}-detail", args=[obj.pk])).status_code == 403
        assert api.delete(reverse(f"{api_name}-detail", args=[hidden.pk])).status_code == 404
        assert model.objects.count() == before
        renamed = api.patch(reverse(f"{api_name}-detail", args=[hidden.pk]), {"name": "x"}, format="json")
        assert renamed.status_code == 404
        checked += 13
    # Adding stays a global permission: a grant on one object never lets anyone create new ones.
    assert ui.get(reverse("flows:system_add")).status_code == (
        200 if "flows.add_system" in granted_role - model_permissions(System) else 403
    )
    CASES["object-grants"] += checked + 1


# --- websocket groups --------------------------------------------------------------------------------


def expected_groups(user, granted: set[str], objects_granted=()) -> set[str]:
    groups = {realtime.user_group(user)}
    for model in realtime.live_models():
        if permission_name(model, "view") in granted:
            groups.add(realtime.model_group(model))
    groups.update(realtime.object_group(obj) for obj in objects_granted)
    return groups


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_websocket_groups_follow_the_role(role):
    user = UserFactory(roles=[role])
    shop = SystemFactory(name="Shop")
    granted = role_permissions(role)
    if "flows.view_system" not in granted:
        services.grant_access(shop, user, ["view_system"])
        expected = expected_groups(user, granted, [shop])
    else:
        expected = expected_groups(user, granted)
    assert realtime.groups_for_user(user) == expected
    CASES["websocket-groups"] += len(realtime.live_models())


async def _connect(user):
    client = await sync_to_async(Client)()
    await sync_to_async(client.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    communicator = WebsocketCommunicator(
        __import__("integration_hub.asgi", fromlist=["application"]).application,
        "/ws/live/",
        headers=[(b"origin", b"http://localhost"), (b"cookie", cookie.encode())],
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    assert (await communicator.receive_json_from(timeout=10))["type"] == "hub.hello"
    return communicator


async def _received(communicator, timeout=2.0) -> list[dict]:
    events = []
    while not await communicator.receive_nothing(timeout=timeout):
        events.append(await communicator.receive_json_from())
    return events


@pytest.mark.asyncio
@pytest.mark.services
@pytest.mark.django_db(transaction=True, databases="__all__")
async def test_a_live_connection_receives_only_events_of_what_its_user_may_view():
    """One connection per role plus a user granted one of two systems: an event sent to every model's
    group and to both systems' groups reaches exactly the connections whose permissions allow it."""
    users = {role: await sync_to_async(UserFactory)(roles=[role]) for role in ROLES}
    scoped = await sync_to_async(UserFactory)(username="scoped-ws")
    mine = await sync_to_async(SystemFactory)(name="WS granted")
    other = await sync_to_async(SystemFactory)(name="WS other")
    await sync_to_async(services.grant_access)(mine, scoped, ["view_system"])
    users["scoped"] = scoped

    connections = {who: await _connect(user) for who, user in users.items()}
    for communicator in connections.values():
        await _received(communicator, timeout=1)  # the grant's access.changed, creations

    targets = [(realtime.model_group(m), m, None) for m in realtime.live_models()]
    targets += [(realtime.object_group(s), System, s.pk) for s in (mine, other)]
    for index, (group, _model, pk) in enumerate(targets):
        await sync_to_async(realtime.send_now)(group, "object.changed", {"pk": pk, "probe": index})

    for who, communicator in connections.items():
        user = users[who]
        granted = (
            await sync_to_async(role_permissions)(who) if who in ROLE_POLICIES else set()
        )  # the scoped user has no role
        got = {
            e["payload"].get("probe") for e in await _received(communicator) if e["type"] == "object.changed"
        }
        want = set()
        for index, (_group, model, pk) in enumerate(targets):
            may_view_all = permission_name(model, "view") in granted
            if pk is None and may_view_all:
                want.add(index)
            elif pk is not None and not may_view_all and user is scoped and pk == mine.pk:
                # Users who may view every system follow them through the model's group only.
                want.add(index)
        assert got == want, (who, sorted(got), sorted(want))
        CASES["websocket-events"] += len(targets)
        await communicator.disconnect()
