"""COSE_Sign1 (RFC 9052), the signature structure of an mdoc."""

from __future__ import annotations

from typing import Any

import attrs
import cbor2
from cryptography import x509

from . import cbor, keys
from .model import AssuranceError, AssuranceReason

X5CHAIN = 33  # RFC 9360 header label


@attrs.frozen
class Sign1:
    protected: bytes
    headers: dict[Any, Any]  # protected headers, then unprotected ones
    payload: bytes | None
    signature: bytes
    alg: str


def parse_sign1(item: Any, step: str) -> Sign1:
    """A COSE_Sign1 array (optionally tag 18) with a supported `alg`."""
    if isinstance(item, cbor2.CBORTag) and item.tag == 18:
        item = item.value
    malformed = AssuranceError(AssuranceReason.MALFORMED, step)
    if not isinstance(item, list) or len(item) != 4:
        raise malformed
    protected, unprotected, payload, signature = item
    if not isinstance(protected, bytes) or not isinstance(unprotected, dict):
        raise malformed
    if not isinstance(signature, bytes) or not isinstance(payload, bytes | None):
        raise malformed
    protected_map = cbor.decode(protected, step) if protected else {}
    if not isinstance(protected_map, dict):
        raise malformed
    # A header in both buckets could be read two ways (RFC 9052 section 3).
    if protected_map.keys() & unprotected.keys():
        raise malformed
    # The algorithm must be integrity-protected, or it could be swapped.
    label = protected_map.get(1)
    alg = keys.COSE_ALGORITHMS.get(label) if type(label) is int else None
    if alg is None:
        raise AssuranceError(AssuranceReason.SIGNATURE_INVALID, step)
    if 2 in protected_map:  # `crit`: no extension is understood here
        raise malformed
    return Sign1(protected, {**unprotected, **protected_map}, payload, signature, alg)


def verify_sign1(sign1: Sign1, key: keys.PublicKey, payload: bytes) -> None:
    """SIGNATURE_INVALID unless `key` signed Sig_structure over `payload`."""
    to_be_signed = cbor.encode(["Signature1", sign1.protected, b"", payload])
    keys.verify(key, sign1.alg, to_be_signed, sign1.signature)


def x5chain(sign1: Sign1, step: str) -> list[x509.Certificate]:
    """The certificates of the x5chain header, leaf first."""
    value = sign1.headers.get(X5CHAIN)
    items = [value] if isinstance(value, bytes) else value
    if not isinstance(items, list) or not items or len(items) > 8:
        raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, step)
    try:
        return [x509.load_der_x509_certificate(der) for der in items]
    except (ValueError, TypeError, x509.InvalidVersion):
        raise AssuranceError(AssuranceReason.MALFORMED, step) from None
