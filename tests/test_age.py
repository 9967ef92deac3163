"""Age arithmetic: property tests against an independent formulation, and the edge cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agegate.age import age_on, birthday_reached, live_today

dates = st.dates(min_value=date(1850, 1, 1), max_value=date(2200, 12, 31))


def anniversary(birth: date, years: int) -> date:
    """The n-th birthday, spelled out: 29 February falls on 1 March."""
    if (birth.month, birth.day) == (2, 29):
        year = birth.year + years
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return date(year, 2, 29) if leap else date(year, 3, 1)
    return date(birth.year + years, birth.month, birth.day)


def age_by_counting(birth: date, on: date) -> int:
    """Independent formulation: count the birthdays that have come."""
    if on < birth:
        return -sum(1 for n in range(1, 400) if anniversary(birth, -n) > on)
    return sum(1 for n in range(1, 400) if anniversary(birth, n) <= on)


@given(dates, dates)
def test_age_matches_counting_birthdays(birth: date, on: date) -> None:
    if on >= birth:
        assert age_on(birth, on) == age_by_counting(birth, on)


@given(dates, st.integers(min_value=0, max_value=130))
def test_birthday_reached_is_the_first_day_of_that_age(birth: date, years: int) -> None:
    reached = birthday_reached(birth, years)
    assert age_on(birth, reached) == years
    if years > 0:
        assert age_on(birth, reached - timedelta(days=1)) == years - 1


@pytest.mark.parametrize(
    ("birth", "on", "expected"),
    [
        (date(2008, 11, 28), date(2026, 11, 28), 18),  # birthday today
        (date(2008, 11, 29), date(2026, 11, 28), 17),  # birthday tomorrow
        (date(2008, 11, 27), date(2026, 11, 28), 18),  # birthday yesterday
        (date(2008, 2, 29), date(2026, 2, 28), 17),  # leap birthday, non-leap year
        (date(2008, 2, 29), date(2026, 3, 1), 18),  # ... reached on 1 March
        (date(2008, 2, 29), date(2028, 2, 28), 19),
        (date(2008, 2, 29), date(2028, 2, 29), 20),  # leap year: on the day
        (date(2007, 12, 31), date(2025, 12, 31), 18),  # year boundary
        (date(2007, 12, 31), date(2025, 12, 30), 17),
        (date(2008, 1, 1), date(2025, 12, 31), 17),
        (date(2008, 1, 1), date(2026, 1, 1), 18),
        (date(2000, 1, 1), date(2000, 1, 1), 0),
    ],
)
def test_edge_cases(birth: date, on: date, expected: int) -> None:
    assert age_on(birth, on) == expected


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2026, 11, 28, 11, 59, tzinfo=UTC), date(2026, 11, 27)),
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), date(2026, 11, 28)),
        # Kiribati is already on the 29th; UTC-12 is still on the 28th.
        (
            datetime(2026, 11, 29, 9, 0, tzinfo=timezone(timedelta(hours=14))),
            date(2026, 11, 28),
        ),
    ],
)
def test_live_today_is_the_date_at_utc_minus_12(
    instant: datetime, expected: date
) -> None:
    assert live_today(instant) == expected


def test_live_today_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        live_today(datetime(2026, 11, 28, 12, 0))


def test_live_today_never_runs_ahead_of_any_time_zone() -> None:
    now = datetime.now(UTC)
    earliest = min((now + timedelta(hours=h)).date() for h in range(-12, 15))
    assert live_today(now) <= earliest + timedelta(days=1)
    assert live_today(now) == (now - timedelta(hours=12)).date()
