"""The exceptions agegate raises.

Messages name the field, file or line that is wrong and never carry the value:
a value may be a birthdate, a phone number or anything else a person typed.
Every exception pickles cleanly so that batch workers can pass it between
processes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .reasons import Reason

# A value of this shape is a jurisdiction code, never personal data, so an
# error may repeat it to help the operator.
_CODE_SHAPE = re.compile(r"[A-Za-z]{2}(?:-[A-Za-z0-9]{1,3})?", re.ASCII)


class AgeGateError(Exception):
    """Base class of every agegate error."""

    code = "AGEGATE_ERROR"


class InputProblem(AgeGateError, ValueError):
    """One input cannot be used, for the reason a code gives; never the value.

    Raised by the readers of birthdates, places and phone numbers and caught
    by screening, which turns it into a reason on the Decision. `field` names
    the input key when the raiser knows it.
    """

    code = "INPUT_PROBLEM"

    def __init__(self, reason: Reason, field: str | None = None) -> None:
        super().__init__(reason if field is None else f"{field}: {reason}")
        self.reason = reason
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        return (InputProblem, (self.reason, self.field))


class TableError(AgeGateError, ValueError):
    """A jurisdiction table is malformed; names the file and line."""

    code = "TABLE_INVALID"

    def __init__(self, message: str, *, file: str, line: int) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.reason = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_table_error, (self.reason, self.file, self.line))


def _rebuild_table_error(reason: str, file: str, line: int) -> TableError:
    return TableError(reason, file=file, line=line)


class UnknownJurisdiction(AgeGateError, LookupError):
    """A code that names no country or subdivision agegate knows."""

    code = "JURISDICTION_UNKNOWN"

    def __init__(self, value: str) -> None:
        shown = value if _CODE_SHAPE.fullmatch(value) else "(not a code)"
        super().__init__(f"unknown jurisdiction code: {shown}")
        self.shown = shown

    def __reduce__(self) -> tuple[Any, ...]:
        return (UnknownJurisdiction, (self.shown,))


class InputError(AgeGateError, ValueError):
    """Input that stops a run: a file that cannot be read, a bad option."""

    code = "INPUT_INVALID"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.reason = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_input_error, (self.reason, self.where))


def _rebuild_input_error(reason: str, where: str | None) -> InputError:
    return InputError(reason, where=where)


class AccountIdInvalid(AgeGateError, ValueError):
    """An account id a flag store will not keep: empty, over the length cap,
    or not encodable as UTF-8 (a lone surrogate). Never repeats the id."""

    code = "ACCOUNT_ID_INVALID"

    def __init__(self, why: str) -> None:
        super().__init__(f"account id {why}")
        self.why = why

    def __reduce__(self) -> tuple[Any, ...]:
        return (AccountIdInvalid, (self.why,))
