"""The run detail page and Trace in a real browser: readable at desktop and phone widths (WCAG 2.1 AA by
axe-core), and the navbar search box leads to Trace."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from flows import runlog
from flows.models import FlowVersion, RecordLink, Run, RunStatus
from tests.browser.support import outside_loop
from tests.browser.test_accessibility import axe_violations
from tests.factories import FlowFactory, SystemFactory

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def make_run():
    pim = SystemFactory(name="PIM", slug="pim-b")
    shop = SystemFactory(name="Shop", slug="shop-b")
    flow = FlowFactory(name="Catalog", source_system=pim, target_system=shop)
    version = FlowVersion.objects.create(flow=flow, number=2, definition={})
    now = timezone.now()
    run = Run.objects.create(
        flow=flow, version=version, status=RunStatus.SUCCEEDED, trigger="manual", read=5, created=5, pages=1,
        cursor_after="2025-02-01T10:00:00", started=now, finished=now,
    )  # fmt: skip
    log = runlog.RunLog(run)
    log.add("info", "run.started", "Started.")
    log.add("info", "page.committed", "Page 1 committed", page=1, read=5, created=5, duration_ms=30)
    log.add("info", "run.finished", "Succeeded.", status="succeeded")
    log.flush()
    RecordLink.objects.create(
        flow=flow, source_system=pim, source_entity="products", source_id="P-1", target_system=shop,
        target_entity="products", target_id="41", last_run=run, last_synced=now,
    )  # fmt: skip
    return run


@pytest.mark.parametrize("width", [1280, 390])
def test_run_page_and_trace_meet_wcag_aa(admin_page, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})
    run = outside_loop(make_run)
    page.goto(run.get_absolute_url())
    expect(page.locator("#run-timeline [data-step='finished']")).to_be_visible()
    expect(page.locator("#run-log tbody tr")).to_have_count(3)
    assert axe_violations(page) == []
    page.goto("/trace/?q=41")
    expect(page.locator(".trace-record")).to_have_count(1)
    assert axe_violations(page) == []
    page.goto("/trace/")
    assert axe_violations(page) == []


def test_navbar_search_box_opens_trace(admin_page):
    page = admin_page
    page.set_viewport_size({"width": 1280, "height": 900})
    outside_loop(make_run)
    page.goto("/")
    page.fill("#nav-trace", "P-1")
    page.press("#nav-trace", "Enter")
    expect(page.locator(".trace-record")).to_have_count(1)
    expect(page.locator("#trace-q")).to_have_value("P-1")
