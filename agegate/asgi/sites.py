"""Whether a request may have a side effect: `may_act`.

A page on another site can make a visitor's browser send a GET (a link, an
image) or a form POST to the gate, carrying the visitor's own cookies. The
gate's two side effects, a removal flag filed against the account and the
block cookie set in the browser, must never follow from such a request, or
another site could flag or lock out whoever visits it.

A request may act only when its method is not a safe one (a GET can be sent
from any page, with its `Referer` withheld) and nothing the browser sent
says it comes from another site: `Sec-Fetch-Site` other than `same-origin`
or `none`, or an `Origin` or `Referer` whose host is not the request's
`Host`. A header sent twice, or one that cannot be parsed, counts as another
site: no side effect. A client that sends none of these headers (a script, a
mobile app) may act.

Hosts are compared without ports or schemes: behind a TLS proxy the scheme
and port the app sees are not the browser's.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..origins import origin_of
from .body import header_values

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FROM_HERE = frozenset({"same-origin", "none"})
# Characters no host of a Host header holds; with them it reads as something else.
_NOT_IN_HOST = frozenset("/?#@\\ \t")


def may_act(method: str, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request may file a flag or set a cookie (see the module)."""
    return method.upper() not in _SAFE_METHODS and not cross_site(headers)


def cross_site(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the browser says another site sent the request, or its
    headers cannot tell (a header twice, one that cannot be read)."""
    fetch_site = header_values(headers, b"sec-fetch-site")
    if len(fetch_site) > 1:
        return True
    if fetch_site and fetch_site[0].strip().lower() not in _FROM_HERE:
        return True
    origins = header_values(headers, b"origin")
    referers = [v for v in header_values(headers, b"referer") if v.strip()]
    if not origins and not referers:
        return False
    if len(origins) > 1 or len(referers) > 1:
        return True
    here = _host_of_header(header_values(headers, b"host"))
    if here is None:
        return True
    return any(_host_of_url(url) != here for url in (*origins, *referers))


def _host_of_header(values: list[str]) -> str | None:
    """The host of the one `Host` header, lower case, or None."""
    if len(values) != 1:
        return None
    authority = values[0].strip()
    if not authority or _NOT_IN_HOST.intersection(authority):
        return None
    return _host_of_url(f"http://{authority}/")


def _host_of_url(url: str) -> str | None:
    """The host of an http(s) URL, or None: a URL that cannot be parsed
    (`http://[::1`) is no host, never an exception."""
    try:
        origin = origin_of(url)
    except ValueError:
        return None
    return None if origin is None else origin[1]
