"""Throughput of AgeGateMiddleware, as ratios to baselines measured in the same run.

* gated route: the app with the middleware, against the same app doing the
  check in its handler instead (request.json() or request.form(), then
  screen()), for a JSON body and for an urlencoded form;
* pass-through route: the app with the middleware, against the bare app;
  beside it, an empty middleware (`await self.app(...)` and nothing else)
  against the bare app: what any pure ASGI layer costs, the ceiling of the
  pass-through ratio.

Requests are in-process ASGI calls (no sockets), which are less noisy than a
server. Run: python benchmarks/bench_middleware.py [--seconds 0.5] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agegate import AgeGateMiddleware, load_rules, screen
from agegate.age import live_today

SECRET = "benchmark-secret-0123456789abcdef"
RULES = load_rules()
today = live_today()
BODY = json.dumps(
    {
        "birthdate": today.replace(year=today.year - 30, day=1).isoformat(),
        "country": "CA",
        "subdivision": "BC",
        "phone": "+1 604 555 0100",
        "email": "someone@example.org",
        "name": "Someone",
    }
).encode()
FORM = urlencode(json.loads(BODY)).encode()
JSON_TYPE = b"application/json"
FORM_TYPE = b"application/x-www-form-urlencoded"


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _record(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type") == FORM_TYPE.decode():
        return dict(await request.form())
    return dict(await request.json())


async def _signup_gated(request: Request) -> Response:
    await _record(request)
    return JSONResponse({"created": True})


async def _signup_checking(request: Request) -> Response:
    decision = screen(await _record(request), rules=RULES)
    if not decision.allowed:
        return JSONResponse({"refused": True}, status_code=403)
    return JSONResponse({"created": True})


class _Empty:
    """A middleware that only hands each request on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def build(
    handler: Callable[[Request], Awaitable[Response]], gate: bool, empty: bool = False
) -> Starlette:
    app = Starlette(
        routes=[
            Route("/signup", handler, methods=["POST"]),
            Route("/health", _health),
        ]
    )
    if empty:
        app.add_middleware(_Empty)
    if gate:
        app.add_middleware(
            AgeGateMiddleware, paths=["/signup"], secret=SECRET, rules=RULES
        )
    return app


def _scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"bench")]
    if body:
        headers += [
            (b"content-type", FORM_TYPE if body == FORM else JSON_TYPE),
            (b"content-length", str(len(body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def _one(app: Any, method: str, path: str, body: bytes) -> int:
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # pragma: no cover - nobody waits for it
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(method, path, body), receive, send)
    return status


Case = tuple[Any, str, str, bytes]
BATCH = 50


async def _batch(case: Case) -> float:
    """Seconds taken by BATCH requests of `case`."""
    app, method, path, body = case
    start = time.perf_counter()
    for _ in range(BATCH):
        await _one(app, method, path, body)
    return time.perf_counter() - start


async def _pair(gate: Case, baseline: Case, seconds: float) -> tuple[float, float]:
    """Rates of two cases measured in alternating batches of BATCH requests,
    so that a busy neighbour slows both alike."""
    for app, method, path, body in (gate, baseline):
        for _ in range(50):  # warm up: builds the middleware stack, fills caches
            if await _one(app, method, path, body) != 200:
                raise SystemExit(f"{method} {path}: unexpected status")
    spent = [0.0, 0.0]
    batches = 0
    while spent[0] + spent[1] < 2 * seconds:
        spent[0] += await _batch(gate)
        spent[1] += await _batch(baseline)
        batches += 1
    return batches * BATCH / spent[0], batches * BATCH / spent[1]


async def main(seconds: float, rounds: int) -> None:
    gated = build(_signup_gated, gate=True)
    in_handler = build(_signup_checking, gate=False)
    bare = build(_signup_gated, gate=False)
    empty = build(_signup_gated, gate=False, empty=True)
    pairs: dict[str, tuple[Case, Case]] = {
        "gated JSON: middleware / check in handler": (
            (gated, "POST", "/signup", BODY),
            (in_handler, "POST", "/signup", BODY),
        ),
        "gated form: middleware / check in handler": (
            (gated, "POST", "/signup", FORM),
            (in_handler, "POST", "/signup", FORM),
        ),
        "pass-through route: middleware / bare app": (
            (gated, "GET", "/health", b""),
            (bare, "GET", "/health", b""),
        ),
        "(ceiling) empty middleware / bare app": (
            (empty, "GET", "/health", b""),
            (bare, "GET", "/health", b""),
        ),
    }
    # Each round measures every pair; a ratio is taken within a round, and
    # the median ratio over the rounds is reported.
    found: dict[str, list[tuple[float, float]]] = {label: [] for label in pairs}
    for _ in range(rounds):
        for label, (gate, baseline) in pairs.items():
            found[label].append(await _pair(gate, baseline, seconds))
    for label, rates in found.items():
        ratio = statistics.median(top / bottom for top, bottom in rates)
        top = statistics.median(rate for rate, _ in rates)
        bottom = statistics.median(rate for _, rate in rates)
        print(f"{label:42s} = {ratio:.2f}  ({top:.0f} / {bottom:.0f} req/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=0.5, help="time per case and round"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds (median)")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds))
