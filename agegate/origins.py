"""The origin (scheme, host, port) of a URL, as browsers compare them.

The URLs read here come from client headers (`Origin`, `Referer`, a `Host`
made into a URL), so any string at all may arrive: `origin_of` answers None
for anything it cannot read, and never raises.
"""

from __future__ import annotations

from urllib.parse import urlsplit

Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> Origin | None:
    """The URL's origin with its default port filled in; None when the URL
    has no http(s) scheme, no host, a port that is not a number, or cannot
    be split at all (an unclosed `[`, characters that NFKC turns into
    delimiters, anything that is not a string)."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not host:
        return None
    return parts.scheme, host.lower(), port or _DEFAULT_PORTS[parts.scheme]
