"""Every HTML page works under the pages' Content Security Policy (nothing inline, nothing
from elsewhere), in a real Chromium that reports each violation on its console."""

from __future__ import annotations

from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect

from tests.support.running_central import RunningCentral
from tests.ui.support import logged_in_page
from tests.workers.support import enroll

HTML_PAGES = ("/", "/ui/", "/docs", "/map")


def watch(page: Page, base_url: str) -> tuple[list[str], list[str]]:
    """Collect the page's CSP violations (console and DOM events) and every request that
    leaves the central."""
    violations: list[str] = []
    outside: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    def request(sent: Request) -> None:
        if not sent.url.startswith((base_url, "data:", "blob:")):
            outside.append(sent.url)

    page.on("console", console)
    page.on("request", request)
    page.context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => "
        "console.error('Content Security Policy violation: ' + e.violatedDirective + "
        "' ' + e.blockedURI))"
    )
    return violations, outside


def test_every_page_works_under_its_policy(browser: Browser, ui_central: RunningCentral) -> None:
    http = ui_central.http
    for path in HTML_PAGES:
        answer = http.get(path)
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy, path
        assert "script-src 'self'" in policy, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "same-origin", path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert "<script>" not in answer.text and " style=" not in answer.text, path
        assert "https://" not in answer.text and "http://" not in answer.text, path
    api = http.get("/api/stations")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers, "JSON is no page"

    page = logged_in_page(browser, ui_central, "viewer", enforce_csp=True)
    violations, outside = watch(page, ui_central.base_url)
    try:
        page.reload()
        expect(page.locator("#me")).to_be_visible()
        expect(page.locator(".leaflet-container")).to_be_visible()

        page.goto(f"{ui_central.base_url}/")
        expect(page.locator("tr[data-station]").first).to_be_visible()
        expect(page.locator("#status")).to_contain_text("stations")

        page.goto(f"{ui_central.base_url}/map")
        expect(page.locator("#stations li").first).to_be_visible()
        expect(page.locator("#stations .nav").first).to_be_visible()

        page.goto(f"{ui_central.base_url}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("yizhan central")
        expect(page.locator(".opblock").first).to_be_visible()

        worker = enroll(http)
        link = http.post(f"/api/workers/{worker['worker_id']}/pass-links").json()
        opened = page.goto(link["url"])
        assert opened is not None and opened.status == 200
        assert "frame-ancestors 'none'" in opened.headers["content-security-policy"]
        assert opened.headers["referrer-policy"] == "no-referrer", "the pass page's own"
        expect(page.locator("#qr svg")).to_be_visible()
        expect(page.locator("#stations li").first).to_be_visible()
    finally:
        page.context.close()
    assert not violations, violations
    assert not outside, outside
