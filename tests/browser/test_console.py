"""The console as a user sees it in Chromium, served by a real uvicorn (and, where needed, a real worker)."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from flows.models import System
from integration_hub.roles import VIEWER
from tests.browser.support import outside_loop
from tests.factories import PASSWORD, SystemFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


# Records, in page time, the click on "Test live updates", the swap of the POST's answer and the
# worker's answer reaching the page.
PING_PROBE = """
window.__probe = {pings: 0};
document.addEventListener("DOMContentLoaded", () => {
  // Capture on the document: the probe notes the answer before the page's own handler (on the body)
  // does, and the click after the page's own capture handler (registered first) — so the page's
  // figure can never be smaller than the probe's, whatever the machine's load between two handlers.
  document.addEventListener("hub:hub.ping", () => {
    window.__probe.pings += 1;
    // The first answer after the click: a later ping (another event) must not move the mark.
    if (window.__probe.clickAt !== undefined && window.__probe.pingAt === undefined) {
      window.__probe.pingAt = performance.now();
    }
  }, true);
  document.body.addEventListener("htmx:afterSwap", () => { window.__probe.swapAt = performance.now(); });
  document.addEventListener("click", (ev) => {
    if (ev.target.closest && ev.target.closest("#live-ping-button")) window.__probe.clickAt = performance.now();
  }, true);
});
"""


def expect_live(page):
    """The page's websocket to the live ASGI server is open."""
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")


def click_live_ping(page, worker):
    """Click "Test live updates" and wait until both the POST's answer and the worker's have arrived.

    Returns the result box. The worker's answer may come before the POST's response (a Redis broker
    answers within milliseconds); test_live_ping_answer_arriving_before_the_swap_is_not_lost covers that.
    """
    assert worker.poll() is None, "the worker process has exited"
    page.locator("#live-ping-button").click()
    try:
        page.wait_for_function("() => window.__probe.pings > 0 && window.__probe.swapAt", timeout=30_000)
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"no worker answer reached the page; worker running: {worker.poll() is None}"
        ) from None
    return page.locator("#live-ping-result .live-ping")


def overflow(page) -> dict:
    return page.evaluate(
        "() => ({scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth})"
    )


def test_keyboard_login_lands_on_the_live_dashboard(page, asgi_url, watch):
    outside_loop(UserFactory, username="kim", roles=[VIEWER])

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator("#id_username")).to_be_focused()
    page.keyboard.type("kim")
    page.keyboard.press("Tab")
    expect(page.locator("#id_password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{asgi_url}/")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.locator("#user-menu")).to_contain_text("kim")
    expect_live(page)
    assert watch.blocked == []


def test_a_system_created_elsewhere_appears_on_the_open_dashboard(admin_page):
    page = admin_page
    navigations = []
    page.goto("/")
    expect_live(page)
    url = page.url
    page.evaluate("window.__marker = 1")
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))

    # Committed in the test process; its post-commit event goes out through the channel layer.
    outside_loop(SystemFactory, name="Northwind ERP")

    tile = page.locator("#system-tiles .system-tile", has_text="Northwind ERP")
    expect(tile).to_be_visible()
    expect(tile.locator(".system-name")).to_have_text("Northwind ERP")
    assert page.url == url
    assert navigations == []
    assert page.evaluate("window.__marker") == 1


def test_status_page_live_ping_is_answered_by_a_real_worker(admin_page, worker):
    page = admin_page
    page.add_init_script(PING_PROBE)
    page.goto(reverse("status"))
    expect_live(page)

    box = click_live_ping(page, worker)
    expect(box).to_have_class(re.compile(r"\balert-success\b"))
    expect(box).to_have_attribute("data-round-trip-ms", re.compile(r"^\d+$"))
    round_trip_ms = int(box.get_attribute("data-round-trip-ms"))
    expect(box).to_contain_text(f"{round_trip_ms} ms")

    # The figure counts from the click itself, the POST that queues the task included.
    probe = page.evaluate("window.__probe")
    click_to_answer_ms = round(probe["pingAt"] - probe["clickAt"])
    assert round_trip_ms >= click_to_answer_ms - 1, (round_trip_ms, click_to_answer_ms)
    print(f"\nlive ping: click -> worker answer shown in the page: {round_trip_ms} ms")


