"""The wallet verifier: a challenge out, a proof of age back, once.

`begin` issues a challenge and the Digital Credentials API requests that
carry it (OpenID4VP 1.0 over the DC API for an SD-JWT VC or an mdoc; ISO/IEC
18013-7 Annex C for an mdoc). `complete` consumes the attempt first, so a
replay fails even if the proof is good, then verifies the proof fully and
only then reads the age claims.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .. import jsonkeys
from ..age import live_today
from ..origins import origin_of
from . import cbor, keys, mdoc, sdjwt
from .ages import Reading, prove
from .challenge import (
    MAX_LIFETIME,
    Challenge,
    ChallengeStore,
    MemoryChallengeStore,
    new_token,
)
from .model import Assurance, AssuranceError, AssuranceReason, Level, Method
from .status import StatusLists
from .trust import Anchor, TrustList

DEFAULT_DOCTYPES = frozenset({"eu.europa.ec.av.1", "org.iso.18013.5.1.mDL"})
# SD-JWT VC types of the EU PID (the ARF's current and earlier names).
DEFAULT_VCTS = frozenset({"urn:eudi:pid:1", "urn:eu.europa.ec.eudi:pid:1"})
OPENID4VP = "openid4vp-v1-unsigned"
ANNEX_C = "org-iso-mdoc"
MAX_RESPONSE_CHARS = 512 * 1024
SD_JWT_QUERY = "sd_jwt"
_HPKE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
_ALGS = ["ES256", "ES384", "ES512", "EdDSA"]
_COSE_ALGS = [-7, -35, -36, -8]


class WalletVerifier:
    """Verifies proofs of age from digital identity wallets for one origin."""

    def __init__(
        self,
        trust: TrustList,
        *,
        origin: str,
        doctypes: Collection[str] = DEFAULT_DOCTYPES,
        vcts: Collection[str] = DEFAULT_VCTS,
        leeway: timedelta = timedelta(minutes=5),
        challenge_store: ChallengeStore | None = None,
        read_age_in_years: bool = False,
        read_birth_date: bool = False,
        level: Level = Level.HIGHLY_EFFECTIVE,
        lifetime: timedelta = MAX_LIFETIME,
        valid_for: timedelta = timedelta(days=365),
        status_lists: StatusLists | None = None,
    ) -> None:
        if not isinstance(trust, TrustList):
            raise TypeError("trust must be a TrustList")
        if not _is_origin(origin):
            raise ValueError(
                "origin must be an https origin such as https://example.com"
            )
        if not doctypes and not vcts:
            raise ValueError("accept at least one doctype or vct")
        if not timedelta(0) <= leeway <= timedelta(minutes=10):
            raise ValueError("leeway must be between 0 and 10 minutes")
        if not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise ValueError("lifetime must be at most 5 minutes")
        self.trust = trust
        self.origin = origin
        self.doctypes = tuple(sorted(doctypes))
        self.vcts = frozenset(vcts)
        self.leeway = leeway
        # Not `or`: an empty store is falsy (it has a length).
        self.store: ChallengeStore = (
            MemoryChallengeStore() if challenge_store is None else challenge_store
        )
        self.reading = Reading(
            age_in_years=read_age_in_years, birth_date=read_birth_date
        )
        self.level = Level(level)
        self.lifetime = lifetime
        self.valid_for = valid_for
        # Off by default: a check fetches the issuer's list over the network.
        self.status_lists = status_lists

    def begin(self, required_age: int, *, now: datetime | None = None) -> Challenge:
        """A fresh challenge asking for `age_over_<required_age>`, stored open."""
        if type(required_age) is not int or not 1 <= required_age <= 99:
            raise ValueError("required_age must be a whole number of years, 1 to 99")
        issued = _now(now)
        nonce = new_token()
        requests: list[dict[str, Any]] = [self._openid4vp_request(nonce, required_age)]
        reader_key = None
        if self.doctypes:
            private = ec.generate_private_key(ec.SECP256R1())
            requests.append(self._annex_c_request(nonce, required_age, private))
            reader_key = private.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        challenge = Challenge(
            attempt=new_token(),
            nonce=nonce,
            required_age=required_age,
            origin=self.origin,
            issued=issued,
            expires=issued + self.lifetime,
            requests=tuple(requests),
            reader_key=reader_key,
        )
        self.store.put(_kept(challenge))
        return challenge

    def complete(
        self, attempt: str, response: Any, *, origin: str, now: datetime | None = None
    ) -> Assurance:
        """Verify the wallet's answer to `attempt`; AssuranceError if refused."""
        at = _now(now)
        if not isinstance(attempt, str):
            raise AssuranceError(AssuranceReason.MALFORMED, "attempt")
        challenge = self.store.consume(attempt, at)
        if origin != self.origin or origin != challenge.origin:
            raise AssuranceError(AssuranceReason.ORIGIN_MISMATCH, "origin")
        protocol, data = _read_response(response)
        if protocol == OPENID4VP:
            method, source, until, claims = self._openid4vp(challenge, data, at)
        elif protocol == ANNEX_C and self.doctypes:
            method, source, until, claims = self._annex_c(challenge, data, at)
        else:
            raise AssuranceError(AssuranceReason.MALFORMED, "protocol")
        over, under = prove(
            claims, challenge.required_age, self.reading, live_today(at)
        )
        verified_on = at.date()
        return Assurance(
            method=method,
            level=self.level,
            over=over,
            under=under,
            source=source,
            verified_on=verified_on,
            valid_until=max(verified_on, min(until, verified_on + self.valid_for)),
            attempt=challenge.attempt,
        )

    # The requests -------------------------------------------------------

    def _mdoc_queries(self, age: int) -> list[dict[str, Any]]:
        return [
            {
                "id": f"mdoc{index}",
                "format": "mso_mdoc",
                "meta": {"doctype_value": doctype},
                "claims": [
                    {
                        "path": [_namespace(doctype), _element(age)],
                        "intent_to_retain": False,
                    }
                ],
            }
            for index, doctype in enumerate(self.doctypes)
        ]

    def _sd_jwt_query(self, age: int) -> dict[str, Any]:
        return {
            "id": SD_JWT_QUERY,
            "format": "dc+sd-jwt",
            "meta": {"vct_values": sorted(self.vcts)},
            "claims": [
                {"id": "nested", "path": ["age_equal_or_over", str(age)]},
                {"id": "flat", "path": [_element(age)]},
            ],
            "claim_sets": [["nested"], ["flat"]],
        }

    def _openid4vp_request(self, nonce: str, age: int) -> dict[str, Any]:
        queries = self._mdoc_queries(age)
        if self.vcts:
            queries.insert(0, self._sd_jwt_query(age))
        return {
            "protocol": OPENID4VP,
            "data": {
                "response_type": "vp_token",
                "response_mode": "dc_api",
                "nonce": nonce,
                "dcql_query": {
                    "credentials": queries,
                    "credential_sets": [{"options": [[q["id"]] for q in queries]}],
                },
                "client_metadata": {
                    "vp_formats_supported": {
                        "dc+sd-jwt": {
                            "sd-jwt_alg_values": _ALGS,
                            "kb-jwt_alg_values": _ALGS,
                        },
                        "mso_mdoc": {
                            "issuerauth_alg_values": _COSE_ALGS,
                            "deviceauth_alg_values": _COSE_ALGS,
                        },
                    }
                },
            },
        }

    def _annex_c_request(
        self, nonce: str, age: int, private: ec.EllipticCurvePrivateKey
    ) -> dict[str, Any]:
        doc_requests = [
            {
                "itemsRequest": cbor.embed(
                    cbor.encode(
                        {
                            "docType": doctype,
                            "nameSpaces": {_namespace(doctype): {_element(age): False}},
                        }
                    )
                )
            }
            for doctype in self.doctypes
        ]
        device_request = {"version": "1.0", "docRequests": doc_requests}
        encryption_info = [
            "dcapi",
            {"nonce": keys.b64url(nonce), "recipientPublicKey": _cose_key(private)},
        ]
        return {
            "protocol": ANNEX_C,
            "data": {
                "deviceRequest": keys.b64url_text(cbor.encode(device_request)),
                "encryptionInfo": keys.b64url_text(cbor.encode(encryption_info)),
            },
        }

    # The answers --------------------------------------------------------

    def _check_status(self, status: Any, anchor: Anchor, at: datetime) -> None:
        """Revocation, when the operator asked for it (fail closed)."""
        if self.status_lists is not None:
            self.status_lists.check(status, anchor, self.trust, at, self.leeway)

    def _openid4vp(
        self, challenge: Challenge, data: dict[str, Any], at: datetime
    ) -> tuple[Method, str, date, dict[str, Any]]:
        query, presentation = _one_presentation(data.get("vp_token"))
        if query == SD_JWT_QUERY and self.vcts:
            verified = sdjwt.verify_presentation(
                presentation,
                trust=self.trust,
                vcts=self.vcts,
                audience=f"origin:{challenge.origin}",
                nonce=challenge.nonce,
                now=at,
                leeway=self.leeway,
            )
            self._check_status(verified.status, verified.anchor, at)
            until = verified.valid_until or at
            return (
                Method.WALLET_SD_JWT,
                verified.anchor.source,
                until.date(),
                verified.claims,
            )
        if query not in {f"mdoc{i}" for i in range(len(self.doctypes))}:
            raise AssuranceError(AssuranceReason.MALFORMED, "vp_token")
        try:
            raw = keys.b64url(presentation)
        except ValueError:
            raise AssuranceError(AssuranceReason.MALFORMED, "vp_token") from None
        transcript = mdoc.openid4vp_transcript(challenge.origin, challenge.nonce, None)
        return self._mdoc(raw, transcript, at)

    def _annex_c(
        self, challenge: Challenge, data: dict[str, Any], at: datetime
    ) -> tuple[Method, str, date, dict[str, Any]]:
        annex_c = next(r for r in challenge.requests if r["protocol"] == ANNEX_C)
        transcript = mdoc.annex_c_transcript(
            annex_c["data"]["encryptionInfo"], challenge.origin
        )
        raw = _decrypt(
            data.get("response"), challenge.reader_key, cbor.encode(transcript)
        )
        return self._mdoc(raw, transcript, at)

    def _mdoc(
        self, raw: bytes, transcript: Any, at: datetime
    ) -> tuple[Method, str, date, dict[str, Any]]:
        verified = mdoc.verify_device_response(
            raw,
            transcript=transcript,
            trust=self.trust,
            doctypes=self.doctypes,
            now=at,
            leeway=self.leeway,
        )
        self._check_status(verified.status, verified.anchor, at)
        return (
            Method.WALLET_MDOC,
            verified.anchor.source,
            verified.valid_until.date(),
            verified.elements,
        )


