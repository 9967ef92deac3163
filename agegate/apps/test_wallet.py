"""A TEST wallet for the demo: real proofs of age from a TEST issuer.

At each start the demo (run with its test-wallet option) generates a TEST
IACA with a document signer for mdoc, and a TEST CA with an SD-JWT VC
issuer. Every certificate is marked as a test in its organisation name
(`TEST_ANCHOR_ORG`), which `TrustList.of` refuses unless the operator says
`allow_test_anchors=True`: only the demo does.

The wallet holds one device key and answers a Digital Credentials API
request as a real one does: an mdoc DeviceResponse signed over the session
transcript with the `OpenID4VPDCAPIHandover` of the page's origin and the
request's nonce, or an SD-JWT VC with a KB-JWT (`aud` = `origin:<origin>`,
the nonce, `iat`, `sd_hash`). The signing is written out here (COSE_Sign1,
JWS) rather than borrowed from the verifier, so that the demo checks the
verifier instead of agreeing with it.

The TEST wallet over-shares on purpose: beside the age it is asked for it
discloses a name and a document number, so a tester can see that agegate
keeps neither. Nothing here is for production: it proves nobody's age.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from ..assurance.trust import MDL_DOCUMENT_SIGNER_EKU, TEST_ANCHOR_ORG, TrustList

OPENID4VP = "openid4vp-v1-unsigned"
AV_DOCTYPE = "eu.europa.ec.av.1"
PID_VCT = "urn:eudi:pid:1"
FORMATS = ("mdoc", "sd-jwt")
# What the TEST wallet over-shares (see the module docstring).
TEST_PERSON_NAME = "Testina Walletberg"
TEST_DOCUMENT_NUMBER = "TEST-DOC-0042-X"
_AGES = (13, 14, 15, 16, 17, 18, 19, 21, 25)
_NAMESPACES = {"org.iso.18013.5.1.mDL": "org.iso.18013.5.1"}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ANCHOR_ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@attrs.frozen(eq=False)
class _Signer:
    key: ec.EllipticCurvePrivateKey = attrs.field(repr=False)
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _certify(
    common: str, parent: _Signer | None, now: datetime, eku: str | None
) -> _Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    ca = parent is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(parent.cert.subject if parent else _name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_usage(ca=ca), critical=True)
    )
    if eku is not None:
        usage = x509.ExtendedKeyUsage([x509.ObjectIdentifier(eku)])
        builder = builder.add_extension(usage, critical=True)
    return _Signer(key, builder.sign(parent.key if parent else key, hashes.SHA256()))


@attrs.frozen(eq=False)
class TestIssuer:
    """The TEST PKI: an IACA and its document signer, a CA and its SD-JWT
    VC issuer; new keys at each `create`."""

    __test__ = False  # not a pytest class

    iaca: _Signer
    document_signer: _Signer
    issuer_ca: _Signer
    issuer: _Signer

    @classmethod
    def create(cls, label: str = "agegate demo") -> TestIssuer:
        now = datetime.now(UTC)
        iaca = _certify(f"TEST IACA ({label})", None, now, None)
        issuer_ca = _certify(f"TEST SD-JWT VC CA ({label})", None, now, None)
        return cls(
            iaca=iaca,
            document_signer=_certify(
                f"TEST document signer ({label})", iaca, now, MDL_DOCUMENT_SIGNER_EKU
            ),
            issuer_ca=issuer_ca,
            issuer=_certify(f"TEST SD-JWT VC issuer ({label})", issuer_ca, now, None),
        )

    def status_list_token(
        self,
        uri: str,
        revoked: Iterable[int] = (),
        *,
        size: int = 1024,
        signer: str = "issuer",
        ttl: int = 300,
    ) -> str:
        """A Status List Token (1 bit per entry) for `uri` in which the
        entries `revoked` are INVALID; signed by the SD-JWT VC issuer
        (`signer="issuer"`) or the mdoc document signer ("document_signer")."""
        entries = bytearray((size + 7) // 8)
        for idx in revoked:
            entries[idx // 8] |= 1 << (idx % 8)
        key = self.issuer if signer == "issuer" else self.document_signer
        now = int(datetime.now(UTC).timestamp())
        payload = {
            "sub": uri,
            "iat": now,
            "exp": now + 3600,
            "ttl": ttl,
            "status_list": {"bits": 1, "lst": _b64url(zlib.compress(bytes(entries)))},
        }
        header = {
            "alg": "ES256",
            "typ": "statuslist+jwt",
            "x5c": [base64.b64encode(key.der).decode("ascii")],
        }
        return _jws(key.key, header, payload)

    def trust_list(self) -> TrustList:
        """The TEST anchors, accepted only because this says so."""
        return TrustList.of(
            iacas=[self.iaca.pem],
            issuers=[self.issuer_ca.pem],
            allow_test_anchors=True,
        )


def _signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _cose_sign1(
    key: ec.EllipticCurvePrivateKey,
    payload: bytes | None,
    signed: bytes,
    unprotected: dict[int, Any],
) -> list[Any]:
    """COSE_Sign1 with ES256 (RFC 9052 section 4.4); `payload` None for a
    detached one, `signed` the bytes the signature covers either way."""
    protected = cbor2.dumps({1: -7})
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", signed])
    return [protected, unprotected, payload, _signature(key, to_be_signed)]


def _jws(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], body: Any) -> str:
    head = _b64url(json.dumps(header).encode())
    payload = _b64url(json.dumps(body).encode())
    signature = _signature(key, f"{head}.{payload}".encode("ascii"))
    return f"{head}.{payload}.{_b64url(signature)}"


def _jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


class WalletRequestError(ValueError):
    """The request names nothing this wallet can answer (the field is said)."""


@attrs.frozen
class _Asked:
    """What a page's OpenID4VP request asks for, read from it."""

    nonce: str
    required_age: int
    mdoc_queries: dict[str, str]  # doctype -> query id
    sd_jwt_query: tuple[str, str] | None  # (query id, vct)


