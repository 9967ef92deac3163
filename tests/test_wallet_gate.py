"""The wallet flow end to end over a real uvicorn: the demo with its TEST
wallet, whose proofs go through the real WalletVerifier. A GB signup with
only a birthdate needs a proof; a fresh mdoc or SD-JWT VC proof passes once;
a replayed proof, one for another origin, an under-age one, one from an
untrusted issuer and a token from another secret do not, each with its code.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from agegate.apps.demo import create_app
from agegate.apps.serve import free_port, serve
from agegate.apps.test_wallet import (
    TEST_DOCUMENT_NUMBER,
    TEST_PERSON_NAME,
    TestIssuer,
    TestWallet,
)
from agegate.assurance import Assurance, Level, Method
from agegate.assurance.token import issue_token
from agegate.assurance.trust import TrustList
from agegate.assurance.verifier import WalletVerifier
from agegate.qa.replay import run, table
from tests.assurance_gate_support import make_app, make_policy

WALLET_CATALOGUE = (
    Path(__file__).resolve().parent.parent
    / "agegate"
    / "qa"
    / "catalogue"
    / "test-wallet"
)

SECRET = "wallet-gate-test-secret-0123456789"
JSON = {"Accept": "application/json"}
GB_ADULT = {"birthdate": "1984-04-04", "country": "GB", "email": "w@example.org"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    data = tmp_path_factory.mktemp("wallet-demo")
    app = create_app(data, secret=SECRET, test_wallet_origin=origin)
    with serve(app, port=port, lifespan="on", http="h11", access_log=False) as base:
        assert base == origin
        yield base, data


def begin(base: str, age: int = 18) -> dict[str, Any]:
    answer = httpx.post(
        f"{base}/assurance/begin", json={"method": "wallet", "age": age}, headers=JSON
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def present(
    base: str, begun: dict[str, Any], *, age: int = 30, fmt: str = "mdoc", **kw: Any
) -> dict[str, Any]:
    body = {"requests": begun["requests"], "origin": kw.get("origin", base)}
    body |= {"age": age, "format": fmt, "revoked": kw.get("revoked", False)}
    answer = httpx.post(f"{base}/test-wallet/present", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def complete(
    base: str, attempt: str, response: Any, *, origin: str | None = "", **h: str
) -> httpx.Response:
    headers = {**JSON, "Origin": base if origin == "" else origin, **h}
    if origin is None:
        del headers["Origin"]
    return httpx.post(
        f"{base}/assurance/complete",
        json={"attempt": attempt, "response": response},
        headers=headers,
    )


def signup(base: str, token: str | None = None) -> httpx.Response:
    headers = dict(JSON)
    if token is not None:
        headers["agegate-assurance"] = token
    return httpx.post(f"{base}/api/signup", json=GB_ADULT, headers=headers)


def proven(base: str, *, age: int = 30, fmt: str = "mdoc") -> httpx.Response:
    begun = begin(base)
    return complete(base, begun["attempt"], present(base, begun, age=age, fmt=fmt))


def code(answer: httpx.Response) -> str:
    return str(answer.json()["code"])


def test_a_gb_signup_with_only_a_birthdate_needs_assurance(demo: Any) -> None:
    base, _ = demo
    answer = signup(base)
    assert answer.status_code == 403
    assert code(answer) == "NEEDS_ASSURANCE"
    assert answer.json()["methods"][0] == "wallet"


@pytest.mark.parametrize("fmt", ["mdoc", "sd-jwt"])
def test_a_fresh_wallet_proof_passes_once(demo: Any, fmt: str) -> None:
    base, _ = demo
    answer = proven(base, fmt=fmt)
    assert answer.status_code == 200, answer.text
    assert answer.json()["level"] == "HIGHLY_EFFECTIVE"
    assert answer.json()["over"] >= 18
    assert "HttpOnly" in answer.headers["set-cookie"]
    token = answer.json()["token"]
    assert signup(base, token).status_code == 201
    again = signup(base, token)
    assert again.status_code == 403
    assert code(again) == "NEEDS_ASSURANCE"


@pytest.mark.parametrize("fmt", ["mdoc", "sd-jwt"])
def test_the_same_proof_replayed_is_refused(demo: Any, fmt: str) -> None:
    base, _ = demo
    begun = begin(base)
    response = present(base, begun, fmt=fmt)
    assert complete(base, begun["attempt"], response).status_code == 200
    replayed = complete(base, begun["attempt"], response)
    assert (replayed.status_code, code(replayed)) == (409, "ASSURANCE_REPLAYED")
    # Offered to a new attempt, the proof carries the old nonce.
    other = complete(base, begin(base)["attempt"], response)
    assert (other.status_code, code(other)) == (422, "ASSURANCE_BINDING_INVALID")


# An mdoc's device signature covers a hash of the origin, so another one is
# a signature that does not verify; a KB-JWT names its audience outright.
@pytest.mark.parametrize(
    ("fmt", "reason"),
    [("mdoc", "ASSURANCE_BINDING_INVALID"), ("sd-jwt", "ASSURANCE_ORIGIN_MISMATCH")],
)
def test_a_proof_for_another_origin_is_refused(
    demo: Any, fmt: str, reason: str
) -> None:
    base, _ = demo
    begun = begin(base)
    response = present(base, begun, fmt=fmt, origin="https://elsewhere.example")
    answer = complete(base, begun["attempt"], response)
    assert (answer.status_code, code(answer)) == (422, reason)


def test_a_complete_from_another_origin_or_none_is_refused(demo: Any) -> None:
    base, _ = demo
    begun = begin(base)
    response = present(base, begun)
    foreign = complete(
        base, begun["attempt"], response, origin="https://elsewhere.example"
    )
    assert (foreign.status_code, code(foreign)) == (403, "CROSS_SITE_REFUSED")
    # Not a browser's request: the verifier sees no origin and refuses.
    bare = complete(base, begun["attempt"], response, origin=None)
    assert (bare.status_code, code(bare)) == (422, "ASSURANCE_ORIGIN_MISMATCH")


@pytest.mark.parametrize("fmt", ["mdoc", "sd-jwt"])
def test_an_under_age_proof_blocks_the_signup(demo: Any, fmt: str) -> None:
    base, _ = demo
    answer = proven(base, age=16, fmt=fmt)
    assert answer.status_code == 200, answer.text
    assert answer.json()["over"] is None
    assert answer.json()["under"] is not None
    blocked = signup(base, answer.json()["token"])
    assert blocked.status_code == 403
    # Blocked like a declared minor, with the same notice (no reason shown).
    assert blocked.json()["type"] == "urn:agegate:problem:underage"
    assert "agegate_block=" in blocked.headers.get("set-cookie", "")


@pytest.mark.parametrize("fmt", ["mdoc", "sd-jwt"])
def test_a_proof_from_an_untrusted_issuer_is_refused(demo: Any, fmt: str) -> None:
    base, _ = demo
    stranger = TestWallet(TestIssuer.create("not trusted here"))
    begun = begin(base)
    response = stranger.present(begun["requests"], base, age=30, format=fmt)
    answer = complete(base, begun["attempt"], response)
    assert (answer.status_code, code(answer)) == (422, "ASSURANCE_UNTRUSTED_ISSUER")


@pytest.mark.parametrize("fmt", ["mdoc", "sd-jwt"])
def test_a_revoked_credential_is_refused(demo: Any, fmt: str) -> None:
    # The demo's verifier fetches the TEST issuer's status list over HTTP.
    base, _ = demo
    begun = begin(base)
    answer = complete(
        base, begun["attempt"], present(base, begun, fmt=fmt, revoked=True)
    )
    assert (answer.status_code, code(answer)) == (422, "ASSURANCE_REVOKED")
    assert (
        httpx.get(f"{base}/test-wallet/status/{fmt}")
        .headers["content-type"]
        .startswith("application/statuslist+jwt")
    )
    assert httpx.get(f"{base}/test-wallet/status/cwt").status_code == 404


def test_a_token_from_another_secret_does_not_pass(demo: Any) -> None:
    base, _ = demo
    today = datetime.now(UTC).date()
    forged = Assurance(
        method=Method.WALLET_MDOC,
        level=Level.HIGHLY_EFFECTIVE,
        over=18,
        under=None,
        source="sha256:" + "0" * 64,
        verified_on=today,
        valid_until=today + timedelta(days=30),
        attempt="attempt-signed-with-another-secret",
    )
    token = issue_token(forged, b"another-operator-secret-0123456789", 600)
    answer = signup(base, token)
    assert (answer.status_code, code(answer)) == (403, "NEEDS_ASSURANCE")


def test_a_browser_sees_a_refusal_as_a_page_with_its_code(demo: Any) -> None:
    base, _ = demo
    begun = begin(base)
    response = present(base, begun, origin="https://elsewhere.example")
    answer = complete(base, begun["attempt"], response, Accept="text/html")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "ASSURANCE_BINDING_INVALID" in answer.text


@pytest.mark.parametrize(
    "response",
    [
        None,
        "not json",
        {"protocol": "openid4vp-v1-unsigned", "data": {"vp_token": {"mdoc0": ["!"]}}},
        {"protocol": "openid4vp-v1-unsigned", "data": {"vp_token": {"sd_jwt": ["a~"]}}},
        {"protocol": "org-iso-mdoc", "data": {"response": "AAAA"}},
        {"protocol": "other", "data": {}},
        [1, 2, 3],
    ],
)
def test_a_malformed_wallet_answer_is_a_4xx(demo: Any, response: Any) -> None:
    base, _ = demo
    answer = complete(base, begin(base)["attempt"], response)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["code"].startswith("ASSURANCE_")


def test_the_test_wallet_refuses_what_it_cannot_answer(demo: Any) -> None:
    base, _ = demo
    url = f"{base}/test-wallet/present"
    for body in ({"origin": base, "requests": "x"}, {"requests": []}, [1]):
        assert httpx.post(url, json=body).status_code in (400, 422)
    assert httpx.post(url, content=b"{").status_code == 400
    # A well-formed request with one node turned into something else, each
    # on a fresh copy.
    begun = begin(base)
    edits: list[Callable[[dict[str, Any]], None]] = [
        lambda q: q["credentials"][0].update(meta=[1]),
        lambda q: q["credentials"][0]["claims"][0].update(path=["age_over_xx"]),
        lambda q: q["credentials"][1]["claims"][0].update(path=["age_over_xx"]),
        lambda q: q.update(credentials=7),
    ]
    for edit in edits:
        requests = copy.deepcopy(begun["requests"])
        edit(requests[0]["data"]["dcql_query"])
        for fmt in ("mdoc", "sd-jwt"):
            body = {"requests": requests, "origin": base, "format": fmt}
            answer = httpx.post(url, json=body)
            assert answer.status_code in (200, 422), answer.text
    unread = copy.deepcopy(begun["requests"])
    unread[0]["data"]["dcql_query"]["credentials"][0]["meta"] = [1]
    answer = httpx.post(url, json={"requests": unread, "origin": base})
    assert answer.status_code == 422


def _decoded(response: dict[str, Any]) -> bytes:
    """Every base64url part of a presentation, decoded."""
    ((presented,),) = response["data"]["vp_token"].values()
    parts = presented.replace("~", ".").split(".")
    return b"".join(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in parts)


def test_no_identity_reaches_logs_tokens_answers_or_stores(
    demo: Any, caplog: pytest.LogCaptureFixture
) -> None:
    base, data = demo
    caplog.set_level(logging.DEBUG)
    seen = []
    for fmt in ("mdoc", "sd-jwt"):
        begun = begin(base)
        response = present(base, begun, fmt=fmt)
        # The TEST wallet over-shares: the name is in what it sends.
        assert TEST_PERSON_NAME.encode() in _decoded(response)
        answer = complete(base, begun["attempt"], response)
        token = answer.json()["token"]
        created = signup(base, token)
        assert created.status_code == 201
        payload = base64.urlsafe_b64decode(token.split(".")[1] + "==")
        seen += [answer.text, payload.decode(), created.text]
    stores = b"".join(p.read_bytes() for p in sorted(data.iterdir()) if p.is_file())
    for secret in (TEST_PERSON_NAME, TEST_DOCUMENT_NUMBER):
        assert secret not in caplog.text
        assert all(secret not in text for text in seen)
        assert secret.encode() not in stores


def test_the_test_wallet_catalogue_passes_twice(demo: Any) -> None:
    base, _ = demo
    for _ in range(2):
        results = run([WALLET_CATALOGUE], base)
        assert all(r.passed for r in results), table(results)
    assert {r.status for r in results} == {200, 201, 403, 409, 422}


def test_the_demo_has_no_wallet_without_its_option(tmp_path: Path) -> None:
    app = create_app(tmp_path, secret=SECRET)
    with serve(app, lifespan="on", access_log=False) as base:
        assert httpx.get(f"{base}/test-wallet/wallet.js").status_code == 404
        assert "wallet" not in signup(base).json()["methods"]
        page = httpx.get(f"{base}/assurance/").text
        assert "test-wallet" not in page


def test_a_default_trust_list_refuses_the_test_anchors() -> None:
    issuer = TestIssuer.create()
    with pytest.raises(ValueError, match="allow_test_anchors"):
        TrustList.of(iacas=[issuer.iaca.pem])
    with pytest.raises(ValueError, match="allow_test_anchors"):
        TrustList.of(issuers=[issuer.issuer_ca.pem])


@pytest.mark.slow
def test_agegate_demo_with_its_test_wallet_passes_the_wallet_catalogue(
    tmp_path: Path,
) -> None:
    """The README's commands: `agegate demo --test-wallet`, then `agegate qa`
    on the test-wallet catalogue."""
    command = [sys.executable, "-m", "agegate.cli"]
    demo = subprocess.Popen(
        [*command, "demo", "--port", "0", "--data-dir", str(tmp_path), "--test-wallet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    banner = ""
    try:
        assert demo.stdout is not None
        while "Never for production" not in banner:
            line = demo.stdout.readline()
            assert line, demo.stderr.read() if demo.stderr else ""
            banner += line
        assert "TEST WALLET ON" in banner
        found = re.search(r"http://127\.0\.0\.1:[0-9]+", banner)
        assert found is not None
        base = found.group(0)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + "/test-wallet/wallet.js").status_code == 200:
                    break
            assert demo.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.1)
        qa = subprocess.run(
            [*command, "qa", str(WALLET_CATALOGUE), "--base-url", base],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert qa.returncode == 0, qa.stdout + qa.stderr
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.communicate()


def test_no_identity_reaches_the_decision_or_the_assurance_the_app_sees(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A gated app of its own that keeps what the gate hands it per signup.
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    issuer = TestIssuer.create("decisions")
    wallet = TestWallet(issuer)
    verifier = WalletVerifier(issuer.trust_list(), origin=origin)
    seen: list[dict[str, Any]] = []
    app = make_app(make_policy(wallet=verifier), seen)
    caplog.set_level(logging.DEBUG)
    with serve(app, port=port, access_log=False) as base:
        for fmt in ("mdoc", "sd-jwt"):
            begun = begin(base)
            response = wallet.present(begun["requests"], base, age=30, format=fmt)
            token = complete(base, begun["attempt"], response).json()["token"]
            answer = httpx.post(
                f"{base}/signup",
                json=GB_ADULT,
                headers={**JSON, "agegate-assurance": token},
            )
            assert answer.status_code == 201, answer.text
    assert [str(s["assurance"].method) for s in seen] == [
        "wallet_mdoc",
        "wallet_sd_jwt",
    ]
    kept = repr(seen) + repr([attrs.asdict(s["decision"]) for s in seen])
    for secret in (TEST_PERSON_NAME, TEST_DOCUMENT_NUMBER):
        assert secret not in kept
        assert secret not in caplog.text
