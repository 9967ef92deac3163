"""Verifying an ISO/IEC 18013-5 DeviceResponse, every step before any claim.

The order is the order of trust: the issuer's chain to an IACA on the list,
the issuer's signature over the MSO, the MSO's validity, the digest of every
received element, then the device's signature over the session transcript
with the key the MSO names. Only when all of these pass are element values
handed out, and only those of the doctype's own namespace.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import attrs

from . import cbor, cose, keys
from .model import AssuranceError, AssuranceReason
from .trust import Anchor, TrustList

MAX_RESPONSE_BYTES = 256 * 1024
# The namespace each known doctype carries its age elements in.
NAMESPACES = {
    "eu.europa.ec.av.1": "eu.europa.ec.av.1",
    "org.iso.18013.5.1.mDL": "org.iso.18013.5.1",
}
_DIGESTS = {
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


@attrs.frozen
class VerifiedMdoc:
    """What a fully verified document says (kept only for the arithmetic)."""

    doctype: str
    anchor: Anchor
    valid_until: datetime
    elements: dict[str, Any] = attrs.field(repr=False)
    # The MSO's `status` (a Token Status List reference), if any.
    status: Any = attrs.field(default=None, repr=False)


def openid4vp_transcript(
    origin: str, nonce: str, jwk_thumbprint: bytes | None
) -> list[Any]:
    """SessionTranscript of OpenID4VP 1.0 over the DC API (Appendix B.2.6.2)."""
    info = cbor.encode([origin, nonce, jwk_thumbprint])
    return [None, None, ["OpenID4VPDCAPIHandover", hashlib.sha256(info).digest()]]


def annex_c_transcript(encryption_info: str, origin: str) -> list[Any]:
    """SessionTranscript of ISO/IEC 18013-7 Annex C (`dcapi` handover);
    `encryption_info` is the base64url text the request carried."""
    info = cbor.encode([encryption_info, origin])
    return [None, None, ["dcapi", hashlib.sha256(info).digest()]]


def verify_device_response(
    data: bytes,
    *,
    transcript: Any,
    trust: TrustList,
    doctypes: Collection[str],
    now: datetime,
    leeway: timedelta,
) -> VerifiedMdoc:
    """Verify a DeviceResponse holding one document; AssuranceError if not."""
    if not isinstance(data, bytes) or len(data) > MAX_RESPONSE_BYTES:
        raise AssuranceError(AssuranceReason.MALFORMED, "DeviceResponse")
    document = _one_document(cbor.decode(data, "DeviceResponse"))
    doctype = document.get("docType")
    if not isinstance(doctype, str) or doctype not in doctypes:
        raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, "docType")
    issuer_signed = _map(document.get("issuerSigned"), "issuerSigned")
    mso, anchor = _verified_mso(issuer_signed.get("issuerAuth"), trust, now, leeway)
    valid_until = _check_mso(mso, doctype, now, leeway)
    items = _verified_items(issuer_signed.get("nameSpaces"), mso)
    device_key = keys.from_cose_key(
        _map(mso.get("deviceKeyInfo"), "deviceKeyInfo").get("deviceKey"), "deviceKey"
    )
    _verify_device_auth(document.get("deviceSigned"), transcript, doctype, device_key)
    elements = items.get(NAMESPACES.get(doctype, doctype), {})
    return VerifiedMdoc(doctype, anchor, valid_until, elements, mso.get("status"))


def _map(value: Any, step: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise AssuranceError(AssuranceReason.MALFORMED, step)
    return value


def _one_document(response: Any) -> dict[Any, Any]:
    response = _map(response, "DeviceResponse")
    if response.get("version") != "1.0" or response.get("status") != 0:
        raise AssuranceError(AssuranceReason.MALFORMED, "DeviceResponse status")
    documents = response.get("documents")
    # One document was asked for; two could disagree about the age.
    if not isinstance(documents, list) or len(documents) != 1:
        raise AssuranceError(AssuranceReason.MALFORMED, "documents")
    return _map(documents[0], "document")


def _verified_mso(
    issuer_auth: Any, trust: TrustList, now: datetime, leeway: timedelta
) -> tuple[dict[Any, Any], Anchor]:
    sign1 = cose.parse_sign1(issuer_auth, "issuerAuth")
    if sign1.payload is None:
        raise AssuranceError(AssuranceReason.MALFORMED, "issuerAuth payload")
    _, mso = cbor.embedded(cbor.decode(sign1.payload, "MSO"), "MSO")
    mso = _map(mso, "MSO")
    signed = _tdate(_map(mso.get("validityInfo"), "validityInfo").get("signed"))
    chain = cose.x5chain(sign1, "x5chain")
    anchor = trust.mdoc_signer(chain, now, signed, leeway)
    cose.verify_sign1(sign1, keys.certificate_key(chain[0], "x5chain"), sign1.payload)
    return mso, anchor


def _tdate(value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise AssuranceError(AssuranceReason.MALFORMED, "validityInfo")
    return value


def _check_mso(
    mso: dict[Any, Any], doctype: str, now: datetime, leeway: timedelta
) -> datetime:
    if mso.get("version") != "1.0":
        raise AssuranceError(AssuranceReason.MALFORMED, "MSO version")
    if mso.get("docType") != doctype:
        raise AssuranceError(AssuranceReason.DIGEST_MISMATCH, "MSO docType")
    validity = _map(mso.get("validityInfo"), "validityInfo")
    signed = _tdate(validity.get("signed"))
    valid_from = _tdate(validity.get("validFrom"))
    valid_until = _tdate(validity.get("validUntil"))
    if not signed <= valid_from < valid_until:
        raise AssuranceError(AssuranceReason.MALFORMED, "validityInfo")
    if now + leeway < valid_from or now + leeway < signed:
        raise AssuranceError(AssuranceReason.NOT_YET_VALID, "validityInfo")
    if now - leeway > valid_until:
        raise AssuranceError(AssuranceReason.EXPIRED, "validityInfo")
    return valid_until


def _verified_items(namespaces: Any, mso: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    """Element values by namespace, each checked against its signed digest."""
    hasher = _DIGESTS.get(mso.get("digestAlgorithm"))  # type: ignore[arg-type]
    signed_digests = _map(mso.get("valueDigests"), "valueDigests")
    if hasher is None:
        raise AssuranceError(AssuranceReason.MALFORMED, "digestAlgorithm")
    verified: dict[str, dict[str, Any]] = {}
    for namespace, items in _map(namespaces, "nameSpaces").items():
        digests = signed_digests.get(namespace)
        if not isinstance(namespace, str) or not isinstance(items, list):
            raise AssuranceError(AssuranceReason.MALFORMED, "nameSpaces")
        if not isinstance(digests, dict):
            raise AssuranceError(AssuranceReason.DIGEST_MISMATCH, "valueDigests")
        verified[namespace] = _verified_namespace(items, digests, hasher)
    return verified


def _verified_namespace(
    items: list[Any], digests: dict[Any, Any], hasher: Any
) -> dict[str, Any]:
    elements: dict[str, Any] = {}
    seen: set[int] = set()
    mismatch = AssuranceError(AssuranceReason.DIGEST_MISMATCH, "IssuerSignedItem")
    for tagged in items:
        raw, item = cbor.embedded(tagged, "IssuerSignedItem")
        item = _map(item, "IssuerSignedItem")
        digest_id, name = item.get("digestID"), item.get("elementIdentifier")
        if type(digest_id) is not int or not isinstance(name, str):
            raise AssuranceError(AssuranceReason.MALFORMED, "IssuerSignedItem")
        if not isinstance(item.get("random"), bytes) or "elementValue" not in item:
            raise AssuranceError(AssuranceReason.MALFORMED, "IssuerSignedItem")
        # One digest, one element: a repeat could carry a second value.
        if digest_id in seen or name in elements:
            raise mismatch
        seen.add(digest_id)
        expected = digests.get(digest_id)
        actual = hasher(cbor.tag24(raw)).digest()
        if not isinstance(expected, bytes) or not hmac.compare_digest(expected, actual):
            raise mismatch
        elements[name] = item["elementValue"]
    return elements


def _verify_device_auth(
    device_signed: Any, transcript: Any, doctype: str, key: keys.PublicKey
) -> None:
    device_signed = _map(device_signed, "deviceSigned")
    namespaces = device_signed.get("nameSpaces")
    _, decoded = cbor.embedded(namespaces, "DeviceNameSpaces")
    _map(decoded, "DeviceNameSpaces")
    auth = device_signed.get("deviceAuth")
    # deviceMac (a MAC keyed by ECDH with the reader's key) is not supported.
    if not isinstance(auth, dict) or set(auth) != {"deviceSignature"}:
        raise AssuranceError(AssuranceReason.BINDING_INVALID, "deviceAuth")
    sign1 = cose.parse_sign1(auth["deviceSignature"], "deviceSignature")
    if sign1.payload is not None:  # detached, or the wallet signed something else
        raise AssuranceError(AssuranceReason.BINDING_INVALID, "deviceSignature")
    authentication = cbor.encode(
        ["DeviceAuthentication", transcript, doctype, namespaces]
    )
    try:
        cose.verify_sign1(sign1, key, cbor.tag24(authentication))
    except AssuranceError:
        raise AssuranceError(
            AssuranceReason.BINDING_INVALID, "deviceSignature"
        ) from None
