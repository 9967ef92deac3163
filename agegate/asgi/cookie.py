"""The signed cookie that keeps a blocked browser blocked.

After a block, a person could simply retry with another birthdate. The cookie
makes the gate answer every further screened request from that browser with
the same block until it expires. It holds only a format version and an
expiry time, signed with HMAC-SHA256: no birthdate, no age, no jurisdiction,
nothing that identifies anyone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from typing import Any, Literal

import attrs

from ..keys import secret_bytes

SameSite = Literal["lax", "strict"]
DEFAULT_MAX_AGE = 24 * 60 * 60
_VERSION = "1"
_CONTEXT = b"agegate block cookie v1\x00"
# Tolerated clock step backwards on the server between issue and check.
_SKEW = 300
# The value as issued: version, expiry and a base64url signature. Anything
# else under the cookie's name is not ours, and is not unquoted or decoded.
_TOKEN = re.compile(r"[0-9]{1,3}\.[0-9]{1,12}\.[A-Za-z0-9_-]{1,64}", re.ASCII)


def _check_name(instance: Any, attribute: Any, value: str) -> None:
    if not value or not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
        raise ValueError("cookie_name: letters, digits, '-' and '_' only")


def _check_max_age(instance: Any, attribute: Any, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("cookie_max_age must be an int (seconds)")
    if value <= 0:
        raise ValueError("cookie_max_age must be positive")


@attrs.frozen(repr=False)
class BlockCookie:
    """Issues and checks the block cookie. `secure=None` follows the scheme."""

    secret: bytes = attrs.field(converter=secret_bytes)
    name: str = attrs.field(default="agegate_block", validator=_check_name)
    max_age: int = attrs.field(default=DEFAULT_MAX_AGE, validator=_check_max_age)
    same_site: SameSite = attrs.field(
        default="lax", validator=attrs.validators.in_(("lax", "strict"))
    )
    secure: bool | None = None

    def __repr__(self) -> str:
        return f"BlockCookie(name={self.name!r}, max_age={self.max_age})"

    def _sign(self, payload: str) -> str:
        digest = hmac.new(
            self.secret, _CONTEXT + payload.encode("ascii"), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def value(self, now: float | None = None) -> str:
        expires = int(now if now is not None else time.time()) + self.max_age
        payload = f"{_VERSION}.{expires}"
        return f"{payload}.{self._sign(payload)}"

    def set_cookie_header(self, *, https: bool, now: float | None = None) -> str:
        """The Set-Cookie header value issued with a block."""
        parts = [
            f"{self.name}={self.value(now)}",
            "Path=/",
            f"Max-Age={self.max_age}",
            "HttpOnly",
            f"SameSite={self.same_site.capitalize()}",
        ]
        if self.secure if self.secure is not None else https:
            parts.append("Secure")
        return "; ".join(parts)

    def is_valid(self, token: str, now: float | None = None) -> bool:
        version, _, rest = token.partition(".")
        expires_text, _, signature = rest.partition(".")
        if version != _VERSION or not expires_text.isascii():
            return False
        if not expires_text.isdigit() or len(expires_text) > 12:
            return False
        expected = self._sign(f"{version}.{expires_text}")
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8")):
            return False
        current = now if now is not None else time.time()
        expires = int(expires_text)
        return current < expires <= current + self.max_age + _SKEW

    def blocks(self, cookie_headers: Iterable[str], now: float | None = None) -> bool:
        """Whether the request's Cookie headers carry a valid block cookie."""
        return any(
            self.is_valid(token, now)
            for header in cookie_headers
            for token in cookie_values(header, self.name)
        )


def cookie_values(header: str, name: str) -> list[str]:
    """The well-formed values of cookie `name` in one Cookie header.

    Linear in the header's length, unlike http.cookies' unquoting: the
    header is split on `;` and only a bare token of the issued shape counts.
    """
    found: list[str] = []
    for pair in header.split(";"):
        key, equals, value = pair.partition("=")
        if equals and key.strip(" \t") == name:
            value = value.strip(" \t")
            if _TOKEN.fullmatch(value):
                found.append(value)
    return found
