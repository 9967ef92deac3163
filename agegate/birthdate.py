"""Reading a birthdate, split date fields or a declared age, never guessing.

Only ASCII digits are read. ISO `YYYY-MM-DD` is always accepted; any other
layout only through formats the operator configures. A value that could be
read two ways is ambiguous, not guessed at.

A date and time is accepted only at exactly midnight UTC
(`1990-01-01T00:00:00.000Z`, `...T00:00:00Z`, `...T00:00:00+00:00`, the
form JavaScript's `toISOString()` gives a date picked at UTC): its date is
the birthdate. Any other time or offset is refused as malformed, since a
browser that turns a local date into UTC shifts it by a day on one side of
the meridian (a date picked in Paris becomes the evening before), and the
gate cannot tell which day the person meant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import MINYEAR, date, datetime, timedelta

import attrs

from .age import age_on
from .errors import InputProblem
from .reasons import Reason

OLDEST_PLAUSIBLE_AGE = 130

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_ISO_MIDNIGHT_UTC = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})T00:00(?::00(?:\.0{1,9})?)?(?:Z|\+00:00)", re.ASCII
)
_DIGITS = re.compile(r"[0-9]{1,4}", re.ASCII)
# Day-month-year layouts that a person might type; without a configured
# format these cannot be told apart from month-day-year.
_NUMERIC_LAYOUT = re.compile(r"[0-9]{1,4}[./ -][0-9]{1,2}[./ -][0-9]{1,4}", re.ASCII)


@attrs.frozen
class Birth:
    """What the input says about when a person was born.

    Either `born` (the latest date consistent with the input, so a partial
    date makes the person as young as the input allows; `earliest` is the
    first date it allows) or `declared_age`.
    """

    born: date | None = None
    declared_age: int | None = None
    partial: bool = False
    earliest: date | None = None

    def as_of(self, on: date) -> Birth:
        """The same input read on `on`: a partial date that ends after `on`
        in the same year means a person born as late as `on`."""
        if (
            self.partial
            and self.born is not None
            and self.born > on
            and self.born.year == on.year
        ):
            earliest = min(self.earliest or on, on)
            return Birth(born=on, partial=True, earliest=earliest)
        return self

    def age_on(self, on: date) -> int:
        if self.born is not None:
            return age_on(self.born, on)
        if self.declared_age is None:
            raise ValueError("a Birth holds a date or a declared age")
        return self.declared_age

    def span(self, on: date) -> tuple[date, date]:
        """The earliest and the latest birth date the input allows on `on`."""
        if self.born is not None:
            return min(self.earliest or self.born, self.born), self.born
        age = self.age_on(on)
        older = _latest_born(on, age + 1)
        earliest = older + timedelta(days=1) if older > date.min else older
        return earliest, _latest_born(on, age)


def _latest_born(on: date, years: int) -> date:
    """The last birth date of a person who is at least `years` old on `on`."""
    year = on.year - years
    if year < MINYEAR:
        return date.min
    try:
        return on.replace(year=year)
    except ValueError:  # 29 February: born on the 28th, they are that age
        return date(year, 2, 28)


def parse_date(text: str, formats: Sequence[str] = ()) -> date:
    """A birthdate from text: ISO, or exactly one reading of the formats."""
    if not text.isascii():
        raise InputProblem(Reason.BIRTHDATE_MALFORMED)
    midnight = _ISO_MIDNIGHT_UTC.fullmatch(text)
    if midnight is not None:
        text = midnight.group(1)
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InputProblem(Reason.BIRTHDATE_MALFORMED) from None
    readings = set()
    for fmt in formats:
        try:
            readings.add(datetime.strptime(text, fmt).date())
        except ValueError:
            continue
    if len(readings) == 1:
        return readings.pop()
    if len(readings) > 1 or (not formats and _NUMERIC_LAYOUT.fullmatch(text)):
        raise InputProblem(Reason.BIRTHDATE_AMBIGUOUS)
    raise InputProblem(Reason.BIRTHDATE_MALFORMED)


def parse_int(text: str, reason: Reason) -> int:
    if not _DIGITS.fullmatch(text):
        raise InputProblem(reason)
    return int(text)


def from_parts(year: str, month: str | None, day: str | None) -> Birth:
    """A birthdate from split fields; missing month or day means the latest one."""
    y = parse_int(year, Reason.BIRTHDATE_MALFORMED)
    m = parse_int(month, Reason.BIRTHDATE_MALFORMED) if month is not None else 12
    if day is not None and month is None:
        raise InputProblem(Reason.BIRTHDATE_MALFORMED)
    try:
        if day is not None:
            born = date(y, m, parse_int(day, Reason.BIRTHDATE_MALFORMED))
        else:
            born = _last_day_of_month(y, m)
    except ValueError:
        raise InputProblem(Reason.BIRTHDATE_MALFORMED) from None
    partial = month is None or day is None
    earliest = date(y, 1 if month is None else m, 1 if day is None else born.day)
    return Birth(born=born, partial=partial, earliest=earliest if partial else None)


def _last_day_of_month(year: int, month: int) -> date:
    if month == 12:
        return date(year, 12, 31)
    return date.fromordinal(date(year, month + 1, 1).toordinal() - 1)


def check_plausible(birth: Birth, today: date) -> None:
    if birth.born is not None and birth.born > today:
        raise InputProblem(Reason.BIRTHDATE_IN_FUTURE)
    if birth.age_on(today) > OLDEST_PLAUSIBLE_AGE:
        reason = (
            Reason.AGE_IMPLAUSIBLE
            if birth.declared_age is not None
            else Reason.BIRTHDATE_IMPLAUSIBLE
        )
        raise InputProblem(reason)
