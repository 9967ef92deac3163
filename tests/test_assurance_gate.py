"""The gate asks for the level a jurisdiction needs, over a real uvicorn:
NEEDS_ASSURANCE without a proof, a pass with a fresh provider proof, and
every replayed, foreign, expired, tampered or insufficient token refused."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agegate.assurance import Assurance, Level, Method
from agegate.assurance.token import issue_token, read_token
from tests.assurance_gate_support import (
    KID_OLD_SECRET,
    SECRET,
    kid_callback,
    make_app,
    make_policy,
    persona_callback,
    veriff_callback,
)
from tests.gate_support import ADULT, AGE_17, uvicorn_server

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def gate() -> Iterator[tuple[str, Any, list[dict[str, Any]]]]:
    policy = make_policy()
    seen: list[dict[str, Any]] = []
    with uvicorn_server(make_app(policy, seen)) as base:
        yield base, policy, seen


def gb(birthdate: str = ADULT) -> dict[str, str]:
    return {"birthdate": birthdate, "country": "GB", "email": "a@example.org"}


def begin(base: str, method: str, age: int = 18) -> dict[str, Any]:
    answer = httpx.post(
        f"{base}/assurance/begin", json={"method": method, "age": age}, headers=JSON
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def complete(base: str, attempt: str) -> httpx.Response:
    return httpx.post(
        f"{base}/assurance/complete", json={"attempt": attempt}, headers=JSON
    )


def webhook(
    base: str, name: str, signed: tuple[bytes, dict[str, str]]
) -> httpx.Response:
    body, headers = signed
    return httpx.post(
        f"{base}/assurance/webhooks/{name}", content=body, headers=headers
    )


def proven_token(base: str, policy: Any, **callback: Any) -> str:
    """A token from the whole k-ID flow: begin, bind, signed webhook, complete."""
    attempt = begin(base, "k-id")["attempt"]
    verification = f"kid-{attempt[-12:]}"
    policy.providers["k-id"].bind(attempt, verification)
    assert webhook(base, "k-id", kid_callback(verification, **callback)).json() == {
        "status": "taken"
    }
    answer = complete(base, attempt)
    assert answer.status_code == 200, answer.text
    assert "HttpOnly" in answer.headers["set-cookie"]
    return str(answer.json()["token"])


def signup(base: str, token: str | None = None, **record: Any) -> httpx.Response:
    headers = dict(JSON)
    if token is not None:
        headers["agegate-assurance"] = token
    return httpx.post(f"{base}/signup", json=record or gb(), headers=headers)


def test_a_gb_signup_with_only_a_birthdate_needs_assurance(gate: Any) -> None:
    base, _, seen = gate
    before = len(seen)
    answer = signup(base)
    assert answer.status_code == 403
    body = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "NEEDS_ASSURANCE"
    assert body["level"] == "HIGHLY_EFFECTIVE"
    assert body["required_age"] == 18
    assert body["begin"] == "/assurance/begin"
    assert set(body["methods"]) == {"k-id", "persona", "veriff"}
    assert len(seen) == before


def test_a_browser_gets_the_page_that_runs_the_check(gate: Any) -> None:
    base, _, _ = gate
    answer = httpx.post(f"{base}/signup", data=gb(), headers={"Accept": "text/html"})
    assert answer.status_code == 403
    assert 'id="needs-assurance"' in answer.text
    assert "navigator.credentials.get" in answer.text


def test_a_declared_minor_is_still_blocked_without_asking(gate: Any) -> None:
    base, _, _ = gate
    answer = signup(base, **gb(AGE_17))
    assert answer.status_code == 403
    assert answer.json()["type"] == "urn:agegate:problem:underage"


def test_elsewhere_a_birthdate_is_still_enough(gate: Any) -> None:
    base, _, seen = gate
    answer = signup(base, birthdate=ADULT, country="CA", subdivision="ON")
    assert answer.status_code == 201
    assert seen[-1]["assurance"] is None


def test_a_fresh_provider_proof_passes_once(gate: Any) -> None:
    base, policy, seen = gate
    token = proven_token(base, policy)
    answer = signup(base, token)
    assert answer.status_code == 201, answer.text
    assurance = seen[-1]["assurance"]
    assert isinstance(assurance, Assurance)
    assert assurance.method is Method.PROVIDER
    assert assurance.source == "k-id"
    assert assurance.level is Level.HIGHLY_EFFECTIVE
    assert assurance.over == 30
    # The Decision stays free of it.
    assert not hasattr(seen[-1]["decision"], "assurance")
    # The same token again: it admitted its signup already.
    assert signup(base, token).json()["code"] == "NEEDS_ASSURANCE"


def test_the_cookie_carries_the_token_for_a_browser(gate: Any) -> None:
    base, policy, _ = gate
    token = proven_token(base, policy)
    answer = httpx.post(
        f"{base}/signup",
        json=gb(),
        headers={**JSON, "Cookie": f"other=1; agegate_assurance={token}"},
    )
    assert answer.status_code == 201


def test_a_replayed_webhook_and_a_second_complete_change_nothing(gate: Any) -> None:
    base, policy, _ = gate
    attempt = begin(base, "k-id")["attempt"]
    policy.providers["k-id"].bind(attempt, "kid-replayed")
    signed = kid_callback("kid-replayed")
    assert webhook(base, "k-id", signed).json()["status"] == "taken"
    assert webhook(base, "k-id", signed).json()["status"] == "duplicate"
    assert complete(base, attempt).status_code == 200
    again = complete(base, attempt)
    assert again.status_code == 409
    assert again.json()["code"] == "ASSURANCE_REPLAYED"


def test_complete_is_pending_until_the_provider_answers(gate: Any) -> None:
    base, _, _ = gate
    attempt = begin(base, "persona")["attempt"]
    assert complete(base, attempt).status_code == 202
    assert webhook(base, "persona", persona_callback(attempt, event_id="evt_p1"))
    assert complete(base, attempt).status_code == 200


def test_a_result_for_an_attempt_not_open_is_dropped(gate: Any) -> None:
    base, _, _ = gate
    forged = "att-" + "A" * 32
    signed = persona_callback(forged, event_id="evt_forged")
    assert webhook(base, "persona", signed).json() == {"status": "dropped"}
    assert complete(base, forged).status_code == 409


def test_a_token_from_another_secret_does_not_pass(gate: Any) -> None:
    base, _, _ = gate
    token = issue_token(_assurance(), "another-operators-secret-000000", 600)
    assert signup(base, token).json()["code"] == "NEEDS_ASSURANCE"


def test_an_expired_or_tampered_token_does_not_pass(gate: Any) -> None:
    base, _, _ = gate
    expired = issue_token(_assurance(), SECRET, 600, now=time.time() - 700)
    assert signup(base, expired).json()["code"] == "NEEDS_ASSURANCE"
    lapsed = issue_token(_assurance(valid_until=-1), SECRET, 600)
    assert signup(base, lapsed).json()["code"] == "NEEDS_ASSURANCE"
    good = issue_token(_assurance(level=Level.BASIC), SECRET, 600)
    payload = good.split(".")[1]
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    document["a"]["level"] = "HIGHLY_EFFECTIVE"
    forged = base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=")
    tampered = f"v1.{forged.decode()}.{good.split('.')[2]}"
    assert read_token(tampered, SECRET, 600) is None
    assert signup(base, tampered).json()["code"] == "NEEDS_ASSURANCE"
    # A token issued for longer than the policy allows is not taken either.
    long_lived = issue_token(_assurance(), SECRET, 86400)
    assert signup(base, long_lived).json()["code"] == "NEEDS_ASSURANCE"


def test_a_lower_level_or_a_lower_age_does_not_pass(gate: Any) -> None:
    base, policy, _ = gate
    basic = proven_token(base, policy, method="email-age-estimation")
    assert signup(base, basic).json()["code"] == "NEEDS_ASSURANCE"
    unlisted = proven_token(base, policy, method="a-method-nobody-listed")
    assert signup(base, unlisted).json()["code"] == "NEEDS_ASSURANCE"
    # Over 18 proven, but Mississippi asks 21: the token does not prove it.
    token = issue_token(_assurance(over=18), SECRET, 600)
    answer = signup(base, token, birthdate=ADULT, country="US", subdivision="MS")
    assert answer.status_code == 201  # MS needs only ASSERTED in this policy
    assert answer.json()["assured"] is False


def test_a_proof_of_under_blocks_like_a_declared_minor(gate: Any) -> None:
    base, policy, seen = gate
    before = len(seen)
    token = proven_token(
        base,
        policy,
        status="FAIL",
        low=13,
        high=16,
        method="age-estimation-scan",
        failureReason="age-criteria-not-met",
    )
    answer = signup(base, token)
    assert answer.status_code == 403
    assert answer.json()["type"] == "urn:agegate:problem:underage"
    assert "agegate_block=" in answer.headers.get("set-cookie", "")
    # Even where a birthdate alone would be enough.
    ca = signup(base, token, birthdate=ADULT, country="CA", subdivision="ON")
    assert ca.status_code == 403
    assert len(seen) == before


def test_an_under_result_is_not_overwritten_by_a_later_pass(gate: Any) -> None:
    base, policy, _ = gate
    attempt = begin(base, "k-id")["attempt"]
    policy.providers["k-id"].bind(attempt, "kid-retry")
    failed = kid_callback(
        "kid-retry", "FAIL", low=14, high=16, failureReason="age-criteria-not-met"
    )
    assert webhook(base, "k-id", failed).json()["status"] == "taken"
    assert webhook(base, "k-id", kid_callback("kid-retry")).json()["status"] == "taken"
    assert complete(base, attempt).json()["under"] == 18


def test_webhook_signatures_are_checked(gate: Any) -> None:
    base, policy, _ = gate
    attempt = begin(base, "k-id")["attempt"]
    policy.providers["k-id"].bind(attempt, "kid-sig")
    body, headers = kid_callback("kid-sig")
    bad = dict(headers, **{"x-signature-hmac-sha256": "00" * 32})
    assert webhook(base, "k-id", (body, bad)).status_code == 401
    tampered = body.replace(b'"low": 30', b'"low": 31')
    assert webhook(base, "k-id", (tampered, headers)).status_code == 401
    stale = kid_callback("kid-sig", at=int(time.time()) - 3600)
    assert webhook(base, "k-id", stale).json()["code"] == "TIMESTAMP_OUTSIDE_TOLERANCE"
    unsigned = {"content-type": "application/json"}
    assert webhook(base, "k-id", (body, unsigned)).status_code == 401
    # The secret being rotated out still signs during the rotation.
    rotated = kid_callback("kid-sig", secret=KID_OLD_SECRET)
    assert webhook(base, "k-id", rotated).json()["status"] == "taken"
    assert complete(base, attempt).status_code == 200


def test_persona_rotation_pairs_and_tolerance(gate: Any) -> None:
    base, _, _ = gate
    attempt = begin(base, "persona")["attempt"]
    stale = persona_callback(attempt, event_id="evt_r0", at=int(time.time()) - 900)
    assert webhook(base, "persona", stale).status_code == 401
    paired = persona_callback(
        attempt, event_id="evt_r1", extra_pairs=f"t={int(time.time())},v1={'ab' * 32}"
    )
    assert webhook(base, "persona", paired).json()["status"] == "taken"
    assert complete(base, attempt).json()["over"] == 18


def test_webhook_bodies_are_capped_and_must_parse(gate: Any) -> None:
    base, _, _ = gate
    huge = b"{" + b" " * (300 * 1024) + b"}"
    answer = httpx.post(
        f"{base}/assurance/webhooks/k-id",
        content=huge,
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413
    assert webhook(base, "nobody", kid_callback("x")).status_code == 404


def test_begin_and_complete_refuse_cross_site_requests(gate: Any) -> None:
    base, _, _ = gate
    for path in ("begin", "complete"):
        answer = httpx.post(
            f"{base}/assurance/{path}",
            json={"method": "k-id", "age": 18},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert answer.status_code == 403
        assert answer.json()["code"] == "CROSS_SITE_REFUSED"


def test_begin_checks_its_input(gate: Any) -> None:
    base, _, _ = gate
    url = f"{base}/assurance/begin"
    assert httpx.post(url, json={"method": "k-id", "age": 99}).status_code == 422
    assert httpx.post(url, json={"method": "wallet", "age": 18}).status_code == 422
    assert httpx.post(url, content=b"method=k-id").status_code == 415
    repeated = b'{"method": "k-id", "method": "persona", "age": 18}'
    answer = httpx.post(
        url, content=repeated, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400


def test_begin_is_rate_limited() -> None:
    from agegate.apps.report import RateLimit

    policy = make_policy()
    with uvicorn_server(make_app(policy, [], rate_limit=RateLimit(3, 60))) as base:
        codes = [
            httpx.post(
                f"{base}/assurance/begin", json={"method": "k-id", "age": 18}
            ).status_code
            for _ in range(5)
        ]
    assert codes == [201, 201, 201, 429, 429]


def test_no_identity_reaches_logs_tokens_or_the_app(
    gate: Any, caplog: pytest.LogCaptureFixture
) -> None:
    base, _, seen = gate
    name, number, born = "Zebedee Quuxworth", "XK9081726", "1979-11-23"
    caplog.set_level(logging.DEBUG)
    attempt = begin(base, "veriff")["attempt"]
    person = {
        "firstName": "Zebedee",
        "lastName": "Quuxworth",
        "fullName": name,
        "idNumber": number,
        "dateOfBirth": born,
    }
    assert webhook(base, "veriff", veriff_callback(attempt, person)).status_code == 200
    answer = complete(base, attempt)
    token = answer.json()["token"]
    assert signup(base, token).status_code == 201
    payload = base64.urlsafe_b64decode(token.split(".")[1] + "==").decode()
    stored = repr(seen[-1]) + json.dumps(answer.json()) + payload
    for secret in (name, "Quuxworth", number, born, "1979"):
        assert secret not in stored
        assert secret not in caplog.text


def _assurance(
    over: int = 30, level: Level = Level.HIGHLY_EFFECTIVE, valid_until: int = 30
) -> Assurance:
    today = datetime.now(UTC).date()
    return Assurance(
        method=Method.PROVIDER,
        level=level,
        over=over,
        under=None,
        source="k-id",
        verified_on=today,
        valid_until=today + timedelta(days=valid_until),
        attempt=f"att-made-in-a-test-{over}-{level.name}-{time.time_ns()}",
    )


def test_the_strictest_level_of_every_jurisdiction_signalled() -> None:
    from agegate.assurance.policy import level_for, strictest

    required = {
        "GB": Level.HIGHLY_EFFECTIVE,
        "CA-BC": Level.EFFECTIVE,
        "*": Level.BASIC,
    }
    assert level_for(required, "GB-SCT") is Level.HIGHLY_EFFECTIVE
    assert level_for(required, "CA-BC") is Level.EFFECTIVE
    assert level_for(required, "CA-ON") is Level.BASIC
    assert level_for(required, None) is Level.BASIC
    assert strictest(required, ["CA-BC", "GB", None]) is Level.HIGHLY_EFFECTIVE
    assert strictest({"GB": Level.EFFECTIVE}, ["FR"]) is Level.ASSERTED


def test_a_policy_that_asks_for_more_needs_somewhere_to_get_it() -> None:
    from agegate.assurance.policy import AssurancePolicy

    with pytest.raises(ValueError, match="wallet or at least one provider"):
        AssurancePolicy(required={"GB": Level.HIGHLY_EFFECTIVE}, secret=SECRET)
    with pytest.raises(ValueError, match="jurisdiction code"):
        make_policy(required={"Great Britain": Level.BASIC})
    with pytest.raises(ValueError, match="token_ttl"):
        make_policy(token_ttl=86400)
