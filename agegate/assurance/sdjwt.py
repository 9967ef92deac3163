"""Verifying an SD-JWT VC presentation (RFC 9901, SD-JWT VC) with its KB-JWT.

Order: the issuer's JWS against a listed key or an `x5c` chain to a listed
certificate, the `vct` and the validity window, every disclosure against a
digest found exactly once, then the key binding JWT signed by the `cnf` key
for this audience, this nonce, now, over these exact bytes (`sd_hash`).
Only then are the disclosed claims handed out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from cryptography import x509

from .. import jsonkeys
from . import keys
from .model import AssuranceError, AssuranceReason
from .trust import Anchor, TrustList

MAX_PRESENTATION_CHARS = 64 * 1024
ISSUER_TYPES = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
_RESERVED = frozenset({"_sd", "...", "_sd_alg"})


@attrs.frozen
class VerifiedSdJwt:
    vct: str
    anchor: Anchor
    valid_until: datetime | None
    claims: dict[str, Any] = attrs.field(repr=False)
    # The issuer-signed `status` claim (a Token Status List reference), if any.
    status: Any = attrs.field(default=None, repr=False)


@attrs.frozen
class _Jws:
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def verify_presentation(
    text: str,
    *,
    trust: TrustList,
    vcts: Collection[str],
    audience: str,
    nonce: str,
    now: datetime,
    leeway: timedelta,
) -> VerifiedSdJwt:
    """Verify `<issuer-jwt>~<disclosure>~...~<kb-jwt>`; AssuranceError if not."""
    if not isinstance(text, str) or len(text) > MAX_PRESENTATION_CHARS:
        raise AssuranceError(AssuranceReason.MALFORMED, "presentation")
    parts = text.split("~")
    if len(parts) < 2:
        raise AssuranceError(AssuranceReason.MALFORMED, "presentation")
    if not parts[-1]:
        raise AssuranceError(AssuranceReason.BINDING_INVALID, "KB-JWT missing")
    issuer_jwt = _parse_jws(parts[0], "issuer JWT")
    if issuer_jwt.header.get("typ") not in ISSUER_TYPES:
        raise AssuranceError(AssuranceReason.MALFORMED, "issuer JWT typ")
    anchor = _verify_issuer(issuer_jwt, trust, now, leeway)
    payload = issuer_jwt.payload
    vct = payload.get("vct")
    if not isinstance(vct, str) or vct not in vcts:
        raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, "vct")
    valid_until = _check_times(payload, now, leeway)
    claims = disclose(payload, parts[1:-1])
    holder = keys.from_jwk(_cnf_jwk(payload), "cnf")
    presented = text[: len(text) - len(parts[-1])]
    _verify_key_binding(parts[-1], holder, presented, audience, nonce, now, leeway)
    return VerifiedSdJwt(vct, anchor, valid_until, claims, payload.get("status"))


def _b64json(segment: str, step: str) -> dict[str, Any]:
    try:
        value = jsonkeys.loads(keys.b64url(segment).decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise AssuranceError(AssuranceReason.MALFORMED, step) from None
    if not isinstance(value, dict):
        raise AssuranceError(AssuranceReason.MALFORMED, step)
    return value


def _parse_jws(compact: str, step: str) -> _Jws:
    pieces = compact.split(".")
    if len(pieces) != 3:
        raise AssuranceError(AssuranceReason.MALFORMED, step)
    header, payload = _b64json(pieces[0], step), _b64json(pieces[1], step)
    try:
        signature = keys.b64url(pieces[2])
    except ValueError:
        raise AssuranceError(AssuranceReason.MALFORMED, step) from None
    # `none`, HMAC and anything else outside the list never reach a key.
    if header.get("alg") not in keys.ALGORITHMS:
        raise AssuranceError(AssuranceReason.SIGNATURE_INVALID, step)
    if "crit" in header or header.get("b64") is False:
        raise AssuranceError(AssuranceReason.MALFORMED, step)
    signing_input = f"{pieces[0]}.{pieces[1]}".encode("ascii")
    return _Jws(header, payload, signing_input, signature)


def parse_jws(compact: str, step: str) -> _Jws:
    """A compact JWS split and decoded (signature not yet checked)."""
    return _parse_jws(compact, step)


def x5c_chain(header: dict[str, Any]) -> list[x509.Certificate]:
    """A JOSE header's `x5c` certificates (empty without one)."""
    return _x5c(header)


