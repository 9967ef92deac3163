"""The operator's trust anchors, and the chains that end in them.

An mdoc is trusted through its document signer's certificate, issued by an
IACA (ISO 18013-5 Annex B: a two-level PKI, no intermediates). An SD-JWT VC
is trusted through a key the operator lists, or an `x5c` chain that ends in
a listed certificate. Nothing the proof carries is trusted by itself: a
chain that does not end in the list is `ASSURANCE_UNTRUSTED_ISSUER`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from . import keys
from .model import AssuranceError, AssuranceReason

# ISO/IEC 18013-5 Annex B.1.4: the document signer's extended key usage. The
# EU age-verification profile uses the ISO 18013-5 mdoc profile unchanged.
MDL_DOCUMENT_SIGNER_EKU = "1.0.18013.5.1.2"
# The organisation name of every certificate the demo's TEST wallet makes:
# a trust list refuses such an anchor unless told `allow_test_anchors=True`,
# so a test issuer cannot be trusted in production by a copied config.
TEST_ANCHOR_ORG = "agegate TEST anchor - not for production"

Anchorable = bytes | str | x509.Certificate | dict[str, Any] | keys.PublicKey


@attrs.frozen
class Anchor:
    """One trusted certificate or key; `source` is its digest, safe to store."""

    source: str
    key: keys.PublicKey = attrs.field(repr=False)
    certificate: x509.Certificate | None = attrs.field(default=None, repr=False)
    kid: str | None = None


@attrs.frozen
class TrustList:
    """The anchors an operator trusts; build it with `TrustList.of`.

    `document_signer_ekus` is the allow-list of extended key usages a
    document signer must carry one of; None accepts a signer without one
    (some published test vectors), never the default.
    """

    iacas: tuple[Anchor, ...]
    issuers: tuple[Anchor, ...]
    document_signer_ekus: frozenset[str] | None = frozenset({MDL_DOCUMENT_SIGNER_EKU})

    def __attrs_post_init__(self) -> None:
        if not self.iacas and not self.issuers:
            raise ValueError("a TrustList needs at least one anchor")
        if self.document_signer_ekus is not None and not self.document_signer_ekus:
            raise ValueError("document_signer_ekus: give at least one, or None")

    @classmethod
    def of(
        cls,
        *,
        iacas: Iterable[bytes | str | x509.Certificate] = (),
        issuers: Iterable[Anchorable] = (),
        document_signer_ekus: Iterable[str] | None = (MDL_DOCUMENT_SIGNER_EKU,),
        allow_test_anchors: bool = False,
    ) -> TrustList:
        """Anchors from PEM (one or several certificates), DER, certificates,
        public keys or public JWKs (issuers only). ValueError on anything else,
        and on a TEST anchor (`TEST_ANCHOR_ORG`) unless `allow_test_anchors`."""
        iaca_anchors = tuple(
            _ca_anchor(cert) for item in iacas for cert in _certificates(item)
        )
        issuer_anchors = tuple(anchor for item in issuers for anchor in _issuer(item))
        if not allow_test_anchors:
            _refuse_test_anchors((*iaca_anchors, *issuer_anchors))
        ekus = None if document_signer_ekus is None else frozenset(document_signer_ekus)
        return cls(iaca_anchors, issuer_anchors, ekus)

    def mdoc_signer(
        self,
        chain: Sequence[x509.Certificate],
        now: datetime,
        signed: datetime,
        leeway: timedelta,
    ) -> Anchor:
        """The IACA that issued the document signer `chain[0]`, after checking
        the signer's role and validity at `now` and at `signed` (when the MSO
        says it was signed). Certificates after the first are ignored."""
        if not chain:
            raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, "x5chain")
        signer = chain[0]
        self._check_document_signer(signer)
        anchor = _issuing_anchor(signer, self.iacas)
        check_validity(anchor.certificate, now, leeway, "IACA validity")
        check_validity(signer, now, leeway, "document signer validity")
        check_validity(signer, signed, timedelta(0), "signed within signer validity")
        return anchor

    def issuer_key(
        self,
        chain: Sequence[x509.Certificate],
        kid: str | None,
        now: datetime,
        leeway: timedelta,
    ) -> list[Anchor]:
        """The anchors whose key may have signed an SD-JWT VC: the chain's
        leaf if the chain ends in a listed certificate, else the listed keys
        (the one named by `kid` if any has that kid)."""
        if chain:
            anchor = _chain_anchor(chain, self.issuers)
            for cert in chain:
                check_validity(cert, now, leeway, "x5c validity")
            leaf = keys.certificate_key(chain[0], "x5c")
            return [attrs.evolve(anchor, key=leaf, certificate=chain[0])]
        listed = list(self.issuers)
        named = [a for a in listed if kid is not None and a.kid == kid]
        if named:
            return named
        if not listed:
            raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, "issuer key")
        return listed

    def status_list_signer(
        self, chain: Sequence[x509.Certificate], now: datetime, leeway: timedelta
    ) -> Anchor:
        """The anchor (an IACA or a listed issuer certificate) a Status List
        Token's `x5c` chain ends in, with the leaf's key to check it with."""
        if not chain:
            raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, "status list x5c")
        anchor = _chain_anchor(chain, (*self.iacas, *self.issuers))
        for cert in chain:
            check_validity(cert, now, leeway, "status list x5c validity")
        leaf = keys.certificate_key(chain[0], "status list x5c")
        return attrs.evolve(anchor, key=leaf, certificate=chain[0])

    def _check_document_signer(self, signer: x509.Certificate) -> None:
        untrusted = AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, "document signer")
        if _is_ca(signer) or not _may_sign(signer, "digital_signature"):
            raise untrusted
        if self.document_signer_ekus is None:
            return
        usages = _extension(signer, ExtensionOID.EXTENDED_KEY_USAGE)
        if (
            usages is None
            or not {oid.dotted_string for oid in usages} & self.document_signer_ekus
        ):
            raise untrusted


def check_validity(
    cert: x509.Certificate | None, at: datetime, leeway: timedelta, step: str
) -> None:
    """EXPIRED or NOT_YET_VALID if `at` is outside the certificate's window."""
    if cert is None:
        return
    if at + leeway < cert.not_valid_before_utc:
        raise AssuranceError(AssuranceReason.NOT_YET_VALID, step)
    if at - leeway > cert.not_valid_after_utc:
        raise AssuranceError(AssuranceReason.EXPIRED, step)


