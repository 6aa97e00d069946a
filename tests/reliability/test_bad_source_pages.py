"""The sync engine reading bad pages from a REST source (a tiny in-test JSON API, like
``tests/flows/rest_server.py``): every bad record lands in the triage inbox (``FailedRecord``) with its
reason while the good records of the same page are delivered; a page that cannot be read at all fails
the run with a clear message and writes nothing; huge pages are handled with bounded memory."""

import json

import pytest
from django.test import TestCase
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flows import designer, sync
from flows.models import FailedRecord, RecordLink, Run, RunStatus
from tests.factories import SystemFactory
from tests.live import serve_in_thread
from tests.reliability.conftest import MemoryPeak, base_flow
from tests.reliability.corpus import cases

pytestmark = pytest.mark.django_db(databases="__all__")


class Api:
    def __init__(self):
        self.body = b"[]"
        self.written: list[dict] = []

    def app(self) -> Starlette:
        async def source(request: Request):
            return Response(self.body, media_type="application/json")

        async def lookup(request: Request):
            sku = request.query_params.get("sku")
            return JSONResponse([r for r in self.written if r.get("sku") == sku])

        async def create(request: Request):
            body = await request.json()
            if not isinstance(body.get("name"), str) or not body["name"]:
                return JSONResponse({"message": "name is required"}, status_code=422)
            record = {**body, "id": len(self.written) + 1}
            self.written.append(record)
            return JSONResponse(record, status_code=201)

        return Starlette(
            routes=[
                Route("/src/items", source),
                Route("/tgt/items", lookup),
                Route("/tgt/items", create, methods=["POST"]),
            ]
        )


@pytest.fixture(scope="module")
def server():
    api = Api()
    with serve_in_thread(api.app()) as url:
        yield url, api


@pytest.fixture
def flow(server):
    url, api = server
    api.body, api.written[:] = b"[]", []
    none = {"type": "none"}
    SystemFactory(
        slug="src",
        parameters={
            "base_url": url,
            "auth_type": "none",
            "entities": [{"key": "items", "path": "/src/items", "id_field": "id", "pagination": none}],
        },
    )
    SystemFactory(
        slug="tgt",
        parameters={
            "base_url": url,
            "auth_type": "none",
            "entities": [
                {
                    "key": "items",
                    "path": "/tgt/items",
                    "id_field": "id",
                    "natural_keys": ["sku"],
                    "pagination": none,
                    "write": {"create": {"path": "/tgt/items"}},
                }
            ],
        },
    )
    return designer.save_flow(
        base_flow(
            mappings=[
                {"target": "sku", "source": "sku", "transforms": []},
                {"target": "name", "source": "name", "transforms": []},
                {"target": "price", "source": "price", "transforms": [{"op": "to_decimal", "places": 2}]},
            ],
            quality_rules=[
                {"kind": "required", "field": "sku"},
                {"kind": "length", "field": "name", "params": {"max": 1000}},
            ],
        )
    )


def run(flow) -> Run:
    with TestCase.captureOnCommitCallbacks(execute=True):  # the queued task runs at "commit"
        run, created = sync.request_run(flow)
    assert created
    run.refresh_from_db()
    return run


def good(sku):
    return {"id": f"id-{sku}", "sku": sku, "name": f"Product {sku}", "price": "9.5"}


def P(bad, stage, fragment, id):
    return pytest.param(bad, stage, fragment, id=id)


