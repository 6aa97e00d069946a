"""The API fuzzed against its own OpenAPI schema (drf-spectacular) with schemathesis, in-process on the WSGI
application with an admin's write token: no request may end in a 5xx, and every response must match
what the schema promises (status code's body schema and content type).

Generated system addresses can only reach loopback: the test settings pin the outgoing-host allow-list
(``HUB_OUTBOUND_ALLOWED_HOSTS``), which the test checks before fuzzing.
"""

import logging
import os
from contextlib import contextmanager

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from integration_hub import services
from integration_hub.roles import INTEGRATION_ADMIN
from integration_hub.wsgi import application
from tests.factories import FlowFactory, SystemFactory, UserFactory

# Examples per operation: the whole API within about two minutes on a shared machine. make soak may
# raise it (HUB_SCHEMATHESIS_EXAMPLES=200).
EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]

pytestmark = pytest.mark.django_db


@contextmanager
def connection_kept():
    """A real WSGI request closes the database connection when it starts and ends
    (``close_old_connections``), which would end the test's transaction; Django's test client
    disconnects it the same way (and connects it again after each of its own requests)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def load_schema(user) -> dict:
    client = Client()
    client.force_login(user)
    response = client.get("/api/schema/", {"format": "json"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content[:500]
    return response.json()


def test_api_answers_every_generated_request_without_5xx_and_as_its_schema_says():
    assert set(settings.HUB_OUTBOUND_ALLOWED_HOSTS) <= {"127.0.0.1", "localhost", "::1"}
    admin = UserFactory(username="fuzzer", roles=[INTEGRATION_ADMIN])
    admin.is_superuser = True  # every operation, GDPR requests and user management included
    admin.save()
    _token, key = services.create_api_token(admin, name="schemathesis", write_enabled=True)
    # Some rows for list and detail operations to return (ids 1, 2… are what the generator tries first).
    system = SystemFactory()
    FlowFactory(source_system=system, target_system=system)

    schema = schemathesis.openapi.from_dict(load_schema(admin))
    schema.app = application
    headers = {"Authorization": f"Token {key}", "Host": "localhost"}

    failures: list[str] = []
    tried = {"operations": 0, "requests": 0}
    quiet = logging.getLogger("django.request")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # thousands of expected 400/404 lines; 500s still show
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            # The fuzzer's own token must survive: a generated DELETE of it would lock the run out.
            if operation.method.upper() == "DELETE" and "token" in operation.path:
                continue
            tried["operations"] += 1
            try:
                with connection_kept():
                    fuzz_operation(operation, headers, tried)
            except (Exception, BaseExceptionGroup) as exc:  # every failing operation, not the first
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    finally:
        quiet.setLevel(level)
    print(f"\nschemathesis: {tried['operations']} operations, {tried['requests']} requests")
    assert tried["operations"] > 20
    assert not failures, "\n\n".join(failures)


def fuzz_operation(operation, headers, tried):
    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every run: a failure here is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        tried["requests"] += 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()
