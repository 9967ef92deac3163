"""The paths a gate lets through at its first test (the router's `passing`
set) are exactly the remembered paths no gated route matches, and a request
with a `root_path` never takes that shortcut."""

from __future__ import annotations

import asyncio
from typing import Any

from gate_support import ROUTE_PATHS
from hypothesis import given, settings
from hypothesis import strategies as st

from agegate import AgeGateMiddleware
from agegate.asgi.routes import Route, Router

_ROUTES = [
    Route.from_template("/signup", "signup"),
    Route.from_template("/accounts/{account_id}", "profile"),
]


@settings(max_examples=300, deadline=None)
@given(st.lists(ROUTE_PATHS, max_size=8))
def test_passing_paths_are_the_unmatched_ones(paths: list[str]) -> None:
    router = Router(_ROUTES)
    for path in paths + paths:
        router.match({"path": path, "root_path": ""})
        for known in router.passing:
            assert Router(_ROUTES).match({"path": known}) is None
    for path in paths:
        if Router(_ROUTES).match({"path": path}) is not None:
            assert path not in router.passing


def test_the_passing_set_is_bounded_with_the_memo() -> None:
    router = Router(_ROUTES)
    for number in range(2000):
        router.match({"path": f"/other/{number}"})
    assert len(router.passing) <= 256
    assert router.passing <= set(router._seen)


def _reached(requests: list[tuple[str, str]]) -> list[bool]:
    """Whether each POST without a body, (path, root_path), sent in turn
    through one gate, reached the app (False: the gate answered it)."""
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached[-1] = True

    gate = AgeGateMiddleware(app, paths=["/signup"], block_cookie=False)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    async def each() -> None:
        for path, root_path in requests:
            reached.append(False)
            scope = {
                "type": "http",
                "method": "POST",
                "path": path,
                "root_path": root_path,
                "headers": [],
                "query_string": b"",
            }
            await gate(scope, receive, send)

    asyncio.run(each())
    return reached


def test_a_remembered_path_under_a_root_path_is_matched_afresh() -> None:
    # "/api/signup" passes without a root path and is remembered as passing;
    # under the root path "/api" it is the signup route.
    requests = [("/api/signup", ""), ("/api/signup", ""), ("/api/signup", "/api")]
    assert _reached(requests) == [True, True, False]
    assert _reached([("/signup", ""), ("/signup", ""), ("/other", "")]) == [
        False,
        False,
        True,
    ]
