"""Results of age checks run by a provider, received by signed webhook.

A provider (k-ID, Yoti, Veriff, Persona: presets in `providers`) checks a
person's age on its own pages and tells the operator's server the result
in a signed HTTP callback. `ProviderWebhook` takes such a callback:

1. **Signature.** `HmacSignature`: HMAC-SHA256 over a template of the
   timestamp and the raw body (`{timestamp}{body}`, `{timestamp}.{body}` or
   `{body}`), hex or base64, from a header (plain, or Stripe-style
   `t=...,v1=...` pairs), with a timestamp tolerance and several secrets at
   once for rotation, compared in constant time. `JwsSignature`: the body
   is a compact JWS verified against a JWKS, with an allow-list of
   algorithms. A callback that fails is refused 401 before its body is
   parsed.
2. **Idempotence.** Each event has an id (the preset says where); a
   retried delivery of an event already taken is answered as a duplicate
   and changes nothing.
3. **An open attempt.** The result must name an attempt this server opened
   (`open`) and that has not expired or been used; anything else is dropped
   (answered 200, so the provider stops retrying, and logged by code).
4. **No identity kept.** The preset's reader turns the event into a
   conclusion (over, under, inconclusive) and the method used; a date of
   birth some providers send is used for that arithmetic and let go. The
   attempt then holds an `Assurance`, which `take` hands out once.

An "under" result is never overwritten by a later "over" for the same
attempt: a minor retrying an estimation until it passes is the first thing
an attacker tries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import attrs

from ..keys import secret_bytes
from .model import Assurance, AssuranceError, AssuranceReason, Level, Method

logger = logging.getLogger("agegate.assurance.webhook")

Encoding = Literal["hex", "base64"]
Outcome = Literal["over", "under", "inconclusive", "ignored"]
TEMPLATES = ("{timestamp}{body}", "{timestamp}.{body}", "{body}")
MAX_WEBHOOK_BODY = 256 * 1024
_ATTEMPT = re.compile(r"att-[A-Za-z0-9_-]{22,64}", re.ASCII)
_REFERENCE_LIMIT = 200


class WebhookRefused(Exception):
    """A callback that is not taken: its HTTP status and a stable code.

    The message is the code: never a value read from the callback.
    """

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


# -- signatures ---------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if value is None or not value.strip():
        raise WebhookRefused(401, "SIGNATURE_MISSING")
    return value.strip()


def _check_template(instance: Any, attribute: Any, value: str) -> None:
    if value not in TEMPLATES:
        raise ValueError(f"template is one of {', '.join(TEMPLATES)}")


@attrs.frozen
class HmacSignature:
    """An HMAC-SHA256 signature in a header.

    header: where the signature is (`x-hmac-signature`).
    template: what was signed, from the timestamp and the raw body.
    encoding: "hex" or "base64".
    timestamp_header: where the timestamp is, for a template that has one
        (or None when `pairs` carries it).
    pairs: the header holds `t=<ts>,v1=<sig>` pairs (Persona, Stripe); on
        rotation, several space-separated.
    prefix: a fixed prefix before the signature (`sha256=`).
    tolerance: seconds a timestamp may be from the server's clock.
    """

    header: str
    template: str = attrs.field(default="{body}", validator=_check_template)
    encoding: Encoding = attrs.field(
        default="hex", validator=attrs.validators.in_(("hex", "base64"))
    )
    timestamp_header: str | None = None
    pairs: bool = False
    prefix: str = ""
    tolerance: int = 300

    def __attrs_post_init__(self) -> None:
        timed = "{timestamp}" in self.template
        if timed and self.timestamp_header is None and not self.pairs:
            raise ValueError("a template with {timestamp} needs timestamp_header")
        if self.tolerance < 1:
            raise ValueError("tolerance must be at least one second")

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        keys: tuple[bytes, ...],
        now: float,
    ) -> None:
        """Raise WebhookRefused unless one key signed this body."""
        candidates = self._candidates(headers)
        for timestamp, signature in candidates:
            if "{timestamp}" in self.template:
                self._check_time(timestamp, now)
            given = self._decode(signature)
            signed = self._signed(timestamp, body)
            # Every key and every candidate is tried: the time taken does not
            # say which one matched.
            matched = False
            for key in keys:
                expected = hmac.new(key, signed, hashlib.sha256).digest()
                matched |= hmac.compare_digest(expected, given)
            if matched:
                return
        raise WebhookRefused(401, "SIGNATURE_INVALID")

    def _candidates(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        value = _header(headers, self.header)
        if not self.pairs:
            stamp = ""
            if self.timestamp_header is not None:
                stamp = _header(headers, self.timestamp_header)
            if self.prefix and not value.startswith(self.prefix):
                raise WebhookRefused(401, "SIGNATURE_INVALID")
            return [(stamp, value[len(self.prefix) :])]
        found = []
        for group in value.split()[:4]:
            fields = dict(
                part.partition("=")[::2] for part in group.split(",") if "=" in part
            )
            if "t" in fields and "v1" in fields:
                found.append((fields["t"], fields["v1"]))
        if not found:
            raise WebhookRefused(401, "SIGNATURE_INVALID")
        return found

    def _check_time(self, stamp: str, now: float) -> None:
        if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 13:
            raise WebhookRefused(401, "TIMESTAMP_INVALID")
        seconds = int(stamp)
        if len(stamp) == 13:  # milliseconds
            seconds //= 1000
        if abs(now - seconds) > self.tolerance:
            raise WebhookRefused(401, "TIMESTAMP_OUTSIDE_TOLERANCE")

    def _decode(self, signature: str) -> bytes:
        try:
            if self.encoding == "hex":
                return bytes.fromhex(signature)
            return base64.b64decode(signature, validate=True)
        except (ValueError, binascii.Error):
            raise WebhookRefused(401, "SIGNATURE_INVALID") from None

    def _signed(self, stamp: str, body: bytes) -> bytes:
        if self.template == "{body}":
            return body
        joiner = b"." if self.template == "{timestamp}.{body}" else b""
        return stamp.encode("ascii") + joiner + body


@attrs.frozen
class JwsSignature:
    """The body is a compact JWS signed by a key of the provider's JWKS.

    jwks: the provider's public keys (a JWKS dict, `{"keys": [...]}`).
    algorithms: the algorithms accepted (never `none`, never HMAC ones).
    tolerance: seconds the payload's `iat` may be from the server's clock;
        a payload without `iat` is refused.
    Needs joserfc (the `assurance` extra).
    """

    jwks: Mapping[str, Any]
    algorithms: tuple[str, ...] = ("ES256", "EdDSA", "RS256", "PS256")
    tolerance: int = 300

    def __attrs_post_init__(self) -> None:
        bad = [a for a in self.algorithms if a == "none" or a.startswith("HS")]
        if bad or not self.algorithms:
            raise ValueError("algorithms: public-key algorithms only")
        from joserfc.jwk import KeySet

        try:
            KeySet.import_key_set(dict(self.jwks))  # type: ignore[arg-type]
        except Exception as error:
            raise ValueError("jwks is not a usable JWKS") from error

    def payload(self, body: bytes, now: float) -> bytes:
        """The verified payload, or WebhookRefused."""
        from joserfc import jws
        from joserfc.jwk import KeySet

        keys = KeySet.import_key_set(dict(self.jwks))  # type: ignore[arg-type]
        try:
            token = jws.deserialize_compact(
                body.strip(), keys, algorithms=list(self.algorithms)
            )
        except Exception:
            raise WebhookRefused(401, "SIGNATURE_INVALID") from None
        content = token.payload
        try:
            issued = json.loads(content).get("iat")
        except (ValueError, AttributeError, RecursionError):
            raise WebhookRefused(400, "BODY_MALFORMED") from None
        if type(issued) is not int or abs(now - issued) > self.tolerance:
            raise WebhookRefused(401, "TIMESTAMP_OUTSIDE_TOLERANCE")
        return content


Signature = HmacSignature | JwsSignature


# -- what a preset reads from an event ------------------------------------------


@attrs.frozen
class Reading:
    """What one provider event says, once read by a preset.

    event_id: the provider's id of this delivery's event (idempotence).
    reference: the attempt it answers, or the provider's id bound to one.
    outcome: "over" / "under" the age the attempt asked for, "inconclusive"
        (the check ended without an answer), or "ignored" (not a result).
    method: the provider's name of the method used, for the level.
    proven: for "over", the age proven when the provider says more than the
        attempt asked (an exact age); else None.
    """

    event_id: str
    reference: str | None
    outcome: Outcome
    method: str = ""
    proven: int | None = None


Reader = Callable[[Mapping[str, Any], int], Reading]


def age_from_birthdate(text: Any, today: date) -> int | None:
    """The age a `YYYY-MM-DD` date of birth gives today; the date itself is
    not kept by anyone who calls this."""
    if not isinstance(text, str) or len(text) != 10:
        return None
    try:
        born = date.fromisoformat(text)
    except ValueError:
        return None
    if born > today:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def compare(age: int | None, required: int) -> Outcome:
    """ "over" or "under" `required` for a known age, else "inconclusive"."""
    if age is None:
        return "inconclusive"
    return "over" if age >= required else "under"


# -- attempts -------------------------------------------------------------------


@attrs.define
class _Attempt:
    required_age: int
    expires: float
    result: Assurance | None = None
    failed: bool = False
    taken: bool = False


@attrs.frozen
class Opened:
    """An attempt opened for a provider: give `attempt` to the provider as
    its reference (Yoti `reference_id`, Veriff `vendorData`, Persona
    `reference-id`), or `bind` the provider's own id to it."""

    attempt: str
    expires: float
    required_age: int


