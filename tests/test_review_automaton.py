"""The automaton a country code's patterns are read as answers every test
as Python's `re` does, on numbers hypothesis builds from the patterns
themselves, and it reads every pattern phonenumbers has today."""

from __future__ import annotations

import functools
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from agegate.review import automaton, phones
from agegate.review.automaton import Question, Unsupported

CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)
TESTS = sorted(
    {test for code in CODES for test in phones._questions(code)},
    key=lambda test: (test.pattern, test.full),
)
DEPTH = 17


@functools.cache
def _automaton(test: Question) -> automaton.Automaton:
    return automaton.build([test], DEPTH)


def _run(found: automaton.Automaton, digits: str) -> int:
    state = 0
    for digit in digits:
        state = found.table[state][int(digit)]
    return state


def _expected(test: Question, digits: str) -> bool:
    pattern = re.compile(test.pattern)
    if test.full:
        return pattern.fullmatch(digits) is not None
    return pattern.match(digits) is not None


def _ascii(text: str) -> str:
    return "".join(str(unicodedata.digit(c, 0)) for c in text)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Question, str]:
    """A test and a number of 1 to 17 digits: one the pattern takes (whole
    or as a prefix), with a digit changed, cut or lengthened, or random."""
    test = draw(st.sampled_from(TESTS))
    taken = st.from_regex(test.pattern, fullmatch=True).map(_ascii)
    digits = draw(st.one_of(taken, st.text("0123456789", min_size=1, max_size=DEPTH)))
    tail = draw(st.text("0123456789", max_size=6))
    digits = (digits + tail)[: draw(st.integers(1, DEPTH))] or "5"
    at = draw(st.integers(0, len(digits) - 1))
    if draw(st.booleans()):
        digits = digits[:at] + draw(st.sampled_from("0123456789")) + digits[at + 1 :]
    return test, digits


@settings(max_examples=3000)
@given(_cases())
def test_the_automaton_answers_as_re(case: tuple[Question, str]) -> None:
    test, digits = case
    found = _automaton(test)
    assert found.passes(_run(found, digits), test) == _expected(test, digits)


def test_every_country_code_is_read() -> None:
    """A pattern phonenumbers adds that this reading cannot take would send
    its country's numbers to the row engine: exact, but slow."""
    for code in CODES:
        automaton.build(phones._questions(code), DEPTH)


def test_a_match_anchored_at_the_end_takes_the_whole_number() -> None:
    test = Question(r"(000[2569]\d{4,6})$|(?:(?:003768)0?)|0", full=False)
    found = automaton.build([test], DEPTH)
    for digits in ("00051234", "000512340", "0037680", "01", "00051234567", "1"):
        assert found.passes(_run(found, digits), test) == _expected(test, digits)


@pytest.mark.parametrize(
    "pattern",
    [r"(?=1)\d", r"(?!)", r"\b1", r"(1)\1", r"^1", r"\s", r"[a-z\w]", r"1{,100}"],
)
def test_what_it_cannot_read_is_refused(pattern: str) -> None:
    with pytest.raises(Unsupported):
        automaton.build([Question(pattern, full=True)], DEPTH)


def test_a_pattern_past_the_limit_is_refused() -> None:
    with pytest.raises(Unsupported):
        automaton.build(
            [Question(r"\d{3}(?:1\d{5}|2\d{4}|3\d{3})", full=True)], DEPTH, 5
        )
