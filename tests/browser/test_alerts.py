"""Alerts in Chromium: the bell rings live, the rule form shows what the condition needs, the pages fit."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from flows.models import RunStatus
from monitoring import alerts
from tests.browser.support import outside_loop
from tests.factories import FlowFactory
from tests.monitoring.test_alerts import make_rule, make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


def _rule_for(user):
    flow = FlowFactory(name="Orders to ERP")
    rule = make_rule(name="Failed runs")
    rule.inapp_users.add(user)
    make_run(flow, RunStatus.FAILED)
    return rule


def test_the_bell_counts_a_new_notification_live(admin_page, admin, watch):
    page = admin_page
    outside_loop(_rule_for, admin)
    page.goto("/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    badge = page.locator("#notification-bell .notification-count")
    expect(badge).to_be_hidden()

    outside_loop(alerts.evaluate)  # a worker would do this every minute

    expect(badge).to_have_text("1")
    expect(badge).to_be_visible()
    page.locator("#notification-menu").click()
    expect(page.locator("#notification-bell .notification-items")).to_contain_text("Orders to ERP")
    page.locator("#notification-bell").get_by_role("link", name="All notifications").click()
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator("#notification-bell .notification-count")).to_be_hidden()
    assert watch.errors == []


def test_the_rule_form_shows_the_fields_of_the_chosen_condition(admin_page, watch):
    page = admin_page
    page.goto(reverse("monitoring:alertrule_add"))
    threshold, percent = page.locator(".field-threshold"), page.locator(".field-percent")
    flow = page.locator(".field-flow")
    expect(threshold).to_be_hidden()
    page.get_by_label("Condition").select_option("consecutive_failures")
    expect(threshold).to_be_visible()
    expect(percent).to_be_hidden()
    page.get_by_label("Condition").select_option("error_rate")
    expect(percent).to_be_visible()
    expect(flow).to_be_hidden()
    page.get_by_label("one flow").check()
    expect(flow).to_be_visible()
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".field-name .invalid-feedback")).to_be_visible()
    expect(page.locator(".field-flow .invalid-feedback")).to_contain_text("Choose the flow")
    # The form sent back answers 400 (Chromium logs that); nothing else may go wrong.
    assert watch.page_errors == [] and all("status of 400" in e for e in watch.console_errors)


@pytest.mark.parametrize("width", [390, 1280])
def test_alert_pages_fit_the_screen(admin_page, admin, width, watch):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 844})
    rule = outside_loop(_rule_for, admin)
    outside_loop(alerts.evaluate)
    for url in (
        reverse("monitoring:alertrule_list"),
        rule.get_absolute_url(),
        reverse("monitoring:alertrule_add"),
        reverse("monitoring:alert_list"),
        reverse("monitoring:notification_list"),
        reverse("monitoring:notification_preferences"),
    ):
        page.goto(url)
        expect(page.locator("main h1")).to_be_visible()
        sizes = page.evaluate(
            "() => ({scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth})"
        )
        assert sizes["scrollWidth"] <= sizes["innerWidth"], (url, sizes)
    assert watch.errors == []