class AttemptBook:
    """Open attempts and their results, in memory, bounded and expiring.

    One process's memory: behind several workers, pin a provider flow to one
    worker or give every worker the same book through a shared store.
    """

    def __init__(self, ttl: float = 1800.0, max_open: int = 100_000) -> None:
        if ttl < 60:
            raise ValueError("attempts must stay open at least 60 seconds")
        self.ttl = ttl
        self.max_open = max_open
        self._attempts: OrderedDict[str, _Attempt] = OrderedDict()
        self._bound: dict[str, str] = {}
        self._lock = threading.Lock()

    def open(self, required_age: int, now: float) -> Opened:
        attempt = "att-" + secrets.token_urlsafe(24)
        with self._lock:
            self._forget_expired(now)
            while len(self._attempts) >= self.max_open:
                self._attempts.popitem(last=False)
            self._attempts[attempt] = _Attempt(required_age, now + self.ttl)
        return Opened(attempt, now + self.ttl, required_age)

    def bind(self, attempt: str, reference: str, now: float) -> None:
        if not isinstance(reference, str) or not 0 < len(reference) <= 200:
            raise ValueError("reference: the provider's id, 1 to 200 characters")
        with self._lock:
            if self._live(attempt, now) is None:
                raise ValueError("no such open attempt")
            self._bound[reference] = attempt

    def _forget_expired(self, now: float) -> None:
        while self._attempts:
            first = next(iter(self._attempts.values()))
            if first.expires > now:
                break
            self._attempts.popitem(last=False)
        if len(self._bound) > 2 * self.max_open or not self._attempts:
            self._bound = {k: v for k, v in self._bound.items() if v in self._attempts}

    def _live(self, attempt: str, now: float) -> _Attempt | None:
        found = self._attempts.get(attempt)
        if found is None or found.expires <= now or found.taken:
            return None
        return found

    def required_age(self, reference: str, now: float) -> tuple[str, int] | None:
        """The attempt a reference names and the age it asked, if open."""
        with self._lock:
            attempt = self._bound.get(reference, reference)
            found = self._live(attempt, now)
            return None if found is None else (attempt, found.required_age)

    def knows(self, attempt: str, now: float) -> bool:
        """Whether this book opened the attempt (spent or not, until it
        expires): complete then asks this book, not the wallet."""
        with self._lock:
            found = self._attempts.get(attempt)
            return found is not None and found.expires > now

    def deposit(self, attempt: str, result: Assurance | None, now: float) -> bool:
        """Keep a result (None: the check failed without an answer); False
        when the attempt is no longer open."""
        with self._lock:
            found = self._live(attempt, now)
            if found is None:
                return False
            if found.result is not None and found.result.under is not None:
                return True  # an "under" stays
            if result is None:
                found.failed = found.result is None
            elif found.result is None or result.under is not None:
                found.result = result
                found.failed = False
            return True

    def take(self, attempt: str, now: float) -> Assurance | None:
        """The attempt's result, once; None while it is pending."""
        with self._lock:
            found = self._live(attempt, now)
            if found is None:
                raise AssuranceError(AssuranceReason.REPLAYED, "attempt")
            if found.failed:
                found.taken = True
                raise AssuranceError(AssuranceReason.INCONCLUSIVE, "provider")
            if found.result is None:
                return None
            found.taken = True
            return found.result


