"""The gate reads a plain urlencoded form once; on every body it answers
exactly as reading it with Starlette's parser and checking the standard
library's `parse_qsl` against it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from agegate.asgi.body import (
    Code,
    Limits,
    Refused,
    _read_urlencoded_twice,
    _unquote_plus,
    read_urlencoded,
)

GATED = frozenset({"birthdate", "age", "country"})
HEADERS = Headers(raw=[(b"content-type", b"application/x-www-form-urlencoded")])
_TOKENS = st.sampled_from(
    ["birthdate", "age", "country", "a", "=", "&", "+", "%", "%2B", "%26", "%3D",
     "%3d", "%2526", "%C3%A9", "%C3", "%A9", "%E2%82", "%F0%9F%98", "%e9", "%zz",
     "%2", ";", '"', "{", "}", "1", "2001-02-03", " ", "é"]
)  # fmt: skip


def _reference(
    headers: Headers, body: bytes, gated: frozenset[str], limits: Limits
) -> dict[str, Any]:
    """The full reading: a body JSON could read is ambiguous, else both
    parsers."""
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return _read_urlencoded_twice(headers, body, gated, limits)
    raise Refused(400, Code.BODY_AMBIGUOUS)


def _outcome(read: Any, body: bytes, limits: Limits) -> tuple[Any, ...]:
    try:
        record = read(HEADERS, body, GATED, limits)
    except Refused as refused:
        return ("refused", refused.status, refused.code, refused.fields)
    return ("record", list(record.items()))


@settings(max_examples=1500, deadline=None)
@given(st.lists(_TOKENS, max_size=14).map("".join), st.integers(1, 4))
def test_one_reading_agrees_with_two(text: str, max_fields: int) -> None:
    body = text.encode()
    limits = Limits(max_fields=max_fields)
    once = _outcome(read_urlencoded, body, limits)
    if body.isascii():
        assert once == _outcome(_reference, body, limits)
    else:
        assert once[:3] == ("refused", 400, "BODY_ENCODING")


def test_a_plain_form_is_read() -> None:
    body = b"birthdate=2001-02-03&name=A+B&phone=%2B1+604&country=CA"
    assert _outcome(read_urlencoded, body, Limits()) == (
        "record",
        [("birthdate", "2001-02-03"), ("name", "A B"), ("phone", "+1 604"),
         ("country", "CA")],
    )  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(_TOKENS.filter(str.isascii), max_size=14).map("".join))
def test_the_ascii_unquote_is_the_standard_library_s(text: str) -> None:
    assert _unquote_plus(text) == unquote_plus(text)


def test_escaped_separators_stay_in_their_name_or_value() -> None:
    body = b"birthdate=2001-02-03&a%3Db=c%26d%3de&country=CA&x=%C3&y=%A9"
    assert _outcome(read_urlencoded, body, Limits()) == (
        "record",
        [("birthdate", "2001-02-03"), ("a=b", "c&d=e"), ("country", "CA"),
         ("x", "\ufffd"), ("y", "\ufffd")],
    )  # fmt: skip


def test_a_repeated_gated_name_is_refused_and_another_keeps_its_last_value() -> None:
    refused = _outcome(read_urlencoded, b"age=30&a=1&age=12&a=2", Limits())
    assert refused == ("refused", 400, Code.FIELD_REPEATED, ("age",))
    kept = _outcome(read_urlencoded, b"a=1&age=30&a=%2B2", Limits())
    assert kept == ("record", [("a", "+2"), ("age", "30")])
