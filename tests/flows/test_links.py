"""Cross-system ID links in the console and the API: find a record by any id, see its history across
systems, resync it, unlink it (the next run matches it again), merge a duplicate — and only with the
right permissions."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows import links
from flows.models import RecordLink, Run, RunStatus
from integration_hub import services
from integration_hub.models import AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN, SUPPORT, VIEWER
from tests.factories import FlowFactory, SystemFactory, UserFactory


def make_link(flow, source_id, target_id, **kwargs):
    return RecordLink.objects.create(
        flow=flow,
        source_system=kwargs.pop("source_system", flow.source_system),
        source_entity=kwargs.pop("source_entity", flow.source_entity),
        source_id=source_id,
        target_system=kwargs.pop("target_system", flow.target_system),
        target_entity=kwargs.pop("target_entity", flow.target_entity),
        target_id=target_id,
        **kwargs,
    )


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


@pytest.fixture
def catalog(db):
    """A PIM → shop flow with a few links, and a shop → ERP flow that carried one product further."""
    pim = SystemFactory(name="PIM", slug="pim")
    shop = SystemFactory(name="Shop", slug="shop")
    erp = SystemFactory(name="ERP", slug="erp")
    flow = FlowFactory(name="Catalog", source_system=pim, target_system=shop)
    onward = FlowFactory(name="Items", source_system=shop, target_system=erp, target_entity="items")
    chair = make_link(flow, "CHAIR-001", "4711")
    make_link(flow, "CHAIR-002", "4712")
    make_link(flow, "TABLE-001", "5100")
    make_link(onward, "4711", "ERP-77")
    return {"pim": pim, "shop": shop, "erp": erp, "flow": flow, "onward": onward, "chair": chair}


@pytest.mark.django_db
def test_search_finds_a_record_by_its_target_id_or_the_beginning_of_either_id(catalog):
    viewer = client_for(UserFactory(roles=[VIEWER]))
    url = reverse("flows:flow_links", args=[catalog["flow"].pk])

    page = viewer.get(url, {"q": "4711"}).content.decode()
    assert "CHAIR-001" in page and "CHAIR-002" not in page

    page = viewer.get(url, {"q": "CHAIR"}).content.decode()
    assert "CHAIR-001" in page and "CHAIR-002" in page and "TABLE-001" not in page

    page = viewer.get(url, {"q": "nope"}).content.decode()
    assert "No link matches" in page

    api = api_for(UserFactory(roles=[VIEWER]))
    found = api.get(reverse("flows-api:recordlink-list"), {"q": "4711"}).json()["results"]
    # Exact matches first: the PIM chair (target 4711) and the shop product 4711 carried to the ERP.
    assert {(r["source_id"], r["target_id"]) for r in found} == {("CHAIR-001", "4711"), ("4711", "ERP-77")}
    found = api.get(reverse("flows-api:recordlink-list"), {"q": "47", "flow": catalog["flow"].pk}).json()[
        "results"
    ]
    assert [r["source_id"] for r in found] == ["CHAIR-001", "CHAIR-002"]


@pytest.mark.django_db
def test_a_system_page_lists_links_where_it_is_source_or_target(catalog):
    viewer = client_for(UserFactory(roles=[VIEWER]))
    page = viewer.get(reverse("flows:system_links", args=[catalog["shop"].pk])).content.decode()
    assert "CHAIR-001" in page and "ERP-77" in page  # shop as target, then as source
    page = viewer.get(reverse("flows:system_links", args=[catalog["erp"].pk])).content.decode()
    assert "ERP-77" in page and "CHAIR-002" not in page
    # The tab is there on the system and the flow pages.
    assert (
        reverse("flows:system_links", args=[catalog["erp"].pk])
        in viewer.get(catalog["erp"].get_absolute_url()).content.decode()
    )
    flow_page = viewer.get(catalog["flow"].get_absolute_url()).content.decode()
    assert reverse("flows:flow_links", args=[catalog["flow"].pk]) in flow_page
    assert reverse("flows:flow_failures", args=[catalog["flow"].pk]) in flow_page


@pytest.mark.django_db
def test_empty_links_page_says_what_to_do_next(db):
    flow = FlowFactory()
    page = client_for(UserFactory(roles=[VIEWER])).get(reverse("flows:flow_links", args=[flow.pk]))
    assert page.status_code == 200 and "run the flow" in page.content.decode()


@pytest.mark.django_db
def test_link_page_follows_the_record_across_systems(catalog):
    run = Run.objects.create(
        flow=catalog["onward"],
        version=_version(catalog["onward"]),
        trigger="manual",
        status=RunStatus.SUCCEEDED,
    )
    RecordLink.objects.filter(target_id="ERP-77").update(last_run=run)
    viewer = client_for(UserFactory(roles=[VIEWER]))
    page = viewer.get(reverse("flows:link", args=[catalog["chair"].pk])).content.decode()
    # PIM product → shop product → ERP item, and the run that wrote the ERP item.
    assert "CHAIR-001" in page and "4711" in page and "ERP-77" in page
    assert run.get_absolute_url() in page
    assert "CHAIR-002" not in page

    history = links.link_history(catalog["chair"], user=UserFactory(roles=[VIEWER]))
    assert [str(r.id) for r in history.records] == ["CHAIR-001", "4711", "ERP-77"]


def _version(flow):
    from flows.models import FlowVersion

    return FlowVersion.objects.create(flow=flow, number=1, definition={})


@pytest.mark.django_db
def test_unlink_is_confirmed_audited_and_needs_the_run_permission(catalog):
    chair = catalog["chair"]
    viewer = client_for(UserFactory(roles=[VIEWER]))
    assert viewer.get(reverse("flows:link_unlink", args=[chair.pk])).status_code == 403
    assert viewer.post(reverse("flows:link_unlink", args=[chair.pk])).status_code == 403
    assert RecordLink.objects.filter(pk=chair.pk).exists()

    support = client_for(UserFactory(username="sam", roles=[SUPPORT]))  # may run flows, not edit them
    confirm = support.get(reverse("flows:link_unlink", args=[chair.pk]))
    assert confirm.status_code == 200 and "treats it as new" in confirm.content.decode()
    response = support.post(reverse("flows:link_unlink", args=[chair.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("flows:flow_links", args=[catalog["flow"].pk])
    assert not RecordLink.objects.filter(pk=chair.pk).exists()
    entry = AuditEntry.objects.for_object(catalog["flow"]).latest("pk")
    assert entry.user_name == "sam" and "CHAIR-001" in entry.message and "4711" in entry.message
    history = client_for(UserFactory(roles=[VIEWER])).get(
        reverse("flows:flow_history", args=[catalog["flow"].pk])
    )
    assert "ID link removed" in history.content.decode()


@pytest.mark.django_db
def test_csrf_is_required_for_link_actions(catalog):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    assert client.post(reverse("flows:link_unlink", args=[catalog["chair"].pk])).status_code == 403
    assert RecordLink.objects.filter(pk=catalog["chair"].pk).exists()


@pytest.mark.django_db
def test_merge_a_duplicate_keeps_one_link(catalog):
    flow = catalog["flow"]
    duplicate = make_link(flow, "CHAIR-001-OLD", "4711")
    admin = client_for(UserFactory(roles=[INTEGRATION_ADMIN]))
    page = admin.get(reverse("flows:link", args=[catalog["chair"].pk])).content.decode()
    assert "CHAIR-001-OLD" in page  # listed as a duplicate
    listed = admin.get(reverse("flows:flow_links", args=[flow.pk]), {"duplicated": "true"}).content.decode()
    assert "CHAIR-001-OLD" in listed and "TABLE-001" not in listed

    response = admin.post(reverse("flows:link_merge", args=[catalog["chair"].pk]), {"drop": duplicate.pk})
    assert response.status_code == 302
    assert not RecordLink.objects.filter(pk=duplicate.pk).exists()
    assert RecordLink.objects.filter(pk=catalog["chair"].pk, target_id="4711").exists()
    assert "Duplicate merged" in AuditEntry.objects.for_object(flow).latest("pk").message

    # Links to different target records are not duplicates: refused, nothing removed.
    other = RecordLink.objects.get(source_id="CHAIR-002")
    with pytest.raises(links.LinkError):
        links.merge(catalog["chair"], other)
    assert RecordLink.objects.filter(pk=other.pk).exists()


@pytest.mark.django_db
def test_a_record_in_the_target_twice_is_relinked_to_the_copy_to_keep(catalog):
    chair = catalog["chair"]
    RecordLink.objects.filter(pk=chair.pk).update(last_hash="abc")
    api = api_for(UserFactory(roles=[SUPPORT]))
    response = api.post(
        reverse("flows-api:recordlink-merge", args=[chair.pk]), {"target_id": "9999"}, format="json"
    )
    assert response.status_code == 200, response.content
    chair.refresh_from_db()
    assert (chair.target_id, chair.last_hash) == ("9999", "")  # written to the kept copy next run
    # Keeping a copy another source record is linked to is a merge of those two links instead.
    response = api.post(
        reverse("flows-api:recordlink-merge", args=[chair.pk]), {"target_id": "4712"}, format="json"
    )
    assert response.status_code == 400 and "CHAIR-002" in response.json()["detail"]


@pytest.mark.django_db
def test_users_without_grants_see_no_links_and_object_grants_open_one_flow(catalog):
    nobody = UserFactory(username="nobody")
    client, api = client_for(nobody), api_for(nobody)
    assert client.get(reverse("flows:flow_links", args=[catalog["flow"].pk])).status_code == 404
    assert client.get(reverse("flows:link", args=[catalog["chair"].pk])).status_code == 404
    assert api.get(reverse("flows-api:recordlink-list")).status_code == 403
    assert api.delete(reverse("flows-api:recordlink-detail", args=[catalog["chair"].pk])).status_code == 403

    services.grant_access(catalog["flow"], nobody, ["view_flow"])
    assert client.get(reverse("flows:flow_links", args=[catalog["flow"].pk])).status_code == 200
    assert client.get(reverse("flows:link", args=[catalog["chair"].pk])).status_code == 200
    seen = {r["source_id"] for r in api.get(reverse("flows-api:recordlink-list")).json()["results"]}
    assert seen == {"CHAIR-001", "CHAIR-002", "TABLE-001"}  # not the other flow's link
    # Seeing is not acting.
    assert api.delete(reverse("flows-api:recordlink-detail", args=[catalog["chair"].pk])).status_code == 403
    services.grant_access(catalog["flow"], nobody, ["run_flow"])
    assert api.delete(reverse("flows-api:recordlink-detail", args=[catalog["chair"].pk])).status_code == 204
    assert not RecordLink.objects.filter(pk=catalog["chair"].pk).exists()


@pytest.mark.django_db
def test_api_history_of_a_record(catalog):
    api = api_for(UserFactory(roles=[VIEWER]))
    body = api.get(reverse("flows-api:recordlink-history", args=[catalog["chair"].pk])).json()
    assert [r["id"] for r in body["records"]] == ["CHAIR-001", "4711", "ERP-77"]
    assert len(body["links"]) == 2


# --- over real HTTP, with the sandbox -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox():
    from sandbox.testing import running

    with running(["pim", "shop"]) as urls:
        yield urls


@pytest.mark.django_db(transaction=True, databases="__all__")
class TestWithSandbox:
    @pytest.fixture
    def flow(self, sandbox):
        from flows.demo import ensure_demo_systems
        from tests.flows.test_sync import small_catalog

        ensure_demo_systems(urls=sandbox)
        return small_catalog()

    def test_unlink_then_the_next_run_matches_the_record_again_without_a_duplicate(self, flow):
        from tests.flows.test_sync import run_now, shop_products

        first = run_now(flow)
        assert first.status == RunStatus.SUCCEEDED, first.message
        link = RecordLink.objects.filter(flow=flow).order_by("source_id").first()
        target_id = link.target_id
        support = client_for(UserFactory(roles=[SUPPORT]))
        page = support.get(reverse("flows:flow_links", args=[flow.pk]), {"q": target_id}).content.decode()
        assert link.source_id in page

        assert support.post(reverse("flows:link_unlink", args=[link.pk])).status_code == 302
        assert not RecordLink.objects.filter(flow=flow, source_id=link.source_id).exists()

        again = run_now(flow, full=True)
        assert again.status == RunStatus.SUCCEEDED, again.message
        assert again.created + again.updated >= 1  # the unlinked record was written again…
        relinked = RecordLink.objects.get(flow=flow, source_id=link.source_id)
        assert relinked.target_id == target_id  # …and matched on the SKU: the same shop product
        in_shop = shop_products(flow.target_system, [link.source_id])
        assert list(in_shop) == [link.source_id]

    def test_resync_one_record_runs_over_that_record_only(self, flow):
        from tests.flows.test_sync import run_now

        assert run_now(flow).status == RunStatus.SUCCEEDED
        link = RecordLink.objects.filter(flow=flow).first()
        support = client_for(UserFactory(roles=[SUPPORT]))
        response = support.post(reverse("flows:link_resync", args=[link.pk]))
        assert response.status_code == 302
        run = Run.objects.filter(flow=flow).order_by("-pk").first()
        assert response["Location"] == run.get_absolute_url()
        assert run.record_ids == [link.source_id]
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED, run.message
        assert run.read == 1
        assert links.link_history(link, user=UserFactory(roles=[VIEWER])).runs[0] == run
