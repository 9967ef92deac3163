"""The wallet flow in a real headless Chromium: the demo with its TEST
wallet, a Great Britain signup, the assurance page's "Use my wallet" through
`navigator.credentials.get({digital: ...})`, the real verifier behind
`/assurance/complete`, and the form sent again. An adult's TEST wallet ends
signed up, an under-18's ends blocked. Skips where no chromium is installed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agegate.apps.demo import create_app
from agegate.apps.serve import free_port, serve
from tests.test_browser import ADMIN, CHROMIUM, Browser, _accounts, browser

__all__ = ["browser"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]

GB_ADULT = {"birthdate": "1984-04-04", "country": "GB", "email": "gb@example.com"}


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    app = create_app(
        tmp_path / "data",
        secret="wallet-browser-secret-0123",
        admin_token=ADMIN,
        test_wallet_origin=f"http://127.0.0.1:{port}",
    )
    with serve(app, port=port) as url:
        yield url


def _until(browser: Browser, expression: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not browser.run(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        time.sleep(0.2)


def _prove(browser: Browser, base: str, age: int, fmt: str) -> str:
    """Sign up from Great Britain, prove the age with the TEST wallet, and
    send the form again; the page's status text after the proof."""
    browser.goto(base + "/")
    browser.submit(GB_ADULT, form="#signup")
    assert browser.run("document.getElementById('needs-assurance') !== null")
    assert "TEST WALLET" in browser.run(
        "document.getElementById('test-wallet').innerText"
    )
    browser.run(
        f"document.getElementById('test-wallet-age').value = '{age}';"
        f"document.getElementById('test-wallet-format').value = '{fmt}';"
        "document.getElementById('wallet').click()"
    )
    _until(browser, "document.body.getAttribute('data-assured') === 'yes'")
    status = str(browser.run("document.getElementById('status').innerText"))
    browser.screenshot(f"wallet-{fmt}-{age}-checked")
    assert "agegate_assurance" not in browser.run("document.cookie")
    browser.goto(base + "/")
    browser.submit(GB_ADULT, form="#signup")
    return status


@pytest.mark.parametrize("fmt", ["mdoc", "sd-jwt"])
def test_an_adult_test_wallet_ends_signed_up(
    base: str, browser: Browser, fmt: str
) -> None:
    assert "checked" in _prove(browser, base, 30, fmt)
    assert browser.run("document.getElementById('welcome') !== null")
    assert _accounts(base) == 1


def test_an_under_18_test_wallet_ends_blocked(base: str, browser: Browser) -> None:
    _prove(browser, base, 16, "mdoc")
    assert browser.run("document.getElementById('welcome') === null")
    assert browser.run("location.pathname") == "/signup"
    assert "personal" in browser.run("document.body.innerText").lower()
    browser.screenshot("wallet-under-18-blocked")
    assert _accounts(base) == 0


def test_a_refused_proof_shows_its_reason_code(base: str, browser: Browser) -> None:
    browser.goto(base + "/assurance/?age=18")
    # The page's origin is the verifier's; a wallet that binds the proof to
    # another one is refused by the real verifier, and the page says why.
    browser.run(
        "navigator.credentials.get = function (o) {"
        " return fetch('/test-wallet/present', {method: 'POST',"
        "  headers: {'Content-Type': 'application/json'},"
        "  body: JSON.stringify({requests: o.digital.requests,"
        "   origin: 'https://elsewhere.example', age: 30, format: 'sd-jwt'})})"
        " .then(function (r) { return r.json(); }); };"
        "document.getElementById('wallet').click()"
    )
    _until(
        browser,
        "document.getElementById('status').innerText"
        ".indexOf('ASSURANCE_ORIGIN_MISMATCH') >= 0",
    )
    assert browser.run("document.body.getAttribute('data-assured')") is None


def test_a_revoked_test_credential_shows_its_code(base: str, browser: Browser) -> None:
    browser.goto(base + "/assurance/?age=18")
    browser.run(
        "document.getElementById('test-wallet-revoked').checked = true;"
        "document.getElementById('wallet').click()"
    )
    _until(
        browser,
        "document.getElementById('status').innerText.indexOf('ASSURANCE_REVOKED') >= 0",
    )
    assert browser.run("document.body.getAttribute('data-assured')") is None
