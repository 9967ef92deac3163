"""The example app's HTML pages in a real headless Chromium.

Chromium is driven over the DevTools protocol through its
`--remote-debugging-pipe` (JSON messages on file descriptors 3 and 4), so no
websocket client or browser-automation package is needed. Screenshots go to
test-artifacts/. Skips where no chromium is installed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agegate.apps.demo import create_app
from agegate.apps.serve import serve

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ADMIN = "browser-test-admin-token-0123"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not installed (apt-get install chromium); "
        "the browser checks of the HTML pages are skipped",
    ),
]


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._out = os.pipe()
        self._in, from_browser_w = os.pipe()
        # Move the child's ends above 3 and 4 so the redirects below cannot
        # overwrite one with the other.
        for name in ("to_browser_r", "from_browser_w"):
            low = locals()[name]
            high = fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, 100)
            os.close(low)
            if name == "to_browser_r":
                to_browser_r = high
            else:
                from_browser_w = high
        command = [
            CHROMIUM or "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--window-size=1000,1200",
            "about:blank",
        ]
        # The browser reads fd 3 and writes fd 4: a Python trampoline puts
        # the pipe there and execs it (no preexec hook, no shell fd limits).
        trampoline = (
            "import os, sys; os.dup2(int(sys.argv[1]), 3);"
            " os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                trampoline,
                str(to_browser_r),
                str(from_browser_w),
                *command,
            ],
            pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call(
            "Target.attachToTarget", targetId=target, flatten=True
        )["sessionId"]
        self.call("Page.enable", session=self.session)
        self.call("Runtime.enable", session=self.session)

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        result: dict[str, Any] = json.loads(message)
        return result

    def call(
        self, method: str, *, session: str | None = None, **params: Any
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method}
        if params:
            message["params"] = params
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read(30)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self._events.append(answer)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for index, seen in enumerate(self._events):
                if seen.get("method") == event:
                    del self._events[: index + 1]
                    return
            self._events.append(self._read(max(0.01, deadline - time.monotonic())))

    def goto(self, url: str) -> None:
        self._events.clear()
        self.call("Page.navigate", session=self.session, url=url)
        self.wait_for("Page.loadEventFired")

    def run(self, expression: str) -> Any:
        answer = self.call(
            "Runtime.evaluate",
            session=self.session,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"script failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def submit(self, fill: dict[str, str], form: str = "form") -> None:
        """Fill fields by id and submit the form as a person would."""
        self._events.clear()
        script = "".join(
            f"document.getElementById({json.dumps(k)}).value = {json.dumps(v)};"
            for k, v in fill.items()
        )
        self.run(script + f"document.querySelector({json.dumps(form)}).requestSubmit()")
        self.wait_for("Page.loadEventFired")

    def screenshot(self, name: str) -> Path:
        data = self.call("Page.captureScreenshot", session=self.session, format="png")[
            "data"
        ]
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._in)
        os.close(self._out)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def base(app_dir: Path) -> Iterator[str]:
    app = create_app(app_dir, secret="browser-test-secret-0123", admin_token=ADMIN)
    with serve(app) as url:
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    chrome = Browser(tmp_path / "profile")
    try:
        yield chrome
    finally:
        chrome.close()


def _accounts(base: str) -> int:
    import httpx

    count: int = httpx.get(base + "/admin/stats").json()["accounts"]
    return count


# An age, or a word that hints at the age that passes, anywhere in the text.
AGE_HINT = re.compile(
    r"\b(1[0-9]|2[0-5])\b|\b(under|over|adults?|minors?|older|younger|age|aged)\b",
    re.IGNORECASE,
)


def test_signup_page_is_a_neutral_age_screen(base: str, browser: Browser) -> None:
    browser.goto(base + "/")
    assert browser.run("document.documentElement.lang") == "en"
    # The country list holds place names ("Minor Outlying Islands"): read
    # apart, they carry no number.
    countries = set(
        browser.run("[...document.querySelectorAll('option')].map(o => o.text)")
    )
    assert not any(re.search(r"[0-9]", name) for name in countries)
    rendered = browser.run("document.body.innerText").splitlines()
    text = "\n".join(line for line in rendered if line not in countries)
    title = browser.run("document.title")
    assert "Date of birth" in text
    # Nothing on the page before submission tells which age passes.
    assert AGE_HINT.search(text) is None, AGE_HINT.search(text)
    assert AGE_HINT.search(title) is None
    # No pre-filled date, no bounds that give the cut-off away.
    assert browser.run("document.getElementById('birthdate').value") == ""
    assert browser.run(
        "['value', 'min', 'max', 'placeholder', 'aria-describedby']"
        ".every(a => !document.getElementById('birthdate').hasAttribute(a))"
    )
    labelled = browser.run(
        "[...document.querySelectorAll('#signup input, #signup select')]"
        ".every(e => e.labels.length === 1)"
    )
    assert labelled is True
    assert browser.screenshot("signup-page").stat().st_size > 1000


def test_who_can_use_the_service_is_one_click_away(base: str, browser: Browser) -> None:
    browser.goto(base + "/")
    link = "document.getElementById('who-link')"
    assert browser.run(f"{link}.innerText") == "Who can use this service"
    browser._events.clear()
    browser.run(f"{link}.click()")
    browser.wait_for("Page.loadEventFired")
    assert browser.run("location.pathname") == "/who-can-use"
    text = browser.run("document.body.innerText")
    assert "18 or older" in text
    assert "do not send us any personal information" in text
    assert browser.run(
        "document.querySelector('a[href=\"/report-a-minor/\"]') !== null"
    )
    browser.screenshot("who-can-use")


def test_minor_submitting_the_form_sees_the_block_notice(
    base: str, browser: Browser
) -> None:
    browser.goto(base + "/")
    browser.submit(
        {
            "birthdate": "2014-09-09",
            "country": "CA",
            "subdivision": "BC",
            "email": "kid@example.com",
        },
        form="#signup",
    )
    assert browser.run("location.pathname") == "/signup"
    text = browser.run("document.body.innerText")
    assert "personal" in text.lower()
    assert "2014" not in text
    assert browser.run("document.querySelector('h1') !== null")
    browser.screenshot("block-notice")
    assert _accounts(base) == 0


def test_adult_submitting_the_form_gets_an_account(base: str, browser: Browser) -> None:
    browser.goto(base + "/")
    browser.submit(
        {"birthdate": "1984-04-04", "country": "IE", "email": "adult@example.com"},
        form="#signup",
    )
    assert browser.run("document.getElementById('welcome') !== null")
    browser.screenshot("signup-welcome")
    assert _accounts(base) == 1


def test_report_form_files_a_report(base: str, browser: Browser) -> None:
    import httpx

    browser.goto(base + "/report-a-minor/")
    assert "Report an account" in browser.run("document.querySelector('h1').innerText")
    browser.screenshot("report-form")
    browser.submit({"email": "not an address"})
    assert browser.run("document.getElementById('problems') !== null")
    assert browser.run("document.getElementById('email').getAttribute('aria-invalid')")
    browser.screenshot("report-form-problem")
    browser.submit({"email": "reported.child@example.com"})
    assert browser.run("document.getElementById('received') !== null")
    browser.screenshot("report-received")
    flags = httpx.get(base + "/admin/flags", params={"token": ADMIN}).json()
    assert [f["codes"] for f in flags] == [["REPORTED"]]
    assert flags[0]["account_id"].startswith("email-hmac:")


def test_block_notice_links_the_report_intake(base: str, browser: Browser) -> None:
    browser.goto(base + "/")
    browser.submit(
        {
            "birthdate": "2014-09-09",
            "country": "CA",
            "subdivision": "BC",
            "email": "kid@example.com",
        },
        form="#signup",
    )
    text = browser.run("document.body.innerText")
    assert "Example Voice is not meant for anyone" in text
    link = "document.getElementById('contact-url')"
    assert browser.run(f"{link}.getAttribute('href')") == "/report-a-minor/"
    browser.screenshot("block-notice-contact")
    browser._events.clear()
    browser.run(f"{link}.click()")
    browser.wait_for("Page.loadEventFired")
    assert browser.run("location.pathname") == "/report-a-minor/"
    assert "Report an account" in browser.run("document.querySelector('h1').innerText")


def test_bad_province_shows_a_page_with_a_way_back(base: str, browser: Browser) -> None:
    browser.goto(base + "/")
    browser.submit(
        {
            "birthdate": "1984-04-04",
            "country": "CA",
            "subdivision": "Atlantis",
            "email": "adult@example.com",
        },
        form="#signup",
    )
    assert browser.run("location.pathname") == "/signup"
    text = browser.run("document.body.innerText")
    assert "Please correct these fields" in text
    assert browser.run("document.querySelector('#fields').innerText") == "subdivision"
    assert "Atlantis" not in text
    assert "adult@example.com" not in text
    browser.screenshot("form-error")
    browser._events.clear()
    browser.run("document.getElementById('back').click()")
    browser.wait_for("Page.loadEventFired")
    assert browser.run("location.pathname") == "/"
    assert browser.run("document.getElementById('signup') !== null")
    assert _accounts(base) == 0