def test_api_docs_render_offline_under_the_csp(admin_page, watch):
    page = admin_page
    page.goto(reverse("api-docs"))

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Integration Hub API")
    expect(
        page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/systems/$")).first
    ).to_be_visible()
    assert page.locator(".opblock").count() > 1
    assert watch.blocked == [], "the API docs tried to reach another host"
    csp_errors = [e for e in watch.console_errors if "Content Security Policy" in e]
    assert csp_errors == []
    assert watch.page_errors == []


def test_phone_navbar_collapses_and_the_toggler_opens_it(admin_page):
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")

    toggler = page.locator(".navbar-toggler")
    systems = page.locator("#main-nav").get_by_role("link", name="Systems")
    expect(toggler).to_be_visible()
    expect(systems).to_be_hidden()
    toggler.click()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    expect(systems).to_be_visible()
    systems.click()
    expect(page).to_have_url(re.compile(r"/systems/$"))
    expect(page.get_by_role("heading", name="Systems", level=1)).to_be_visible()


@pytest.mark.parametrize("width", [390, 1280])
def test_pages_have_no_horizontal_overflow(admin_page, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 844})
    outside_loop(SystemFactory, name="Shop", slug="shop", description="The web shop")
    outside_loop(
        SystemFactory, name="A system with a fairly long name, as people do write", slug="long-named"
    )

    for url in ("/", reverse("flows:system_list"), reverse("flows:system_add")):
        page.goto(url)
        expect(page.locator("main h1")).to_be_visible()
        sizes = overflow(page)
        assert sizes["scrollWidth"] <= sizes["innerWidth"], (url, sizes)


def test_add_system_form_errors_are_shown_next_to_the_fields(admin_page):
    page = admin_page
    add_url = reverse("flows:system_add")
    page.goto(add_url)
    page.get_by_role("button", name="Create").click()

    expect(page.locator("#id_name_error")).to_be_visible()
    name_field = page.locator(".field-name")
    expect(name_field.locator("#id_name_error")).to_have_text("This field is required.")
    expect(name_field.locator("#id_name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_name")).to_have_accessible_description("This field is required.")
    expect(page.locator(".field-slug #id_slug_error")).to_be_visible()
    expect(page.locator("#id_slug")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_description")).not_to_have_attribute("aria-invalid", "true")
    assert page.url.endswith(add_url)
    assert System.objects.count() == 0


def test_first_tab_focuses_the_skip_link(admin_page):
    page = admin_page
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


def test_main_pages_have_no_csp_violations_or_script_errors(admin_page, watch):
    page = admin_page
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " e => (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    system = outside_loop(SystemFactory, name="Shop", slug="shop")
    urls = [
        reverse("home"),
        reverse("flows:system_list"),
        reverse("flows:system", args=[system.pk]),
        reverse("flows:system_edit", args=[system.pk]),
        reverse("integration_hub:auditentry_list"),
        reverse("auth:user_list"),
        reverse("users:token_list"),
        reverse("status"),
    ]
    problems = {}
    for url in urls:
        watch.console_errors.clear()
        watch.page_errors.clear()
        response = page.goto(url)
        assert response.status == 200, url
        expect(page.locator("main h1")).to_be_visible()
        expect_live(page)
        violations = page.evaluate("window.__csp || []")
        if watch.errors or violations:
            problems[url] = watch.errors + violations
    assert problems == {}
    assert watch.blocked == []


def test_language_switch_reloads_the_page_in_french(admin_page):
    page = admin_page
    page.goto(reverse("flows:system_list"))
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.locator("#user-menu").click()
    select = page.locator("#language-select")
    expect(select).to_be_visible()
    with page.expect_navigation():
        select.select_option(label="Français")

    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page).to_have_url(re.compile(r"/systems/$"))
    expect(page.locator("#main-nav").get_by_role("link", name="Systèmes")).to_be_visible()


def test_live_ping_answer_arriving_before_the_swap_is_not_lost(admin_page, worker):
    page = admin_page
    page.add_init_script(PING_PROBE)

    def hold_until_answered(route):
        # A slow response (proxy, busy web process) and a fast worker (Redis broker): the answer wins.
        response = route.fetch()
        page.wait_for_function("() => window.__probe.pings > 0", timeout=30_000)
        route.fulfill(response=response)

    page.route("**/status/live-ping/", hold_until_answered)
    page.goto(reverse("status"))
    expect_live(page)

    page.locator("#live-ping-button").click()
    box = page.locator("#live-ping-result .live-ping")
    expect(box).to_be_attached()
    assert page.evaluate("window.__probe.pings") == 1
    expect(box).to_have_class(re.compile(r"\balert-success\b"), timeout=3_000)