class _Seen:
    """Event ids already taken, for a while (bounded)."""

    def __init__(self, keep: float, limit: int = 200_000) -> None:
        self.keep = keep
        self.limit = limit
        self._ids: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, event_id: str, now: float) -> bool:
        with self._lock:
            while self._ids:
                oldest_id, when = next(iter(self._ids.items()))
                if when > now - self.keep and len(self._ids) < self.limit:
                    break
                del self._ids[oldest_id]
            if event_id in self._ids:
                return False
            self._ids[event_id] = now
            return True


# -- the webhook ----------------------------------------------------------------


def _keys(values: Iterable[str | bytes]) -> tuple[bytes, ...]:
    if isinstance(values, str | bytes):
        values = (values,)
    found = tuple(secret_bytes(v) for v in values)
    if len(found) > 8:
        raise ValueError("at most 8 secrets at once (rotation)")
    return found


def _levels(value: Mapping[str, Level]) -> dict[str, Level]:
    found = dict(value)
    if not all(isinstance(v, Level) for v in found.values()):
        raise TypeError("levels map a provider's method name to a Level")
    return found


@attrs.frozen
class Receipt:
    """What became of one callback: "taken", "duplicate", "dropped" or
    "ignored" (a well-signed event that is not a result)."""

    status: str
    attempt: str | None = None


