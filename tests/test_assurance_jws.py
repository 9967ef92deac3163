"""A provider's JWS callback, verified against its JWKS: a real key pair,
a wrong key, a stale `iat`, and no symmetric algorithms."""

from __future__ import annotations

import json
import time

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from agegate.assurance.providers import read_yoti, yoti
from agegate.assurance.webhook import JwsSignature, WebhookRefused


def _signed(key: ECKey, attempt: str, iat: int | None = None) -> bytes:
    event = {
        "id": "notif-1",
        "reference_id": attempt,
        "method": "DOC_SCAN",
        "result": True,
        "age": 18,
        "state": "COMPLETE",
        "iat": int(time.time()) if iat is None else iat,
    }
    header = {"alg": "ES256", "kid": key.kid}
    return jws.serialize_compact(header, json.dumps(event), key).encode()


def test_a_jws_callback_is_verified_against_the_jwks() -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    other = ECKey.generate_key("P-256", auto_kid=True)
    jwks = {"keys": [key.as_dict(private=False)]}
    provider = yoti(JwsSignature(jwks))
    opened = provider.open(18)
    stale = _signed(key, opened.attempt, iat=int(time.time()) - 3600)
    with pytest.raises(WebhookRefused, match="TIMESTAMP"):
        provider.receive({}, stale)
    with pytest.raises(WebhookRefused, match="SIGNATURE_INVALID"):
        provider.receive({}, _signed(other, opened.attempt))
    assert provider.receive({}, _signed(key, opened.attempt)).status == "taken"
    assurance = provider.take(opened.attempt)
    assert assurance is not None
    assert assurance.over == 18
    assert read_yoti({"id": "n", "state": "ERROR"}, 18).outcome == "inconclusive"


def test_symmetric_or_no_algorithms_are_refused() -> None:
    key = ECKey.generate_key("P-256", auto_kid=True)
    jwks = {"keys": [key.as_dict(private=False)]}
    for algorithms in (("HS256",), ("none",), ()):
        with pytest.raises(ValueError, match="public-key"):
            JwsSignature(jwks, algorithms=algorithms)
    with pytest.raises(ValueError, match="JWKS"):
        JwsSignature({"keys": "not keys"})
