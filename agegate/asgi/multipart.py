"""multipart/form-data read part by part, with the headers of every part.

Driven by python-multipart's public callback parser, the one Starlette's
`request.form()` drives too, so the parts, names and values are the ones the
app behind the gate reads. Names and values are decoded as Starlette decodes
them: with the charset the request's Content-Type names (UTF-8 by default),
else Latin-1; a part with a `filename` is a file, whose bytes
are not kept. Limits and malformed bodies raise `MultipartError`.

`read_fields` reads an URL-encoded form with the same library's query-string
parser, as Starlette's `FormParser` does.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

import attrs
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import (
    MultipartParser,
    QuerystringParser,
    parse_options_header,
)

Header = tuple[bytes, bytes]


class MultipartError(Exception):
    """The body is not multipart we read, or it exceeds a limit."""


@attrs.frozen
class Part:
    """One part: its field name, its headers (names lower case) and, for a
    field that is not a file, its text."""

    name: str
    headers: tuple[Header, ...]
    text: str | None


def _decode(data: bytes, charset: str = "utf-8") -> str:
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return data.decode("latin-1")


@attrs.define
class _Reader:
    """The callbacks' state: the part being read and the parts read."""

    max_fields: int
    max_files: int
    max_part_size: int
    charset: str = "utf-8"
    parts: list[Part] = attrs.field(factory=list)
    headers: list[Header] = attrs.field(factory=list)
    header_name: bytes = b""
    header_value: bytes = b""
    data: bytearray = attrs.field(factory=bytearray)
    name: str = ""
    is_file: bool = False
    fields: int = 0
    files: int = 0

    def on_part_begin(self) -> None:
        self.headers = []
        self.data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers.append((self.header_name.lower(), self.header_value))
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        # The last Content-Disposition counts, as in Starlette's reader, and
        # the limits are checked here, where Starlette checks them.
        dispositions = [v for k, v in self.headers if k == b"content-disposition"]
        _, options = parse_options_header(dispositions[-1] if dispositions else None)
        if b"name" not in options:
            raise MultipartError("part without a name")
        self.name = _decode(options[b"name"], self.charset)
        self.is_file = b"filename" in options
        if self.is_file:
            self.files += 1
        else:
            self.fields += 1
        if self.files > self.max_files or self.fields > self.max_fields:
            raise MultipartError("too many parts")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if len(self.data) + end - start > self.max_part_size:
            raise MultipartError("part too large")
        self.data += data[start:end]

    def on_part_end(self) -> None:
        text = None if self.is_file else _decode(bytes(self.data), self.charset)
        self.parts.append(Part(self.name, tuple(self.headers), text))


def read_parts(
    content_type: str,
    body: bytes,
    *,
    max_fields: int,
    max_files: int,
    max_part_size: int,
) -> list[Part]:
    """The parts of a whole multipart body, in order."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise MultipartError("no boundary")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    reader = _Reader(max_fields, max_files, max_part_size, charset)
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": reader.on_part_begin,
                "on_header_field": reader.on_header_field,
                "on_header_value": reader.on_header_value,
                "on_header_end": reader.on_header_end,
                "on_headers_finished": reader.on_headers_finished,
                "on_part_data": reader.on_part_data,
                "on_part_end": reader.on_part_end,
            },
        )
        parser.write(body)
        parser.finalize()
    except FormParserError:
        raise MultipartError("malformed") from None
    return reader.parts


@attrs.define
class _Fields:
    """The query-string callbacks' state: the field being read and those read."""

    max_fields: int
    items: list[tuple[str, str]] = attrs.field(factory=list)
    name: bytearray = attrs.field(factory=bytearray)
    value: bytearray = attrs.field(factory=bytearray)

    def on_field_start(self) -> None:
        self.name = bytearray()
        self.value = bytearray()

    def on_field_name(self, data: bytes, start: int, end: int) -> None:
        self.name += data[start:end]

    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_field_end(self) -> None:
        if len(self.items) >= self.max_fields:
            raise MultipartError("too many fields")
        self.items.append(
            (unquote_plus(self.name.decode("latin-1")),
             unquote_plus(self.value.decode("latin-1")))
        )  # fmt: skip


def read_fields(body: bytes, *, max_fields: int) -> list[tuple[str, str]]:
    """The fields of a whole URL-encoded body, in order, decoded as Starlette's
    `FormParser` decodes them (Latin-1, then `unquote_plus`).

    Driven here rather than through `FormParser`, whose limits and end of
    input differ between the Starlette releases the gate supports.
    """
    reader = _Fields(max_fields)
    parser = QuerystringParser(
        {
            "on_field_start": reader.on_field_start,
            "on_field_name": reader.on_field_name,
            "on_field_data": reader.on_field_data,
            "on_field_end": reader.on_field_end,
        }
    )
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError:
        raise MultipartError("malformed") from None
    return reader.items