def _x5c(header: dict[str, Any]) -> list[x509.Certificate]:
    value = header.get("x5c")
    if value is None:
        return []
    if not isinstance(value, list) or not value or len(value) > 8:
        raise AssuranceError(AssuranceReason.MALFORMED, "x5c")
    try:
        # x5c is standard base64 (RFC 7515 section 4.1.6), not base64url.
        return [
            x509.load_der_x509_certificate(base64.b64decode(c, validate=True))
            for c in value
        ]
    except (ValueError, TypeError, binascii.Error, x509.InvalidVersion):
        raise AssuranceError(AssuranceReason.MALFORMED, "x5c") from None


def _verify_issuer(
    jws: _Jws, trust: TrustList, now: datetime, leeway: timedelta
) -> Anchor:
    kid = jws.header.get("kid")
    kid = kid if isinstance(kid, str) else None
    chain = _x5c(jws.header)
    candidates = trust.issuer_key(chain, kid, now, leeway)
    for anchor in candidates:
        try:
            keys.verify(anchor.key, jws.header["alg"], jws.signing_input, jws.signature)
        except AssuranceError:
            continue
        return anchor
    # A trusted chain or a listed kid names the key: its signature failed.
    # Otherwise no listed key signed it, which is an unknown issuer.
    pinned = bool(chain) or any(kid is not None and a.kid == kid for a in candidates)
    reason = (
        AssuranceReason.SIGNATURE_INVALID
        if pinned
        else AssuranceReason.UNTRUSTED_ISSUER
    )
    raise AssuranceError(reason, "issuer signature")


def _time(payload: dict[str, Any], name: str, required: bool) -> datetime | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise AssuranceError(AssuranceReason.MALFORMED, name)
    if not 0 <= value < 2**33:
        raise AssuranceError(AssuranceReason.MALFORMED, name)
    return datetime.fromtimestamp(value, UTC)


def _check_times(payload: dict[str, Any], now: datetime, leeway: timedelta) -> datetime:
    # A credential without an expiry is refused: it would prove an age forever.
    expires = _time(payload, "exp", required=True)
    if expires is None:
        raise AssuranceError(AssuranceReason.MALFORMED, "exp")
    if now - leeway > expires:
        raise AssuranceError(AssuranceReason.EXPIRED, "exp")
    for name in ("nbf", "iat"):
        start = _time(payload, name, required=False)
        if start is not None and now + leeway < start:
            raise AssuranceError(AssuranceReason.NOT_YET_VALID, name)
    return expires


def _cnf_jwk(payload: dict[str, Any]) -> Any:
    cnf = payload.get("cnf")
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
        raise AssuranceError(AssuranceReason.BINDING_INVALID, "cnf")
    return cnf["jwk"]


def _digest(disclosure: str) -> str:
    return keys.b64url_text(hashlib.sha256(disclosure.encode("ascii")).digest())


def disclose(payload: dict[str, Any], disclosures: list[str]) -> dict[str, Any]:
    """The payload with its disclosures in place (RFC 9901 section 7.1).

    Every disclosure must be referenced exactly once, a digest may appear
    once in the whole payload, and a disclosed name may not overwrite a
    claim; decoy digests (referenced by no disclosure) are dropped.
    """
    if payload.get("_sd_alg", "sha-256") != "sha-256":
        raise AssuranceError(AssuranceReason.MALFORMED, "_sd_alg")
    by_digest: dict[str, list[Any]] = {}
    for disclosure in disclosures:
        if not disclosure.isascii():
            raise AssuranceError(AssuranceReason.MALFORMED, "disclosure")
        digest = _digest(disclosure)
        if digest in by_digest:
            raise AssuranceError(AssuranceReason.DIGEST_MISMATCH, "disclosure repeated")
        by_digest[digest] = _disclosure(disclosure)
    walk = _Walk(by_digest)
    result = walk.object(payload)
    if walk.used != set(by_digest):
        raise AssuranceError(AssuranceReason.DIGEST_MISMATCH, "disclosure not signed")
    return result


