"""The run history across flows: console page /runs/ and /api/runs/, one FilterSet, runs of visible flows
only, and a cost per page that does not grow with the number of runs."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from flows.models import FlowVersion, Run
from integration_hub import services
from integration_hub.roles import INTEGRATION_ADMIN, VIEWER
from tests.factories import FlowFactory, SystemFactory, UserFactory

LIST = reverse("flows:run_list")
API = reverse("flows-api:run-list")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def at(day: int, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(2025, 3, day, hour, 0))


def make_run(flow, *, status="succeeded", trigger="manual", queued_at=None, **fields) -> Run:
    version = FlowVersion.objects.get_or_create(flow=flow, number=1, defaults={"definition": {}})[0]
    run = Run.objects.create(flow=flow, version=version, status=status, trigger=trigger, **fields)
    if queued_at is not None:
        Run.objects.filter(pk=run.pk).update(queued_at=queued_at)  # auto_now_add ignores a given value
        run.queued_at = queued_at
    return run


@pytest.fixture
def history(db):
    """PIM → shop (catalog) and shop → ERP (orders), and a few runs of each over three days."""
    pim = SystemFactory(name="PIM", slug="pim")
    shop = SystemFactory(name="Shop", slug="shop")
    erp = SystemFactory(name="ERP", slug="erp")
    catalog = FlowFactory(name="Catalog", source_system=pim, target_system=shop)
    orders = FlowFactory(name="Orders", source_system=shop, target_system=erp)
    runs = {
        "c1": make_run(catalog, queued_at=at(1), read=10, created=4, updated=2),
        "c2": make_run(catalog, status="failed", trigger="schedule", queued_at=at(2), message="refused"),
        "c3": make_run(catalog, status="partial", trigger="webhook", queued_at=at(3), read=5, failed=2),
        "o1": make_run(orders, status="failed", trigger="schedule", queued_at=at(1, 18)),
        "o2": make_run(orders, trigger="resync", full=True, queued_at=at(3, 8)),
    }
    return {"pim": pim, "shop": shop, "erp": erp, "catalog": catalog, "orders": orders, "runs": runs}


def ui_ids(response) -> list[int]:
    assert response.status_code == 200, response.status_code
    return [row.record.pk for row in response.context["table"].page.object_list]


def api_ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def pks(history, *names) -> list[int]:
    return [history["runs"][n].pk for n in names]


FILTERS = [
    ({}, ("c3", "o2", "c2", "o1", "c1")),
    ({"status": "failed"}, ("c2", "o1")),
    ({"status": ["failed", "partial"]}, ("c3", "c2", "o1")),
    ({"trigger": "schedule"}, ("c2", "o1")),
    ({"trigger": ["webhook", "resync"]}, ("c3", "o2")),
    ({"status": "failed", "trigger": "schedule", "queued_after": "2025-03-02"}, ("c2",)),
    ({"queued_after": "2025-03-02", "queued_before": "2025-03-02"}, ("c2",)),  # one whole day
    ({"queued_before": "2025-03-01"}, ("o1", "c1")),  # the last day is included
    ({"queued_after": "2025-03-03"}, ("c3", "o2")),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "expected"), FILTERS)
def test_filters_narrow_the_list_and_the_api_alike(history, params, expected):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    assert ui_ids(client_for(admin).get(LIST, params)) == pks(history, *expected)
    assert api_ids(api_for(admin).get(API, params)) == pks(history, *expected)


@pytest.mark.django_db
def test_flow_system_and_run_number_filters(history):
    admin = UserFactory(roles=[VIEWER])
    client, api = client_for(admin), api_for(admin)
    cases = [
        ({"flow": history["orders"].pk}, ("o2", "o1")),
        ({"system": history["pim"].pk}, ("c3", "c2", "c1")),  # source of the catalog only
        ({"system": history["erp"].pk}, ("o2", "o1")),  # target of the orders only
        ({"system": history["shop"].pk}, ("c3", "o2", "c2", "o1", "c1")),  # either side
        ({"system": history["shop"].pk, "status": "failed"}, ("c2", "o1")),
        ({"q": str(history["runs"]["c2"].pk)}, ("c2",)),
        ({"q": f"#{history['runs']['o1'].pk}"}, ("o1",)),
        ({"q": "Catalog"}, ()),  # a run number, not a name
    ]
    for params, expected in cases:
        assert ui_ids(client.get(LIST, params)) == pks(history, *expected), params
        assert api_ids(api.get(API, params)) == pks(history, *expected), params


@pytest.mark.django_db
def test_newest_first_ties_broken_by_number_and_the_queue_time_sorts_both_ways(history):
    same = make_run(history["catalog"], queued_at=at(3))  # queued with c3, created after it
    client = client_for(UserFactory(roles=[VIEWER]))
    ids = ui_ids(client.get(LIST))
    assert ids[:2] == [same.pk, history["runs"]["c3"].pk]
    assert ui_ids(client.get(LIST, {"sort": "queued_at"})) == list(reversed(ids))


@pytest.mark.django_db
def test_page_shows_links_badges_counters_and_duration(history):
    run = history["runs"]["c1"]
    Run.objects.filter(pk=run.pk).update(started=at(1), finished=at(1) + datetime.timedelta(seconds=65))
    page = client_for(UserFactory(roles=[VIEWER])).get(LIST).content.decode()
    assert f'href="{reverse("flows:run", args=[run.pk])}"' in page
    assert f'href="{history["catalog"].get_absolute_url()}"' in page
    assert 'class="badge run-status text-bg-danger" data-status="failed"' in page
    assert "1 min 5 s" in page
    assert f'href="{LIST}"' in page  # the navigation item


@pytest.mark.django_db
def test_users_see_only_the_runs_of_flows_they_may_view(history):
    nobody = UserFactory(username="nobody")
    client, api = client_for(nobody), api_for(nobody)
    assert client.get(LIST).status_code == 403
    assert api.get(API).status_code == 403
    assert f'href="{LIST}"' not in client.get(reverse("home")).content.decode()

    services.grant_access(history["catalog"], nobody, ["view_flow"])
    assert ui_ids(client.get(LIST)) == pks(history, "c3", "c2", "c1")
    assert api_ids(api.get(API)) == pks(history, "c3", "c2", "c1")
    # Filtering on the hidden flow or its system shows nothing of it.
    assert ui_ids(client.get(LIST, {"system": history["erp"].pk})) == []
    assert api_ids(api.get(API, {"status": "failed"})) == pks(history, "c2")
    other = history["runs"]["o1"]
    assert api.get(reverse("flows-api:run-detail", args=[other.pk])).status_code == 404
    mine = api.get(reverse("flows-api:run-detail", args=[history["runs"]["c1"].pk])).json()
    assert mine["flow_name"] == "Catalog" and mine["counters"]["created"] == 4 and mine["written"] == 6
    csv_text = b"".join(client.get(LIST, {"export": "csv"}).streaming_content).decode()
    assert "Orders" not in csv_text and "Catalog" in csv_text


@pytest.mark.django_db
def test_the_api_is_read_only(history):
    api = api_for(UserFactory(roles=[INTEGRATION_ADMIN]))
    assert api.post(API, {}, format="json").status_code == 405
    detail = reverse("flows-api:run-detail", args=[history["runs"]["c1"].pk])
    assert api.delete(detail).status_code == 405


@pytest.mark.django_db
def test_csv_export_follows_the_filters(history):
    client = client_for(UserFactory(roles=[VIEWER]))
    response = client.get(LIST, {"export": "csv", "status": "failed"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Run", "Flow", "Status"]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        (str(history["runs"]["c2"].pk), "Catalog", "failed"),
        (str(history["runs"]["o1"].pk), "Orders", "failed"),
    ]


@pytest.mark.django_db
def test_empty_states_say_what_to_do(db):
    FlowFactory(name="Lonely")
    client = client_for(UserFactory(roles=[VIEWER]))
    page = client.get(LIST).content.decode()
    assert "No run yet" in page and f'href="{reverse("flows:flow_list")}"' in page
    make_run(FlowFactory(name="Busy"), status="succeeded")
    page = client.get(LIST, {"status": "failed"}).content.decode()
    assert "No run matches these filters." in page and "Clear the filters" in page


def _runs(flows, count):
    for i in range(count):
        make_run(flows[i % len(flows)], status="failed" if i % 3 else "succeeded", queued_at=at(1 + i % 20))


def _queries(fetch) -> list[str]:
    fetch()  # warm: content types, permission caches
    with CaptureQueriesContext(connection) as ctx:
        response = fetch()
        assert response.status_code == 200
        if hasattr(response, "render"):
            response.render()
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.django_db
@pytest.mark.parametrize("role", [VIEWER, None])  # a global role, and a grant on some flows only
def test_queries_per_page_do_not_grow_with_the_runs_and_nothing_counts_them(role):
    flows = [FlowFactory() for _ in range(3)]
    user = UserFactory(roles=[role] if role else [])
    if role is None:
        for flow in flows[:2]:
            services.grant_access(flow, user, ["view_flow"])
    client, api = client_for(user), api_for(user)
    pages = {
        "list": lambda: client.get(LIST, {"per_page": 25}),
        "filtered": lambda: client.get(
            LIST, {"per_page": 25, "status": "failed", "system": flows[0].source_system_id}
        ),
        "api": lambda: api.get(API, {"limit": 25}),
    }
    _runs(flows, 5)
    few = {name: _queries(fetch) for name, fetch in pages.items()}
    _runs(flows, 55)
    many = {name: _queries(fetch) for name, fetch in pages.items()}
    for name in pages:
        assert len(many[name]) == len(few[name]), (name, few[name], many[name])
        # Session, user, grants, menu, form, the page — and for a user with grants on some flows their
        # ids, read once so that the runs are filtered on a literal list (``permissions.restrict_through``).
        assert len(many[name]) <= 21, (name, many[name])
        run_queries = [sql.upper() for sql in many[name] if '"flows_run"' in sql]
        assert not [sql for sql in run_queries if "COUNT(" in sql or "DISTINCT" in sql], name
    deeper = _queries(lambda: client.get(LIST, {"per_page": 25, "page": 2}))
    assert len(deeper) == len(many["list"])
    assert not [sql for sql in deeper if '"flows_run"' in sql and "COUNT(" in sql.upper()]
    visible = Run.objects.filter(flow__in=flows if role else flows[:2]).count()
    assert len(ui_ids(client.get(LIST, {"per_page": 25, "page": 2}))) == min(25, visible - 25)


@pytest.mark.django_db
def test_deep_pages_read_their_keys_first_and_show_the_same_runs(monkeypatch):
    """Past ``deep_offset`` a page reads the runs' keys (OFFSET on the index alone), then those runs with
    their flow: the same rows in the same order as a one-query page, and still no COUNT(*)."""
    from integration_hub.paginators import DeepPageLazyPaginator

    flows = [FlowFactory() for _ in range(2)]
    _runs(flows, 12)
    user = UserFactory(roles=[VIEWER])
    client = client_for(user)
    expected = list(Run.objects.order_by("-queued_at", "-pk").values_list("pk", flat=True))
    one_query = [ui_ids(client.get(LIST, {"per_page": 5, "page": n})) for n in (1, 2, 3)]
    monkeypatch.setattr(DeepPageLazyPaginator, "deep_offset", 5)  # page 2 on is "deep"
    deferred = [ui_ids(client.get(LIST, {"per_page": 5, "page": n})) for n in (1, 2, 3)]
    assert deferred == one_query == [expected[0:5], expected[5:10], expected[10:15]]
    page = client.get(LIST, {"per_page": 5, "page": 2})
    assert page.context["table"].page.has_next()
    assert f'href="{reverse("flows:run", args=[expected[5]])}"' in page.content.decode()
    last = (len(expected) + 4) // 5
    assert not client.get(LIST, {"per_page": 5, "page": last}).context["table"].page.has_next()
    deep = _queries(lambda: client.get(LIST, {"per_page": 5, "page": 2}))
    assert not [sql for sql in deep if '"flows_run"' in sql and "COUNT(" in sql.upper()]


@pytest.mark.django_db
def test_a_deep_page_of_some_flows_merges_one_index_walk_per_flow_and_shows_the_same_runs(monkeypatch):
    """A user with grants on 2 of 3 flows: past ``deep_offset`` the page's keys are read per flow and
    merged (PostgreSQL: one UNION ALL; SQLite cannot order inside one and reads them as before) — the
    runs of those flows only, in the same order as a one-query page, whatever the page size."""
    from integration_hub.paginators import DeepPageLazyPaginator

    flows = [FlowFactory() for _ in range(3)]
    _runs(flows, 30)
    # Ties on the time: the pk decides, in every walk and in the merge.
    Run.objects.filter(pk__in=Run.objects.order_by("pk").values("pk")[:6]).update(queued_at=at(3))
    user = UserFactory(roles=[])
    for flow in flows[:2]:
        services.grant_access(flow, user, ["view_flow"])
    client = client_for(user)
    expected = list(
        Run.objects.filter(flow__in=flows[:2]).order_by("-queued_at", "-pk").values_list("pk", flat=True)
    )
    pages = [(n, size) for size in (3, 7) for n in range(1, (len(expected) + size - 1) // size + 1)]
    one_query = [ui_ids(client.get(LIST, {"per_page": size, "page": n})) for n, size in pages]
    monkeypatch.setattr(DeepPageLazyPaginator, "deep_offset", 3)
    merged = [ui_ids(client.get(LIST, {"per_page": size, "page": n})) for n, size in pages]
    assert merged == one_query == [expected[(n - 1) * size : n * size] for n, size in pages]
    unions = [
        sql for sql in _queries(lambda: client.get(LIST, {"per_page": 3, "page": 3})) if "UNION ALL" in sql
    ]
    assert len(unions) == (1 if connection.features.supports_slicing_ordering_in_compound else 0)
    # Each walk asks for one flow (``flow_id = …``), not for one flow among the user's.
    assert not [sql for sql in unions if '"flow_id" IN' in sql]
    # Oldest first (the one other order the list offers): merged in that order too.
    oldest = [ui_ids(client.get(LIST, {"per_page": 3, "page": n, "sort": "queued_at"})) for n in (2, 3, 4)]
    assert oldest == [expected[::-1][3:6], expected[::-1][6:9], expected[::-1][9:12]]
