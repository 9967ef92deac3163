"""Throughput of AgeGateMiddleware, as ratios to baselines measured in the same run.

* gated route: the app with the middleware, against the same app doing the
  check in its handler instead (request.json() or request.form(), then
  screen()), for a JSON body and for an urlencoded form;
* pass-through route: the app with the middleware, against the bare app.

Requests are in-process ASGI calls (no sockets), which are less noisy than a
server. Run: python benchmarks/bench_middleware.py [--seconds 0.5] [--rounds 3]
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


def build(handler: Callable[[Request], Awaitable[Response]], gate: bool) -> Starlette:
    app = Starlette(
        routes=[
            Route("/signup", handler, methods=["POST"]),
            Route("/health", _health),
        ]
    )
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


async def _rate(
    app: Any, method: str, path: str, body: bytes, seconds: float, expect: int
) -> float:
    for _ in range(50):  # warm up: builds the middleware stack, fills caches
        if await _one(app, method, path, body) != expect:
            raise SystemExit(f"{method} {path}: unexpected status")
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            await _one(app, method, path, body)
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


async def main(seconds: float, rounds: int) -> None:
    gated = build(_signup_gated, gate=True)
    in_handler = build(_signup_checking, gate=False)
    bare = build(_signup_gated, gate=False)
    cases = {
        "gated JSON (middleware)": (gated, "POST", "/signup", BODY),
        "gated JSON (check in handler)": (in_handler, "POST", "/signup", BODY),
        "gated form (middleware)": (gated, "POST", "/signup", FORM),
        "gated form (check in handler)": (in_handler, "POST", "/signup", FORM),
        "pass-through route (middleware)": (gated, "GET", "/health", b""),
        "pass-through route (bare app)": (bare, "GET", "/health", b""),
    }
    # Rounds interleave the cases so that a noisy neighbour hurts all alike;
    # the median of each case is reported.
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (app, method, path, body) in cases.items():
            rates[name].append(await _rate(app, method, path, body, seconds, 200))
    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in median.items():
        print(f"{name:34s} {rate:10.0f} req/s")
    # Each ratio is taken within a round (both sides measured moments apart),
    # then the median over the rounds is reported.
    pairs = {
        "gated JSON: middleware / check in handler": "gated JSON",
        "gated form: middleware / check in handler": "gated form",
        "pass-through route: middleware / bare app": "pass-through route",
    }
    for label, kind in pairs.items():
        baseline = "bare app" if kind.startswith("pass") else "check in handler"
        ratio = _ratio(rates[f"{kind} (middleware)"], rates[f"{kind} ({baseline})"])
        print(f"{label:42s} = {ratio:.2f}")


def _ratio(tops: list[float], bottoms: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(tops, bottoms, strict=True))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=0.5, help="time per measurement"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median)")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds))
