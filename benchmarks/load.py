"""Load test of record: a gated app under uvicorn, driven over keep-alive sockets.

    python benchmarks/load.py                                  # 50,000 requests
    python benchmarks/load.py --requests 2000 --connections 8  # a quick check

Two servers run in child processes on free loopback ports: the app behind
AgeGateMiddleware, and the same app without the gate whose handler does the
check itself (parses the body, calls screen()). Both get the same bounded mix
of requests (adults with a phone number of every US and Canadian area code,
minors, invalid input, unreadable JSON, urlencoded forms, an ungated route),
in interleaved rounds so that a noisy neighbour slows both alike. Each request
has an expected status; anything else is a wrong status, and a failed
connection, a timeout or an unreadable response is an error.

The client writes HTTP/1.1 requests on raw asyncio streams and reads each
response by its Content-Length: an HTTP library would be the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import IO, Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
SECRET = "load-test-secret-0123456789abcdef"
TIMEOUT = 30.0

# -- the apps (built in the server process by uvicorn --factory) --------------


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _record(request: Request) -> dict[str, Any] | None:
    """The body as the app reads it; None when it is not a JSON object."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            record = json.loads(await request.body())
        except ValueError:
            return None
        return record if isinstance(record, dict) else None
    return dict(await request.form())


async def _signup(request: Request) -> Response:
    await _record(request)
    return JSONResponse({"created": True})


def _routes(signup: Any) -> list[Route]:
    return [
        Route("/signup", signup, methods=["POST"]),
        Route("/health", _health),
    ]


def bare_app() -> Starlette:
    """The signup app alone; it imports nothing of agegate."""
    return Starlette(routes=_routes(_signup))


def gated_app() -> Starlette:
    from agegate import AgeGateMiddleware

    app = bare_app()
    app.add_middleware(AgeGateMiddleware, paths=["/signup"], secret=SECRET)
    return app


def checking_app() -> Starlette:
    """No gate: the handler reads the body and calls screen() itself."""
    from agegate import Outcome, load_rules, screen

    rules = load_rules()
    statuses = {Outcome.ALLOW: 200, Outcome.BLOCK: 403}

    async def signup(request: Request) -> Response:
        record = await _record(request)
        if record is None:
            return JSONResponse({"error": "unreadable"}, status_code=400)
        decision = screen(record, rules=rules)
        status = statuses.get(decision.outcome, 422)
        return JSONResponse({"outcome": decision.outcome.value}, status_code=status)

    return Starlette(routes=_routes(signup))


# -- servers ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@attrs.frozen
class Server:
    port: int
    pid: int


@contextlib.contextmanager
def serve(factory: str) -> Iterator[Server]:
    """uvicorn serving `load:<factory>()` in a child process; one worker."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"load:{factory}",
        "--app-dir",
        str(HERE),
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--timeout-keep-alive",
        "120",
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stderr=log)
        try:
            _wait_until_up(process, port)
            yield Server(port, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)
            _show_log(factory, log)


def _show_log(factory: str, log: IO[bytes]) -> None:
    """The head of what the server wrote to stderr (its tracebacks), if any."""
    log.seek(0)
    lines = log.read().decode(errors="replace").splitlines()
    if lines:
        tracebacks = sum(line.startswith("Traceback") for line in lines)
        print(f"{factory}: {tracebacks} tracebacks on stderr; the first lines:")
        print("\n".join(lines[:20]), file=sys.stderr)


def _wait_until_up(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("uvicorn exited during startup")
        with (
            contextlib.suppress(OSError),
            socket.create_connection((HOST, port), timeout=1) as sock,
        ):
            sock.sendall(b"GET /health HTTP/1.1\r\nhost: load\r\n\r\n")
            if sock.recv(64).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not start")


# -- the requests --------------------------------------------------------------


@attrs.frozen
class Prepared:
    kind: str
    raw: bytes
    expected: int


def _post(kind: str, body: bytes, content_type: str, expected: int) -> Prepared:
    head = (
        f"POST /signup HTTP/1.1\r\nhost: load\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return Prepared(kind, head.encode() + body, expected)


def _json(kind: str, record: dict[str, str], expected: int) -> Prepared:
    return _post(kind, json.dumps(record).encode(), "application/json", expected)


def _form(kind: str, record: dict[str, str], expected: int) -> Prepared:
    body = urllib.parse.urlencode(record).encode()
    return _post(kind, body, "application/x-www-form-urlencoded", expected)


def _years_ago(today: date, years: int) -> str:
    return today.replace(year=today.year - years, day=1).isoformat()


def area_code_phones() -> list[str]:
    """One valid number of every US and Canadian area code."""
    from agegate.phone_data import example_numbers

    return sorted(example_numbers().values())


def signups(phones: Sequence[str], today: date) -> list[Prepared]:
    """An adult's JSON signup for each phone number."""
    # The declared country gives the shared non-geographic area codes
    # (toll-free, personal) a jurisdiction: without it they need more input.
    adult = _years_ago(today, 30)
    return [
        _json("adult", {"birthdate": adult, "country": "US", "phone": p}, 200)
        for p in phones
    ]


