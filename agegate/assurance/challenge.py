"""A challenge a wallet answers once, and the store that makes it once.

The nonce binds a proof to this attempt; consuming the attempt atomically
before anything is verified makes a second answer `ASSURANCE_REPLAYED`, even
when two arrive at the same instant.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from .model import AssuranceError, AssuranceReason

MAX_LIFETIME = timedelta(minutes=5)
NONCE_BYTES = 32


def new_token() -> str:
    """A fresh random identifier (256 bits, URL-safe)."""
    return secrets.token_urlsafe(NONCE_BYTES)


def _check_lifetime(instance: Challenge, _attribute: Any, expires: datetime) -> None:
    if expires.tzinfo is None or instance.issued.tzinfo is None:
        raise ValueError("a challenge's times must be timezone-aware")
    if not timedelta(0) < expires - instance.issued <= MAX_LIFETIME:
        raise ValueError("a challenge lives at most 5 minutes")


def _check_nonce(_instance: Challenge, _attribute: Any, nonce: str) -> None:
    # 128 bits at least: 22 base64url characters.
    if len(nonce) < 22:
        raise ValueError("a nonce carries at least 128 random bits")


@attrs.frozen
class Challenge:
    """One age check on its way to a wallet.

    `requests` is what a page passes to `navigator.credentials.get({digital:
    {requests}})`. `reader_key` is the private key an ISO 18013-7 Annex C
    response is encrypted to (PKCS#8 DER); it never leaves the server.
    """

    attempt: str
    nonce: str = attrs.field(validator=_check_nonce)
    required_age: int
    origin: str
    issued: datetime
    expires: datetime = attrs.field(validator=_check_lifetime)
    requests: tuple[dict[str, Any], ...] = attrs.field(repr=False)
    reader_key: bytes | None = attrs.field(default=None, repr=False)


class ChallengeStore(Protocol):
    """Where open challenges wait; `consume` hands each out at most once."""

    def put(self, challenge: Challenge) -> None: ...

    def consume(self, attempt: str, now: datetime) -> Challenge:
        """The challenge, removed; REPLAYED if it is not open, EXPIRED if it
        was open but its time is up."""
        ...


class MemoryChallengeStore:
    """Open challenges in one process, under a lock; at most `limit` open
    (the oldest is dropped first, and then fails closed as REPLAYED)."""

    def __init__(self, limit: int = 100_000) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._open: OrderedDict[str, Challenge] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, challenge: Challenge) -> None:
        with self._lock:
            if challenge.attempt in self._open:
                raise ValueError("attempt already open")
            self._drop_expired(challenge.issued)
            while len(self._open) >= self._limit:
                self._open.popitem(last=False)
            self._open[challenge.attempt] = challenge

    def consume(self, attempt: str, now: datetime) -> Challenge:
        with self._lock:
            challenge = self._open.pop(attempt, None)
        if challenge is None:
            raise AssuranceError(AssuranceReason.REPLAYED, "attempt")
        if now >= challenge.expires:
            raise AssuranceError(AssuranceReason.EXPIRED, "attempt")
        return challenge

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def _drop_expired(self, now: datetime) -> None:
        # Challenges are put in order of issue, so the expired ones lead;
        # an expired one is dropped unanswered (consuming it is REPLAYED).
        while self._open:
            first = next(iter(self._open.values()))
            if first.expires > now - MAX_LIFETIME:
                break
            self._open.popitem(last=False)
