"""Log a browser page in through the login form, as an operator would."""

from __future__ import annotations

from typing import Literal

from playwright.sync_api import Browser, Page, expect

from tests.support.operators import add_operator
from tests.support.running_central import RunningCentral


def logged_in_page(
    browser: Browser,
    central: RunningCentral,
    role: str,
    lang: str = "en",
    enforce_csp: bool = False,
    timezone_id: str | None = None,
    color_scheme: Literal["dark", "light"] | None = None,
) -> Page:
    """A page of its own browser context, logged in as a new operator of `role`.

    The pages' Content Security Policy is bypassed unless `enforce_csp`: Playwright's
    `wait_for_function` compiles its predicate inside the page, which the policy (no
    `'unsafe-eval'`) forbids. `tests/ui/test_pages_under_csp.py` runs every page with
    the policy enforced. `timezone_id` and `color_scheme` set the browser's own zone and
    preferred colours (the machine's, when None)."""
    name, password = add_operator(central.service.operators, role)
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        accept_downloads=True,
        bypass_csp=not enforce_csp,
        timezone_id=timezone_id,
        color_scheme=color_scheme,
    )
    # The first visit's language; the page's own switch decides after that.
    context.add_init_script(
        f"if (!localStorage.getItem('yz-lang')) localStorage.setItem('yz-lang', '{lang}')"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{central.base_url}/ui/")
    expect(page.locator("#login-view")).to_be_visible()
    assert not errors, errors
    page.fill("#login input[name=name]", name)
    page.fill("#login input[name=password]", password)
    page.click("#login button[type=submit]")
    expect(page.locator("#me")).to_have_text(f"{name} · {role}")
    return page


def csrf_of(page: Page) -> str:
    """The page's CSRF cookie, as its script reads it."""
    return next(c["value"] for c in page.context.cookies() if c["name"] == "yz_csrf")