def mix(today: date) -> dict[str, list[Prepared]]:
    """Kind -> its requests; each kind's list is cycled through."""
    adult, minor = _years_ago(today, 30), _years_ago(today, 10)
    return {
        "adult": signups(area_code_phones(), today),
        "minor": [
            _json("minor", {"birthdate": minor, "country": c}, 403)
            for c in ("US", "CA", "GB", "JP", "DE")
        ],
        "invalid": [
            _json("invalid", {"birthdate": "31/31/2000"}, 422),
            _json("invalid", {"birthdate": adult, "phone": "+1 999"}, 422),
            _json("invalid", {"country": "FR"}, 422),
            _post("invalid", b'{"birthdate": ', "application/json", 400),
        ],
        "urlencoded": [
            _form("urlencoded", {"birthdate": adult, "country": "CA"}, 200),
            _form("urlencoded", {"birthdate": minor, "country": "US"}, 403),
        ],
        "ungated": [
            Prepared("ungated", b"GET /health HTTP/1.1\r\nhost: load\r\n\r\n", 200)
        ],
    }


# Four in ten requests are adults' signups, the rest spread over the others.
PATTERN = (
    "adult",
    "minor",
    "adult",
    "invalid",
    "urlencoded",
    "adult",
    "ungated",
    "urlencoded",
    "adult",
    "invalid",
)


def schedule(kinds: dict[str, list[Prepared]], count: int) -> list[Prepared]:
    """`count` requests in the fixed pattern, each kind cycling its list."""
    seen: Counter[str] = Counter()
    out = []
    for i in range(count):
        kind = PATTERN[i % len(PATTERN)]
        options = kinds[kind]
        out.append(options[seen[kind] % len(options)])
        seen[kind] += 1
    return out


# -- the client ---------------------------------------------------------------


@attrs.define
class Tally:
    """What one run against one server saw."""

    latencies: list[float] = attrs.Factory(list)
    errors: Counter[str] = attrs.Factory(Counter)
    wrong: Counter[str] = attrs.Factory(Counter)
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return len(self.latencies)


