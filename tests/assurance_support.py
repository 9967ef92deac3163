"""A test PKI, a test issuer and a test wallet for the wallet verifier.

Everything here is built for the tests, fresh per session: an IACA with
document signers (the right EKU, a wrong EKU, an expired one), a second IACA
no trust list names, SD-JWT VC issuers (one chained to a listed CA, one
untrusted), and a wallet holding a device key that answers a `Challenge`
the way a real wallet does over the Digital Credentials API. The signing is
written out here (COSE_Sign1, JWS) so that the verifier is not checked
against itself.

    pki = TestPKI.create()
    verifier = WalletVerifier(pki.trust_list(), origin=ORIGIN)
    challenge = verifier.begin(18)
    wallet = TestWallet(pki)
    response = wallet.mdoc_response(challenge, ORIGIN, age_over={18: True})
    assurance = verifier.complete(challenge.attempt, response, origin=ORIGIN)
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agegate.assurance.challenge import Challenge
from agegate.assurance.trust import MDL_DOCUMENT_SIGNER_EKU, TrustList

ORIGIN = "https://shop.example"
AV_DOCTYPE = "eu.europa.ec.av.1"
MDL_DOCTYPE = "org.iso.18013.5.1.mDL"
PID_VCT = "urn:eudi:pid:1"
# Identity attributes the test credentials carry beside the age, so tests
# can check that none of them leaks into a result, an error or a log.
PERSON_NAME = "Zebulon Quartermaine"
DOCUMENT_NUMBER = "X9Q4-DOC-771203"
BIRTH_DATE = "2001-04-09"

NAMESPACES = {AV_DOCTYPE: AV_DOCTYPE, MDL_DOCTYPE: "org.iso.18013.5.1"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    not_before: datetime,
    not_after: datetime,
    ekus: list[x509.ObjectIdentifier] | None = None,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


@attrs.frozen
class Signer:
    """A signing key and its certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@attrs.frozen
class TestPKI:
    """The test session's certificates. Signers are valid from 30 days
    before `created` to a year after (the expired one ended 30 days before)."""

    __test__ = False  # not a pytest class

    created: datetime
    iaca: Signer
    document_signer: Signer
    wrong_eku_signer: Signer
    expired_signer: Signer
    other_iaca: Signer
    untrusted_signer: Signer  # a right-EKU signer under other_iaca
    issuer_ca: Signer
    issuer: Signer  # SD-JWT VC issuer under issuer_ca, sent as x5c
    untrusted_issuer: Signer  # self-signed, never listed
    listed_issuer_key: ec.EllipticCurvePrivateKey  # listed as a bare JWK

    @classmethod
    def create(cls, now: datetime | None = None) -> TestPKI:
        now = now or datetime.now(UTC)
        start, end = now - timedelta(days=30), now + timedelta(days=365)
        mdl = x509.ObjectIdentifier(MDL_DOCUMENT_SIGNER_EKU)

        def ca(name: str) -> Signer:
            key = ec.generate_private_key(ec.SECP256R1())
            return Signer(
                key, _cert(name, key, None, ca=True, not_before=start, not_after=end)
            )

        def leaf(
            name: str,
            parent: Signer,
            ekus: list[x509.ObjectIdentifier] | None,
            **times: Any,
        ) -> Signer:
            key = ec.generate_private_key(ec.SECP256R1())
            issuer = (parent.cert.subject.rfc4514_string()[3:], parent.key)
            window = {"not_before": start, "not_after": end} | times
            return Signer(key, _cert(name, key, issuer, ca=False, ekus=ekus, **window))

        iaca, other = ca("Test IACA"), ca("Other IACA")
        issuer_ca = ca("Test SD-JWT issuer CA")
        return cls(
            created=now,
            iaca=iaca,
            document_signer=leaf("Test DS", iaca, [mdl]),
            wrong_eku_signer=leaf(
                "Test DS wrong EKU", iaca, [ExtendedKeyUsageOID.CODE_SIGNING]
            ),
            expired_signer=leaf(
                "Test DS expired",
                iaca,
                [mdl],
                not_before=now - timedelta(days=400),
                not_after=now - timedelta(days=30),
            ),
            other_iaca=other,
            untrusted_signer=leaf("Untrusted DS", other, [mdl]),
            issuer_ca=issuer_ca,
            issuer=leaf("Test SD-JWT issuer", issuer_ca, None),
            untrusted_issuer=ca("Untrusted SD-JWT issuer"),
            listed_issuer_key=ec.generate_private_key(ec.SECP256R1()),
        )

    def listed_issuer_jwk(self) -> dict[str, str]:
        return {**_jwk(self.listed_issuer_key.public_key()), "kid": "listed-1"}

    def trust_list(self, **options: Any) -> TrustList:
        """The IACA, the SD-JWT issuer CA and the listed issuer key."""
        return TrustList.of(
            iacas=[self.iaca.pem],
            issuers=[self.issuer_ca.pem, self.listed_issuer_jwk()],
            **options,
        )