class ProviderWebhook:
    """A provider's signed callbacks, turned into Assurances for attempts.

    name: the provider's name, the Assurance's `source`.
    signature: an HmacSignature or JwsSignature.
    secrets: the HMAC secrets (several while one is rotated); none for JWS.
    read: the preset's reader: (event, required age) -> Reading.
    levels: the provider's method name -> Level, as the operator judges each
        (Ofcom, for one, names the methods it accepts); a method not listed
        is `default_level`, ASSERTED unless the operator says otherwise, so
        an unlisted method never passes a stricter requirement.
    validity: how long an Assurance stays valid (for reviews).
    confidence: how sure the preset is of the provider's format ("documented",
        "partial"), shown in `describe()`.
    """

    def __init__(
        self,
        name: str,
        signature: Signature,
        read: Reader,
        *,
        secrets: Iterable[str | bytes] = (),
        levels: Mapping[str, Level] | None = None,
        default_level: Level = Level.ASSERTED,
        validity: timedelta = timedelta(days=365),
        attempts: AttemptBook | None = None,
        clock: Callable[[], float] = time.time,
        confidence: str = "documented",
        max_body: int = MAX_WEBHOOK_BODY,
    ) -> None:
        if not isinstance(signature, HmacSignature | JwsSignature):
            raise TypeError("signature must be an HmacSignature or JwsSignature")
        self.name = name
        self.signature = signature
        self.read = read
        self.keys = _keys(secrets)
        if isinstance(signature, HmacSignature) and not self.keys:
            raise ValueError(f"{name}: an HMAC signature needs at least one secret")
        self.levels = _levels(levels or {})
        self.default_level = default_level
        self.validity = validity
        self.attempts = attempts if attempts is not None else AttemptBook()
        self.clock = clock
        self.confidence = confidence
        self.max_body = max_body
        self._seen = _Seen(keep=max(self.attempts.ttl, 86400.0))

    def __repr__(self) -> str:
        return f"ProviderWebhook({self.name!r}, confidence={self.confidence!r})"

    def open(self, required_age: int) -> Opened:
        """A new attempt for a person about to start the provider's check."""
        return self.attempts.open(required_age, self.clock())

    def bind(self, attempt: str, reference: str) -> None:
        """Link the provider's own id of a check (k-ID's verification id) to
        an attempt, when the provider does not echo ours."""
        self.attempts.bind(attempt, reference, self.clock())

    def take(self, attempt: str) -> Assurance | None:
        """The attempt's Assurance, once; None while the provider has not
        answered; AssuranceError when the attempt is spent, unknown, expired
        or ended without an answer."""
        if not isinstance(attempt, str) or not _ATTEMPT.fullmatch(attempt):
            raise AssuranceError(AssuranceReason.MALFORMED, "attempt")
        return self.attempts.take(attempt, self.clock())

    def receive(self, headers: Mapping[str, str], body: bytes) -> Receipt:
        """Verify and take one callback. `headers` are lower-case names.

        Raises WebhookRefused (401 signature, 400 body, 413 size).
        """
        if len(body) > self.max_body:
            raise WebhookRefused(413, "BODY_TOO_LARGE")
        now = self.clock()
        content = self._verified(headers, body, now)
        try:
            event = json.loads(content)
        except (ValueError, RecursionError):
            raise WebhookRefused(400, "BODY_MALFORMED") from None
        if not isinstance(event, dict):
            raise WebhookRefused(400, "BODY_MALFORMED")
        return self._take_event(event, now)

    def _verified(self, headers: Mapping[str, str], body: bytes, now: float) -> bytes:
        if isinstance(self.signature, JwsSignature):
            return self.signature.payload(body, now)
        self.signature.verify(headers, body, self.keys, now)
        return body

    def _take_event(self, event: dict[str, Any], now: float) -> Receipt:
        # Read first with a placeholder age, only to find the attempt; then
        # again with the age that attempt asked for.
        try:
            first = self.read(event, 0)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise WebhookRefused(400, "EVENT_UNREADABLE") from None
        if first.outcome == "ignored" or first.reference is None:
            return Receipt("ignored")
        reference = first.reference[:_REFERENCE_LIMIT]
        opened = self.attempts.required_age(reference, now)
        if opened is None:
            logger.info("provider result dropped: provider=%s why=NOT_OPEN", self.name)
            return Receipt("dropped")
        attempt, required = opened
        if not self._seen.first_time(f"{self.name}:{first.event_id}", now):
            return Receipt("duplicate", attempt)
        reading = self.read(event, required)
        result = self._assurance(reading, attempt, required)
        if not self.attempts.deposit(attempt, result, now):
            return Receipt("dropped")
        logger.info(
            "provider result taken: provider=%s outcome=%s", self.name, reading.outcome
        )
        return Receipt("taken", attempt)

    def _assurance(
        self, reading: Reading, attempt: str, required: int
    ) -> Assurance | None:
        if reading.outcome not in ("over", "under"):
            return None
        today = datetime.now(UTC).date()
        over = under = None
        if reading.outcome == "over":
            over = max(required, reading.proven or 0)
            over = min(over, 150)
        else:
            under = required
        return Assurance(
            method=Method.PROVIDER,
            level=self.levels.get(reading.method, self.default_level),
            over=over,
            under=under,
            source=self.name,
            verified_on=today,
            valid_until=today + self.validity,
            attempt=attempt,
        )


__all__ = [
    "TEMPLATES",
    "AttemptBook",
    "HmacSignature",
    "JwsSignature",
    "Opened",
    "ProviderWebhook",
    "Reading",
    "Receipt",
    "Signature",
    "WebhookRefused",
    "age_from_birthdate",
    "compare",
]
