"""Exact age arithmetic and the conservative notion of "today".

Two choices here err toward protecting minors, and are documented in the
README:

* "Today" for live screening is the calendar date at UTC-12, the earliest date
  in force anywhere on Earth, so nobody passes a day early because their
  server or their time zone is ahead.
* A person born on 29 February reaches an age on 1 March in years that have
  no 29 February: only then have they fully completed that many years.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

EARLIEST_OFFSET = timedelta(hours=-12)


def live_today(now: datetime | None = None) -> date:
    """The calendar date at UTC-12 at the instant `now` (default: now)."""
    instant = now if now is not None else datetime.now(UTC)
    if instant.tzinfo is None:
        raise ValueError("live_today needs a timezone-aware datetime")
    return (instant.astimezone(UTC) + EARLIEST_OFFSET).date()


def age_on(birth: date, on: date) -> int:
    """Whole years completed by a person born on `birth`, on the date `on`.

    Comparing (month, day) tuples makes a 29 February birthday count as
    reached on 1 March in non-leap years: (2, 28) sorts before (2, 29).
    """
    before_birthday = (on.month, on.day) < (birth.month, birth.day)
    return on.year - birth.year - before_birthday


def birthday_reached(birth: date, years: int) -> date:
    """The first date on which a person born on `birth` is `years` old."""
    year = birth.year + years
    try:
        return birth.replace(year=year)
    except ValueError:  # 29 February in a year without one
        return date(year, 3, 1)