async def _status(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Reads one response; its status and whether the server keeps the line."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    start = lower.find(b"\r\ncontent-length:")
    if start < 0:
        raise ValueError("response without content-length")
    end = lower.index(b"\r\n", start + 2)
    await reader.readexactly(int(lower[start + 17 : end]))
    return status, b"\r\nconnection: close" not in lower


async def _connection(
    port: int, requests: Iterator[Prepared], tally: Tally, on_answer: Any
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for request in requests:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(TIMEOUT):
                    writer.write(request.raw)
                    status, keep = await _status(reader)
            except (
                OSError,
                ValueError,
                TimeoutError,
                asyncio.IncompleteReadError,
            ) as e:
                tally.errors[type(e).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            tally.latencies.append(time.perf_counter() - started)
            if status != request.expected:
                tally.wrong[f"{request.kind} {status}"] += 1
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
            on_answer()
    finally:
        writer.close()


async def drive(
    port: int,
    requests: Sequence[Prepared],
    connections: int,
    tally: Tally,
    on_answer: Any = lambda: None,
) -> None:
    """Sends `requests` over `connections` keep-alive connections; adds to tally."""
    shared = iter(requests)  # one iterator: each request is sent once
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, shared, tally, on_answer) for _ in range(connections))
    )
    tally.seconds += time.perf_counter() - started


def run(server: Server, requests: Sequence[Prepared], connections: int) -> Tally:
    """Sends all requests to one server; the tally."""
    tally = Tally()
    asyncio.run(drive(server.port, requests, connections, tally))
    return tally


# -- the load test ------------------------------------------------------------


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(name: str, tally: Tally) -> None:
    rate = tally.answered / tally.seconds if tally.seconds else 0.0
    ms = [v * 1000 for v in tally.latencies]
    print(
        f"{name:26s} {tally.answered:7d} answered {rate:8.0f} req/s"
        f"  p50 {_percentile(ms, 50):6.2f} ms  p99 {_percentile(ms, 99):6.2f} ms"
        f"  errors {sum(tally.errors.values())}  wrong {sum(tally.wrong.values())}"
    )
    for what, count in sorted((tally.errors + tally.wrong).items()):
        print(f"    {what}: {count}")


def rounds(requests: Sequence[Prepared], count: int) -> list[Sequence[Prepared]]:
    size = -(-len(requests) // count)
    return [requests[i : i + size] for i in range(0, len(requests), size)]


async def _load(
    gated: Server,
    checking: Server,
    requests: Sequence[Prepared],
    connections: int,
    round_count: int,
) -> tuple[Tally, Tally, float]:
    tallies = Tally(), Tally()
    tenth = max(1, len(requests) // 10)
    first_tenth_rss = [0.0]

    def watch() -> None:
        if tallies[0].answered == tenth:
            first_tenth_rss[0] = rss_mib(gated.pid)

    for part in rounds(requests, round_count):
        await drive(gated.port, part, connections, tallies[0], watch)
        await drive(checking.port, part, connections, tallies[1])
    return tallies[0], tallies[1], first_tenth_rss[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    args = parser.parse_args(argv)
    requests = schedule(mix(date.today()), args.requests)
    with serve("gated_app") as gated, serve("checking_app") as checking:
        start_rss = rss_mib(gated.pid)
        gated_tally, checking_tally, tenth_rss = asyncio.run(
            _load(gated, checking, requests, args.connections, args.rounds)
        )
        end_rss = rss_mib(gated.pid)
        checking_rss = rss_mib(checking.pid)
    print(
        f"{args.requests} requests per server over {args.connections} keep-alive"
        f" connections, {args.rounds} interleaved rounds"
    )
    report("gate (middleware)", gated_tally)
    report("check in handler", checking_tally)
    ratio = (gated_tally.answered / gated_tally.seconds) / (
        checking_tally.answered / checking_tally.seconds
    )
    print(f"throughput: middleware / check in handler = {ratio:.2f}")
    print(
        f"gated server RSS: {start_rss:.1f} MiB at start, {tenth_rss:.1f} MiB after"
        f" the first tenth, {end_rss:.1f} MiB at the end"
        f" (growth {end_rss - tenth_rss:+.1f} MiB);"
        f" check-in-handler server {checking_rss:.1f} MiB"
    )
    failed = gated_tally.errors or gated_tally.wrong or checking_tally.errors
    return 1 if failed or checking_tally.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
