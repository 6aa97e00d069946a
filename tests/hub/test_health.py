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
