"""The assurance routes under an outside attacker, over a real uvicorn: odd
queries, headers and bodies are a 4xx, never a 500; what a cross-site page
or a flood of begins can do is bounded."""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import socket
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agegate.apps.report import RateLimit
from agegate.apps.serve import serve
from agegate.apps.test_wallet import TestIssuer, TestWallet
from agegate.assurance import AssuranceError
from agegate.assurance.challenge import MemoryChallengeStore
from agegate.assurance.model import AssuranceReason
from agegate.assurance.status import StatusLists
from agegate.assurance.verifier import WalletVerifier
from tests.assurance_gate_support import (
    KID_SECRET,
    PERSONA_SECRET,
    VERIFF_SECRET,
    kid_callback,
    make_app,
    make_policy,
)
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


def _provider_token(base: str, policy: Any, headers: dict[str, str]) -> httpx.Response:
    begun = httpx.post(
        f"{base}/assurance/begin", json={"method": "k-id", "age": 18}, headers=JSON
    ).json()
    verification = f"kid-{begun['attempt'][-12:]}"
    policy.providers["k-id"].bind(begun["attempt"], verification)
    body, signed = kid_callback(verification)
    httpx.post(f"{base}/assurance/webhooks/k-id", content=body, headers=signed)
    return httpx.post(
        f"{base}/assurance/complete",
        json={"attempt": begun["attempt"]},
        headers={**JSON, **headers},
    )


def test_the_token_cookie_is_httponly_lax_and_secure_behind_https() -> None:
    policy = make_policy()
    with uvicorn_server(make_app(policy, [])) as base:
        plain = _provider_token(base, policy, {})
        # uvicorn takes the scheme from a proxy on loopback, as deployed.
        https = _provider_token(base, policy, {"X-Forwarded-Proto": "https"})
    for answer in (plain, https):
        assert answer.status_code == 200, answer.text
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/" in cookie
    assert "secure" not in plain.headers["set-cookie"].lower()
    assert "; secure" in https.headers["set-cookie"].lower()


def test_one_token_sent_many_ways_at_once_admits_one_signup() -> None:
    policy, seen = make_policy(), []
    with uvicorn_server(make_app(policy, seen)) as base:
        token = _provider_token(base, policy, {}).json()["token"]
        record = {"birthdate": "1980-01-01", "country": "GB", "email": "a@b.org"}
        ways = [
            {"agegate-assurance": token},
            {"Cookie": f"agegate_assurance={token}"},
            {"agegate-assurance": token, "Cookie": f"agegate_assurance={token}"},
        ] * 4

        def send(headers: dict[str, str]) -> int:
            return httpx.post(
                f"{base}/signup", json=record, headers={**JSON, **headers}
            ).status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            codes = list(pool.map(send, ways))
    assert sorted(codes) == [201] + [403] * 11
    assert sum(1 for s in seen if s["assurance"] is not None) == 1


def test_a_page_polling_a_slow_provider_is_not_rate_limited() -> None:
    """The page polls complete every 1.5 s while a provider checks (an
    identity document takes minutes): those polls are not attempts, and a
    person who waits is not refused at the 60th."""
    policy = make_policy()
    app = make_app(policy, [], rate_limit=RateLimit(60, 3600))
    with uvicorn_server(app) as base, httpx.Client(headers=JSON) as client:
        attempt = client.post(
            f"{base}/assurance/begin", json={"method": "k-id", "age": 18}
        ).json()["attempt"]
        polls = [
            client.post(f"{base}/assurance/complete", json={"attempt": attempt})
            for _ in range(100)
        ]
        assert {poll.status_code for poll in polls} == {202}
        verification = f"kid-{attempt[-12:]}"
        policy.providers["k-id"].bind(attempt, verification)
        body, signed = kid_callback(verification)
        client.post(f"{base}/assurance/webhooks/k-id", content=body, headers=signed)
        done = client.post(f"{base}/assurance/complete", json={"attempt": attempt})
        assert done.status_code == 200, done.text
        # Begins are still counted: 59 more, then 429.
        codes = [
            client.post(
                f"{base}/assurance/begin", json={"method": "k-id", "age": 18}
            ).status_code
            for _ in range(60)
        ]
    assert codes == [201] * 59 + [429]


