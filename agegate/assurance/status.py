"""Revocation: the issuer's Token Status List (IETF OAuth draft
`draft-ietf-oauth-status-list`), checked fail closed.

A credential that can be revoked carries `status: {"status_list": {"idx":
N, "uri": "https://..."}}` (an SD-JWT VC in its issuer-signed payload, an
mdoc in its MSO). The list at `uri` is a Status List Token, a JWT (`typ`
`statuslist+jwt`) whose `status_list` holds `bits` per credential in a
zlib-deflated, base64url byte string `lst`. `StatusLists.check` fetches it
(the whole list: the issuer learns nothing of whom the verifier checks),
verifies its signature against the same trust anchor as the credential's,
its `sub` (= the uri) and `exp`, and reads the credential's entry: 0 is
valid, 1 (invalid) and 2 (suspended) are `ASSURANCE_REVOKED`, and a list
that cannot be fetched or read is `ASSURANCE_INCONCLUSIVE`: never a pass.

The CWT form of the list (`statuslist+cwt`) is not read: such a list is
INCONCLUSIVE too.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs

from ..origins import origin_of
from . import keys
from .model import AssuranceError, AssuranceReason
from .sdjwt import parse_jws, x5c_chain
from .trust import Anchor, TrustList

MAX_LIST_BYTES = 1024 * 1024
MAX_LIST_ENTRIES_BYTES = 16 * 1024 * 1024
LIST_TYPES = frozenset({"statuslist+jwt", "application/statuslist+jwt"})
_VALID, _INVALID, _SUSPENDED = 0, 1, 2

Fetch = Callable[[str], bytes]


@attrs.frozen
class StatusReference:
    """Where a credential's status is: entry `idx` of the list at `uri`."""

    idx: int
    uri: str


def reference(status: Any) -> StatusReference | None:
    """The credential's `status_list` reference; None when it has none."""
    if status is None:
        return None
    entry = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(entry, dict):
        raise AssuranceError(AssuranceReason.MALFORMED, "status")
    idx, uri = entry.get("idx"), entry.get("uri")
    if type(idx) is not int or idx < 0 or not isinstance(uri, str):
        raise AssuranceError(AssuranceReason.MALFORMED, "status")
    return StatusReference(idx, uri)


def _fetchable(uri: str) -> bool:
    """https, or plain http to a loopback host (a test or a local mirror)."""
    parsed = origin_of(uri)
    if parsed is None:
        return False
    scheme, host, _ = parsed
    return scheme == "https" or host in ("127.0.0.1", "localhost")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: its target's scheme was never checked."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch_over_https(uri: str, *, timeout: float = 5.0) -> bytes:
    """GET the Status List Token at `uri`, at most MAX_LIST_BYTES, no
    redirects; OSError or ValueError on any failure."""
    if not _fetchable(uri):
        raise ValueError("status list uri: https only")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        uri, headers={"Accept": "application/statuslist+jwt"}
    )
    try:
        answer = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        # It holds the open connection: close it before saying why.
        error.close()
        raise OSError(f"status list: HTTP {error.code}") from None
    with answer:
        body: bytes = answer.read(MAX_LIST_BYTES + 1)
    if len(body) > MAX_LIST_BYTES:
        raise ValueError("status list too large")
    return body


@attrs.frozen
class _List:
    bits: int
    entries: bytes = attrs.field(repr=False)
    anchor: str
    until: datetime