def _jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def _raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def cose_sign1(
    key: ec.EllipticCurvePrivateKey,
    payload: bytes | None,
    *,
    detached_payload: bytes | None = None,
    unprotected: dict[int, Any] | None = None,
    protected: dict[int, Any] | None = None,
) -> list[Any]:
    """A COSE_Sign1 with ES256, written out by hand (RFC 9052 section 4.4)."""
    protected_bytes = cbor2.dumps({1: -7} if protected is None else protected)
    signed = payload if payload is not None else detached_payload
    to_be_signed = cbor2.dumps(["Signature1", protected_bytes, b"", signed])
    return [
        protected_bytes,
        unprotected or {},
        payload,
        _raw_signature(key, to_be_signed),
    ]


def jws(
    key: ec.EllipticCurvePrivateKey, header: dict[str, Any], payload: dict[str, Any]
) -> str:
    """A compact JWS with ES256, written out by hand (RFC 7515)."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(payload).encode())
    signature = _raw_signature(key, f"{head}.{body}".encode("ascii"))
    return f"{head}.{body}.{b64url(signature)}"


def openid4vp_transcript(origin: str, nonce: str) -> list[Any]:
    """OpenID4VP 1.0 Appendix B.2.6.2, unencrypted response (no thumbprint)."""
    info = cbor2.dumps([origin, nonce, None])
    return [None, None, ["OpenID4VPDCAPIHandover", hashlib.sha256(info).digest()]]


def annex_c_transcript(encryption_info: str, origin: str) -> list[Any]:
    info = cbor2.dumps([encryption_info, origin])
    return [None, None, ["dcapi", hashlib.sha256(info).digest()]]


def _request(challenge: Challenge, protocol: str) -> dict[str, Any]:
    return next(r for r in challenge.requests if r["protocol"] == protocol)


def _query_id(challenge: Challenge, doctype: str) -> str:
    """The DCQL credential query that asked for this doctype (the first mdoc
    query if none did, as a wallet with the wrong credential would answer)."""
    queries = _request(challenge, "openid4vp-v1-unsigned")["data"]["dcql_query"][
        "credentials"
    ]
    mdocs = [q for q in queries if q["format"] == "mso_mdoc"]
    for query in mdocs:
        if query["meta"]["doctype_value"] == doctype:
            return str(query["id"])
    return str(mdocs[0]["id"])


class TestWallet:
    """Holds a device key and answers challenges; every knob of a response
    is a keyword, so each test changes one thing."""

    __test__ = False

    def __init__(self, pki: TestPKI) -> None:
        self.pki = pki
        self.device_key = ec.generate_private_key(ec.SECP256R1())

    # mdoc -------------------------------------------------------------

    def issuer_signed(
        self,
        *,
        doctype: str = AV_DOCTYPE,
        elements: dict[str, Any],
        signer: Signer | None = None,
        signed: datetime | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        mso_doctype: str | None = None,
        edit_items: Callable[[list[bytes]], list[bytes]] | None = None,
        device_key: ec.EllipticCurvePublicKey | None = None,
    ) -> dict[str, Any]:
        """IssuerSigned: the elements as IssuerSignedItems, and the MSO."""
        now = datetime.now(UTC).replace(microsecond=0)
        namespace = NAMESPACES.get(doctype, doctype)
        items = []
        for digest_id, (name, value) in enumerate(elements.items()):
            item = {
                "digestID": digest_id,
                "random": secrets.token_bytes(16),
                "elementIdentifier": name,
                "elementValue": value,
            }
            items.append(cbor2.dumps(item))
        digests = {
            i: hashlib.sha256(cbor2.dumps(cbor2.CBORTag(24, raw))).digest()
            for i, raw in enumerate(items)
        }
        if edit_items is not None:
            items = edit_items(items)
        signed = signed or now - timedelta(days=1)
        numbers = (device_key or self.device_key.public_key()).public_numbers()
        mso = {
            "version": "1.0",
            "digestAlgorithm": "SHA-256",
            "valueDigests": {namespace: digests},
            "deviceKeyInfo": {
                "deviceKey": {
                    1: 2,
                    -1: 1,
                    -2: numbers.x.to_bytes(32, "big"),
                    -3: numbers.y.to_bytes(32, "big"),
                }
            },
            "docType": mso_doctype or doctype,
            "validityInfo": {
                "signed": signed,
                "validFrom": valid_from or signed,
                "validUntil": valid_until or now + timedelta(days=90),
            },
        }
        signer = signer or self.pki.document_signer
        payload = cbor2.dumps(
            cbor2.CBORTag(24, cbor2.dumps(mso, datetime_as_timestamp=False))
        )
        issuer_auth = cose_sign1(signer.key, payload, unprotected={33: signer.der})
        return {
            "nameSpaces": {namespace: [cbor2.CBORTag(24, raw) for raw in items]},
            "issuerAuth": issuer_auth,
        }

    def device_response(
        self,
        issuer_signed: dict[str, Any],
        transcript: Any,
        *,
        doctype: str = AV_DOCTYPE,
        device_auth: dict[str, Any] | None = None,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> bytes:
        """A DeviceResponse with the device signature over the transcript."""
        namespaces = cbor2.CBORTag(24, cbor2.dumps({}))
        authentication = cbor2.dumps(
            ["DeviceAuthentication", transcript, doctype, namespaces]
        )
        signature = cose_sign1(
            signing_key or self.device_key,
            None,
            detached_payload=cbor2.dumps(cbor2.CBORTag(24, authentication)),
        )
        document = {
            "docType": doctype,
            "issuerSigned": issuer_signed,
            "deviceSigned": {
                "nameSpaces": namespaces,
                "deviceAuth": {"deviceSignature": signature}
                if device_auth is None
                else device_auth,
            },
        }
        return cbor2.dumps({"version": "1.0", "documents": [document], "status": 0})

    def mdoc_response(
        self,
        challenge: Challenge,
        origin: str = ORIGIN,
        *,
        age_over: dict[int, Any] | None = None,
        doctype: str = AV_DOCTYPE,
        protocol: str = "openid4vp",
        nonce: str | None = None,
        extra: dict[str, Any] | None = None,
        device_auth: dict[str, Any] | None = None,
        **issuer: Any,
    ) -> dict[str, Any]:
        """What a page posts back after `navigator.credentials.get`, for an
        mdoc over OpenID4VP (`protocol="openid4vp"`) or Annex C ("annex-c")."""
        ages = {18: True} if age_over is None else age_over
        elements = {f"age_over_{m:02d}": v for m, v in ages.items()} | (extra or {})
        signed = self.issuer_signed(doctype=doctype, elements=elements, **issuer)
        if protocol == "openid4vp":
            transcript = openid4vp_transcript(origin, nonce or challenge.nonce)
            raw = self.device_response(
                signed, transcript, doctype=doctype, device_auth=device_auth
            )
            return {
                "protocol": "openid4vp-v1-unsigned",
                "data": {"vp_token": {_query_id(challenge, doctype): [b64url(raw)]}},
            }
        info = _request(challenge, "org-iso-mdoc")["data"]["encryptionInfo"]
        transcript = annex_c_transcript(info, origin)
        raw = self.device_response(
            signed, transcript, doctype=doctype, device_auth=device_auth
        )
        return {
            "protocol": "org-iso-mdoc",
            "data": {"response": annex_c_seal(info, raw, transcript)},
        }

    # SD-JWT VC --------------------------------------------------------

    def sd_jwt(
        self,
        *,
        claims: dict[str, Any],
        vct: str = PID_VCT,
        issuer: str = "x5c",
        exp: float | None = None,
        nbf: float | None = None,
        iat: float | None = None,
        extra_payload: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
    ) -> tuple[str, list[str]]:
        """An issuer-signed SD-JWT VC with every claim selectively
        disclosable (age_equal_or_over's members too); (jwt, disclosures)."""
        now = datetime.now(UTC).timestamp()
        disclosures: list[str] = []

        def conceal(name: str, value: Any) -> str:
            text = b64url(
                json.dumps([b64url(secrets.token_bytes(16)), name, value]).encode()
            )
            disclosures.append(text)
            return b64url(hashlib.sha256(text.encode("ascii")).digest())

        digests = []
        for name, value in claims.items():
            if isinstance(value, dict):
                value = {"_sd": [conceal(k, v) for k, v in value.items()]}
            digests.append(conceal(name, value))
        digests.append(b64url(secrets.token_bytes(32)))  # a decoy
        payload = {
            "iss": "https://issuer.example",
            "vct": vct,
            "iat": now - 3600 if iat is None else iat,
            "exp": now + 86400 * 30 if exp is None else exp,
            "_sd": sorted(digests),
            "_sd_alg": "sha-256",
            "cnf": {"jwk": _jwk(self.device_key.public_key())},
        }
        if nbf is not None:
            payload["nbf"] = nbf
        payload |= extra_payload or {}
        signers = {
            "x5c": (
                self.pki.issuer.key,
                {"x5c": [base64.b64encode(self.pki.issuer.der).decode()]},
            ),
            "jwk": (self.pki.listed_issuer_key, {"kid": "listed-1"}),
            "untrusted": (
                self.pki.untrusted_issuer.key,
                {"x5c": [base64.b64encode(self.pki.untrusted_issuer.der).decode()]},
            ),
            "unlisted-key": (ec.generate_private_key(ec.SECP256R1()), {}),
        }
        key, extra_header = signers[issuer]
        head = {"alg": "ES256", "typ": "dc+sd-jwt", **extra_header, **(header or {})}
        return jws(key, head, payload), disclosures

    def key_binding(
        self,
        presented: str,
        *,
        aud: str,
        nonce: str,
        iat: float | None = None,
        sd_hash: str | None = None,
        typ: str = "kb+jwt",
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> str:
        digest = b64url(hashlib.sha256(presented.encode("ascii")).digest())
        payload = {
            "iat": datetime.now(UTC).timestamp() if iat is None else iat,
            "aud": aud,
            "nonce": nonce,
            "sd_hash": digest if sd_hash is None else sd_hash,
        }
        return jws(key or self.device_key, {"alg": "ES256", "typ": typ}, payload)

    def sd_jwt_response(
        self,
        challenge: Challenge,
        origin: str = ORIGIN,
        *,
        age_over: dict[int, Any] | None = None,
        nested: bool = True,
        extra: dict[str, Any] | None = None,
        kb: bool = True,
        aud: str | None = None,
        nonce: str | None = None,
        kb_iat: float | None = None,
        edit_disclosures: Callable[[list[str]], list[str]] | None = None,
        **issuer: Any,
    ) -> dict[str, Any]:
        """What a page posts back for an SD-JWT VC over OpenID4VP 1.0: age
        claims as the PID rulebook's `age_equal_or_over: {"18": true}`
        (`nested=True`) or top-level `age_over_18`."""
        ages = {18: True} if age_over is None else age_over
        if nested:
            claims: dict[str, Any] = {
                "age_equal_or_over": {str(m): v for m, v in ages.items()}
            }
        else:
            claims = {f"age_over_{m}": v for m, v in ages.items()}
        claims |= extra or {}
        issuer_jwt, disclosures = self.sd_jwt(claims=claims, **issuer)
        if edit_disclosures is not None:
            disclosures = edit_disclosures(disclosures)
        presented = "~".join([issuer_jwt, *disclosures]) + "~"
        if kb:
            presented += self.key_binding(
                presented,
                aud=aud or f"origin:{origin}",
                nonce=nonce or challenge.nonce,
                iat=kb_iat,
            )
        return {
            "protocol": "openid4vp-v1-unsigned",
            "data": {"vp_token": {"sd_jwt": [presented]}},
        }


def annex_c_seal(encryption_info: str, device_response: bytes, transcript: Any) -> str:
    """Encrypt a DeviceResponse to the reader key of an Annex C request."""
    info = cbor2.loads(
        base64.urlsafe_b64decode(encryption_info + "=" * (-len(encryption_info) % 4))
    )
    cose_key = info[1]["recipientPublicKey"]
    reader = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b"\x04" + cose_key[-2] + cose_key[-3]
    )
    suite = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
    sealed = suite.encrypt(device_response, reader, info=cbor2.dumps(transcript))
    envelope = ["dcapi", {"enc": sealed[:65], "cipherText": sealed[65:]}]
    return b64url(cbor2.dumps(envelope))