def test_a_well_signed_callback_nested_too_deep_is_a_400(gate: str) -> None:
    """A provider's signature does not make its body readable: nesting past
    the parser's depth is BODY_MALFORMED, not a 500."""
    body = b"[" * 100_000 + b"]" * 100_000
    stamp = str(int(time.time()))
    mac = hmac.new(KID_SECRET.encode(), stamp.encode() + body, hashlib.sha256)
    answer = httpx.post(
        f"{gate}/assurance/webhooks/k-id",
        content=body,
        headers={
            "content-type": "application/json",
            "x-signature-timestamp": stamp,
            "x-signature-hmac-sha256": mac.hexdigest(),
        },
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "BODY_MALFORMED"


EVENT_KEYS = st.sampled_from(
    [
        "data",
        "id",
        "status",
        "age",
        "low",
        "high",
        "eventType",
        "method",
        "verification",
        "vendorData",
        "person",
        "dateOfBirth",
        "attemptId",
        "attributes",
        "name",
        "payload",
        "reference-id",
        "birthdate",
        "x",
    ]
)
EVENT_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from(
        ["PASS", "Verification.Result", "approved", "inquiry.approved", "1980-01-01"]
    )
    | st.text(max_size=12)
)
EVENTS = st.recursive(
    EVENT_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(EVENT_KEYS, inner, max_size=4)
    ),
    max_leaves=14,
)


def _signed(provider: str, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    if provider == "k-id":
        mac = hmac.new(KID_SECRET.encode(), stamp.encode() + body, hashlib.sha256)
        return {
            "x-signature-timestamp": stamp,
            "x-signature-hmac-sha256": mac.hexdigest(),
        }
    if provider == "persona":
        signed = stamp.encode() + b"." + body
        mac = hmac.new(PERSONA_SECRET.encode(), signed, hashlib.sha256)
        return {"persona-signature": f"t={stamp},v1={mac.hexdigest()}"}
    mac = hmac.new(VERIFF_SECRET.encode(), body, hashlib.sha256)
    return {"x-hmac-signature": mac.hexdigest()}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    provider=st.sampled_from(["k-id", "persona", "veriff"]),
    event=EVENTS,
    deep=st.integers(0, 3),
)
def test_any_well_signed_event_is_answered_below_500(
    gate: str, provider: str, event: Any, deep: int
) -> None:
    """A provider's signature vouches for who sent the event, not for its
    shape: whatever it holds, the webhook answers 200 or 400."""
    if deep:
        # Values nested as deep as the parser goes, where a reader turns
        # them into text.
        nested = "[" * (300 * deep) + "]" * (300 * deep)
        event = {"data": {"id": "@", "status": "PASS"}, "verification": {"id": "@"}}
        event = json.loads(json.dumps(event).replace('"@"', nested))
    body = json.dumps(event).encode()
    answer = httpx.post(
        f"{gate}/assurance/webhooks/{provider}",
        content=body,
        headers={"content-type": "application/json", **_signed(provider, body)},
    )
    assert answer.status_code in (200, 400), answer.text


def test_a_browsers_fetch_gets_the_token_as_a_cookie_only() -> None:
    """A script on the page (an injected one too) never holds the token: a
    browser's fetch (it sends Sec-Fetch-Site) gets it only as the HttpOnly
    cookie, which the next signup carries."""
    policy, seen = make_policy(), []
    with uvicorn_server(make_app(policy, seen)) as base:
        browser = {"Sec-Fetch-Site": "same-origin", "Origin": base}
        answer = _provider_token(base, policy, browser)
        assert answer.status_code == 200, answer.text
        assert "token" not in answer.json()
        assert answer.json()["status"] == "verified"
        cookie = answer.cookies["agegate_assurance"]
        assert cookie not in answer.text
        record = {"birthdate": "1980-01-01", "country": "GB", "email": "a@b.org"}
        signup = httpx.post(
            f"{base}/signup",
            json=record,
            headers={**JSON, **browser, "Cookie": f"agegate_assurance={cookie}"},
        )
        assert signup.status_code == 201, signup.text
        # An API client (no Sec-Fetch-Site) still gets it in the JSON.
        assert "token" in _provider_token(base, policy, {}).json()


