"""The assurance routes under an outside attacker, over a real uvicorn: odd
queries, headers and bodies are a 4xx, never a 500; what a cross-site page
or a flood of begins can do is bounded."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from agegate.apps.test_wallet import TestIssuer
from agegate.assurance.challenge import MemoryChallengeStore
from agegate.assurance.verifier import WalletVerifier
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


def test_begins_never_completed_cost_about_a_kilobyte_each() -> None:
    """A flood of wallet begins (many addresses, none completing) fills the
    challenge store to its cap: what each open challenge holds is bounded."""
    issuer = TestIssuer.create()
    store = MemoryChallengeStore(limit=100_000)
    verifier = WalletVerifier(
        issuer.trust_list(), origin="http://127.0.0.1", challenge_store=store
    )
    policy = make_policy(wallet=verifier)
    with uvicorn_server(make_app(policy, [])) as base, httpx.Client() as client:
        url = f"{base}/assurance/begin"
        client.post(url, json={"method": "wallet", "age": 18})
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(100):
                answer = client.post(url, json={"method": "wallet", "age": 18})
                assert answer.status_code == 201
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    assert len(store) == 101
    # The whole challenge is over 6 kB; the store keeps well under half.
    assert grown / 100 < 2500, grown / 100
