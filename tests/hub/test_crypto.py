import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from integration_hub import crypto


def test_round_trip_and_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.HUB_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("s3cret")
    assert "s3cret" not in token and crypto.decrypt(token) == "s3cret"

    settings.HUB_ENCRYPTION_KEYS = [new, old]  # rotation: the newest first
    assert crypto.decrypt(token) == "s3cret"
    rotated = crypto.rotate(token)
    settings.HUB_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "s3cret"
    with pytest.raises(crypto.DecryptionError, match="not configured"):
        crypto.decrypt(token)


def test_a_bad_key_is_a_clear_configuration_error(settings):
    settings.HUB_ENCRYPTION_KEYS = ["not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        crypto.encrypt("x")
