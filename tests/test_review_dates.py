"""Birthdates and collection timestamps read for a whole column at once
give, wherever they are decided, what the row engine's reading gives; the
plain shapes are always decided, whatever the layout of the Arrow array."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from agegate.birthdate import parse_date
from agegate.errors import InputProblem
from agegate.review import dates
from agegate.review.reviewer import CollectedAtInvalid, collection_date

TODAY = date(2026, 11, 28)
TODAY_INT = 20261128


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


days = st.builds(
    lambda y, m, d: f"{y:04d}-{m}-{d}",
    st.one_of(st.integers(0, 9999), st.sampled_from([1, 2, 1900, 2000, 2024, 9999])),
    _two(0, 13),
    _two(0, 32),
)
offsets = st.one_of(
    st.sampled_from(["Z", "z", "", "+14:00", "-14:00", "+00:00", "-00:00"]),
    st.builds(
        lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), _two(0, 25), _two(0, 61)
    ),
    st.builds(lambda h, m: f"+{h}{m}", _two(0, 14), _two(0, 59)),
)
seconds = st.one_of(
    _two(0, 61).map(lambda s: f":{s}"),
    st.sampled_from(["", ":00.5", ":59.999999", ":00.1234567", ":60"]),
)
stamps = st.builds(
    lambda day, sep, h, m, s, off: f"{day}{sep}{h}:{m}{s}{off}",
    days,
    st.sampled_from(["T", " ", "t", "_", "/"]),
    _two(0, 25),
    _two(0, 61),
    seconds,
    offsets,
)
# One character of a plain value swapped for one the shapes do not allow or
# allow elsewhere: another separator, a letter, a non-ASCII digit.
odd_characters = st.sampled_from(
    ["-", ":", "+", "/", ".", " ", "T", "Z", "z", "\u0663", "\uff11", "\u00e9", "\n"]
)


@st.composite
def odd(draw: st.DrawFn, plain: st.SearchStrategy[str]) -> str:
    text = draw(plain)
    at = draw(st.integers(0, len(text) - 1))
    change = draw(st.sampled_from(["replace", "insert", "pad", "cut"]))
    if change == "pad":
        return draw(st.sampled_from([" ", "\t", "\n", "\u00a0"])).join(
            draw(st.sampled_from([("", text), (text, ""), ("", text + " ")]))
        )
    if change == "cut":
        return text[:at] + text[at + 1 :]
    character = draw(odd_characters)
    return text[:at] + character + text[at + (change == "replace") :]


values = st.one_of(
    days,
    stamps,
    odd(days),
    odd(stamps),
    st.sampled_from(["", " 2024-01-01", "2024-01-01 ", "x", "2024-02-29T12:00:00"]),
)


def _collected(text: str) -> object:
    try:
        found = collection_date(text, TODAY)
    except CollectedAtInvalid:
        return "invalid"
    except OverflowError:
        return "overflow"
    return found.year * 10000 + found.month * 100 + found.day


def _born(text: str) -> int | None:
    try:
        born = parse_date(text)
    except InputProblem:
        return None
    return born.year * 10000 + born.month * 100 + born.day


def _plain(text: str) -> bool:
    """Decided values have one of the three fixed lengths and no padding."""
    return text.strip() == text and len(text) in (10, 20, 25) and text.isascii()


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.one_of(values, st.none()), min_size=1, max_size=40))
def test_collection_days_are_collection_date(texts: list[str | None]) -> None:
    found = dates.collection_days(pa.array(texts, pa.string()), TODAY_INT)
    for text, day in zip(texts, found or [None] * len(texts), strict=True):
        if day is not None:
            assert text is not None
            assert _plain(text), text
            assert day == _collected(text), text


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.one_of(days, odd(days), st.none()), min_size=1))
def test_birth_days_are_parse_date(texts: list[str | None]) -> None:
    found = dates.birth_days(pa.array(texts, pa.string()))
    for text, day in zip(texts, found or [None] * len(texts), strict=True):
        if text is None:
            assert day is None
        elif day is not None:
            assert len(text) == 10, text
            assert day == _born(text), text
        else:
            born = _born(text)
            assert born is None or text.strip() != text or born < 10000, text


instants = st.datetimes(
    min_value=datetime(2, 1, 3), max_value=datetime(9998, 12, 29)
).map(lambda moment: moment.replace(microsecond=0))
zones = st.one_of(
    st.just(UTC),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
)


def _written(moment: datetime, zone: timezone, bare: bool, zulu: bool) -> str:
    if bare:
        return moment.date().isoformat()
    text = moment.replace(tzinfo=zone).isoformat(sep=" " if zulu else "T")
    return text.replace("+00:00", "Z") if zulu and zone is UTC else text


@settings(max_examples=200, deadline=None)
@given(
    plain=st.lists(
        st.builds(_written, instants, zones, st.booleans(), st.booleans()),
        min_size=1,
        max_size=60,
    )
)
def test_plain_collection_times_are_all_decided(plain: list[str]) -> None:
    found = dates.collection_days(pa.array(plain), TODAY_INT)
    assert found is not None
    assert found == [_collected(text) for text in plain]


@settings(max_examples=200, deadline=None)
@given(born=st.lists(st.dates(min_value=date(1, 1, 1)), min_size=1, max_size=60))
def test_plain_birthdates_are_all_decided(born: list[date]) -> None:
    texts = [day.isoformat() for day in born]
    assert dates.birth_days(pa.array(texts)) == [_born(text) for text in texts]


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(st.one_of(values, st.none()), min_size=1, max_size=60),
    start=st.integers(0, 30),
    large=st.booleans(),
)
def test_any_layout_of_the_array_gives_the_same(
    texts: list[str | None], start: int, large: bool
) -> None:
    """Slices, nulls, 64-bit offsets and chunks read as each value alone."""
    kind = pa.large_string() if large else pa.string()
    start = min(start, len(texts) - 1)
    column = pa.array(texts, kind).slice(start)
    chunked = pa.chunked_array([column.slice(0, 3), column.slice(3)], type=kind)

    def birth(column: pa.Array) -> list[object] | None:
        return dates.birth_days(column)

    def collection(column: pa.Array) -> list[object] | None:
        return dates.collection_days(column, TODAY_INT)

    for read in (birth, collection):
        alone = [_first(read(pa.array([text], pa.string()))) for text in texts[start:]]
        for whole in (column, chunked):
            assert (read(whole) or [None] * len(alone)) == alone


def _first(found: list[object] | None) -> object:
    return found[0] if found else None


def test_the_edges_are_left_to_the_row_engine() -> None:
    values = [
        "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2009-02-29",
        "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+24:00", "2024-01-01T00:00Z",
        "2024-01-01T00:00:00z", "2024-01-01t00:00:00Z", "2024-01-01T00:00:00.5Z",
        "2024-01-01T00:00:00", " 2024-01-01", "2024-01-01\n", "2024/01/01",
        "\u0662\u0660\u0662\u0664-01-01", "2024-01-01T00:00:60Z", None,
    ]  # fmt: skip
    assert dates.collection_days(pa.array(values), TODAY_INT) == [None] * len(values)
    assert dates.collection_days(pa.array(["2026-11-29"]), TODAY_INT) == ["invalid"]
    assert dates.birth_days(pa.array(["2008-02-29", "0000-01-01"])) == [20080229, None]
    assert dates.birth_days(pa.array(["x", None, " 2008-02-29"])) is None
    assert dates.birth_days(pa.array([1, 2])) is None
    assert dates.collection_days(pa.array([b"2024-01-01"]), TODAY_INT) is None


def test_the_date_at_utc_minus_12_crosses_months_and_years() -> None:
    values = [
        "2024-03-01T00:00:00+14:00", "2023-03-01T00:00:00+14:00",
        "2025-01-01T11:59:59Z", "2025-01-01T12:00:00Z",
        "2024-12-31T23:59:59-14:00", "2024-02-28T23:00:00-13:00",
        "2023-02-28T23:00:00-13:00", "0002-01-01T00:00:00+23:59",
        "2026-11-29T11:59:59Z", "2026-11-29T12:00:00Z",
    ]  # fmt: skip
    assert dates.collection_days(pa.array(values), TODAY_INT) == [
        20240228, 20230227, 20241231, 20250101, 20250101, 20240229,
        20230301, 11230, 20261128, "invalid",
    ]  # fmt: skip
    assert [_collected(text) for text in values] == [
        20240228, 20230227, 20241231, 20250101, 20250101, 20240229,
        20230301, 11230, 20261128, "invalid",
    ]  # fmt: skip
    late = pa.array(["9998-12-31T23:59:59-23:59"])
    assert dates.collection_days(late, 99991231) == [99990101]