def status_at(bits: int, entries: bytes, idx: int) -> int | None:
    """Entry `idx` of a list of `bits`-bit statuses (least significant
    bits first, as the draft orders them); None past its end."""
    position = idx * bits
    if position // 8 >= len(entries):
        return None
    return (entries[position // 8] >> (position % 8)) & ((1 << bits) - 1)


def _inflate(lst: Any) -> bytes:
    try:
        packed = keys.b64url(lst)
        inflater = zlib.decompressobj()
        entries = inflater.decompress(packed, MAX_LIST_ENTRIES_BYTES)
    except (ValueError, TypeError, zlib.error):
        raise AssuranceError(AssuranceReason.INCONCLUSIVE, "status list lst") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise AssuranceError(AssuranceReason.INCONCLUSIVE, "status list lst")
    return entries


class StatusLists:
    """Checks credentials' status against their issuers' lists, caching each
    list until its `ttl` (at most `max_age`) or `exp`.

    `fetch(uri) -> bytes` gets a list (default: `fetch_over_https`); any
    exception it raises makes the proof INCONCLUSIVE. `required=True` also
    refuses (INCONCLUSIVE) a credential that names no list."""

    def __init__(
        self,
        *,
        fetch: Fetch = fetch_over_https,
        max_age: timedelta = timedelta(minutes=15),
        required: bool = False,
    ) -> None:
        if not timedelta(0) <= max_age <= timedelta(days=1):
            raise ValueError("max_age must be between 0 and 1 day")
        self.fetch = fetch
        self.max_age = max_age
        self.required = required
        self._cache: dict[str, _List] = {}
        self._lock = threading.Lock()

    def check(
        self,
        status: Any,
        anchor: Anchor,
        trust: TrustList,
        now: datetime,
        leeway: timedelta,
    ) -> None:
        """Nothing if the credential is valid; AssuranceError otherwise."""
        found = reference(status)
        if found is None:
            if self.required:
                raise AssuranceError(AssuranceReason.INCONCLUSIVE, "status missing")
            return
        listed = self._list(found.uri, trust, now, leeway)
        if listed.anchor != anchor.source:
            # Another issuer's list cannot revoke, nor clear, this credential.
            raise AssuranceError(AssuranceReason.INCONCLUSIVE, "status list issuer")
        value = status_at(listed.bits, listed.entries, found.idx)
        if value in (_INVALID, _SUSPENDED):
            raise AssuranceError(AssuranceReason.REVOKED, "status")
        if value != _VALID:
            raise AssuranceError(AssuranceReason.INCONCLUSIVE, "status value")

    def _list(
        self, uri: str, trust: TrustList, now: datetime, leeway: timedelta
    ) -> _List:
        with self._lock:
            cached = self._cache.get(uri)
        if cached is not None and now < cached.until:
            return cached
        try:
            raw = self.fetch(uri)
            text = raw.decode("ascii").strip()
        # A fetcher may fail in any way (network, TLS, its own checks): the
        # one answer is that nothing can be concluded.
        except Exception:
            raise AssuranceError(
                AssuranceReason.INCONCLUSIVE, "status list fetch"
            ) from None
        try:
            listed = _read_list(text, uri, trust, now, leeway, self.max_age)
        except AssuranceError as error:
            raise AssuranceError(
                AssuranceReason.INCONCLUSIVE, f"status list ({error.step})"
            ) from None
        with self._lock:
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[uri] = listed
        return listed


def _read_list(
    text: str,
    uri: str,
    trust: TrustList,
    now: datetime,
    leeway: timedelta,
    max_age: timedelta,
) -> _List:
    """A Status List Token verified: signature to a listed anchor, type,
    subject, times; its entries inflated."""
    jws = parse_jws(text, "status list token")
    if jws.header.get("typ") not in LIST_TYPES:
        raise AssuranceError(AssuranceReason.MALFORMED, "status list typ")
    anchor = trust.status_list_signer(x5c_chain(jws.header), now, leeway)
    keys.verify(anchor.key, jws.header["alg"], jws.signing_input, jws.signature)
    payload = jws.payload
    if payload.get("sub") != uri:
        raise AssuranceError(AssuranceReason.MALFORMED, "status list sub")
    until = now + max_age
    ttl = payload.get("ttl")
    if type(ttl) is int and ttl >= 0:
        # Capped at max_age (at most a day) before any date arithmetic: a
        # ttl past the calendar would overflow it.
        seconds = min(ttl, int(max_age.total_seconds()))
        until = min(until, now + timedelta(seconds=seconds))
    expires = payload.get("exp")
    if expires is not None:
        if type(expires) not in (int, float):
            raise AssuranceError(AssuranceReason.MALFORMED, "status list exp")
        try:
            ends = datetime.fromtimestamp(expires, now.tzinfo)
        except (OverflowError, ValueError, OSError):
            raise AssuranceError(AssuranceReason.MALFORMED, "status list exp") from None
        if now - leeway > ends:
            raise AssuranceError(AssuranceReason.EXPIRED, "status list exp")
        until = min(until, ends)
    body = payload.get("status_list")
    if not isinstance(body, dict) or body.get("bits") not in (1, 2, 4, 8):
        raise AssuranceError(AssuranceReason.MALFORMED, "status list bits")
    return _List(body["bits"], _inflate(body.get("lst")), anchor.source, until)


__all__ = [
    "StatusLists",
    "StatusReference",
    "fetch_over_https",
    "reference",
    "status_at",
]