def _kept(challenge: Challenge) -> Challenge:
    """What the store keeps of a challenge: of its requests (most of its
    size, and already with the page) only the Annex C `encryptionInfo` that
    complete needs, so that begins never completed cost about a kilobyte
    each, not six."""
    kept = tuple(
        {"protocol": ANNEX_C, "data": {"encryptionInfo": r["data"]["encryptionInfo"]}}
        for r in challenge.requests
        if r["protocol"] == ANNEX_C
    )
    return attrs.evolve(challenge, requests=kept)


def _now(now: datetime | None) -> datetime:
    at = now if now is not None else datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return at.astimezone(UTC)


def _is_origin(origin: Any) -> bool:
    """An https origin written as browsers serialise it (plain http only for
    a loopback host, as browsers allow the DC API there)."""
    parsed = origin_of(origin) if isinstance(origin, str) else None
    if parsed is None:
        return False
    scheme, host, port = parsed
    default = {"http": 80, "https": 443}[scheme]
    spelled = f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"
    loopback = host in ("localhost", "127.0.0.1")
    return origin == spelled and (scheme == "https" or loopback)


def _namespace(doctype: str) -> str:
    return mdoc.NAMESPACES.get(doctype, doctype)


def _element(age: int) -> str:
    return f"age_over_{age:02d}"


