"""How a reviewed account is named: its fingerprint and, without a given id,
the id derived from it. Both engines call these, so a flag names an account
the same way whichever engine raised it.

* The fingerprint is a keyed hash (HMAC-SHA256) of the screened fields, each
  as `canonical` writes it, joined by the unit separator, then the
  collection timestamp: equal exactly when those fields are.
* An account without an id is named by a second keyed hash, of its
  fingerprint under a label: the two stay apart should one ever be shown
  without the other.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

# What joins the fields a fingerprint signs; no text field holds it unseen.
SEPARATOR = "\x1f"
_ACCOUNT_LABEL = b"account\x00"
ANONYMOUS_PREFIX = "anon-"


def canonical(value: Any) -> str:
    """A field's value as a fingerprint signs it (None is empty text)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def fingerprint(secret: bytes, message: str) -> str:
    """The fingerprint of a message `message_of` (or its columnar twin)
    built: surrogates survive, as a text export may hold them."""
    # hmac.digest: the same HMAC as hmac.new, in one call.
    return hmac.digest(secret, message.encode("utf-8", "surrogatepass"), "sha256").hex()


def message_of(values: list[Any]) -> str:
    """What a fingerprint signs, from the fields' values in order."""
    return SEPARATOR.join(canonical(value) for value in values)


def given_id(value: Any) -> str | None:
    """An account's id as the input gives it: text or an integer, stripped;
    None when missing, blank or of another type."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()
        if text:
            return text
    return None


def derived_id(secret: bytes, fingerprint_text: str) -> str:
    """The id of an account the input gives none: from its fingerprint."""
    mark = _ACCOUNT_LABEL + fingerprint_text.encode()
    return ANONYMOUS_PREFIX + hmac.digest(secret, mark, "sha256").hex()[:24]
