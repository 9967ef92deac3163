"""Birthdates and collection timestamps read for a whole column by pyarrow
give, wherever they are decided, what the row engine's reading gives."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from agegate.birthdate import parse_date
from agegate.errors import InputProblem
from agegate.review import dates
from agegate.review.reviewer import CollectedAtInvalid, collection_date

TODAY = date(2026, 11, 28)


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


days = st.builds(
    lambda y, m, d: f"{y:04d}-{m}-{d}",
    st.one_of(st.integers(0, 9999), st.sampled_from([1, 2, 1900, 2000, 2024, 9999])),
    _two(0, 13),
    _two(0, 32),
)
offsets = st.one_of(
    st.just("Z"),
    st.builds(
        lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), _two(0, 25), _two(0, 61)
    ),
    st.builds(lambda h, m: f"+{h}{m}", _two(0, 14), _two(0, 59)),
    st.just(""),
)
stamps = st.builds(
    lambda day, sep, h, m, s, off: f"{day}{sep}{h}:{m}:{s}{off}",
    days,
    st.sampled_from(["T", " ", "t"]),
    _two(0, 25),
    _two(0, 61),
    _two(0, 61),
    offsets,
)
texts = st.lists(
    st.one_of(days, stamps, st.sampled_from(["", " 2024-01-01", "2024-01-01 ", "x"])),
    min_size=1,
    max_size=30,
)


def _collected(text: str) -> object:
    try:
        found = collection_date(text, TODAY)
    except CollectedAtInvalid:
        return "invalid"
    except OverflowError:
        return "overflow"
    return found.year * 10000 + found.month * 100 + found.day


@settings(max_examples=300, deadline=None)
@given(values=texts)
def test_collection_days_are_collection_date(values: list[str]) -> None:
    found = dates.collection_days(pa.array(values), 20261128)
    for text, day in zip(values, found or [None] * len(values), strict=True):
        if day is not None:
            assert day == _collected(text), text


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(days, st.just(" 2001-07-04")), min_size=1))
def test_birth_days_are_parse_date(values: list[str]) -> None:
    found = dates.birth_days(pa.array(values))
    for text, day in zip(values, found or [None] * len(values), strict=True):
        if day is not None:
            born = parse_date(text)
            assert day == born.year * 10000 + born.month * 100 + born.day, text
        else:
            try:
                born = parse_date(text)
            except InputProblem:
                continue
            assert text.strip() != text or born.year == 0, text


def test_the_edges_are_left_to_the_row_engine() -> None:
    values = [
        "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2009-02-29",
        "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+24:00", "2024-01-01T00:00Z",
        None,
    ]  # fmt: skip
    assert dates.collection_days(pa.array(values), 20261128) == [None] * 7
    assert dates.collection_days(pa.array(["2026-11-29"]), 20261128) == ["invalid"]
    assert dates.birth_days(pa.array(["2008-02-29", "0000-01-01"])) == [20080229, None]
