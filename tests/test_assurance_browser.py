"""The demo's age assurance in a real headless Chromium: a Great Britain
signup with only a birthdate gets the page that asks for a proof; the TEST
provider's check passes in its frame; the form sent again creates the
account. Skips where no chromium is installed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.test_browser import (  # the suite's DevTools client and fixtures
    ADMIN,
    CHROMIUM,
    Browser,
    _accounts,
    app_dir,
    base,
    browser,
)

__all__ = ["ADMIN", "app_dir", "base", "browser"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]

GB_ADULT = {"birthdate": "1984-04-04", "country": "GB", "email": "gb@example.com"}


def _until(browser: Browser, expression: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not browser.run(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        time.sleep(0.2)


def test_a_gb_signup_proves_its_age_with_the_test_provider(
    base: str, browser: Browser, tmp_path: Path
) -> None:
    browser.goto(base + "/")
    browser.submit(GB_ADULT, form="#signup")
    assert browser.run("document.getElementById('needs-assurance') !== null")
    assert _accounts(base) == 0
    browser.screenshot("assurance-needed")
    browser.run("document.getElementById('provider-test-provider').click()")
    _until(
        browser,
        "(function(){var f=document.getElementById('provider-frame');"
        "return !!(f && f.contentDocument &&"
        " f.contentDocument.getElementById('test-over'));})()",
    )
    frame = "document.getElementById('provider-frame').contentDocument"
    assert "TEST PROVIDER" in browser.run(f"{frame}.body.innerText")
    browser.screenshot("assurance-test-provider")
    browser.run(f"{frame}.getElementById('test-over').click()")
    _until(browser, "document.body.getAttribute('data-assured') === 'yes'")
    browser.screenshot("assurance-checked")
    # The token is an HttpOnly cookie: the page's script cannot read it.
    assert "agegate_assurance" not in browser.run("document.cookie")
    browser.goto(base + "/")
    browser.submit(GB_ADULT, form="#signup")
    assert browser.run("document.getElementById('welcome') !== null")
    assert _accounts(base) == 1
