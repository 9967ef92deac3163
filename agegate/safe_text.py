"""Stored text made safe for the two places people read it outside the app:
a spreadsheet that opens an exported CSV, and a terminal.

Account ids come from URLs, reports and account stores, so they are whatever
a client chose to send.
"""

from __future__ import annotations

import unicodedata

# A spreadsheet runs a cell that starts with one of these as a formula
# (OWASP's CSV injection advice); a leading quote makes it plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Control characters, format characters (bidirectional overrides among them)
# and line or paragraph separators: each can forge a row or drive a terminal.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text rather than evaluates."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(values: list[object]) -> list[object]:
    return [csv_cell(value) for value in values]


def printable(text: str) -> str:
    """`text` with every control character written as an escape (`\\n`,
    `\\x1b`, `\\u202e`), so printed rows cannot be forged or the terminal
    driven; a backslash is doubled so that an escape is never ambiguous."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escape(char) for char in text)


def _escape(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    if unicodedata.category(char) not in _UNPRINTABLE:
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
