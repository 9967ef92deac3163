"""`agegate qa` against a hostile server: answers that try to inject headers
into the next request, bodies too large to keep, answers dripped a byte at
a time. The server is a raw socket server on a free loopback port, in a
thread; the replay is the real `agegate qa` in a child process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_support import ROOT

MiB = 1 << 20

Handler = Callable[[socket.socket], None]


def _answer(status: str, headers: list[str], body: bytes) -> bytes:
    head = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _json(value: object, *headers: str) -> Handler:
    body = json.dumps(value).encode()

    def handle(conn: socket.socket) -> None:
        conn.sendall(
            _answer("200 OK", ["Content-Type: application/json", *headers], body)
        )

    return handle


def _raw(data: bytes) -> Handler:
    def handle(conn: socket.socket) -> None:
        conn.sendall(data)

    return handle


class HostileServer:
    """Answers each path with its handler; keeps every request's raw bytes."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                self.requests.append(data)
                path = data.split(b" ", 2)[1].decode("latin-1").split("?")[0]
                self.routes.get(path, _raw(_answer("404 Not Found", [], b"")))(conn)
            except OSError:
                return  # the client cut us off, as it should

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def server() -> Iterator[HostileServer]:
    hostile = HostileServer()
    try:
        yield hostile
    finally:
        hostile.close()


