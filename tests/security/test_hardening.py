"""Browser-facing hardening (security headers, cookie flags in production) and outgoing TLS: verification
is on for every system, and only the system's own audited setting turns it off."""

import json
import os
import re
import secrets
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows.connectors.http import HubClient
from integration_hub.models import AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN
from tests.factories import SystemFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


def assert_security_headers(response):
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
    assert directives["default-src"] == "'self'"
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    return directives


@pytest.mark.django_db
def test_pages_and_api_send_the_security_headers():
    anonymous = Client().get(reverse("login"))
    directives = assert_security_headers(anonymous)
    # Scripts come from the hub's own static files; an inline one would need this response's nonce.
    nonce = re.search(r"'nonce-([^']+)'", directives["script-src"])
    scripts = re.findall(r"<script\b[^>]*>", anonymous.content.decode())
    assert scripts
    for tag in scripts:
        assert 'src="/static/' in tag or (nonce and f'nonce="{nonce.group(1)}"' in tag), tag

    user = UserFactory(roles=[INTEGRATION_ADMIN])
    console = Client()
    console.force_login(user)
    assert_security_headers(console.get(reverse("flows:system_list")))
    api = APIClient()
    api.force_login(user)
    response = api.get(reverse("flows-api:system-list"))
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"


def production_settings(tmp_path, names):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "integration_hub.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "hub.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://hub.example.com",
        "HUB_HTTPS": "1",
        "HUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HUB_DATA_DIR": str(tmp_path),
    }
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_cookies_are_secure_http_only_and_same_site(tmp_path):
    values = production_settings(
        tmp_path,
        [
            "SESSION_COOKIE_SECURE",
            "SESSION_COOKIE_HTTPONLY",
            "SESSION_COOKIE_SAMESITE",
            "CSRF_COOKIE_SECURE",
            "CSRF_COOKIE_HTTPONLY",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
        ],
    )
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SESSION_COOKIE_HTTPONLY"] and values["CSRF_COOKIE_HTTPONLY"]
    assert values["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert values["SECURE_SSL_REDIRECT"] and values["SECURE_HSTS_SECONDS"] >= 31536000


@pytest.mark.django_db
def test_the_session_cookie_a_login_sets_is_http_only_and_same_site():
    user = UserFactory(username="cookie")
    client = Client()
    response = client.post(
        reverse("login"), {"username": "cookie", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302, response.content[:300]
    morsel = response.cookies[settings.SESSION_COOKIE_NAME]
    assert morsel["httponly"] and morsel["samesite"] == "Lax"
    assert user.is_active


@pytest.mark.django_db
def test_tls_is_verified_unless_the_system_says_otherwise_and_turning_it_off_is_audited():
    system = SystemFactory()
    assert system.verify_tls is True  # the default of every new system
    with HubClient(system.connection_settings(), base_url="https://127.0.0.1:1") as client:
        context = client._client._transport._pool._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname

    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    api = APIClient()
    api.force_login(admin)
    response = api.patch(
        reverse("flows-api:system-detail", args=[system.pk]), {"verify_tls": False}, format="json"
    )
    assert response.status_code == 200, response.content
    entry = AuditEntry.objects.filter(object_id=str(system.pk), user=admin).latest("time")
    assert entry.before["verify_tls"] is True and entry.after["verify_tls"] is False
    system.refresh_from_db()
    with HubClient(system.connection_settings(), base_url="https://127.0.0.1:1") as client:
        context = client._client._transport._pool._ssl_context
    assert context.verify_mode == ssl.CERT_NONE


def test_nothing_else_in_the_code_turns_tls_verification_off():
    """The per-system setting is the one switch: no module passes verify=False or builds an
    unverified context of its own."""
    offenders = []
    for folder in ("flows", "integration_hub", "monitoring", "gdpr"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for pattern in (
                "verify=False",
                "CERT_NONE",
                "check_hostname = False",
                "_create_unverified_context",
            ):
                if pattern in text:
                    offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert not offenders, offenders
