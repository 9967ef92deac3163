"""Caches keyed on client text stay bounded.

Country and subdivision lookups cache their answers; a client sending a new
long value with every request must not make those caches grow without end.
Text longer than any name is unknown before it reaches a cache, and every
cache has a size limit.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agegate import codes, screen, signals
from agegate.decision import Reason
from agegate.errors import InputProblem

CACHES: tuple[Any, ...] = (
    codes._is_country,
    codes._is_subdivision,
    codes._parent_of,
    codes._successors,
    signals._country_code,
    signals._subdivision_code,
)


@pytest.fixture(autouse=True)
def empty_caches() -> Iterator[None]:
    for cache in CACHES:
        cache.cache_clear()
    yield
    for cache in CACHES:
        cache.cache_clear()


def sizes() -> list[int]:
    return [cache.cache_info().currsize for cache in CACHES]


def test_every_cache_has_a_limit() -> None:
    for cache in CACHES:
        assert isinstance(cache.cache_info().maxsize, int), cache


def long_values(count: int, length: int = 2_000) -> Iterator[str]:
    for i in range(count):
        yield f"{i:06d}-" + "x" * length


def reason_of(function: Callable[..., Any], *args: Any) -> str | None:
    try:
        function(*args)
    except InputProblem as problem:
        return problem.reason
    return None


def test_long_values_are_refused_and_never_cached() -> None:
    for value in long_values(2_000):
        assert reason_of(signals.country_code, value) == Reason.COUNTRY_UNKNOWN
        assert (
            reason_of(signals.subdivision_code, value, "CA")
            == Reason.SUBDIVISION_UNKNOWN
        )
        assert (
            reason_of(signals.subdivision_code, value, None)
            == Reason.SUBDIVISION_UNKNOWN
        )
        assert codes.successors(value) == ()
        assert not codes.is_country(value)
        assert not codes.is_subdivision(value)
        assert codes.parent_of(value) is None
    assert sizes() == [0] * len(CACHES)


@pytest.mark.parametrize("length", [40, 100])
def test_many_distinct_short_values_keep_the_caches_bounded(length: int) -> None:
    for i in range(6_000):
        value = f"{i:06d} " + "y" * (length - 7)
        assert reason_of(signals.country_code, value) == Reason.COUNTRY_UNKNOWN
        assert (
            reason_of(signals.subdivision_code, value, "US")
            == Reason.SUBDIVISION_UNKNOWN
        )
        codes.is_subdivision(f"C{i % 10}-{i % 1000:03d}")
        codes.is_country(f"{chr(0x4E00 + i)}Z")
    for cache, size in zip(CACHES, sizes(), strict=True):
        limit = cache.cache_info().maxsize
        assert size <= limit, cache


def test_spellings_of_one_name_share_a_cache_entry() -> None:
    for spelling in ("Canada", "CANADA", " canada ", "cAnAdA", "Canadá"):
        assert signals.country_code(spelling) == "CA"
    assert signals._country_code.cache_info().currsize == 1
    for spelling in ("British Columbia", "british columbia", "BRITISH-COLUMBIA"):
        assert signals.subdivision_code(spelling, "CA") == "CA-BC"
    assert signals._subdivision_code.cache_info().currsize == 1


def test_the_longest_names_are_still_read() -> None:
    name = "United Kingdom of Great Britain and Northern Ireland"
    assert signals.country_code(name) == "GB"
    assert signals.country_code(f"  {name.upper()}  ") == "GB"
    assert signals.subdivision_code("Neath Port Talbot", "GB") == "GB-NTL"
    assert codes.successors(" su ") == codes.WITHDRAWN["SU"]
    assert codes.successors("YUG") == codes.WITHDRAWN["YU"]


def test_screening_long_values_caches_nothing() -> None:
    screen(
        {"birthdate": "1990-01-01", "country": "CA", "subdivision": "BC"},
    )
    before = sizes()
    for value in long_values(500, 20_000):
        d = screen(
            {"birthdate": "1990-01-01", "country": value, "subdivision": value},
            trusted_country=value,
        )
        assert Reason.COUNTRY_UNKNOWN in d.reasons
    assert sizes() == before


def test_refused_long_values_leave_no_memory_behind() -> None:
    # The reported attack: distinct 60 KB values in refused requests.
    def attack(count: int) -> None:
        for value in long_values(count, 60_000):
            screen(
                {"birthdate": "1990-01-01", "country": value, "subdivision": value},
                trusted_country=value,
            )

    attack(5)  # load the tables and pycountry first
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        attack(250)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1024 * 1024, grown
