"""Read a gated request's body and query exactly as the app behind the gate will.

The app reads JSON with Starlette's `request.json()` (`json.loads` on the raw
bytes, whatever the content type says) or FastAPI's body reader, and forms
with Starlette's own parsers. The gate reads with the same parsers
(python-multipart's callback parsers that Starlette drives, see
multipart.py), and refuses every body that a second
common reader could see differently: a byte order mark, a charset other than
UTF-8 or ASCII, an extended Content-Type parameter, a repeated key, a form
body that is also valid JSON, a multipart part with headers a reader may
honour. An object a dotted key reaches into that arrives as JSON text (a form
field `profile` holding `{"dob": ...}`) is read as that object
(`open_json_strings`). Refusals name only configured field keys, never
anything the client sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus

import attrs
from python_multipart.multipart import parse_options_header
from starlette.datastructures import Headers
from starlette.types import Message, Receive

from .. import jsonkeys
from ..reasons import Refusal
from .multipart import MultipartError, Part, read_fields, read_parts

BodyKind = Literal["json", "form", "multipart", "empty"]

_UTF8 = frozenset({"utf-8", "utf8"})
# The charsets a request may name: Starlette decodes a multipart form's names
# and values with the one named, the gate with the same (multipart.py).
_CHARSETS = _UTF8 | {"us-ascii", "ascii"}
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


# The refusal codes live with every other code agegate speaks.
Code = Refusal


class Refused(Exception):
    """The gate cannot read the request with certainty: answer `status`."""

    def __init__(
        self, status: int, code: Refusal | str, fields: Sequence[str] = ()
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.fields = tuple(fields)


class Disconnected(Exception):
    """The client went away before its body was complete."""


@attrs.frozen
class Limits:
    """How much the gate reads; python-multipart's limits are set from these."""

    max_body_size: int = 64 * 1024
    max_fields: int = 256
    max_files: int = 16


ByName = dict[bytes, list[bytes]]


def index_headers(raw: Iterable[tuple[bytes, bytes]]) -> tuple[ByName, int]:
    """A request's header values by lower-case name, in order, and the
    length of the longest value: one pass, and no object for a gated
    request that needs nothing more (`HeaderIndex` wraps the two)."""
    by_name: ByName = {}
    longest = 0
    for name, value in raw:
        key = name.lower()
        if key in by_name:
            by_name[key].append(value)
        else:
            by_name[key] = [value]
        if len(value) > longest:
            longest = len(value)
    return by_name, longest


class HeaderIndex:
    """A request's headers by lower-case name, gathered in one pass.

    It is still the list of (name, value) pairs, so every reader here takes
    either; with the index, each header is found without another pass.
    """

    __slots__ = ("_by_name", "longest", "raw")

    def __init__(
        self,
        raw: Iterable[tuple[bytes, bytes]],
        indexed: tuple[ByName, int] | None = None,
    ) -> None:
        """`indexed`: what `index_headers` gave for `raw`, if it ran."""
        # The server's list is only read here, never changed: no copy.
        self.raw = raw if type(raw) is list else list(raw)
        if indexed is None:
            indexed = index_headers(self.raw)
        self._by_name, self.longest = indexed

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, index: int) -> tuple[bytes, bytes]:
        return self.raw[index]

    def get(self, name: bytes) -> list[bytes]:
        """The raw values of header `name` (lower case), in order."""
        return self._by_name.get(name, [])

    def single(self, name: bytes) -> str | None:
        """As `single_header`, without a pass over the headers."""
        return _single(self._by_name, name)

    def check(self, max_header_size: int, max_body_size: int) -> None:
        check_index(self._by_name, self.longest, max_header_size, max_body_size)


def _single(by_name: ByName, name: bytes) -> str | None:
    values = by_name.get(name)
    if values is None:
        return None
    if len(values) > 1:
        raise Refused(400, Code.HEADER_AMBIGUOUS)
    return values[0].decode("latin-1")