def _catalogue(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hostile.http"
    path.write_text(text)
    return path


# Runs `python -m agegate.cli ARGS` and, at exit, writes the process's peak
# RSS to a file. VmHWM is the peak of this program's own memory: it starts
# again at exec, where getrusage's ru_maxrss would still count the pages of
# the test process the child was forked from.
_MEASURED = """\
import atexit, runpy, sys
def _peak(path):
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(peak)
atexit.register(_peak, sys.argv[1])
sys.argv = ["agegate", *sys.argv[2:]]
runpy.run_module("agegate.cli", run_name="__main__")
"""


def _qa(*args: str) -> tuple[subprocess.CompletedProcess[str], int, float]:
    """The real `agegate qa ARGS`, its result, its peak RSS in KiB and how
    long it ran."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "peak"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", _MEASURED, str(peak_file), "qa", *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            timeout=120,
            check=False,
        )
        elapsed = time.monotonic() - started
        peak = int(peak_file.read_text()) if peak_file.exists() else 0
    return done, peak, elapsed


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stderr


# -- a captured value that would write headers of its own -------------------------

TWO_STEPS = """\
# @name login
# @expect status 200
GET {{baseUrl}}/login

###
# @expect status 200
GET {{baseUrl}}/next
%s
"""


@pytest.mark.parametrize(
    ("answer", "header"),
    [
        (
            {"token": "t\r\nX-Injected: 1"},
            "Authorization: Bearer {{login.response.body.$.token}}",
        ),
        (
            {"token": "t\nX-Injected: 1"},
            "Authorization: Bearer {{login.response.body.$.token}}",
        ),
        ({"token": "t\rX-Injected: 1"}, "X-Token: {{login.response.body.$.token}}"),
        ({"token": "t\x00"}, "X-Token: {{login.response.body.$.token}}"),
        ({"token": "t\x7f"}, "X-Token: {{login.response.body.$.token}}"),
        ({"token": "t\x85"}, "X-Token: {{login.response.body.$.token}}"),
        ({"token": "t\u20ac"}, "X-Token: {{login.response.body.$.token}}"),
        ({"token": "t\u2028"}, "X-Token: {{login.response.body.$.token}}"),
        ({"list": ["a", "b\r\n"]}, "X-Token: {{login.response.body.$.list.1}}"),
    ],
)
def test_a_captured_value_with_cr_lf_is_refused_exit_2(
    server: HostileServer, tmp_path: Path, answer: object, header: str
) -> None:
    server.routes["/login"] = _json(answer)
    server.routes["/next"] = _json({})
    path = _catalogue(tmp_path, TWO_STEPS % header)
    done, _, _ = _qa(str(path), "--base-url", server.url)
    _no_traceback(done)
    assert done.returncode == 2, (done.stdout, done.stderr)
    # The file and the line of the request that would have carried it.
    assert f"{path}:8:" in done.stderr
    assert "not allowed in a header" in done.stderr
    assert not any(b"X-Injected" in r for r in server.requests)
    assert len(server.requests) == 1  # the second request was never sent


def test_a_folded_response_header_captured_is_refused(
    server: HostileServer, tmp_path: Path
) -> None:
    # An obsolete line folding keeps CR LF inside the header's value.
    server.routes["/login"] = _raw(
        b"HTTP/1.1 200 OK\r\nX-Session: abc\r\n X-Injected: 1\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    server.routes["/next"] = _json({})
    path = _catalogue(
        tmp_path, TWO_STEPS % "X-Session: {{login.response.headers.X-Session}}"
    )
    done, _, _ = _qa(str(path), "--base-url", server.url)
    _no_traceback(done)
    assert done.returncode == 2, done.stderr
    assert f"{path}:8:" in done.stderr
    assert len(server.requests) == 1


def test_a_captured_value_in_the_url_fails_that_request_unsent(
    server: HostileServer, tmp_path: Path
) -> None:
    server.routes["/login"] = _json({"next": "/next HTTP/1.1\r\nX-Injected: 1\r\n\r\n"})
    server.routes["/next"] = _json({})
    text = TWO_STEPS.replace(
        "GET {{baseUrl}}/next", "GET {{baseUrl}}{{login.response.body.$.next}}"
    )
    done, _, _ = _qa(str(_catalogue(tmp_path, text % "")), "--base-url", server.url)
    _no_traceback(done)
    assert done.returncode == 1, done.stderr
    assert "not allowed in a URL" in done.stdout
    assert len(server.requests) == 1


def test_a_lone_surrogate_captured_into_a_body_fails_unsent(
    server: HostileServer, tmp_path: Path
) -> None:
    server.routes["/login"] = _raw(
        _answer("200 OK", ["Content-Type: application/json"], b'{"token": "\\ud800"}')
    )
    text = (
        "# @name login\n# @expect status 200\nGET {{baseUrl}}/login\n\n###\n"
        "# @expect status 200\nPOST {{baseUrl}}/next\nContent-Type: text/plain\n\n"
        "{{login.response.body.$.token}}\n"
    )
    done, _, _ = _qa(str(_catalogue(tmp_path, text)), "--base-url", server.url)
    _no_traceback(done)
    assert done.returncode == 1
    assert "not valid Unicode" in done.stdout
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "cookie",
    [
        'sid="a\\015\\012X-Injected: 1"',
        'sid="a\\012X-Injected: 1"',
        "sid=a\x0bb",
    ],
)
def test_a_cookie_that_unquotes_to_cr_lf_is_not_sent_back(
    server: HostileServer, tmp_path: Path, cookie: str
) -> None:
    server.routes["/login"] = _raw(_answer("200 OK", [f"Set-Cookie: {cookie}"], b"{}"))
    server.routes["/next"] = _json({})
    done, _, _ = _qa(
        str(_catalogue(tmp_path, TWO_STEPS % "")), "--base-url", server.url
    )
    _no_traceback(done)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert len(server.requests) == 2
    assert b"X-Injected" not in server.requests[1]
    assert b"\x0b" not in server.requests[1]


def test_a_plain_cookie_is_still_sent_back_as_it_came(
    server: HostileServer, tmp_path: Path
) -> None:
    server.routes["/login"] = _raw(
        _answer("200 OK", ['Set-Cookie: sid="abc"', "Set-Cookie: t=1"], b"{}")
    )
    server.routes["/next"] = _json({})
    done, _, _ = _qa(
        str(_catalogue(tmp_path, TWO_STEPS % "")), "--base-url", server.url
    )
    assert done.returncode == 0, done.stdout
    assert b'Cookie: sid="abc"; t=1\r\n' in server.requests[1]


# -- bodies too large to keep ---------------------------------------------------------

ONE = "# @expect status 200\nGET {{baseUrl}}/big\n"
# What the replaying process may use at its peak, whatever the body's size:
# the interpreter and agegate's modules take about 30 MiB.
RSS_BOUND_KIB = 100 * 1024


def _sized(size: int) -> Handler:
    def handle(conn: socket.socket) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        block = b"x" * MiB
        for _ in range(size // MiB):
            conn.sendall(block)

    return handle


def _endless(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    block = b"y" * MiB
    while True:
        conn.sendall(block)


def _endless_chunks(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"100000\r\n" + b"z" * MiB + b"\r\n"
    while True:
        conn.sendall(chunk)


@pytest.mark.parametrize(
    "handler",
    [_sized(256 * MiB), _endless, _endless_chunks],
    ids=["256 MiB", "endless", "endless chunks"],
)
def test_a_huge_body_is_cut_at_the_limit_and_reported(
    server: HostileServer, tmp_path: Path, handler: Handler
) -> None:
    server.routes["/big"] = handler
    done, peak_kib, elapsed = _qa(
        str(_catalogue(tmp_path, ONE)), "--base-url", server.url
    )
    _no_traceback(done)
    assert done.returncode == 1, done.stderr
    assert "body over 1 MiB: only its start was read" in done.stdout
    assert 0 < peak_kib < RSS_BOUND_KIB, f"peak RSS {peak_kib} KiB"
    assert elapsed < 14


def test_a_body_at_the_limit_is_kept_whole(
    server: HostileServer, tmp_path: Path
) -> None:
    server.routes["/big"] = _sized(MiB)
    text = "# @expect status 200\n# @expect body xxxx\nGET {{baseUrl}}/big\n"
    done, _, _ = _qa(str(_catalogue(tmp_path, text)), "--base-url", server.url)
    assert done.returncode == 0, done.stdout


# -- answers dripped a byte at a time -------------------------------------------------


def _drip(prefix: bytes) -> Callable[[HostileServer], Handler]:
    def make(server: HostileServer) -> Handler:
        def handle(conn: socket.socket) -> None:
            conn.sendall(prefix)
            while not server.stop.wait(0.5):
                conn.sendall(b"a")

        return handle

    return make


@pytest.mark.parametrize(
    "make",
    [
        _drip(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
        _drip(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
        _drip(b"HTTP/1.1 200 OK\r\nX-Slow: "),
        _drip(b"HTTP/1.1 2"),
        _drip(b""),
    ],
    ids=["body", "body without a length", "headers", "status line", "silence"],
)
def test_one_deadline_covers_the_whole_request(
    server: HostileServer, tmp_path: Path, make: Callable[[HostileServer], Handler]
) -> None:
    server.routes["/big"] = make(server)
    done, _, elapsed = _qa(
        str(_catalogue(tmp_path, ONE)), "--base-url", server.url, "--timeout", "2"
    )
    _no_traceback(done)
    assert done.returncode == 1, done.stderr
    assert "no response (no whole answer within 2 s)" in done.stdout
    # Each read gets a byte well within its own timeout: only an overall
    # deadline ends this.
    assert elapsed < 8, elapsed


def test_the_next_request_runs_after_a_request_timed_out(
    server: HostileServer, tmp_path: Path
) -> None:
    server.routes["/big"] = _drip(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n")(
        server
    )
    server.routes["/next"] = _json({})
    text = ONE + "\n###\n# @expect status 200\nGET {{baseUrl}}/next\n"
    done, _, _ = _qa(
        str(_catalogue(tmp_path, text)), "--base-url", server.url, "--timeout", "1"
    )
    assert done.returncode == 1
    assert "1 passed, 1 failed" in done.stdout


@pytest.mark.parametrize("given", ["0", "-1", "nan", "inf", "soon", "4000"])
def test_a_bad_timeout_is_a_usage_error(given: str, server: HostileServer) -> None:
    done, _, _ = _qa("--base-url", server.url, "--timeout", given)
    _no_traceback(done)
    assert done.returncode == 2
    assert "--timeout" in done.stderr
