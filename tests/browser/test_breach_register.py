"""The breach register in Chromium: choosing systems pre-fills the data categories from the register, and
the 72-hour clock keeps counting (and turns red) without a reload."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.support import outside_loop, session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


def _register():
    from gdpr.models import DataCategory, ProcessingActivity
    from gdpr.models.choices import ActivityState, CnilGroup
    from integration_hub.roles import DPO
    from tests.factories import FlowFactory, SystemFactory, UserFactory

    crm, shop = SystemFactory(name="CRM"), SystemFactory(name="Shop")
    SystemFactory(name="Warehouse")
    email = DataCategory.objects.update_or_create(
        key="email", defaults={"name": "E-mail address", "cnil_group": CnilGroup.IDENTITY}
    )[0]
    DataCategory.objects.update_or_create(
        key="health-test", defaults={"name": "Health test data", "cnil_group": CnilGroup.SENSITIVE}
    )
    activity = ProcessingActivity.objects.create(reference="PA-1", name="Customer accounts")
    activity.flows.add(FlowFactory(name="Customers", source_system=crm, target_system=shop))
    activity.data_categories.add(email)
    ProcessingActivity.objects.filter(pk=activity.pk).update(state=ActivityState.APPROVED)
    return UserFactory(username="dora", roles=[DPO]), email.pk


def _breach(hours_ago):
    from gdpr import breaches
    from gdpr.models import Breach

    return breaches.save_breach(
        Breach(title="Lost laptop", aware_at=timezone.now() - timedelta(hours=hours_ago))
    )


def test_choosing_systems_prefills_the_categories_the_register_declares(page, context, asgi_url, watch):
    dpo, email_pk = outside_loop(_register)
    context.add_cookies([outside_loop(session_cookie, dpo, asgi_url)])
    page.goto(reverse("gdpr:breach_add"))
    categories = page.get_by_label("Data categories affected")
    page.get_by_label("Systems affected").select_option(label="Shop")
    expect(page.locator("#categories-note")).to_contain_text("E-mail address")
    expect(categories.locator(f'option[value="{email_pk}"]')).to_have_js_property("selected", True)
    expect(categories.locator("option", has_text="Health test data")).to_have_js_property("selected", False)
    page.get_by_label("Title").fill("Shop database exposed")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Shop database exposed")
    expect(page.locator("main")).to_contain_text("E-mail address")
    assert watch.errors == []


def test_the_clock_ticks_and_turns_red_once_overdue_without_a_reload(page, context, asgi_url, watch):
    dpo, _email = outside_loop(_register)
    breach = outside_loop(_breach, 71.9)  # about six minutes left
    context.add_cookies([outside_loop(session_cookie, dpo, asgi_url)])
    page.clock.install()
    page.goto(breach.get_absolute_url())
    clock = page.locator("[data-clock]")
    expect(clock).to_have_class(re.compile(r"\balert-warning\b"))
    expect(clock.locator(".clock-label")).to_contain_text("left")
    page.clock.fast_forward("00:10:00")
    expect(clock.locator(".clock-label")).to_contain_text("Overdue by 0 h 0")
    expect(clock).to_have_class(re.compile(r"\balert-danger\b"))
    expect(clock).not_to_have_class(re.compile(r"\balert-warning\b"))
    assert watch.errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_the_breach_and_retention_pages_pass_axe_at_desktop_and_phone_widths(page, context, asgi_url, width):
    from tests.browser.test_accessibility import axe_violations

    dpo, _email = outside_loop(_register)
    breach = outside_loop(_breach, 80)
    context.add_cookies([outside_loop(session_cookie, dpo, asgi_url)])
    page.set_viewport_size({"width": width, "height": 900})
    found = {}
    for url in (
        reverse("gdpr:breach_list"),
        reverse("gdpr:breach_add"),
        breach.get_absolute_url(),
        reverse("gdpr:breach_print", args=[breach.pk]),
        reverse("gdpr:retention"),
        reverse("gdpr:retention_purge", args=["runs"]),
    ):
        page.goto(url)
        violations = axe_violations(page)
        if violations:
            found[url] = violations
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        if overflow:
            found.setdefault(url, []).append("wider than the screen")
    assert found == {}