def _disclosure(text: str) -> list[Any]:
    try:
        value = jsonkeys.loads(keys.b64url(text).decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise AssuranceError(AssuranceReason.MALFORMED, "disclosure") from None
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise AssuranceError(AssuranceReason.MALFORMED, "disclosure")
    if not isinstance(value[0], str):
        raise AssuranceError(AssuranceReason.MALFORMED, "disclosure salt")
    if len(value) == 3 and (not isinstance(value[1], str) or value[1] in _RESERVED):
        raise AssuranceError(AssuranceReason.MALFORMED, "disclosure name")
    return value


class _Walk:
    """One pass over the payload, recording each digest it meets."""

    def __init__(self, by_digest: dict[str, list[Any]]) -> None:
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.used: set[str] = set()

    def _meet(self, digest: Any) -> list[Any] | None:
        if not isinstance(digest, str):
            raise AssuranceError(AssuranceReason.MALFORMED, "_sd")
        if digest in self.seen:
            raise AssuranceError(AssuranceReason.DIGEST_MISMATCH, "digest repeated")
        self.seen.add(digest)
        found = self.by_digest.get(digest)
        if found is not None:
            self.used.add(digest)
        return found

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self.object(value)
        if isinstance(value, list):
            return self.array(value)
        return value

    def object(self, data: dict[str, Any]) -> dict[str, Any]:
        result = {
            k: self.value(v) for k, v in data.items() if k not in ("_sd", "_sd_alg")
        }
        digests = data.get("_sd", [])
        if not isinstance(digests, list):
            raise AssuranceError(AssuranceReason.MALFORMED, "_sd")
        for digest in digests:
            found = self._meet(digest)
            if found is None:
                continue
            if len(found) != 3:
                raise AssuranceError(AssuranceReason.MALFORMED, "disclosure kind")
            _, name, value = found
            if name in result:
                raise AssuranceError(
                    AssuranceReason.DIGEST_MISMATCH, "claim name collision"
                )
            result[name] = self.value(value)
        return result

    def array(self, data: list[Any]) -> list[Any]:
        result: list[Any] = []
        for element in data:
            if isinstance(element, dict) and "..." in element:
                if len(element) != 1:
                    raise AssuranceError(AssuranceReason.MALFORMED, "array element")
                found = self._meet(element["..."])
                if found is None:
                    continue
                if len(found) != 2:
                    raise AssuranceError(AssuranceReason.MALFORMED, "disclosure kind")
                result.append(self.value(found[1]))
            else:
                result.append(self.value(element))
        return result


def _verify_key_binding(
    compact: str,
    holder: keys.PublicKey,
    presented: str,
    audience: str,
    nonce: str,
    now: datetime,
    leeway: timedelta,
) -> None:
    unbound = AssuranceError(AssuranceReason.BINDING_INVALID, "KB-JWT")
    try:
        jws = _parse_jws(compact, "KB-JWT")
    except AssuranceError:
        raise unbound from None
    if jws.header.get("typ") != "kb+jwt":
        raise unbound
    try:
        keys.verify(holder, jws.header["alg"], jws.signing_input, jws.signature)
    except AssuranceError:
        raise unbound from None
    claims = jws.payload
    if claims.get("aud") != audience:
        raise AssuranceError(AssuranceReason.ORIGIN_MISMATCH, "KB-JWT aud")
    nonce_claim = claims.get("nonce")
    if not isinstance(nonce_claim, str) or not hmac.compare_digest(
        nonce_claim.encode(), nonce.encode()
    ):
        raise AssuranceError(AssuranceReason.BINDING_INVALID, "KB-JWT nonce")
    issued = _time(claims, "iat", required=True)
    if issued is None or abs(now - issued) > leeway:
        raise AssuranceError(AssuranceReason.BINDING_INVALID, "KB-JWT iat")
    expected = _digest(presented)
    sd_hash = claims.get("sd_hash")
    if not isinstance(sd_hash, str) or not hmac.compare_digest(sd_hash, expected):
        raise AssuranceError(AssuranceReason.BINDING_INVALID, "KB-JWT sd_hash")
