"""The report page in a real headless Chromium: it draws its charts, and
nothing it holds, nor anything put into it, reaches the network.

A loopback HTTP server counts what arrives: the page opened from its file
sends nothing, and an image or a fetch added to it afterwards is stopped by
the page's own Content-Security-Policy. Skips where no chromium is
installed; the screenshot goes to test-artifacts/.
"""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agegate.flags import STATUSES, Flag, SqliteFlagStore
from tests.cli_support import agegate
from tests.test_browser import (  # the suite's DevTools client and fixtures
    CHROMIUM,
    Browser,
    browser,  # noqa: F401 - a fixture
)
from tests.test_removal_report import FLAGS, IDS, _receipts, _sqlite_store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]


class _Counting(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    _Counting.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Counting.seen
    finally:
        server.shutdown()
        server.server_close()


def _page(tmp_path: Path) -> Path:
    store = _sqlite_store(tmp_path / "flags.sqlite")
    _receipts(Path(f"{store}.receipts.jsonl"))
    out = tmp_path / "report.html"
    done = agegate("report", "--store", store, "--out", out)
    assert done.returncode == 0, done.stderr
    return out


def _requests(events: list[dict[str, Any]]) -> list[str]:
    return [
        event["params"]["request"]["url"]
        for event in events
        if event.get("method") == "Network.requestWillBeSent"
    ]


def _open_logging(chrome: Browser, url: str) -> list[dict[str, Any]]:
    """Open `url` and return every event until it has loaded (the client's
    own `goto` drops them)."""
    chrome._events.clear()
    chrome.call("Page.navigate", session=chrome.session, url=url)
    events = list(chrome._events)
    while not any(e.get("method") == "Page.loadEventFired" for e in events):
        events.append(chrome._read(30))
    chrome._events.clear()
    return events


def test_the_report_renders_and_asks_nothing_of_the_network(
    tmp_path: Path,
    browser: Browser,  # noqa: F811 - the fixture imported above
    listener: tuple[str, list[str]],
) -> None:
    base, seen = listener
    page = _page(tmp_path)
    browser.call("Network.enable", session=browser.session)
    events = _open_logging(browser, page.as_uri())
    assert _requests(events) == [page.as_uri()]
    failed = [e for e in events if e.get("method") == "Network.loadingFailed"]
    assert failed == []

    charts = browser.run(
        "[...document.querySelectorAll('.chart svg')]"
        ".map(s => Math.round(s.getBoundingClientRect().width))"
    )
    assert len(charts) == 5
    assert all(width > 300 for width in charts)
    assert browser.run(
        "document.querySelector('#chain-status').textContent"
    ).startswith("The chain of 3 receipt(s) is intact")
    text = browser.run("document.body.innerText")
    assert all(account not in text for account in IDS)
    assert len(FLAGS) == int(
        browser.run("document.querySelector('.card .big').textContent")
    )

    # What someone adds to the page later is refused by its policy too.
    browser._events.clear()
    outcome = browser.run(
        f"document.body.insertAdjacentHTML('beforeend', '<img src=\"{base}/i.png\">');"
        f"fetch('{base}/f').then(() => 'sent', () => 'refused')"
    )
    assert outcome == "refused"
    # The image loads on its own time: give it a moment to try.
    browser.run("new Promise(done => setTimeout(done, 500))")
    assert seen == []

    _screenshot_is_a_drawn_page(browser)


def _screenshot_is_a_drawn_page(chrome: Browser) -> None:
    from PIL import Image

    height = int(chrome.run("document.documentElement.scrollHeight"))
    chrome.call(
        "Emulation.setDeviceMetricsOverride",
        session=chrome.session,
        width=1000,
        height=height,
        deviceScaleFactor=1,
        mobile=False,
    )
    shot = chrome.screenshot("removal-report")
    image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    assert image.size == (1000, height)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None
    assert len(colours) > 50, "the page looks blank"
    counts = {colour: count for count, colour in colours}
    # The bars are drawn: in progress, needing a person, done, on hold.
    for bar in (
        (0x24, 0x57, 0xA6),
        (0xB3, 0x26, 0x1E),
        (0x1A, 0x7F, 0x37),
        (0x9A, 0x67, 0x00),
    ):
        assert counts.get(bar, 0) > 500, bar


def test_every_status_is_in_the_table_the_browser_shows(
    tmp_path: Path,
    browser: Browser,  # noqa: F811 - the fixture imported above
) -> None:
    store = tmp_path / "one-each.sqlite"
    with SqliteFlagStore(store) as flags:
        flags.add_many(Flag(f"a{i}", ("MINOR_NOW",), "remove") for i in range(3))
    out = tmp_path / "one-each.html"
    assert agegate("report", "--store", store, "--out", out).returncode == 0
    browser.goto(out.as_uri())
    rows = browser.run(
        "[...document.querySelectorAll('#by-status tbody tr')]"
        ".map(r => [r.cells[0].textContent, r.cells[1].textContent])"
    )
    assert rows == [[s, "3" if s == "open" else "0"] for s in STATUSES]