def read_request(requests: Any) -> _Asked:
    """The OpenID4VP request among the DC API `requests`; WalletRequestError
    naming the field when it is not there or not readable."""
    try:
        return _read_request(requests)
    # JSON from the page may hold anything anywhere: any surprise in it is
    # a request this wallet cannot read.
    except (TypeError, ValueError, AttributeError, IndexError, KeyError):
        raise WalletRequestError("requests: not an OpenID4VP request") from None


def _read_request(requests: Any) -> _Asked:
    if not isinstance(requests, list):
        raise WalletRequestError("requests: a list")
    found = [
        r for r in requests if isinstance(r, Mapping) and r.get("protocol") == OPENID4VP
    ]
    if not found or not isinstance(found[0].get("data"), Mapping):
        raise WalletRequestError(f"requests: no {OPENID4VP} request")
    data = found[0]["data"]
    nonce = data.get("nonce")
    query = data.get("dcql_query")
    if not isinstance(nonce, str) or not isinstance(query, Mapping):
        raise WalletRequestError("requests: nonce and dcql_query")
    mdocs: dict[str, str] = {}
    sd_jwt: tuple[str, str] | None = None
    age: int | None = None
    for credential in query.get("credentials") or []:
        if not isinstance(credential, Mapping):
            continue
        meta = credential.get("meta") or {}
        if credential.get("format") == "mso_mdoc":
            mdocs[str(meta.get("doctype_value"))] = str(credential.get("id"))
        elif credential.get("format") == "dc+sd-jwt":
            vcts = meta.get("vct_values") or [PID_VCT]
            sd_jwt = (str(credential.get("id")), str(vcts[0]))
        for claim in credential.get("claims") or []:
            path = claim.get("path") if isinstance(claim, Mapping) else None
            if (
                isinstance(path, list)
                and path
                and str(path[-1]).startswith("age_over_")
            ):
                age = int(str(path[-1])[len("age_over_") :])
    if age is None:
        raise WalletRequestError("requests: no age_over_NN claim asked")
    return _Asked(nonce, age, mdocs, sd_jwt)


