"""Collection times written other than in ISO 8601: epoch seconds and
milliseconds, and the strftime formats an operator names.

ISO 8601 dates and timestamps are always read (`reviewer.collection_date`);
what is here is tried on every other value. Unless an epoch format is
named, a value of exactly 10 digits is epoch seconds and one of exactly 13
digits epoch milliseconds (Stripe, Firebase): no ISO date or timestamp is
all digits, and those lengths cover 2001-09-09 to 2286-11-20. `epoch-s` and
`epoch-ms` read a number of up to 16 digits in that unit, a fraction
included. A value two formats
read as different dates is ambiguous, and read as none.

An epoch instant, or a strftime format with `%z`, names an instant, taken as
its date at UTC-12 as live screening does; a format without an offset names
the wall date written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

from ..age import live_today

EPOCH_SECONDS = "epoch-s"
EPOCH_MILLISECONDS = "epoch-ms"
EPOCHS = {EPOCH_SECONDS: 1, EPOCH_MILLISECONDS: 1000}
# Directives that name a day, enough for a collection date.
_DAY_DIRECTIVES = ({"%Y", "%y"}, {"%m", "%b", "%B"}, {"%d"})
_AUTO_DIVISORS = {10: 1, 13: 1000}
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[0-9]{1,16}(\.[0-9]{1,9})?", re.ASCII)


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """The formats, or ValueError naming one that cannot give a date."""
    for fmt in formats:
        if fmt in EPOCHS:
            continue
        found = {fmt[i : i + 2] for i in range(len(fmt) - 1) if fmt[i] == "%"}
        if not all(found & wanted for wanted in _DAY_DIRECTIVES):
            raise ValueError(
                f"{EPOCH_SECONDS}, {EPOCH_MILLISECONDS} or a strftime format with a"
                " year, a month and a day (e.g. '%d.%m.%Y %H:%M')"
            )
    return tuple(formats)


def other_date(text: str, formats: Sequence[str]) -> date | None:
    """The one date `text` is read as, by the formats (and, unless an epoch
    format is given, as epoch seconds or milliseconds by its length); None
    if none or several."""
    found: set[date] = set()
    epochs = [EPOCHS[f] for f in formats if f in EPOCHS]
    if not epochs and _DIGITS.fullmatch(text) and len(text) in _AUTO_DIVISORS:
        epochs = [_AUTO_DIVISORS[len(text)]]
    if epochs and _NUMBER.fullmatch(text):
        # Whole seconds are enough: a day starts on a whole second.
        whole = int(text.partition(".")[0])
        for divisor in epochs:
            try:
                instant = datetime.fromtimestamp(whole // divisor, UTC)
            except (OverflowError, OSError, ValueError):
                continue
            found.add(live_today(instant))
    for fmt in formats:
        if fmt in EPOCHS:
            continue
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        found.add(live_today(parsed) if parsed.tzinfo else parsed.date())
    return found.pop() if len(found) == 1 else None
