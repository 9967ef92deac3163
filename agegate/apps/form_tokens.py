"""The report form's token: signed, time-limited, bound to a cookie the
browser holds, and taken once.

Each form page sets a random value in a cookie (`HttpOnly`,
`SameSite=Strict`) and carries a token that names it: when it was issued, a
random id and an HMAC-SHA256 over both and the cookie's value, keyed with
the operator's secret. A post is taken only with a token of this intake
whose cookie comes with it (double submit), within its lifetime, and only
once. Another site can fetch a token for itself, but it cannot make a
visitor's browser send the cookie that goes with it, and a token that has
been used is refused the second time.

Tokens taken are remembered by the process that took them, until they
expire or, past `SPENT_CAPACITY`, oldest first: forgetting a token lets it be
replayed only after that many other tokens were used, which costs more than
fetching a new form. Behind several worker processes each remembers its own.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from ..keys import secret_bytes

FORM_TOKEN = "form_token"  # noqa: S105 (a field name, not a secret)
FORM_COOKIE = "agegate_report_form"
SPENT_CAPACITY = 65_536
_PURPOSE = b"agegate report form token v2\x00"
# A cookie value as issued; anything else under the cookie's name is not ours.
_BINDING = re.compile(r"[A-Za-z0-9_-]{22,64}", re.ASCII)
_TOKEN = re.compile(r"([0-9]{1,12})\.([A-Za-z0-9_-]{16})\.([0-9a-f]{64})", re.ASCII)
# A browser sends a few cookies of one name at most (one per path).
_MAX_BINDINGS = 4
# A little slack for the clocks of several servers behind one name.
_SKEW = 60
_COOKIE_PATH = re.compile(r"/[A-Za-z0-9._~/-]*", re.ASCII)


def new_binding() -> str:
    """A fresh random value for the form cookie."""
    return secrets.token_urlsafe(18)


def form_token(
    secret: str | bytes, binding: str, issued_at: float | None = None
) -> str:
    """A token for a form whose cookie holds `binding`, issued at
    `issued_at` (now by default). Raises ValueError if `binding` is not a
    value `new_binding` could give."""
    if not isinstance(binding, str) or not _BINDING.fullmatch(binding):
        raise ValueError("binding must be a form cookie value")
    key = secret_bytes(secret)
    stamp = str(int(time.time() if issued_at is None else issued_at))
    token_id = secrets.token_urlsafe(12)
    return f"{stamp}.{token_id}.{_mac(key, stamp, token_id, binding)}"


def _mac(key: bytes, stamp: str, token_id: str, binding: str) -> str:
    message = _PURPOSE + f"{stamp}.{token_id}.{binding}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def bindings(cookie_headers: Iterable[str]) -> list[str]:
    """The well-formed values of the form cookie in a request's Cookie
    headers, in order, at most a few; linear in the headers' length."""
    found: list[str] = []
    for header in cookie_headers:
        for pair in header.split(";"):
            name, equals, value = pair.partition("=")
            value = value.strip(" \t")
            if (
                equals
                and name.strip(" \t") == FORM_COOKIE
                and _BINDING.fullmatch(value)
            ):
                found.append(value)
                if len(found) == _MAX_BINDINGS:
                    return found
    return found


def cookie_header(binding: str, *, path: str, max_age: int, https: bool) -> str:
    """The Set-Cookie value of the form cookie, for the intake at `path`
    (its mount point; `/` when that is not a plain path)."""
    if not _COOKIE_PATH.fullmatch(path):
        path = "/"
    parts = [
        f"{FORM_COOKIE}={binding}",
        f"Path={path}",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if https:
        parts.append("Secure")
    return "; ".join(parts)


class FormTokens:
    """Issues tokens and takes each one once, for one intake process."""

    def __init__(
        self, secret: str | bytes, ttl: float, capacity: int = SPENT_CAPACITY
    ) -> None:
        self._key = secret_bytes(secret)
        self.ttl = ttl
        self._capacity = capacity
        # Token id -> when it expires, in the order the tokens were taken.
        self._spent: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, binding: str, now: float | None = None) -> str:
        return form_token(self._key, binding, now)

    def take(self, token: object, held: Iterable[str], now: float) -> bool:
        """Whether `token` is one of ours, bound to one of the cookie values
        the request holds, within its lifetime and not used before; a token
        so taken is spent."""
        if not isinstance(token, str) or len(token) > 100:
            return False
        match = _TOKEN.fullmatch(token)
        if match is None:
            return False
        stamp, token_id, mac = match.groups()
        if not any(
            hmac.compare_digest(mac, _mac(self._key, stamp, token_id, binding))
            for binding in held
        ):
            return False
        issued = int(stamp)
        if not -_SKEW <= now - issued <= self.ttl:
            return False
        return self._spend(token_id, issued + self.ttl + _SKEW, now)

    def _spend(self, token_id: str, expires: float, now: float) -> bool:
        with self._lock:
            while self._spent and next(iter(self._spent.values())) < now:
                self._spent.popitem(last=False)
            if token_id in self._spent:
                return False
            self._spent[token_id] = expires
            while len(self._spent) > self._capacity:
                self._spent.popitem(last=False)
            return True
