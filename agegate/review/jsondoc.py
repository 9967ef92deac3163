"""JSON documents of records: an array of objects (Django's `dumpdata`), or
an object one of whose keys holds the array (Firebase's `auth:export`,
`{"users": [...]}`).

The document is read as a stream: text is decoded a block at a time and each
record is parsed on its own, so memory holds one block and one record, never
the document. A record is numbered by the line its `{` stands on; one that is
not an object, names a key twice or holds bytes not in the encoding is an
unreadable row, as in JSON Lines. A document broken between records cannot be
read on past the break: that is an input error naming the line.

Mapped keys reach into a record's objects with dots, as in JSON Lines:
`--map birthdate=fields.birth_date` reads Django's nested `fields`.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .. import jsonkeys
from ..errors import InputError
from .readers import Item, Row, Stream, Unreadable, _not_readable, _open_binary, _tell

__all__ = ["read_json"]

BLOCK = 1 << 20
# A record longer than this is refused rather than buffered without bound.
MAX_RECORD = 64 << 20
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_SCAN: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]
_NOT_SPACE = re.compile(r"[^ \t\n\r]")


def read_json(path: str | Path, *, encoding: str = "utf-8-sig") -> Stream:
    """The records of a JSON document, numbered by the line each starts on."""
    handle, size = _open_binary(path)
    text = _Text(handle, encoding, str(path))
    return Stream(
        _records(text, handle),
        handle,
        fmt="json",
        total=size,
        position=_tell(handle),
    )


class _Text:
    """The document's text, decoded block by block; `line` is the line of
    the position reached."""

    def __init__(self, handle: BinaryIO, codec: str, where: str) -> None:
        self._handle = handle
        self._decoder = codecs.getincrementaldecoder(codec)(errors="surrogateescape")
        self.codec = codec
        self.where = where
        self.text = ""
        self.at = 0
        self.line = 1
        self.ended = False

    def _more(self) -> bool:
        """Read another block (as much again as is buffered, to keep retries
        linear); False at the end."""
        if self.ended:
            return False
        data = self._handle.read(max(BLOCK, len(self.text) - self.at))
        self.text += self._decoder.decode(data, final=not data)
        self.ended = not data
        return True

    def compact(self) -> None:
        """Drop the text already read (no position before it is kept)."""
        if self.at > BLOCK:
            self.text, self.at = self.text[self.at :], 0

    def advance(self, to: int) -> None:
        self.line += self.text.count("\n", self.at, to)
        self.at = to

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            found = _NOT_SPACE.search(self.text, self.at)
            if found is not None:
                self.advance(found.start())
                return self.text[self.at]
            self.advance(len(self.text))
            if not self._more():
                return ""

    def take(self, char: str) -> None:
        if self.peek() != char:
            raise self.broken(f"expected {char!r}")
        self.advance(self.at + 1)

    def value(self) -> tuple[Any, str]:
        """The next JSON value and its text, read whole."""
        self.peek()
        while True:
            try:
                value, end = _SCAN(self.text, self.at)
            except (ValueError, StopIteration, RecursionError):
                end = -1
            # A value ending where the text read ends may go on (a number).
            if end >= 0 and (end < len(self.text) or self.ended):
                raw = self.text[self.at : end]
                self.advance(end)
                return value, raw
            if len(self.text) - self.at > MAX_RECORD:
                raise self.broken(f"a value longer than {MAX_RECORD >> 20} MiB")
            if not self._more():
                raise self.broken("broken JSON")

    def after_bracket(self) -> str:
        """The first character after the `[` at the position, unconsumed."""
        start, line = self.at, self.line
        self.advance(start + 1)
        found = self.peek()
        self.at, self.line = start, line
        return found

    def broken(self, why: str) -> InputError:
        return InputError(
            f"{why} at line {self.line}; a JSON document cannot be read on past"
            " a break (JSON Lines can: one record a line)",
            where=self.where,
        )


def _records(text: _Text, handle: BinaryIO) -> Iterator[Item]:
    with handle:
        first = text.peek()
        if first == "[":
            yield from _array(text)
        elif first == "{":
            yield from _holder(text)
        else:
            raise InputError(
                "not a JSON document of records: an array of objects, or an"
                " object holding one",
                where=text.where,
            )
        if text.peek():
            raise InputError(
                f"more than one JSON value (line {text.line}): a file of one"
                " object a line is JSON Lines: give --format jsonl",
                where=text.where,
            )


def _array(text: _Text) -> Iterator[Item]:
    """Each element of the array at the position, as a row."""
    text.take("[")
    if text.peek() == "]":
        text.advance(text.at + 1)
        return
    while True:
        text.compact()
        text.peek()
        line = text.line
        value, raw = text.value()
        yield _row(line, value, raw, text.codec)
        if text.peek() == "]":
            text.advance(text.at + 1)
            return
        text.take(",")


def _row(line: int, value: Any, raw: str, codec: str) -> Item:
    if _ESCAPED_BYTE.search(raw):
        return Unreadable(line, _not_readable(codec))
    if not isinstance(value, dict):
        return Unreadable(line, "not a JSON object")
    try:
        return Row(line, jsonkeys.loads(raw))
    except jsonkeys.DuplicateKey:
        return Unreadable(line, "a key appears twice")
    except (ValueError, RecursionError):  # pragma: no cover - scanned already
        return Unreadable(line, "broken JSON")


def _holder(text: _Text) -> Iterator[Item]:
    """The records of the first key whose value is an array of objects; a
    second such key is refused (which one holds the accounts?)."""
    text.take("{")
    found: str | None = None
    seen: set[str] = set()
    while text.peek() != "}":
        if seen:
            text.take(",")
        key, _ = text.value()
        if not isinstance(key, str) or key in seen:
            raise text.broken("a key that is not a string, or named twice")
        seen.add(key)
        text.take(":")
        records = text.peek() == "[" and text.after_bracket() in ("{", "]")
        if records and found is not None:
            raise InputError(
                f"the document holds two arrays of records ({found!r} and"
                f" {key!r}); write the one to review alone",
                where=text.where,
            )
        if records:
            found = key
            yield from _array(text)
        else:
            text.value()
    text.advance(text.at + 1)
    if found is None:
        raise InputError(
            "the JSON object holds no array of records; a file of one object a"
            " line is JSON Lines: give --format jsonl",
            where=text.where,
        )