def _cose_key(private: ec.EllipticCurvePrivateKey) -> dict[int, Any]:
    numbers = private.public_key().public_numbers()
    return {
        1: 2,
        -1: 1,
        -2: numbers.x.to_bytes(32, "big"),
        -3: numbers.y.to_bytes(32, "big"),
    }


def _read_response(response: Any) -> tuple[str, dict[str, Any]]:
    """The DC API credential a page posts back: {"protocol", "data"}."""
    if isinstance(response, (str, bytes)):
        if len(response) > MAX_RESPONSE_CHARS:
            raise AssuranceError(AssuranceReason.MALFORMED, "response")
        try:
            response = jsonkeys.loads(response)
        except (ValueError, RecursionError):
            raise AssuranceError(AssuranceReason.MALFORMED, "response") from None
    if not isinstance(response, Mapping):
        raise AssuranceError(AssuranceReason.MALFORMED, "response")
    protocol, data = response.get("protocol"), response.get("data")
    if not isinstance(protocol, str) or not isinstance(data, Mapping):
        raise AssuranceError(AssuranceReason.MALFORMED, "response")
    return protocol, dict(data)


def _one_presentation(vp_token: Any) -> tuple[str, str]:
    """OpenID4VP 1.0's vp_token: {query id: [presentation]}, one of each."""
    if not isinstance(vp_token, Mapping) or len(vp_token) != 1:
        raise AssuranceError(AssuranceReason.MALFORMED, "vp_token")
    ((query, presentations),) = vp_token.items()
    if not isinstance(presentations, list) or len(presentations) != 1:
        raise AssuranceError(AssuranceReason.MALFORMED, "vp_token")
    if not isinstance(query, str) or not isinstance(presentations[0], str):
        raise AssuranceError(AssuranceReason.MALFORMED, "vp_token")
    return query, presentations[0]


def _decrypt(response: Any, reader_key: bytes | None, info: bytes) -> bytes:
    """ISO/IEC 18013-7 Annex C: HPKE (P-256, HKDF-SHA256, AES-128-GCM) to
    the reader key, with the session transcript as the info."""
    malformed = AssuranceError(AssuranceReason.MALFORMED, "encrypted response")
    if reader_key is None:
        raise malformed
    try:
        envelope = cbor.decode(keys.b64url(response), "encrypted response")
    except ValueError:
        raise malformed from None
    if not (
        isinstance(envelope, list) and len(envelope) == 2 and envelope[0] == "dcapi"
    ):
        raise malformed
    body = envelope[1]
    if not isinstance(body, dict) or set(body) != {"enc", "cipherText"}:
        raise malformed
    enc, sealed = body["enc"], body["cipherText"]
    if not isinstance(enc, bytes) or not isinstance(sealed, bytes) or len(enc) != 65:
        raise malformed
    private = serialization.load_der_private_key(reader_key, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise malformed
    try:
        return _HPKE.decrypt(enc + sealed, private, info=info)
    # Which error a failed open raises varies by library version: all mean one thing.
    except Exception:
        raise AssuranceError(
            AssuranceReason.BINDING_INVALID, "encrypted response"
        ) from None
