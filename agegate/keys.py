"""The operator's secret: the key of signed cookies and keyed hashes."""

from __future__ import annotations

from typing import Any

MIN_SECRET_BYTES = 16


def secret_bytes(value: Any) -> bytes:
    """The secret as bytes; refuses one too short to key an HMAC safely."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        raise TypeError("secret must be str or bytes")
    if len(value) < MIN_SECRET_BYTES:
        raise ValueError(f"secret must be at least {MIN_SECRET_BYTES} bytes long")
    return value