def source_of(der: bytes) -> str:
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _refuse_test_anchors(anchors: Iterable[Anchor]) -> None:
    for anchor in anchors:
        if anchor.certificate is None:
            continue
        names = anchor.certificate.subject.get_attributes_for_oid(
            x509.NameOID.ORGANIZATION_NAME
        )
        if any(name.value == TEST_ANCHOR_ORG for name in names):
            raise ValueError(
                "a TEST anchor (the demo's test wallet) is trusted only with"
                " allow_test_anchors=True"
            )


def _certificates(item: bytes | str | x509.Certificate) -> list[x509.Certificate]:
    if isinstance(item, x509.Certificate):
        return [item]
    data = item.encode("ascii") if isinstance(item, str) else item
    if not isinstance(data, bytes):
        raise ValueError("a trust anchor is PEM, DER or a certificate")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except x509.InvalidVersion:
        raise ValueError("a trust anchor certificate must be X.509 v3") from None


def _ca_anchor(cert: x509.Certificate) -> Anchor:
    try:
        usable = _is_ca(cert) and _may_sign(cert, "key_cert_sign")
    except AssuranceError:
        usable = False
    if not usable or not _may_sign(cert, "key_cert_sign"):
        raise ValueError("an IACA must be a CA certificate that may sign certificates")
    return _cert_anchor(cert)


def _cert_anchor(cert: x509.Certificate) -> Anchor:
    try:
        key = keys.check_key_type(cert.public_key())
    except AssuranceError:
        raise ValueError(
            "a trust anchor's key must be EC P-256/384/521 or Ed25519"
        ) from None
    der = cert.public_bytes(serialization.Encoding.DER)
    return Anchor(source_of(der), key, cert)


def _issuer(item: Anchorable) -> list[Anchor]:
    if isinstance(item, dict):
        try:
            key = keys.from_jwk(item, "issuer JWK")
        except AssuranceError:
            raise ValueError(
                "an issuer JWK must be a public EC or Ed25519 key"
            ) from None
        kid = item.get("kid")
        return [
            Anchor(_key_source(key), key, None, kid if isinstance(kid, str) else None)
        ]
    if isinstance(item, (bytes, str)) and (
        b"PUBLIC KEY-----" in (item.encode("ascii") if isinstance(item, str) else item)
    ):
        data = item.encode("ascii") if isinstance(item, str) else item
        loaded = serialization.load_pem_public_key(data)
        return [_key_anchor(loaded)]
    if isinstance(item, (bytes, str, x509.Certificate)):
        return [_cert_anchor(cert) for cert in _certificates(item)]
    return [_key_anchor(item)]


def _key_anchor(loaded: Any) -> Anchor:
    try:
        key = keys.check_key_type(loaded)
    except AssuranceError:
        raise ValueError("an issuer key must be EC P-256/384/521 or Ed25519") from None
    return Anchor(_key_source(key), key)


def _key_source(key: keys.PublicKey) -> str:
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return source_of(spki)


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> Any:
    """An extension's value, or None; MALFORMED if the extensions do not
    parse (cryptography reads them lazily, and raises ValueError then)."""
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        raise AssuranceError(
            AssuranceReason.MALFORMED, "certificate extensions"
        ) from None


def _is_ca(cert: x509.Certificate) -> bool:
    value = _extension(cert, ExtensionOID.BASIC_CONSTRAINTS)
    return value is not None and bool(value.ca)


def _may_sign(cert: x509.Certificate, usage: str) -> bool:
    """False if a key usage extension is present without `usage`."""
    value = _extension(cert, ExtensionOID.KEY_USAGE)
    return value is None or bool(getattr(value, usage))


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _issuing_anchor(cert: x509.Certificate, anchors: Sequence[Anchor]) -> Anchor:
    for anchor in anchors:
        if anchor.certificate is not None and _issued_by(cert, anchor.certificate):
            return anchor
    raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, "issuer chain")


def _chain_anchor(
    chain: Sequence[x509.Certificate], anchors: Sequence[Anchor]
) -> Anchor:
    """Walk the chain link by link to a listed certificate (the chain may
    hold it, or stop just below it)."""
    certified = [a for a in anchors if a.certificate is not None]
    for index, cert in enumerate(chain):
        for anchor in certified:
            if anchor.certificate == cert:
                return anchor
        for anchor in certified:
            if anchor.certificate is not None and _issued_by(cert, anchor.certificate):
                return anchor
        parent = chain[index + 1] if index + 1 < len(chain) else None
        if parent is None or not _is_ca(parent) or not _issued_by(cert, parent):
            break
    raise AssuranceError(AssuranceReason.UNTRUSTED_ISSUER, "issuer chain")


def utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a timezone-aware datetime is needed")
    return at.astimezone(UTC)
