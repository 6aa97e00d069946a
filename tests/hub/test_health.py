import pytest
from django.test import Client, override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db(databases="__all__")


def test_healthz_needs_nothing():
    response = Client().get(reverse("healthz"))
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_broker_and_channel_layer():
    response = Client().get(reverse("readyz"))
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "broker", "channel_layer"}
    assert all(c["ok"] for c in body["checks"].values())


def test_readyz_is_503_when_the_channel_layer_is_down():
    from channels.layers import channel_layers

    broken = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    with override_settings(CHANNEL_LAYERS=broken):
        channel_layers.backends.clear()
        try:
            response = Client().get(reverse("readyz"))
        finally:
            channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert not body["checks"]["channel_layer"]["ok"] and body["checks"]["database"]["ok"]


def test_status_page_lists_checks_for_staff():
    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory())
    response = client.get(reverse("status"))
    assert response.status_code == 200
    assert b'data-check="channel_layer"' in response.content


def test_readyz_reports_missing_workers_as_degraded_but_stays_ready():
    """The console serves without workers: readiness holds, the advisory check and the status say so."""
    from unittest import mock

    with mock.patch("django_q.status.Stat.get_all", return_value=[]):
        response = Client().get(reverse("readyz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["advisory"]["workers"]["ok"] is False
    assert "workers" not in body["checks"]


def test_readyz_is_ok_with_a_live_worker_cluster_and_ignores_stale_ones():
    from datetime import timedelta
    from types import SimpleNamespace
    from unittest import mock

    from django.utils import timezone

    stale = SimpleNamespace(timestamp=timezone.now() - timedelta(minutes=1), workers=[1])
    with mock.patch("django_q.status.Stat.get_all", return_value=[stale]):
        assert Client().get(reverse("readyz")).json()["status"] == "degraded"
    from tests.factories import UserFactory

    live = SimpleNamespace(timestamp=timezone.now(), workers=[1, 2])
    with mock.patch("django_q.status.Stat.get_all", return_value=[stale, live]):
        staff = Client()
        staff.force_login(UserFactory())
        body = staff.get(reverse("readyz")).json()
    assert body["status"] == "ok" and body["advisory"]["workers"]["ok"] is True
    assert body["advisory"]["workers"]["detail"] == "1 cluster(s), 2 worker(s)"


@pytest.mark.services
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_readyz_sees_a_real_worker_cluster(worker):
    import time

    deadline = time.monotonic() + 30
    while True:
        body = Client().get(reverse("readyz")).json()
        if body["advisory"]["workers"]["ok"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert body["status"] == "ok", body