def check_index(
    by_name: ByName, longest: int, max_header_size: int, max_body_size: int
) -> None:
    """`check_header_sizes`, `check_cookie_escapes` and `declared_length`
    in their order, on `index_headers`' answer: one call for a gated request."""
    if longest > max_header_size:
        raise Refused(431, Code.HEADER_TOO_LARGE)
    cookies = by_name.get(b"cookie")
    if cookies is not None and any(
        value.count(b"\\") > MAX_COOKIE_ESCAPES for value in cookies
    ):
        raise Refused(400, Code.COOKIE_UNREADABLE)
    lengths = by_name.get(b"content-length")
    if lengths is not None:
        # `declared_length`, on the raw value: bytes.isdigit is true of
        # ASCII digits only, and int() reads them as it reads the text.
        if len(lengths) > 1:
            raise Refused(400, Code.HEADER_AMBIGUOUS)
        digits = lengths[0].strip(b" \t")
        if not (digits.isdigit() and len(digits) <= _LENGTH_DIGITS):
            raise Refused(400, Code.HEADER_AMBIGUOUS)
        if int(digits) > max_body_size:
            raise Refused(413, Code.BODY_TOO_LARGE)


def header_values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    if isinstance(headers, HeaderIndex):
        return [value.decode("latin-1") for value in headers.get(name)]
    return [value.decode("latin-1") for key, value in headers if key.lower() == name]


def single_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The header's one value; two copies could be read two ways, so refuse."""
    if isinstance(headers, HeaderIndex):
        return headers.single(name)
    values = header_values(headers, name)
    if len(values) > 1:
        raise Refused(400, Code.HEADER_AMBIGUOUS)
    return values[0] if values else None


def check_header_sizes(headers: Iterable[tuple[bytes, bytes]], limit: int) -> None:
    """Refuse any header value longer than `limit` bytes (431).

    Some header readers (the standard library's cookie unquoting, its MIME
    parameter parser) take quadratic time on long crafted values; no honest
    client sends one this long to a signup form.
    """
    if isinstance(headers, HeaderIndex):
        too_long = headers.longest > limit
    else:
        too_long = any(len(value) > limit for _, value in headers)
    if too_long:
        raise Refused(431, Code.HEADER_TOO_LARGE)


# RFC 6265 cookie values hold no backslash; http.cookies' unquoting, which
# Starlette's and so FastAPI's `request.cookies` use, takes quadratic time in
# their number. A few (a value quoted by Python's own SimpleCookie) pass.
MAX_COOKIE_ESCAPES = 128


