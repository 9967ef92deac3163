"""The assurance token: what a client carries from a proof to its signup.

After a proof of age is verified, the gate hands the client a short-lived
token (an HttpOnly cookie for a browser, a header value for an API client)
instead of asking the next request to carry the proof again. The token is
the `Assurance` (no identity in it) with an expiry, signed with HMAC-SHA256
under the operator's secret and a context string of its own, so no other
agegate value (block cookie, report hash) can be passed off as one.

    v1.<base64url(JSON)>.<base64url(HMAC)>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, date, datetime

from ..keys import secret_bytes
from .model import Assurance, assurance_from_dict, assurance_to_dict

_CONTEXT = b"agegate assurance token v1\x00"
_VERSION = "v1"
MAX_TOKEN_LENGTH = 1024
TOKEN_SHAPE = re.compile(r"v1\.[A-Za-z0-9_-]{16,900}\.[A-Za-z0-9_-]{43}", re.ASCII)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    signed = _CONTEXT + payload.encode("ascii")
    return _b64(hmac.new(key, signed, hashlib.sha256).digest())


def issue_token(
    assurance: Assurance, secret: str | bytes, ttl: int, now: float | None = None
) -> str:
    """A token for `assurance`, good for `ttl` seconds from `now`."""
    key = secret_bytes(secret)
    expires = int(time.time() if now is None else now) + ttl
    document = {"a": assurance_to_dict(assurance), "exp": expires}
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    payload = f"{_VERSION}.{_b64(text.encode('utf-8'))}"
    return f"{payload}.{_mac(key, payload)}"


def read_token(
    token: str,
    secret: str | bytes,
    ttl: int,
    now: float | None = None,
    today: date | None = None,
) -> Assurance | None:
    """The Assurance a token carries, or None: not ours, tampered, expired,
    issued for longer than `ttl`, or an assurance whose validity ended."""
    if not isinstance(token, str) or not TOKEN_SHAPE.fullmatch(token):
        return None
    key = secret_bytes(secret)
    payload, _, signature = token.rpartition(".")
    if not hmac.compare_digest(_mac(key, payload).encode(), signature.encode()):
        return None
    try:
        document = json.loads(_unb64(payload.partition(".")[2]))
        expires = document["exp"]
        assurance = assurance_from_dict(document["a"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    current = time.time() if now is None else now
    # A little slack for the clocks of several servers behind one name.
    if type(expires) is not int or not current < expires <= current + ttl + 60:
        return None
    if assurance.valid_until < (today or datetime.now(UTC).date()):
        return None
    return assurance


__all__ = ["MAX_TOKEN_LENGTH", "TOKEN_SHAPE", "issue_token", "read_token"]