BAD_RECORDS = cases(
    "sync: bad records in a good page",
    [
        P("just a string", "read", "not a JSON object", "item-string"),
        P(42, "read", "not a JSON object", "item-number"),
        P(None, "read", "not a JSON object", "item-null"),
        P([1, 2], "read", "not a JSON object", "item-list"),
        P({"id": "id-X", "sku": "X", "name": "x", "price": "abc"}, "mapping", "price", "price-not-a-number"),
        P(
            {"id": "id-X", "sku": "X", "name": "x", "price": {"amount": 1}},
            "mapping",
            "price",
            "price-object",
        ),
        P(
            {"id": "id-X", "sku": "X", "name": "x", "price": "1e999999"},
            "mapping",
            "price",
            "price-huge-exponent",
        ),
        P({"id": "id-X", "name": "no sku", "price": "1"}, "rule", "sku", "sku-missing"),
        P({"id": "id-X", "sku": "", "name": "empty sku", "price": "1"}, "rule", "sku", "sku-empty"),
        P({"id": "id-X", "sku": "X", "name": "y" * 10_000_000, "price": "1"}, "rule", "name", "name-10-mb"),
        P(
            {"id": "id-X", "sku": "X", "name": "", "price": "1"},
            "write",
            "name is required",
            "target-refuses",
        ),
        P({"id": "id-X", "sku": "X", "name": ["a"], "price": "1"}, "write", "name is required", "name-list"),
        P(
            {"id": "id-X", "sku": "X", "name": "{{ settings.SECRET_KEY }}\x00", "price": "1"},
            "",
            "",
            "name-template-nul",
        ),
    ],
)


@pytest.mark.parametrize("bad,stage,fragment", BAD_RECORDS)
def test_a_bad_record_goes_to_triage_and_the_good_ones_are_delivered(
    server, flow, settings, bad, stage, fragment
):
    _url, api = server
    api.body = json.dumps([good("A"), bad, good("B")]).encode()
    done = run(flow)
    delivered = {r["sku"] for r in api.written}
    assert {"A", "B"} <= delivered
    failures = list(FailedRecord.objects.filter(flow=flow))
    if not stage:  # odd but valid: delivered as text, never rendered
        assert done.status == RunStatus.SUCCEEDED and "X" in delivered and not failures
        assert settings.SECRET_KEY not in json.dumps(api.written)
        return
    assert done.status == RunStatus.PARTIAL, done.message
    assert len(failures) == 1 and done.failed == 1 and done.read == 3
    assert failures[0].stage == stage and fragment in failures[0].message, failures[0].message
    assert len(failures[0].message) < 2000
    assert RecordLink.objects.filter(flow=flow).count() == 2


UNREADABLE = cases(
    "sync: unreadable pages",
    [
        P(b'[{"id": "id-A", "sku": "A"', "", "not valid JSON", "page-truncated"),
        P(b"<html>oops</html>", "", "not valid JSON", "page-html"),
        P(b"\xff\xfe[]", "", "not valid JSON", "page-invalid-utf8"),
        P(("[" * 10_000 + "]" * 10_000).encode(), "", "not valid JSON", "page-10000-levels"),
        P(b'{"data": "items"}', "", "not a list", "page-object-not-list"),
        P(b'"items"', "", "not a list", "page-string"),
    ],
)


@pytest.mark.parametrize("body,stage,fragment", UNREADABLE)
def test_a_page_that_cannot_be_read_fails_the_run_clearly_and_writes_nothing(
    server, flow, body, stage, fragment
):
    _url, api = server
    api.body = body
    done = run(flow)
    assert done.status == RunStatus.FAILED
    assert fragment in done.message, done.message
    assert api.written == [] and not RecordLink.objects.filter(flow=flow).exists()


def test_a_100k_item_page_is_read_with_bounded_memory(server, flow):
    _url, api = server
    items = [{"id": f"id-{i}", "sku": f"S{i}", "name": "n", "price": "1"} for i in range(100_000)]
    api.body = json.dumps(items).encode()
    data = designer.definition_of(flow)
    data["filters"] = [{"path": "sku", "op": "in", "value": ["S7", "S99999"]}]
    designer.save_flow(data, flow=flow)
    with MemoryPeak() as memory:
        done = run(flow)
    assert done.status == RunStatus.SUCCEEDED, done.message
    assert (done.read, done.filtered, done.created) == (100_000, 99_998, 2)
    assert sorted(r["sku"] for r in api.written) == ["S7", "S99999"]
    assert memory.growth < 400_000_000, f"grew {memory.growth / 1e6:.0f} MB"


cases("sync: unreadable pages", [pytest.param(id="page-100k-items")])
