"""WCAG 2.1 A/AA rules (contrast, labels, landmarks, names) checked by axe-core on the main pages,
in English and French, at desktop and phone widths."""

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.support import outside_loop
from tests.factories import SystemFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def axe_violations(page) -> list[str]:
    # A page reached by submitting a form may show its elements before its stylesheets have loaded;
    # contrast is only meaningful once they have (Bootstrap's own link blue fails on a grey footer).
    page.wait_for_load_state("load")
    # evaluate() runs through the DevTools protocol, so the page's CSP stays on and does not block it.
    page.evaluate(AXE)
    result = page.evaluate("opts => axe.run(document, opts)", RULES)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
    ]


def console_urls(system) -> list[str]:
    return [
        reverse("home"),
        reverse("flows:system_list"),
        reverse("flows:system", args=[system.pk]),
        reverse("flows:system_edit", args=[system.pk]),
        reverse("flows:system_history", args=[system.pk]),
        reverse("flows:system_access", args=[system.pk]),
        reverse("integration_hub:auditentry_list"),
        reverse("auth:user_list"),
        reverse("auth:user_add"),
        reverse("users:token_list"),
        reverse("status"),
        reverse("flows:run_list"),
        reverse("flows:flow_list"),
        reverse("flows:flow_add"),
        reverse("flows:valuemap_list"),
    ]


@pytest.mark.parametrize("width", [1280, 390])
def test_console_pages_meet_wcag_aa(admin_page, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})
    system = outside_loop(SystemFactory, name="Shop", slug="shop", role="erp", criticality="high")
    problems = {}
    for url in console_urls(system):
        page.goto(url)
        expect(page.locator("main h1")).to_be_visible()
        found = axe_violations(page)
        if found:
            problems[url] = found
    assert problems == {}, "\n".join(f"{u}: {p}" for u, p in problems.items())


def test_french_pages_and_form_errors_meet_wcag_aa(admin_page, asgi_url):
    page = admin_page
    page.context.add_cookies([{"name": "django_language", "value": "fr", "url": asgi_url}])
    page.goto(reverse("flows:system_add"))
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("#id_name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert axe_violations(page) == []
    page.goto(reverse("home"))
    assert axe_violations(page) == []
    # The French labels are longer: at 1280 px the whole navbar, user menu included, stays on screen.
    box = page.locator("#user-menu").bounding_box()
    assert box["x"] + box["width"] <= 1280


def test_login_page_meets_wcag_aa(page):
    page.goto(reverse("login"))
    assert axe_violations(page) == []
    page.locator("#id_username").fill("nobody")
    page.locator("#id_password").fill("wrong")
    page.locator("#id_password").press("Enter")
    expect(page.locator(".alert-danger, .invalid-feedback").first).to_be_visible()
    assert axe_violations(page) == []
