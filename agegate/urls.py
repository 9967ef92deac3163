"""URLs as the tools recognise and show them.

A scheme is matched whatever its case (RFC 3986 makes it case-insensitive,
so `Postgresql://` is a PostgreSQL URL, not a file name), and every message
that shows a store, an input or a URL shows it through `masked`: a password
typed into a URL, or a secret in its query, never reaches a terminal or a
summary file. `masked_text` does the same for any text that may hold URLs.
"""

from __future__ import annotations

import os
import re

__all__ = ["MASK", "has_scheme", "masked", "masked_text", "scheme_of"]

MASK = "***"

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
# Where a URL starts inside free text; with one slash too, as a URL taken
# for a file name comes out of path handling (`mysql:/bob:pw@host`).
_URL_START = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*:/{1,2}")
# Query parameters and key=value settings that carry a secret: libpq's
# password and sslpassword, and the usual names of tokens and keys.
_SECRET_SETTING = re.compile(
    r"(?i)((?:^|[?&;\s])[A-Za-z0-9_\-]*(?:pass|pwd|secret|token)[A-Za-z0-9_\-]*\s*=)"
    r"[^&#;\s]*"
)


def scheme_of(text: str) -> str | None:
    """The scheme of a URL, in lower case, or None when `text` does not
    start with `scheme://`."""
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else None


def has_scheme(text: object, *schemes: str) -> bool:
    """Whether `text` is a string starting with one of `schemes` and `://`,
    in any case."""
    return isinstance(text, str) and scheme_of(text) in schemes


def is_postgres_url(text: str | os.PathLike[str]) -> bool:
    """Whether `text` is a `postgresql://` or `postgres://` URL, the scheme
    in any case."""
    return has_scheme(text, "postgresql", "postgres")


def masked(url: str) -> str:
    """`url` with the password of its user info and every secret setting
    in its query replaced by ***.

    Read as text, not parsed: a URL that does not parse (an unclosed `[`, a
    password holding `/` or `#`) is masked all the same. Everything from
    after `://` to the last `@` is user info; only the user name before its
    first `:` is kept.
    """
    match = _URL_START.search(url)
    if match is None:
        return _masked_settings(url)
    before, head = url[: match.start()], url[match.start() : match.end()]
    rest = url[match.end() :]
    if "@" in rest:
        user_info, _, after = rest.rpartition("@")
        user = re.split(r"[:/?#\s]", user_info, maxsplit=1)[0]
        if user != user_info:
            rest = f"{user}:{MASK}@{after}"
    return _masked_settings(before) + head + _masked_settings(rest)


def _masked_settings(text: str) -> str:
    return _SECRET_SETTING.sub(lambda m: m.group(1) + MASK, text)


def masked_text(text: str) -> str:
    """`text` with every URL in it masked, line by line (a URL ends with
    its line: a password may hold spaces)."""
    if ":/" not in text and "=" not in text:
        return text
    return "\n".join(masked(line) for line in text.split("\n"))
