"""The assurance routes under an outside attacker, over a real uvicorn: odd
queries, headers and bodies are a 4xx, never a 500; what a cross-site page
or a flood of begins can do is bounded."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.assurance_gate_support import make_app, make_policy
from tests.gate_support import uvicorn_server

JSON = {"Accept": "application/json"}
BEGIN = b'{"method": "k-id", "age": 18}'


@pytest.fixture(scope="module")
def gate() -> Iterator[str]:
    with uvicorn_server(make_app(make_policy(), [])) as base:
        yield base


@pytest.mark.parametrize("age", ["9" * 5000, "0" * 4400 + "18", "-1", "1e3", "١٨"])
def test_the_page_takes_any_age_in_its_query_without_a_500(gate: str, age: str) -> None:
    answer = httpx.get(f"{gate}/assurance/", params={"age": age})
    assert answer.status_code == 200
    assert 'id="needs-assurance"' in answer.text
    assert age not in answer.text


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        (
            [("content-type", "application/json"), ("content-type", "text/plain")],
            400,
            "HEADER_AMBIGUOUS",
        ),
        ([("content-type", "application/json; charset=utf-16")], 415, None),
        ([("content-type", "application/json; charset*=utf-8''x")], 415, None),
        (
            [("content-type", "application/json"), ("content-encoding", "gzip")],
            415,
            None,
        ),
        ([("content-type", "text/plain")], 415, "MEDIA_TYPE_UNSUPPORTED"),
        ([], 415, "MEDIA_TYPE_UNSUPPORTED"),
    ],
)
def test_begin_reads_a_body_only_one_way(
    gate: str, headers: list[tuple[str, str]], status: int, code: str | None
) -> None:
    for path in ("begin", "complete"):
        answer = httpx.post(
            f"{gate}/assurance/{path}", content=BEGIN, headers=[*headers, *JSON.items()]
        )
        assert answer.status_code == status, answer.text
        if code is not None:
            assert answer.json()["code"] == code


def test_begin_still_takes_plain_json_with_a_utf8_charset(gate: str) -> None:
    answer = httpx.post(
        f"{gate}/assurance/begin",
        content=BEGIN,
        headers={"content-type": "application/json; charset=UTF-8", **JSON},
    )
    assert answer.status_code == 201, answer.text