class TestWallet:
    """A holder's device key and credentials from a `TestIssuer`."""

    __test__ = False

    def __init__(
        self, issuer: TestIssuer, *, status: tuple[str, int] | None = None
    ) -> None:
        self.issuer = issuer
        self.device_key = ec.generate_private_key(ec.SECP256R1())
        # Where the credentials' status is: (list uri, index), or none.
        self.status = status

    def _with_status(self, status: tuple[str, int]) -> TestWallet:
        """This holder (same device key) with credentials naming `status`."""
        other = TestWallet(self.issuer, status=status)
        other.device_key = self.device_key
        return other

    def _status_claim(self) -> dict[str, Any]:
        if self.status is None:
            return {}
        uri, idx = self.status
        return {"status": {"status_list": {"idx": idx, "uri": uri}}}

    def present(
        self,
        requests: Any,
        origin: str,
        *,
        age: int,
        format: str = "mdoc",
        status: tuple[str, int] | None = None,
    ) -> dict[str, Any]:
        """The `{protocol, data}` credential the DC API hands the page, for a
        holder `age` years old, bound to `origin` and the request's nonce;
        `status` (list uri, index) in place of the wallet's own."""
        if status is not None:
            return self._with_status(status).present(
                requests, origin, age=age, format=format
            )
        if format not in FORMATS:
            raise WalletRequestError(f"format: one of {', '.join(FORMATS)}")
        if type(age) is not int or not 0 <= age <= 130:
            raise WalletRequestError("age: a whole number of years")
        asked = read_request(requests)
        ages = sorted({*_AGES, asked.required_age})
        over = {m: age >= m for m in ages}
        if format == "mdoc":
            doctype = AV_DOCTYPE if AV_DOCTYPE in asked.mdoc_queries else None
            doctype = doctype or next(iter(asked.mdoc_queries), None)
            if doctype is None:
                raise WalletRequestError("requests: no mso_mdoc query")
            raw = self.device_response(doctype, over, origin, asked.nonce)
            token = {asked.mdoc_queries[doctype]: [_b64url(raw)]}
        else:
            if asked.sd_jwt_query is None:
                raise WalletRequestError("requests: no dc+sd-jwt query")
            query, vct = asked.sd_jwt_query
            token = {query: [self.sd_jwt(vct, over, origin, asked.nonce)]}
        return {"protocol": OPENID4VP, "data": {"vp_token": token}}

    # mdoc ---------------------------------------------------------------

    def _issuer_signed(self, doctype: str, elements: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).replace(microsecond=0)
        namespace = _NAMESPACES.get(doctype, doctype)
        items = [
            cbor2.dumps(
                {
                    "digestID": index,
                    "random": secrets.token_bytes(16),
                    "elementIdentifier": name,
                    "elementValue": value,
                }
            )
            for index, (name, value) in enumerate(elements.items())
        ]
        digests = {
            index: hashlib.sha256(cbor2.dumps(cbor2.CBORTag(24, raw))).digest()
            for index, raw in enumerate(items)
        }
        device = self.device_key.public_key().public_numbers()
        mso = {
            "version": "1.0",
            "digestAlgorithm": "SHA-256",
            "valueDigests": {namespace: digests},
            "deviceKeyInfo": {
                "deviceKey": {
                    1: 2,
                    -1: 1,
                    -2: device.x.to_bytes(32, "big"),
                    -3: device.y.to_bytes(32, "big"),
                }
            },
            "docType": doctype,
            "validityInfo": {
                "signed": now - timedelta(hours=1),
                "validFrom": now - timedelta(hours=1),
                "validUntil": now + timedelta(days=30),
            },
            **self._status_claim(),
        }
        signer = self.issuer.document_signer
        payload = cbor2.dumps(
            cbor2.CBORTag(24, cbor2.dumps(mso, datetime_as_timestamp=False))
        )
        auth = _cose_sign1(signer.key, payload, payload, {33: signer.der})
        return {
            "nameSpaces": {namespace: [cbor2.CBORTag(24, raw) for raw in items]},
            "issuerAuth": auth,
        }

    def device_response(
        self, doctype: str, over: dict[int, bool], origin: str, nonce: str
    ) -> bytes:
        """A DeviceResponse whose device signature covers the OpenID4VP 1.0
        DC API session transcript (Appendix B.2.6.2, unencrypted: no key
        thumbprint)."""
        elements: dict[str, Any] = {f"age_over_{m:02d}": v for m, v in over.items()}
        elements |= {
            "family_name": TEST_PERSON_NAME,
            "document_number": TEST_DOCUMENT_NUMBER,
        }
        handover_info = cbor2.dumps([origin, nonce, None])
        transcript = [
            None,
            None,
            ["OpenID4VPDCAPIHandover", hashlib.sha256(handover_info).digest()],
        ]
        namespaces = cbor2.CBORTag(24, cbor2.dumps({}))
        authentication = cbor2.dumps(
            ["DeviceAuthentication", transcript, doctype, namespaces]
        )
        detached = cbor2.dumps(cbor2.CBORTag(24, authentication))
        document = {
            "docType": doctype,
            "issuerSigned": self._issuer_signed(doctype, elements),
            "deviceSigned": {
                "nameSpaces": namespaces,
                "deviceAuth": {
                    "deviceSignature": _cose_sign1(self.device_key, None, detached, {})
                },
            },
        }
        return cbor2.dumps({"version": "1.0", "documents": [document], "status": 0})

    # SD-JWT VC ----------------------------------------------------------

    def sd_jwt(self, vct: str, over: dict[int, bool], origin: str, nonce: str) -> str:
        """An SD-JWT VC (every claim disclosed, the ages as the PID
        rulebook's `age_equal_or_over`) with its KB-JWT."""
        now = int(datetime.now(UTC).timestamp())
        disclosures: list[str] = []

        def disclose(name: str, value: Any) -> str:
            salt = _b64url(secrets.token_bytes(16))
            text = _b64url(json.dumps([salt, name, value]).encode())
            disclosures.append(text)
            return _b64url(hashlib.sha256(text.encode("ascii")).digest())

        ages = {"_sd": sorted(disclose(str(m), v) for m, v in over.items())}
        digests = [
            disclose("age_equal_or_over", ages),
            disclose("family_name", TEST_PERSON_NAME),
            disclose("document_number", TEST_DOCUMENT_NUMBER),
        ]
        payload = {
            "iss": "https://test-issuer.agegate.invalid",
            "vct": vct,
            "iat": now - 3600,
            "exp": now + 30 * 86400,
            "_sd": sorted(digests),
            "_sd_alg": "sha-256",
            "cnf": {"jwk": _jwk(self.device_key.public_key())},
            **self._status_claim(),
        }
        signer = self.issuer.issuer
        header = {
            "alg": "ES256",
            "typ": "dc+sd-jwt",
            "x5c": [base64.b64encode(signer.der).decode("ascii")],
        }
        presented = "~".join([_jws(signer.key, header, payload), *disclosures]) + "~"
        sd_hash = _b64url(hashlib.sha256(presented.encode("ascii")).digest())
        binding = {"iat": now, "aud": f"origin:{origin}", "nonce": nonce}
        binding["sd_hash"] = sd_hash
        kb = _jws(self.device_key, {"alg": "ES256", "typ": "kb+jwt"}, binding)
        return presented + kb


__all__ = [
    "FORMATS",
    "TEST_DOCUMENT_NUMBER",
    "TEST_PERSON_NAME",
    "TestIssuer",
    "TestWallet",
    "WalletRequestError",
    "read_request",
]
