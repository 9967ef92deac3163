"""JSON objects read with every key once.

`json.loads` keeps the last of two equal keys, while other readers keep the
first or refuse: a record that names a key twice could be read two ways, so
every door refuses it. Pass `unique_keys` as `object_pairs_hook`; it raises
`DuplicateKey` at the first key seen twice, at any depth.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import AgeGateError


class DuplicateKey(AgeGateError, ValueError):
    """A JSON object (or a list of form pairs) names one key twice.

    `key` is the key's name, for a caller that may show the names it gates;
    the message never repeats it.
    """

    code = "KEY_REPEATED"

    def __init__(self, key: str) -> None:
        super().__init__("a key appears twice")
        self.key = key

    def __reduce__(self) -> tuple[Any, ...]:
        return (DuplicateKey, (self.key,))


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The pairs as a dict, or DuplicateKey for the first key seen twice."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def loads(text: str | bytes) -> Any:
    """`json.loads` refusing duplicate keys; raises DuplicateKey, ValueError
    or RecursionError (deep nesting exhausts the parser).

    The hook runs in Python for every object, several times slower than
    `json.loads` alone, so a text is first read without it. Every key and
    string value of the text is written between two quotes (an escaped quote
    inside only adds one), so the text holds at least twice as many quotes
    as it has strings; a repeated key drops at least one key from the
    result. When the quotes are exactly twice the strings of the result,
    nothing was dropped. Otherwise, or on any error (a repeat may come before
    the error, and it must win), the text is read again with the hook.
    """
    if isinstance(text, str):
        # `json.loads`' own C scanner, without the two Python frames around
        # it (`decode`, `raw_decode`). It stops at a byte order mark, which
        # is no JSON value; only whitespace may follow the value, which
        # never ends in whitespace itself.
        try:
            value, end = _SCAN(text, len(text) - len(text.lstrip(_WHITESPACE)))
        except (ValueError, RecursionError, StopIteration):
            pass
        else:
            if end == len(text.rstrip(_WHITESPACE)) and text.count('"') == 2 * (
                _strings(value)
            ):
                return value
    return json.loads(text, object_pairs_hook=unique_keys)


# The scanner `json.loads` drives for a str without options (an attribute
# of each decoder that typeshed does not declare).
_SCAN: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]
_WHITESPACE = " \t\n\r"


def _strings(value: Any) -> int:
    """How many keys and string values `value` holds, at any depth (without
    recursion: the parser may have nested as deep as the stack allows).
    `json.loads` makes exact dicts, lists and strs, so types are compared."""
    count = 0
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str:
            count += 1
        elif kind is dict:
            count += len(item)
            for inner in item.values():
                inner_kind = type(inner)
                if inner_kind is str:
                    count += 1
                elif inner_kind is dict or inner_kind is list:
                    pending.append(inner)
        elif kind is list:
            pending.extend(item)
    return count
