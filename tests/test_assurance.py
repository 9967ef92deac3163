"""The wallet verifier, end to end: a challenge, a wallet's answer, a result.

Every refusal asserts its exact reason code. The test PKI and wallet live
in tests/assurance_support.py; every signature they make is real.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest

from agegate.assurance import AssuranceError, Level, Method, Reason, assurance_to_dict
from agegate.assurance.challenge import Challenge, MemoryChallengeStore
from agegate.assurance.trust import TrustList
from agegate.assurance.verifier import WalletVerifier
from tests.assurance_support import (
    BIRTH_DATE,
    DOCUMENT_NUMBER,
    MDL_DOCTYPE,
    ORIGIN,
    PERSON_NAME,
    TestPKI,
    TestWallet,
    b64url,
    cose_sign1,
)

LEEWAY = timedelta(minutes=5)


@pytest.fixture(scope="session")
def pki() -> TestPKI:
    return TestPKI.create()


@pytest.fixture(scope="session")
def wallet(pki: TestPKI) -> TestWallet:
    return TestWallet(pki)


@pytest.fixture
def verifier(pki: TestPKI) -> WalletVerifier:
    return WalletVerifier(pki.trust_list(), origin=ORIGIN)


def refused(
    verifier: WalletVerifier, challenge: Challenge, response: Any, **kw: Any
) -> Reason:
    with pytest.raises(AssuranceError) as caught:
        verifier.complete(
            challenge.attempt, response, origin=kw.pop("origin", ORIGIN), **kw
        )
    # A refusal names a step and a code, never a value from the proof.
    text = str(caught.value)
    for secret in (PERSON_NAME, DOCUMENT_NUMBER, BIRTH_DATE, challenge.nonce):
        assert secret not in text
    return caught.value.reason


MDOC_PROTOCOLS = ["openid4vp", "annex-c"]


# The good paths ------------------------------------------------------------


@pytest.mark.parametrize("protocol", MDOC_PROTOCOLS)
def test_an_mdoc_proves_over_18(
    verifier: WalletVerifier, wallet: TestWallet, protocol: str
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge, protocol=protocol)
    result = verifier.complete(challenge.attempt, response, origin=ORIGIN)
    assert (result.method, result.level, result.over, result.under) == (
        Method.WALLET_MDOC,
        Level.HIGHLY_EFFECTIVE,
        18,
        None,
    )
    assert result.attempt == challenge.attempt
    assert result.source.startswith("sha256:")
    assert result.verified_on == datetime.now(UTC).date()


def test_an_mdl_proves_over_21(verifier: WalletVerifier, wallet: TestWallet) -> None:
    challenge = verifier.begin(21)
    response = wallet.mdoc_response(
        challenge, doctype=MDL_DOCTYPE, age_over={18: True, 21: True}
    )
    assert verifier.complete(challenge.attempt, response, origin=ORIGIN).over == 21


@pytest.mark.parametrize(
    ("nested", "issuer"), [(True, "x5c"), (False, "x5c"), (True, "jwk")]
)
def test_an_sd_jwt_proves_over_18(
    verifier: WalletVerifier, wallet: TestWallet, nested: bool, issuer: str
) -> None:
    challenge = verifier.begin(18)
    response = wallet.sd_jwt_response(challenge, nested=nested, issuer=issuer)
    result = verifier.complete(challenge.attempt, response, origin=ORIGIN)
    assert (result.method, result.over) == (Method.WALLET_SD_JWT, 18)


def test_the_response_may_come_as_json_text(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    text = json.dumps(wallet.sd_jwt_response(challenge))
    assert verifier.complete(challenge.attempt, text, origin=ORIGIN).over == 18


def test_the_result_holds_no_identity(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    extra = {
        "family_name": PERSON_NAME,
        "document_number": DOCUMENT_NUMBER,
        "birth_date": BIRTH_DATE,
    }
    for make in (wallet.mdoc_response, wallet.sd_jwt_response):
        challenge = verifier.begin(18)
        result = verifier.complete(
            challenge.attempt, make(challenge, extra=extra), origin=ORIGIN
        )
        stored = json.dumps(assurance_to_dict(result)) + repr(result)
        for secret in (PERSON_NAME, DOCUMENT_NUMBER, BIRTH_DATE):
            assert secret not in stored


# Mapping to the required age ---------------------------------------------


@pytest.mark.parametrize(
    ("required", "ages", "over", "under"),
    [
        (18, {18: True}, 18, None),
        (19, {18: True, 21: True}, 21, None),
        (18, {18: True, 21: False}, 18, 21),
        (18, {18: False}, None, 18),
        (21, {18: False}, None, 18),
        (21, {21: False}, None, 21),
    ],
)
def test_age_over_maps_to_the_required_age(
    verifier: WalletVerifier,
    wallet: TestWallet,
    required: int,
    ages: dict[int, bool],
    over: int | None,
    under: int | None,
) -> None:
    for make in (wallet.mdoc_response, wallet.sd_jwt_response):
        challenge = verifier.begin(required)
        result = verifier.complete(
            challenge.attempt, make(challenge, age_over=ages), origin=ORIGIN
        )
        assert (result.over, result.under) == (over, under)


@pytest.mark.parametrize(
    ("required", "ages"),
    [
        (19, {21: False}),  # younger than 21 says nothing about 19
        (19, {18: True}),  # over 18 is not over 19
        (18, {18: "True"}),  # a string is not the boolean
        (18, {18: 1}),
        (18, {18: None}),
        (18, {}),
        (18, {18: True, 16: False}),  # contradicts itself
    ],
)
def test_inconclusive_claims(
    verifier: WalletVerifier, wallet: TestWallet, required: int, ages: dict[int, Any]
) -> None:
    for make in (wallet.mdoc_response, wallet.sd_jwt_response):
        challenge = verifier.begin(required)
        assert (
            refused(verifier, challenge, make(challenge, age_over=ages))
            == Reason.INCONCLUSIVE
        )


def test_exact_age_and_birth_date_only_when_enabled(
    pki: TestPKI, wallet: TestWallet
) -> None:
    extra = {"age_in_years": 30}
    plain = WalletVerifier(pki.trust_list(), origin=ORIGIN)
    challenge = plain.begin(18)
    response = wallet.mdoc_response(
        challenge, doctype=MDL_DOCTYPE, age_over={}, extra=extra
    )
    assert refused(plain, challenge, response) == Reason.INCONCLUSIVE

    reading = WalletVerifier(
        pki.trust_list(), origin=ORIGIN, read_age_in_years=True, read_birth_date=True
    )
    challenge = reading.begin(18)
    response = wallet.mdoc_response(
        challenge, doctype=MDL_DOCTYPE, age_over={}, extra=extra
    )
    assert reading.complete(challenge.attempt, response, origin=ORIGIN).over == 30
    challenge = reading.begin(21)
    born = {"birth_date": "2015-01-01"}
    response = wallet.sd_jwt_response(challenge, age_over={}, extra=born)
    result = reading.complete(challenge.attempt, response, origin=ORIGIN)
    assert result.over is None
    assert result.under is not None
    assert result.under <= 21


# The challenge -------------------------------------------------------------


def test_begin_issues_a_fresh_short_lived_challenge(verifier: WalletVerifier) -> None:
    first, second = verifier.begin(18), verifier.begin(18)
    assert first.attempt != second.attempt
    assert first.nonce != second.nonce
    assert len(base64.urlsafe_b64decode(first.nonce + "=")) >= 16
    assert timedelta(0) < first.expires - first.issued <= timedelta(minutes=5)
    protocols = [r["protocol"] for r in first.requests]
    assert protocols == ["openid4vp-v1-unsigned", "org-iso-mdoc"]
    query = first.requests[0]["data"]["dcql_query"]
    paths = [c["path"] for q in query["credentials"] for c in q["claims"]]
    # Only the age is asked for.
    assert all(p[-1] in ("age_over_18", "18") for p in paths)
    json.dumps(list(first.requests))  # what a page hands to the DC API


def test_a_replayed_attempt_is_refused(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge)
    verifier.complete(challenge.attempt, response, origin=ORIGIN)
    assert refused(verifier, challenge, response) == Reason.REPLAYED


def test_a_failed_attempt_cannot_be_retried(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    assert (
        refused(verifier, challenge, {"protocol": "x", "data": {}}) == Reason.MALFORMED
    )
    assert (
        refused(verifier, challenge, wallet.mdoc_response(challenge)) == Reason.REPLAYED
    )


def test_an_unknown_attempt_is_refused(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    other = WalletVerifier(verifier.trust, origin=ORIGIN).begin(18)
    assert refused(verifier, other, wallet.mdoc_response(other)) == Reason.REPLAYED


def test_an_expired_attempt_is_refused(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    late = challenge.expires + timedelta(seconds=1)
    assert (
        refused(verifier, challenge, wallet.mdoc_response(challenge), now=late)
        == Reason.EXPIRED
    )


def test_concurrent_answers_consume_once(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge)
    outcomes: list[str] = []

    def answer() -> None:
        try:
            verifier.complete(challenge.attempt, response, origin=ORIGIN)
            outcomes.append("ok")
        except AssuranceError as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=answer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [Reason.REPLAYED] * 7 + ["ok"]


def test_the_store_stays_bounded(pki: TestPKI) -> None:
    store = MemoryChallengeStore(limit=3)
    verifier = WalletVerifier(pki.trust_list(), origin=ORIGIN, challenge_store=store)
    first = verifier.begin(18)
    for _ in range(5):
        verifier.begin(18)
    assert len(store) == 3
    with pytest.raises(AssuranceError) as caught:
        store.consume(first.attempt, datetime.now(UTC))
    assert caught.value.reason == Reason.REPLAYED


# Origin and binding ----------------------------------------------------------


def test_complete_from_another_origin(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge)
    assert refused(verifier, challenge, response, origin="https://evil.example") == (
        Reason.ORIGIN_MISMATCH
    )


@pytest.mark.parametrize("protocol", MDOC_PROTOCOLS)
def test_an_mdoc_made_for_another_origin(
    verifier: WalletVerifier, wallet: TestWallet, protocol: str
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(
        challenge, "https://evil.example", protocol=protocol
    )
    assert refused(verifier, challenge, response) == Reason.BINDING_INVALID


def test_an_mdoc_with_another_nonce(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge, nonce="A" * 43)
    assert refused(verifier, challenge, response) == Reason.BINDING_INVALID


def test_an_mdoc_without_device_signature(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    for device_auth in ({}, {"deviceMac": [b"", {}, None, b"\0" * 32]}):
        challenge = verifier.begin(18)
        response = wallet.mdoc_response(challenge, device_auth=device_auth)
        assert refused(verifier, challenge, response) == Reason.BINDING_INVALID


def test_an_mdoc_signed_by_another_device(
    verifier: WalletVerifier, wallet: TestWallet, pki: TestPKI
) -> None:
    other = TestWallet(pki)
    challenge = verifier.begin(18)
    # Issued to this wallet's key, signed by another device's.
    signed = wallet.issuer_signed(elements={"age_over_18": True})
    from tests.assurance_support import openid4vp_transcript

    raw = other.device_response(signed, openid4vp_transcript(ORIGIN, challenge.nonce))
    response = {
        "protocol": "openid4vp-v1-unsigned",
        "data": {"vp_token": {"mdoc0": [b64url(raw)]}},
    }
    assert refused(verifier, challenge, response) == Reason.BINDING_INVALID


def test_an_sd_jwt_without_kb_jwt(verifier: WalletVerifier, wallet: TestWallet) -> None:
    challenge = verifier.begin(18)
    assert refused(
        verifier, challenge, wallet.sd_jwt_response(challenge, kb=False)
    ) == (Reason.BINDING_INVALID)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": "origin:https://evil.example"}, Reason.ORIGIN_MISMATCH),
        ({"aud": "https://shop.example"}, Reason.ORIGIN_MISMATCH),
        ({"nonce": "B" * 43}, Reason.BINDING_INVALID),
        ({"kb_iat": datetime.now(UTC).timestamp() - 3600}, Reason.BINDING_INVALID),
        ({"kb_iat": datetime.now(UTC).timestamp() + 3600}, Reason.BINDING_INVALID),
    ],
)
def test_a_kb_jwt_for_something_else(
    verifier: WalletVerifier, wallet: TestWallet, change: dict[str, Any], reason: Reason
) -> None:
    challenge = verifier.begin(18)
    assert (
        refused(verifier, challenge, wallet.sd_jwt_response(challenge, **change))
        == reason
    )


def _presentation(response: dict[str, Any]) -> str:
    return str(response["data"]["vp_token"]["sd_jwt"][0])


def _with_presentation(text: str) -> dict[str, Any]:
    return {
        "protocol": "openid4vp-v1-unsigned",
        "data": {"vp_token": {"sd_jwt": [text]}},
    }


def test_a_kb_jwt_over_other_disclosures(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    text = _presentation(wallet.sd_jwt_response(challenge))
    parts = text.split("~")
    # Drop a disclosure (the KB-JWT's sd_hash covered it): the hash breaks.
    shorter = "~".join([parts[0], *parts[2:]])
    assert (
        refused(verifier, challenge, _with_presentation(shorter))
        == Reason.BINDING_INVALID
    )
    challenge = verifier.begin(18)
    text = _presentation(wallet.sd_jwt_response(challenge))
    head, _, _kb = text.rpartition("~")
    forged = wallet.key_binding(
        head + "~", aud=f"origin:{ORIGIN}", nonce=challenge.nonce, sd_hash="x"
    )
    assert refused(verifier, challenge, _with_presentation(head + "~" + forged)) == (
        Reason.BINDING_INVALID
    )


def test_a_kb_jwt_by_another_key_or_type(
    verifier: WalletVerifier, wallet: TestWallet, pki: TestPKI
) -> None:
    for other in (TestWallet(pki).device_key, None):
        challenge = verifier.begin(18)
        head = _presentation(wallet.sd_jwt_response(challenge, kb=False))
        typ = "kb+jwt" if other is not None else "JWT"
        kb = wallet.key_binding(
            head, aud=f"origin:{ORIGIN}", nonce=challenge.nonce, typ=typ, key=other
        )
        assert (
            refused(verifier, challenge, _with_presentation(head + kb))
            == Reason.BINDING_INVALID
        )


# Validity windows, with the leeway -----------------------------------------


def test_mdoc_validity_at_plus_and_minus_leeway(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    signed = now - timedelta(days=1)
    cases = [
        ({"valid_until": now - LEEWAY + timedelta(seconds=30)}, None),
        ({"valid_until": now - LEEWAY - timedelta(seconds=30)}, Reason.EXPIRED),
        ({"valid_from": now + LEEWAY - timedelta(seconds=30)}, None),
        ({"valid_from": now + LEEWAY + timedelta(seconds=30)}, Reason.NOT_YET_VALID),
    ]
    for change, reason in cases:
        challenge = verifier.begin(18)
        response = wallet.mdoc_response(challenge, signed=signed, **change)
        if reason is None:
            assert (
                verifier.complete(
                    challenge.attempt, response, origin=ORIGIN, now=now
                ).over
                == 18
            )
        else:
            assert refused(verifier, challenge, response, now=now) == reason


def test_sd_jwt_validity_at_plus_and_minus_leeway(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    now = datetime.now(UTC)
    t = now.timestamp()
    gap = LEEWAY.total_seconds()
    cases = [
        ({"exp": t - gap + 30}, None),
        ({"exp": t - gap - 30}, Reason.EXPIRED),
        ({"nbf": t + gap - 30}, None),
        ({"nbf": t + gap + 30}, Reason.NOT_YET_VALID),
        ({"iat": t + gap + 30}, Reason.NOT_YET_VALID),
    ]
    for change, reason in cases:
        challenge = verifier.begin(18)
        response = wallet.sd_jwt_response(challenge, **change)
        if reason is None:
            assert (
                verifier.complete(
                    challenge.attempt, response, origin=ORIGIN, now=now
                ).over
                == 18
            )
        else:
            assert refused(verifier, challenge, response, now=now) == reason


def test_an_sd_jwt_without_expiry(verifier: WalletVerifier, wallet: TestWallet) -> None:
    challenge = verifier.begin(18)
    response = wallet.sd_jwt_response(challenge, extra_payload={"exp": None})
    assert refused(verifier, challenge, response) == Reason.MALFORMED


def test_signed_outside_the_signers_validity(
    verifier: WalletVerifier, wallet: TestWallet, pki: TestPKI
) -> None:
    start = pki.document_signer.cert.not_valid_before_utc
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge, signed=start - timedelta(days=1))
    assert refused(verifier, challenge, response) == Reason.NOT_YET_VALID


def test_an_expired_document_signer(
    verifier: WalletVerifier, wallet: TestWallet, pki: TestPKI
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(
        challenge,
        signer=pki.expired_signer,
        signed=pki.expired_signer.cert.not_valid_before_utc,
    )
    assert refused(verifier, challenge, response) == Reason.EXPIRED


# Trust ----------------------------------------------------------------------


def test_a_signer_with_the_wrong_eku(
    verifier: WalletVerifier, wallet: TestWallet, pki: TestPKI
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge, signer=pki.wrong_eku_signer)
    assert refused(verifier, challenge, response) == Reason.UNTRUSTED_ISSUER


def test_an_unlisted_iaca(
    verifier: WalletVerifier, wallet: TestWallet, pki: TestPKI
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge, signer=pki.untrusted_signer)
    assert refused(verifier, challenge, response) == Reason.UNTRUSTED_ISSUER


@pytest.mark.parametrize("issuer", ["untrusted", "unlisted-key"])
def test_an_unlisted_sd_jwt_issuer(
    verifier: WalletVerifier, wallet: TestWallet, issuer: str
) -> None:
    challenge = verifier.begin(18)
    response = wallet.sd_jwt_response(challenge, issuer=issuer)
    assert refused(verifier, challenge, response) == Reason.UNTRUSTED_ISSUER


def test_an_unknown_doctype_or_vct(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge, doctype="org.example.loyalty.1")
    assert refused(verifier, challenge, response) == Reason.UNTRUSTED_ISSUER
    challenge = verifier.begin(18)
    response = wallet.sd_jwt_response(challenge, vct="urn:example:loyalty")
    assert refused(verifier, challenge, response) == Reason.UNTRUSTED_ISSUER


def test_a_doctype_the_mso_does_not_sign(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(
        challenge, doctype=MDL_DOCTYPE, mso_doctype="eu.europa.ec.av.1"
    )
    assert refused(verifier, challenge, response) == Reason.DIGEST_MISMATCH


def test_a_forged_issuer_signature(
    verifier: WalletVerifier, wallet: TestWallet, pki: TestPKI
) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(challenge)
    raw = base64.urlsafe_b64decode(response["data"]["vp_token"]["mdoc0"][0] + "==")
    document = cbor2.loads(raw)
    auth = document["documents"][0]["issuerSigned"]["issuerAuth"]
    auth[3] = bytes(64)
    response["data"]["vp_token"]["mdoc0"] = [b64url(cbor2.dumps(document))]
    assert refused(verifier, challenge, response) == Reason.SIGNATURE_INVALID

    challenge = verifier.begin(18)
    forged_sig = b64url(bytes(64))
    text = _presentation(wallet.sd_jwt_response(challenge))
    issuer_jwt, rest = text.split("~", 1)
    forged = ".".join([*issuer_jwt.split(".")[:2], forged_sig]) + "~" + rest
    assert (
        refused(verifier, challenge, _with_presentation(forged))
        == Reason.SIGNATURE_INVALID
    )


@pytest.mark.parametrize("alg", ["none", "HS256", "ES384", "RS256", "EdDSA"])
def test_alg_confusion_is_refused(
    verifier: WalletVerifier, wallet: TestWallet, alg: str
) -> None:
    challenge = verifier.begin(18)
    response = wallet.sd_jwt_response(challenge, header={"alg": alg})
    assert refused(verifier, challenge, response) == Reason.SIGNATURE_INVALID


def test_an_mdoc_alg_header_must_be_protected(
    verifier: WalletVerifier, wallet: TestWallet, pki: TestPKI
) -> None:
    challenge = verifier.begin(18)
    signed = wallet.issuer_signed(elements={"age_over_18": True})
    payload = signed["issuerAuth"][2]
    signer = pki.document_signer
    signed["issuerAuth"] = cose_sign1(
        signer.key, payload, protected={}, unprotected={1: -7, 33: signer.der}
    )
    from tests.assurance_support import openid4vp_transcript

    raw = wallet.device_response(signed, openid4vp_transcript(ORIGIN, challenge.nonce))
    response = {
        "protocol": "openid4vp-v1-unsigned",
        "data": {"vp_token": {"mdoc0": [b64url(raw)]}},
    }
    assert refused(verifier, challenge, response) == Reason.SIGNATURE_INVALID


# Digests ---------------------------------------------------------------------


def _retype(items: list[bytes], value: Any) -> list[bytes]:
    item = cbor2.loads(items[0])
    item["elementValue"] = value
    return [cbor2.dumps(item), *items[1:]]


def test_a_tampered_element(verifier: WalletVerifier, wallet: TestWallet) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(
        challenge, age_over={18: False}, edit_items=lambda items: _retype(items, True)
    )
    assert refused(verifier, challenge, response) == Reason.DIGEST_MISMATCH


def test_duplicate_digest_ids(verifier: WalletVerifier, wallet: TestWallet) -> None:
    challenge = verifier.begin(18)
    response = wallet.mdoc_response(
        challenge, edit_items=lambda items: items + items[:1]
    )
    assert refused(verifier, challenge, response) == Reason.DIGEST_MISMATCH


def test_an_element_the_mso_does_not_list(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    def add(items: list[bytes]) -> list[bytes]:
        extra = {
            "digestID": 99,
            "random": b"r" * 16,
            "elementIdentifier": "age_over_21",
            "elementValue": True,
        }
        return [*items, cbor2.dumps(extra)]

    challenge = verifier.begin(21)
    response = wallet.mdoc_response(challenge, edit_items=add)
    assert refused(verifier, challenge, response) == Reason.DIGEST_MISMATCH


def test_a_tampered_disclosure(verifier: WalletVerifier, wallet: TestWallet) -> None:
    def tamper(disclosures: list[str]) -> list[str]:
        out = []
        for text in disclosures:
            salt, name, value = json.loads(base64.urlsafe_b64decode(text + "=="))
            if value is False:
                value = True
            out.append(b64url(json.dumps([salt, name, value]).encode()))
        return out

    challenge = verifier.begin(18)
    response = wallet.sd_jwt_response(
        challenge, age_over={18: False}, edit_disclosures=tamper
    )
    assert refused(verifier, challenge, response) == Reason.DIGEST_MISMATCH


def test_a_repeated_disclosure(verifier: WalletVerifier, wallet: TestWallet) -> None:
    challenge = verifier.begin(18)
    response = wallet.sd_jwt_response(challenge, edit_disclosures=lambda d: [*d, d[0]])
    assert refused(verifier, challenge, response) == Reason.DIGEST_MISMATCH


def test_a_disclosure_colliding_with_a_claim(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    # The issuer signed age_over_18 false in the clear; a disclosure says true.
    challenge = verifier.begin(18)
    response = wallet.sd_jwt_response(
        challenge,
        nested=False,
        age_over={18: True},
        extra_payload={"age_over_18": False},
    )
    assert refused(verifier, challenge, response) == Reason.DIGEST_MISMATCH


def test_a_digest_listed_twice(verifier: WalletVerifier, wallet: TestWallet) -> None:
    challenge = verifier.begin(18)
    jwt, disclosures = wallet.sd_jwt(claims={"age_over_18": True})
    payload = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
    payload["_sd"] = payload["_sd"] + payload["_sd"]
    head = json.loads(base64.urlsafe_b64decode(jwt.split(".")[0] + "=="))
    from tests.assurance_support import jws

    jwt = jws(wallet.pki.issuer.key, head, payload)
    presented = "~".join([jwt, *disclosures]) + "~"
    kb = wallet.key_binding(presented, aud=f"origin:{ORIGIN}", nonce=challenge.nonce)
    assert (
        refused(verifier, challenge, _with_presentation(presented + kb))
        == Reason.DIGEST_MISMATCH
    )


# Malformed input never crashes ---------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        None,
        "",
        "{",
        '{"protocol": "openid4vp-v1-unsigned", "protocol": "org-iso-mdoc", "data": {}}',
        {"protocol": "openid4vp-v1-unsigned", "data": {"vp_token": {}}},
        {"protocol": "openid4vp-v1-unsigned", "data": {"vp_token": {"mdoc0": ["***"]}}},
        {
            "protocol": "openid4vp-v1-unsigned",
            "data": {"vp_token": {"mdoc0": [b64url(b"\xff")]}},
        },
        {
            "protocol": "openid4vp-v1-unsigned",
            "data": {"vp_token": {"sd_jwt": ["a.b.c~"]}},
        },
        {
            "protocol": "openid4vp-v1-unsigned",
            "data": {"vp_token": {"sd_jwt": ["x~y"]}},
        },
        {
            "protocol": "openid4vp-v1-unsigned",
            "data": {"vp_token": {"mdoc0": ["a", "b"]}},
        },
        {"protocol": "org-iso-mdoc", "data": {"response": "AAAA"}},
        {
            "protocol": "org-iso-mdoc",
            "data": {
                "response": b64url(
                    cbor2.dumps(["dcapi", {"enc": b"\4" * 65, "cipherText": b"x"}])
                )
            },
        },
    ],
)
def test_malformed_responses_are_refused(
    verifier: WalletVerifier, response: Any
) -> None:
    challenge = verifier.begin(18)
    assert refused(verifier, challenge, response) in (
        Reason.MALFORMED,
        Reason.BINDING_INVALID,
    )


def test_cbor_traps_are_refused(verifier: WalletVerifier, wallet: TestWallet) -> None:
    traps = [
        bytes.fromhex("d81c81d81d00"),  # a shared reference cycle
        bytes.fromhex("a2616101616102"),  # a repeated map key
        bytes.fromhex("9f01ff"),  # indefinite length
        b"\x81" * 100 + b"\x00",  # deep nesting
        bytes.fromhex("c11a514b67b0"),  # a tag we do not read
    ]
    for trap in traps:
        challenge = verifier.begin(18)
        good = base64.urlsafe_b64decode(
            wallet.mdoc_response(challenge)["data"]["vp_token"]["mdoc0"][0] + "=="
        )
        for raw in (trap, good + b"\x00"):
            response = {
                "protocol": "openid4vp-v1-unsigned",
                "data": {"vp_token": {"mdoc0": [b64url(raw)]}},
            }
            assert refused(verifier, challenge, response) in (
                Reason.MALFORMED,
                Reason.REPLAYED,
            )


# Configuration ----------------------------------------------------------------


def test_a_trust_list_is_never_empty(pki: TestPKI) -> None:
    with pytest.raises(ValueError, match="at least one anchor"):
        TrustList.of()
    with pytest.raises(ValueError, match="document_signer_ekus"):
        TrustList.of(iacas=[pki.iaca.pem], document_signer_ekus=())
    with pytest.raises(ValueError, match="IACA must be a CA"):
        TrustList.of(iacas=[pki.document_signer.pem])
    anchors = TrustList.of(iacas=[pki.iaca.der, pki.other_iaca.pem.decode()])
    assert len(anchors.iacas) == 2
    assert anchors.iacas[0].source != anchors.iacas[1].source


@pytest.mark.parametrize(
    "origin",
    [
        "http://shop.example",
        "https://shop.example/",
        "shop.example",
        "https://SHOP.example",
    ],
)
def test_the_origin_must_be_a_serialised_https_origin(
    pki: TestPKI, origin: str
) -> None:
    with pytest.raises(ValueError, match="origin"):
        WalletVerifier(pki.trust_list(), origin=origin)


def test_required_age_is_checked(verifier: WalletVerifier) -> None:
    for bad in (0, 100, "18", 18.0, True):
        with pytest.raises(ValueError, match="required_age"):
            verifier.begin(bad)  # type: ignore[arg-type]


def test_a_challenge_outlives_no_five_minutes() -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="5 minutes"):
        Challenge("a", "n" * 22, 18, ORIGIN, now, now + timedelta(minutes=6), ())
    with pytest.raises(ValueError, match="128"):
        Challenge("a", "n" * 10, 18, ORIGIN, now, now + timedelta(minutes=1), ())


def test_errors_pickle_with_their_reason() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(AssuranceError(Reason.REPLAYED, "attempt")))
    assert error.reason == Reason.REPLAYED
    assert error.step == "attempt"


def test_every_changed_character_of_an_sd_jwt_is_refused(
    verifier: WalletVerifier, wallet: TestWallet
) -> None:
    from agegate.assurance.sdjwt import verify_presentation

    challenge = verifier.begin(18)
    text = _presentation(wallet.sd_jwt_response(challenge))

    def check(candidate: str) -> None:
        verify_presentation(
            candidate,
            trust=verifier.trust,
            vcts={"urn:eudi:pid:1"},
            audience=f"origin:{ORIGIN}",
            nonce=challenge.nonce,
            now=datetime.now(UTC),
            leeway=LEEWAY,
        )

    check(text)  # the unchanged presentation verifies
    accepted = []
    for index, char in enumerate(text):
        for other in {"A" if char != "A" else "B", "~" if char != "~" else "."}:
            try:
                check(text[:index] + other + text[index + 1 :])
            except AssuranceError:
                continue
            accepted.append(index)
    assert accepted == []


def test_the_readme_example_verifies_a_wallet(
    pki: TestPKI, wallet: TestWallet, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    import types
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = next(
        b
        for b in re.findall(r"```python\n(.*?)```", readme, re.S)
        if "WalletVerifier(" in b
    )
    (tmp_path / "iaca.pem").write_bytes(pki.iaca.pem)
    (tmp_path / "issuer-ca.pem").write_bytes(pki.issuer_ca.pem)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(block, "README.md", "exec"), namespace)
    for make in (wallet.mdoc_response, wallet.sd_jwt_response):
        started = namespace["start"](18)
        # What the page sees: the requests, and the nonce inside them.
        nonce = started["requests"][0]["data"]["nonce"]
        seen = types.SimpleNamespace(nonce=nonce, requests=started["requests"])
        response = json.loads(json.dumps(make(seen)))  # as the page posts it
        assert namespace["finish"](started["attempt"], response) == {
            "over": 18,
            "under": None,
            "level": "HIGHLY_EFFECTIVE",
        }
        assert namespace["finish"](started["attempt"], response) == {
            "refused": Reason.REPLAYED
        }


def test_the_model_loads_without_the_extra() -> None:
    import subprocess
    import sys

    code = (
        "import sys, agegate.assurance\n"
        "assert not {'cryptography', 'cbor2'} & set(sys.modules), sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