def test_a_cross_site_page_or_a_get_consumes_no_attempt() -> None:
    """What another site's page can send (a form post, a no-cors fetch, a
    link) neither takes the proof waiting for an attempt nor sets a cookie:
    the person's own page still gets it afterwards."""
    policy = make_policy()
    with uvicorn_server(make_app(policy, [])) as base:
        begun = httpx.post(
            f"{base}/assurance/begin", json={"method": "k-id", "age": 18}
        ).json()
        verification = f"kid-{begun['attempt'][-12:]}"
        policy.providers["k-id"].bind(begun["attempt"], verification)
        body, signed = kid_callback(verification)
        httpx.post(f"{base}/assurance/webhooks/k-id", content=body, headers=signed)
        attempt = json.dumps({"attempt": begun["attempt"]})
        evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        tries = [
            httpx.post(f"{base}/assurance/complete", content=attempt, headers=h)
            for h in (
                {**evil, "Content-Type": "application/json"},
                {**evil, "Content-Type": "text/plain"},
                {"Origin": "null", "Content-Type": "application/json"},
                {"Content-Type": "text/plain"},
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
        ]
        tries.append(httpx.get(f"{base}/assurance/complete", params=begun))
        for answer in tries:
            assert answer.status_code in (403, 405, 415), answer.text
            assert "set-cookie" not in answer.headers
        mine = httpx.post(
            f"{base}/assurance/complete",
            json={"attempt": begun["attempt"]},
            headers={**JSON, "Origin": base, "Sec-Fetch-Site": "same-origin"},
        )
    assert mine.status_code == 200, mine.text
    assert "agegate_assurance=" in mine.headers["set-cookie"]


def test_a_trusted_issuers_list_with_an_absurd_ttl_is_read_not_a_crash() -> None:
    """A Status List Token is the issuer's, fetched over the network: its
    `ttl` may be any number. One past the calendar is capped, not an
    OverflowError; the credential's entry is still read."""
    issuer = TestIssuer.create("ttl")
    served: dict[str, str] = {}

    async def one(request: Request) -> Response:
        return Response(served[request.path_params["name"]])

    with serve(Starlette(routes=[Route("/{name}", one)]), access_log=False) as base:
        for name in ("ok", "revoked"):
            served[name] = issuer.status_list_token(f"{base}/{name}", [1], ttl=10**20)
        results = []
        for name, idx in (("ok", 0), ("revoked", 1)):
            verifier = WalletVerifier(
                issuer.trust_list(),
                origin="https://shop.example",
                status_lists=StatusLists(),
            )
            challenge = verifier.begin(18)
            wallet = TestWallet(issuer, status=(f"{base}/{name}", idx))
            response = wallet.present(
                list(challenge.requests),
                "https://shop.example",
                age=30,
                format="sd-jwt",
            )
            try:
                verifier.complete(
                    challenge.attempt, response, origin="https://shop.example"
                )
                results.append("passed")
            except AssuranceError as error:
                results.append(error.reason)
    assert results == ["passed", AssuranceReason.REVOKED]


def _raw(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(64).split(b"\r\n")[0]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"", b"201"),  # HTTP/1.0 without Host: no browser, nothing to compare
        (b"Origin: " + b"http://127.0.0.1" + b"\r\n", b"403"),  # no Host to match
        (b"Origin: null\r\n", b"403"),
        (b"Origin: \xff\xfe\r\n", b"403"),
        (b"Sec-Fetch-Site: \xe9\r\n", b"403"),
        (b"Content-Type: application/json\r\n", b"400"),  # two Content-Types
    ],
)
def test_begin_without_host_or_with_odd_bytes_is_never_a_500(
    gate: str, headers: bytes, status: bytes
) -> None:
    request = (
        b"POST /assurance/begin HTTP/1.0\r\nContent-Type: application/json\r\n"
        + headers
        + b"Content-Length: %d\r\n\r\n" % len(BEGIN)
        + BEGIN
    )
    assert _raw(gate, request).split(b" ")[1] == status