def check_cookie_escapes(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Refuse a Cookie header the app behind the gate would read slowly."""
    if isinstance(headers, HeaderIndex):
        cookies = headers.get(b"cookie")
        if not cookies:
            return
    else:
        cookies = [value for name, value in headers if name.lower() == b"cookie"]
    if any(value.count(b"\\") > MAX_COOKIE_ESCAPES for value in cookies):
        raise Refused(400, Code.COOKIE_UNREADABLE)


# At most 18 ASCII digits: always below 2**63, and int() never sees a huge
# string (an empty text is no digit string).
_LENGTH_DIGITS = 18


def declared_length(headers: Iterable[tuple[bytes, bytes]], limit: int) -> int | None:
    text = single_header(headers, b"content-length")
    if text is None:
        return None
    text = text.strip(" \t")
    if not (text.isascii() and text.isdigit() and len(text) <= _LENGTH_DIGITS):
        raise Refused(400, Code.HEADER_AMBIGUOUS)
    length = int(text)
    if length > limit:
        raise Refused(413, Code.BODY_TOO_LARGE)
    return length


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, or Refused(413) as soon as it grows past `limit`.

    The cap is enforced on the bytes received, so a body sent without a
    Content-Length (chunked) is held to it too.
    """
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        # The whole body in one message, as most servers send a small one.
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise Refused(413, Code.BODY_TOO_LARGE)
        return body
    return await read_rest(receive, limit, message)


async def read_rest(receive: Receive, limit: int, message: Message) -> bytes:
    """The body from its first message on, read to its end (`read_body`'s
    long way, for a body in several messages)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise Disconnected
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Refused(413, Code.BODY_TOO_LARGE)
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        message = await receive()


def classify(headers: Iterable[tuple[bytes, bytes]], body: bytes) -> BodyKind:
    """Which reader applies, agreed on by Starlette's and FastAPI's views."""
    if not isinstance(headers, HeaderIndex):
        headers = HeaderIndex(headers)
    return classify_index(headers._by_name, body)


def classify_index(by_name: ByName, body: bytes) -> BodyKind:
    """`classify` on `index_headers`' answer."""
    if b"content-encoding" in by_name:
        encoding = _single(by_name, b"content-encoding") or ""
        if encoding.strip().lower() not in ("", "identity"):
            raise Refused(415, Code.CONTENT_ENCODING_UNSUPPORTED)
    values = by_name.get(b"content-type")
    if values is not None and len(values) == 1:
        # A value read before: no decoding, no call.
        found = _KIND_CACHE.get(values[0])
        if found is not None:
            if found[0] is None:
                raise Refused(415, found[1] or Code.MEDIA_TYPE_UNSUPPORTED)
            return found[0]
    content_type = _single(by_name, b"content-type")
    if content_type is None or not content_type.strip():
        # FastAPI reads a body without a content type as JSON, and other
        # readers may guess otherwise: nothing can be read with certainty.
        if body:
            raise Refused(415, Code.MEDIA_TYPE_UNSUPPORTED)
        return "empty"
    kind, refusal = _media_kind(content_type)
    if kind is None:
        raise Refused(415, refusal or Code.MEDIA_TYPE_UNSUPPORTED)
    return kind


# RFC 9110 token characters; a parameter value is a token or a quoted string
# without escapes. Every reader agrees on a value made only of these.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)
_QUOTED = re.compile(r'"[^"\\]*"', re.ASCII)


# Clients send a handful of Content-Type values; their readings are kept
# (short values only, a bounded number: the cache cannot grow with clients).
# Keyed by the raw value; a blank value is never kept (its reading depends on
# the body).
_KIND_CACHE: dict[bytes, tuple[BodyKind | None, str | None]] = {}
_KIND_CACHE_SIZE = 64
_KIND_CACHE_VALUE = 128


def _media_kind(content_type: str) -> tuple[BodyKind | None, str | None]:
    found = _read_media_kind(content_type)
    if len(content_type) <= _KIND_CACHE_VALUE:
        if len(_KIND_CACHE) >= _KIND_CACHE_SIZE:
            _KIND_CACHE.clear()
        _KIND_CACHE[content_type.encode("latin-1")] = found
    return found


def _read_media_kind(content_type: str) -> tuple[BodyKind | None, str | None]:
    """The reader for a Content-Type value, or the code refusing it.

    Only the plain grammar is accepted (`type/subtype; name=value`, values as
    tokens or quoted strings without `;`, `"` or `\\` inside), read in linear
    time: on it Starlette's reader (python-multipart) and FastAPI's (the
    standard library's email.message) agree, and anything else may be read
    two ways, or slowly. An extended parameter (`charset*0=utf-7`, RFC 2231)
    is refused whatever its kind: python-multipart releases before 0.0.30
    decode it and let it override the plain one, later ones ignore it, so
    the charset a form's names and values are decoded with would depend on
    the release. A form's parameters must also read alike by the installed
    python-multipart, the reader Starlette's form parsers take them from.
    """
    media, *params = content_type.split(";")
    media = media.strip(" \t")
    kind_name, slash, subtype = media.partition("/")
    if not (slash and _TOKEN.fullmatch(kind_name) and _TOKEN.fullmatch(subtype)):
        return None, Code.MEDIA_TYPE_UNSUPPORTED
    read: dict[str, str] = {}
    charsets: set[str] = set()
    for param in params:
        name, equals, value = param.strip(" \t").partition("=")
        name = name.lower()
        if not (equals and _TOKEN.fullmatch(name)) or "*" in name:
            return None, Code.MEDIA_TYPE_UNSUPPORTED
        if _QUOTED.fullmatch(value):
            value = value[1:-1]
        elif not _TOKEN.fullmatch(value):
            return None, Code.MEDIA_TYPE_UNSUPPORTED
        if name == "charset":
            charsets.add(value.strip().lower())
        elif name in read:
            return None, Code.MEDIA_TYPE_UNSUPPORTED
        read[name] = value
    kind = _kind(media.lower())
    if kind is None:
        return None, Code.MEDIA_TYPE_UNSUPPORTED
    if not charsets <= _CHARSETS:
        return None, Code.CHARSET_UNSUPPORTED
    if kind in ("form", "multipart") and not _library_agrees(
        content_type, media.lower(), read
    ):
        return None, Code.MEDIA_TYPE_UNSUPPORTED
    return kind, None


def _library_agrees(content_type: str, media: str, params: dict[str, str]) -> bool:
    """Whether python-multipart reads the media type and parameters as the
    gate does (Starlette takes a form's boundary and charset from it)."""
    found_media, found = parse_options_header(content_type)
    theirs = {
        name.decode("latin-1"): value.decode("latin-1") for name, value in found.items()
    }
    return found_media.decode("latin-1") == media and theirs == params


def _kind(media_type: str) -> BodyKind | None:
    if media_type == "multipart/form-data":
        return "multipart"
    if media_type == "application/x-www-form-urlencoded":
        return "form"
    if media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return "json"
    return None


# -- JSON ---------------------------------------------------------------------


def read_json(body: bytes, gated: frozenset[str]) -> dict[str, Any]:
    """A JSON object, read as `json.loads(body)` reads it, or Refused(400).

    `json.loads` on bytes accepts a UTF-8 byte order mark and UTF-16/32, which
    other JSON readers refuse or read differently: only BOM-less UTF-8 passes.
    """
    # `_not_utf8`'s test, inline: this runs on every gated JSON request.
    if body.startswith(_BOMS) or (
        b"\x00" in body[:2] and (len(body) >= 4 or len(body) == 2)
    ):
        raise Refused(400, Code.BODY_ENCODING)
    try:
        value = jsonkeys.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused(400, Code.BODY_ENCODING) from None
    except jsonkeys.DuplicateKey as duplicate:
        named = (duplicate.key,) if duplicate.key in gated else ()
        raise Refused(400, Code.KEY_REPEATED, named) from None
    except (ValueError, RecursionError):
        raise Refused(400, Code.BODY_MALFORMED) from None
    if not isinstance(value, dict):
        raise Refused(400, Code.BODY_NOT_OBJECT)
    return value


def _not_utf8(body: bytes) -> bool:
    """Whether `json.detect_encoding` reads a BOM-less body as UTF-16 or
    UTF-32: a NUL among the first two bytes of a body of two, or of four or
    more, bytes (its own test, without the call)."""
    return (len(body) >= 4 or len(body) == 2) and b"\x00" in body[:2]


def _readable_as_json(body: bytes) -> bool:
    """Whether Starlette's `request.json()` would read something from `body`."""
    if b"=" in body and b'"' not in body:
        # JSON holds an equals sign only inside a string, between quotes.
        return False
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


# -- forms --------------------------------------------------------------------


def _form_record(
    items: Iterable[tuple[str, Any]], gated: frozenset[str]
) -> dict[str, Any]:
    record: dict[str, Any] = {}
    repeated: list[str] = []
    for key, value in items:
        if key in record and key in gated:
            repeated.append(key)
        record[key] = value
    if repeated:
        raise Refused(400, Code.FIELD_REPEATED, sorted(set(repeated)))
    return record


def read_urlencoded(
    headers: Headers, body: bytes, gated: frozenset[str], limits: Limits
) -> dict[str, Any]:
    record = read_plain_urlencoded(body, gated, limits)
    if record is not None:
        return record
    return _read_urlencoded_twice(headers, body, gated, limits)


def read_plain_urlencoded(
    body: bytes, gated: frozenset[str], limits: Limits
) -> dict[str, Any] | None:
    """`read_urlencoded`'s record of a plain form, without a coroutine; None
    when the body must be read the long way (`_read_urlencoded_twice`)."""
    if not body.isascii():
        # Raw non-ASCII bytes are not URL-encoded: Starlette reads them as
        # Latin-1, other readers as UTF-8.
        raise Refused(400, Code.BODY_ENCODING)
    if _readable_as_json(body):
        raise Refused(400, Code.BODY_AMBIGUOUS)
    return _plain_record(body.decode("ascii"), gated, limits)


def _plain_record(
    text: str, gated: frozenset[str], limits: Limits
) -> dict[str, Any] | None:
    """The record of a plain form (`name=value` pairs joined by single `&`,
    within the limits), else None.

    On such a text Starlette's reader (python-multipart's, then
    `unquote_plus`) and the standard library's `parse_qsl` split and decode
    alike, so one reading stands for both.
    """
    # Older python-multipart releases split fields at `;` too (0.0.26 does,
    # 0.0.30 no longer): such a body takes the long way, which compares.
    pieces = text.split("&")
    if len(pieces) > limits.max_fields or len(text) > limits.max_body_size:
        return None
    if ";" in text:
        return None
    if "%26" in text or "%3D" in text or "%3d" in text:
        # An escaped `&` or `=` is part of a name or value: split, then unquote.
        pairs = [
            [unquote_plus(part) for part in piece.split("=", 1)] for piece in pieces
        ]
    else:
        if "%" in text or "+" in text:
            # No escape decodes to `&` or `=`, and UTF-8 decoding (with
            # replacement) starts afresh at every ASCII byte: unquoting the
            # whole text, then splitting it, is splitting, then unquoting
            # every name and value.
            pieces = _unquote_plus(text).split("&")
        pairs = [piece.split("=", 1) for piece in pieces]
    try:
        record = dict(pairs)
    except ValueError:  # a piece without `=`
        return None
    if len(record) == len(pairs):
        return record
    # A name is repeated: which repeats are refused is `_form_record`'s to say.
    return _form_record(((name, value) for name, value in pairs), gated)


_HEX_DIGITS = "0123456789ABCDEFabcdef"
_HEX = {
    (a + b).encode(): bytes.fromhex(a + b) for a in _HEX_DIGITS for b in _HEX_DIGITS
}


def _unquote_plus(text: str) -> str:
    """`urllib.parse.unquote_plus` of an ASCII text, without its general
    case (non-ASCII runs, bytes, other encodings): the same steps, in half
    the time."""
    bits = text.replace("+", " ").encode("ascii").split(b"%")
    decoded = [bits[0]]
    for item in bits[1:]:
        byte = _HEX.get(item[:2])
        if byte is None:
            decoded += (b"%", item)
        else:
            decoded += (byte, item[2:])
    return b"".join(decoded).decode("utf-8", "replace")


def _read_urlencoded_twice(
    headers: Headers, body: bytes, gated: frozenset[str], limits: Limits
) -> dict[str, Any]:
    """Read as Starlette's parser reads, and check the standard library's agrees."""
    try:
        fields = read_fields(body, max_fields=limits.max_fields)
    except MultipartError:
        raise Refused(400, Code.BODY_MALFORMED) from None
    record = _form_record(fields, gated)
    # The standard library's reader must see the same gated values.
    other: dict[str, list[str]] = {}
    for key, value in parse_qsl(body.decode("ascii"), keep_blank_values=True):
        if key in gated:
            other.setdefault(key, []).append(value)
    for key in gated:
        mine = [record[key]] if key in record else []
        if other.get(key, []) != mine:
            raise Refused(400, Code.BODY_AMBIGUOUS, (key,))
    return record


_ALLOWED_PART_HEADERS = frozenset({b"content-disposition", b"content-type"})


def _check_part(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a gated part can be read only one way."""
    names = [name for name, _ in headers]
    if len(names) != len(set(names)) or not set(names) <= _ALLOWED_PART_HEADERS:
        return False
    for name, value in headers:
        text = value.decode("latin-1").lower()
        if name == b"content-disposition":
            params = [p.split("=", 1)[0].strip() for p in text.split(";")[1:]]
            if any("*" in p for p in params) or params.count("name") != 1:
                return False
        else:
            params = [p.split("=", 1)[0].strip() for p in text.split(";")[1:]]
            if any("*" in p for p in params):
                return False
            media, options = parse_options_header(text)
            charset = options.get(b"charset", b"utf-8").decode("latin-1")
            if media != b"text/plain" or charset not in _UTF8:
                return False
    return True


def _extended_name(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a part names itself with an extended parameter: `name*=` or
    the continuations `name*0=`, `name*0*=` (RFC 2231)."""
    for name, value in headers:
        if name == b"content-disposition":
            params = value.decode("latin-1").lower().split(";")[1:]
            if any(p.split("=", 1)[0].strip().startswith("name*") for p in params):
                return True
    return False


def read_multipart(
    headers: Headers, body: bytes, gated: frozenset[str], limits: Limits
) -> dict[str, Any]:
    if _readable_as_json(body):
        raise Refused(400, Code.BODY_AMBIGUOUS)
    try:
        parts = read_parts(
            headers.get("content-type", ""),
            body,
            max_fields=limits.max_fields,
            max_files=limits.max_files,
            max_part_size=limits.max_body_size,
        )
    except MultipartError:
        raise Refused(400, Code.BODY_MALFORMED) from None
    return multipart_record(parts, gated)


def multipart_record(parts: Sequence[Part], gated: frozenset[str]) -> dict[str, Any]:
    """The record of multipart parts; a gated part must be plain text, readable
    one way only. A file's value is `UPLOAD`: never text to screen."""
    for part in parts:
        # A `name*` (RFC 7578 rules it out) names the part as `birthdate` for
        # some readers and not for others; python-multipart changed its mind.
        suspect = part.name in gated or _extended_name(part.headers)
        if suspect and not _check_part(list(part.headers)):
            raise Refused(400, Code.PART_AMBIGUOUS, (part.name,))
    not_text = sorted({p.name for p in parts if p.name in gated and p.text is None})
    if not_text:
        raise Refused(400, Code.FIELD_NOT_TEXT, not_text)
    return _form_record(
        ((p.name, p.text if p.text is not None else UPLOAD) for p in parts), gated
    )


class _Upload:
    """The value of a file part: the gate keeps none of its bytes."""

    def __repr__(self) -> str:
        return "<file>"


UPLOAD = _Upload()


# -- objects held as JSON text -----------------------------------------------------


def dotted_paths(keys: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """The dotted keys among `keys`, split at their dots."""
    return tuple(tuple(key.split(".")) for key in keys if "." in key)


def key_prefixes(keys: Iterable[str]) -> frozenset[str]:
    """Every top-level name a dotted key starts with (`user` of `user.dob`):
    a body key the gate must read, though no field is mapped to it alone."""
    return frozenset(path[0] for path in dotted_paths(keys))


def open_json_strings(
    record: dict[str, Any], paths: Sequence[tuple[str, ...]]
) -> dict[str, Any]:
    """The record with every object on the way to a dotted key read from JSON
    text where it is text: `profile` sent as the string `{"dob": ...}` (a
    form field, or a JSON string an app reads with `model_validate_json`) is
    an object the app reads `profile.dob` from, so the gate reads it too.

    A node on the way that is neither an object, text holding a JSON object,
    nor null is Refused(400, FIELD_NOT_OBJECT): the gate cannot tell what the
    app reads from it. The JSON text is read as a body is (duplicate keys
    refused). Nodes are replaced in place: the record is this request's own.
    """
    for path in paths:
        node = record
        for depth in range(len(path) - 1):
            value = node.get(path[depth])
            if value is None:
                break
            if isinstance(value, str):
                value = node[path[depth]] = _object_text(value, path[: depth + 1])
            elif not isinstance(value, dict):
                named = (".".join(path[: depth + 1]),)
                raise Refused(400, Code.FIELD_NOT_OBJECT, named)
            node = value
    return record


def _object_text(text: str, path: tuple[str, ...]) -> dict[str, Any]:
    key = ".".join(path)
    try:
        value = jsonkeys.loads(text)
    except jsonkeys.DuplicateKey:
        raise Refused(400, Code.KEY_REPEATED, (key,)) from None
    except (ValueError, RecursionError):
        raise Refused(400, Code.FIELD_NOT_OBJECT, (key,)) from None
    if not isinstance(value, dict):
        raise Refused(400, Code.FIELD_NOT_OBJECT, (key,))
    return value


# -- the whole request ----------------------------------------------------------


def read_query(query_string: bytes, gated: frozenset[str]) -> dict[str, str]:
    """The gated keys of the query string, as Starlette's `query_params` reads it."""
    if not query_string:
        return {}
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return _form_record(((k, v) for k, v in pairs if k in gated), gated)


def read_kind(
    kind: BodyKind,
    headers: Headers,
    body: bytes,
    gated: frozenset[str],
    limits: Limits,
) -> dict[str, Any]:
    """The gated fields of a body of `kind`, read as the app will read it.
    Every reader is synchronous: the body is in memory already."""
    if kind == "json":
        return read_json(body, gated)
    if kind == "form":
        return read_urlencoded(headers, body, gated, limits)
    if kind == "multipart":
        return read_multipart(headers, body, gated, limits)
    return {}


def merge(
    body: Mapping[str, Any], query: Mapping[str, str], gated: frozenset[str]
) -> dict[str, Any]:
    """One record from body and query; a gated key in both is ambiguous."""
    if not query:
        # A record freshly read for this request is nobody else's: no copy.
        return body if type(body) is dict else dict(body)
    both = sorted(k for k in query if k in body and k in gated)
    if both:
        raise Refused(400, Code.FIELD_IN_QUERY_AND_BODY, both)
    return {**query, **body}
