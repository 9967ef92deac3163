"""Public keys and the signatures they verify, for COSE and JOSE alike.

One table binds each algorithm to the one kind of key that may verify it, so
a signature is never checked with a key of another type or curve (the "alg
confusion" of JOSE: an HMAC or `none` header, or an ES384 header on a P-256
key). Every failure is an `AssuranceError`; no exception of a library leaks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .model import AssuranceError, AssuranceReason

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

# alg: (curve name, hash, coordinate size in bytes)
_EC_ALGS: dict[str, tuple[str, type[hashes.HashAlgorithm], int]] = {
    "ES256": ("secp256r1", hashes.SHA256, 32),
    "ES384": ("secp384r1", hashes.SHA384, 48),
    "ES512": ("secp521r1", hashes.SHA512, 66),
}
ALGORITHMS = frozenset({*_EC_ALGS, "EdDSA"})
# COSE algorithm identifiers (RFC 9053) of the same algorithms.
COSE_ALGORITHMS = {-7: "ES256", -35: "ES384", -36: "ES512", -8: "EdDSA"}

_JWK_CURVES = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1"}
_COSE_CURVES = {1: "secp256r1", 2: "secp384r1", 3: "secp521r1"}
_SIZES = {"secp256r1": 32, "secp384r1": 48, "secp521r1": 66}
_CURVES: dict[str, ec.EllipticCurve] = {
    "secp256r1": ec.SECP256R1(),
    "secp384r1": ec.SECP384R1(),
    "secp521r1": ec.SECP521R1(),
}


def verify(key: PublicKey, alg: str, data: bytes, signature: bytes) -> None:
    """Check a raw (r || s or Ed25519) signature; SIGNATURE_INVALID if not."""
    bad = AssuranceError(AssuranceReason.SIGNATURE_INVALID, "signature")
    if alg == "EdDSA":
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise bad
        try:
            key.verify(signature, data)
        except InvalidSignature:
            raise bad from None
        return
    spec = _EC_ALGS.get(alg)
    if spec is None or not isinstance(key, ec.EllipticCurvePublicKey):
        raise bad
    curve, digest, size = spec
    if key.curve.name != curve or len(signature) != 2 * size:
        raise bad
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    try:
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(digest()))
    except InvalidSignature:
        raise bad from None


def check_key_type(key: Any) -> PublicKey:
    """The key if it is one we verify with (EC P-256/384/521 or Ed25519)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _SIZES:
        return key
    raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, "key type")


def certificate_key(cert: Any, step: str) -> PublicKey:
    """A certificate's public key, if it is one we verify with."""
    try:
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AssuranceError(AssuranceReason.MALFORMED, step) from None
    try:
        return check_key_type(key)
    except AssuranceError:
        raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, step) from None


def _ec_point(curve: str, x: Any, y: Any) -> PublicKey:
    size = _SIZES[curve]
    if not (isinstance(x, bytes) and isinstance(y, bytes)):
        raise ValueError("coordinates")
    if len(x) != size or len(y) != size:
        raise ValueError("coordinates")
    return ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[curve], b"\x04" + x + y)


def from_cose_key(data: Any, step: str) -> PublicKey:
    """A COSE_Key (RFC 9052 EC2 or OKP Ed25519) as a public key."""
    try:
        if not isinstance(data, dict):
            raise ValueError("not a map")
        if data.get(1) == 2 and data.get(-1) in _COSE_CURVES:
            return _ec_point(_COSE_CURVES[data[-1]], data.get(-2), data.get(-3))
        if data.get(1) == 1 and data.get(-1) == 6 and isinstance(data.get(-2), bytes):
            return ed25519.Ed25519PublicKey.from_public_bytes(data[-2])
    except (ValueError, TypeError):
        pass
    raise AssuranceError(AssuranceReason.MALFORMED, step)


def from_jwk(data: Any, step: str) -> PublicKey:
    """A public JWK (EC P-256/384/521 or OKP Ed25519) as a public key."""
    try:
        if not isinstance(data, dict) or "d" in data:
            raise ValueError("not a public JWK")
        if data.get("kty") == "EC" and data.get("crv") in _JWK_CURVES:
            return _ec_point(
                _JWK_CURVES[data["crv"]], b64url(data["x"]), b64url(data["y"])
            )
        if data.get("kty") == "OKP" and data.get("crv") == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(b64url(data["x"]))
    except (ValueError, TypeError, KeyError, AssuranceError):
        pass
    raise AssuranceError(AssuranceReason.MALFORMED, step)


def to_jwk(key: PublicKey) -> dict[str, str]:
    """The public JWK of a key (members in RFC 7638's thumbprint order)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes_raw()
        return {"crv": "Ed25519", "kty": "OKP", "x": b64url_text(raw)}
    size = _SIZES[key.curve.name]
    numbers = key.public_numbers()
    crv = {v: k for k, v in _JWK_CURVES.items()}[key.curve.name]
    return {
        "crv": crv,
        "kty": "EC",
        "x": b64url_text(numbers.x.to_bytes(size, "big")),
        "y": b64url_text(numbers.y.to_bytes(size, "big")),
    }


def jwk_thumbprint(key: PublicKey) -> bytes:
    """RFC 7638 SHA-256 thumbprint of a key's public JWK."""
    text = json.dumps(to_jwk(key), separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("ascii")).digest()


def b64url(text: Any) -> bytes:
    """Unpadded base64url, strictly: no padding, no other alphabet."""
    if not isinstance(text, str) or "=" in text or not text.isascii():
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    # A last character with stray low bits decodes too: refuse two spellings.
    if b64url_text(raw) != text:
        raise ValueError("not base64url")
    return raw


def b64url_text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
