"""The gate's shortcuts answer as the long way does: headers indexed once,
routes remembered by path, a body read in one message or many."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from gate_support import ROUTE_PATHS
from hypothesis import given, settings
from hypothesis import strategies as st

from agegate.asgi.body import (
    _BOMS,
    HeaderIndex,
    Refused,
    _not_utf8,
    check_cookie_escapes,
    check_header_sizes,
    classify,
    header_values,
    read_body,
)
from agegate.asgi.routes import Route, Router

_NAMES = st.sampled_from(
    [b"content-type", b"Content-Type", b"cookie", b"COOKIE", b"host", b"x"]
)
_VALUES = st.sampled_from(
    [b"application/json", b"text/plain", b"a=1", b"\\" * 200, b"", b"x" * 40]
)
_HEADERS = st.lists(st.tuples(_NAMES, _VALUES), max_size=6)


def _outcome(check: Any, *args: Any) -> Any:
    try:
        return ("value", check(*args))
    except Refused as refused:
        return ("refused", refused.status, refused.code)


@settings(max_examples=300, deadline=None)
@given(_HEADERS)
def test_the_index_reads_headers_as_the_list(raw: list[tuple[bytes, bytes]]) -> None:
    index = HeaderIndex(raw)
    for name in (b"content-type", b"cookie", b"host", b"absent"):
        assert header_values(index, name) == header_values(raw, name)
    for check, args in (
        (check_header_sizes, (30,)),
        (check_cookie_escapes, ()),
        (classify, (b"{}",)),
    ):
        assert _outcome(check, index, *args) == _outcome(check, raw, *args)


@settings(max_examples=300, deadline=None)
@given(st.lists(ROUTE_PATHS, max_size=8))
def test_remembered_routes_match_as_fresh_ones(paths: list[str]) -> None:
    routes = [
        Route.from_template("/signup", "signup"),
        Route.from_template("/accounts/{account_id}", "profile"),
    ]
    remembering = Router(routes)
    for path in paths + paths:
        scope = {"path": path, "root_path": ""}
        assert remembering.match(scope) == Router(routes).match(scope)


def test_the_remembered_paths_are_bounded() -> None:
    router = Router([Route.from_template("/signup", "signup")])
    for number in range(2000):
        assert router.match({"path": f"/other/{number}"}) is None
    assert len(router._seen) <= 256
    assert router.match({"path": "/x" * 500}) is None
    assert "/x" * 500 not in router._seen


def _receiver(messages: list[dict[str, Any]]) -> Any:
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    return receive


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([{"type": "http.request", "body": b"abc"}], b"abc"),
        ([{"type": "http.request"}], b""),
        (
            [
                {"type": "http.request", "body": b"ab", "more_body": True},
                {"type": "other"},
                {"type": "http.request", "body": b"c"},
            ],
            b"abc",
        ),
        ([{"type": "http.request", "body": b"x" * 11}], "too large"),
        (
            [
                {"type": "http.request", "body": b"x" * 6, "more_body": True},
                {"type": "http.request", "body": b"x" * 6},
            ],
            "too large",
        ),
    ],
)
def test_a_body_in_one_message_or_many(
    messages: list[dict[str, Any]], expected: bytes | str
) -> None:
    try:
        body: bytes | str = asyncio.run(read_body(_receiver(messages), 10))
    except Refused as refused:
        body = "too large" if refused.status == 413 else str(refused.status)
    assert body == expected


def test_the_utf8_test_is_json_s_own() -> None:
    alphabet = [b"\x00", b"\x01", b"{", b"\xfe", b"\xff", b"\xef", b"\xbb", b"\xbf"]
    bodies = [b""]
    for _ in range(5):
        bodies += [body + byte for body in bodies[-(8**_) :] for byte in alphabet]
    for body in bodies:
        expected = json.detect_encoding(body) != "utf-8"
        assert (body.startswith(_BOMS) or _not_utf8(body)) == (
            body.startswith(_BOMS) or expected
        ), body
