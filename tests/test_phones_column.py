"""The phone column decided by pyarrow's regex engine gives, wherever it
decides, what `phone.jurisdictions` gives the same text, whatever region a
national number would be read in."""

from __future__ import annotations

import random
import re
import unicodedata

import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from agegate import phone
from agegate.errors import InputProblem
from agegate.review import phones
from agegate.rules import load_rules

RULES = load_rules()
TYPES = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE]


def _canonical(found: tuple[str, ...]) -> tuple[str, ...] | None:
    try:
        return tuple(RULES.canonical(code) for code in found)
    except LookupError:  # a code the rules do not know: left undecided
        return None


def _examples() -> list[str]:
    """Example numbers of every region and of the non-geographic codes,
    with their last digits changed, in the ways people write them."""
    rng = random.Random(11)
    found: list[str] = []
    numbers = [
        phonenumbers.example_number_for_type(region, kind)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for kind in TYPES
    ] + [
        phonenumbers.example_number_for_non_geo_entity(code)
        for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    ]
    for number in numbers:
        if number is None:
            continue
        text = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        for _ in range(6):
            cut = rng.randrange(3, len(text))
            mutated = text[:cut] + str(rng.randrange(10)) + text[cut + 1 :]
            found.append(mutated)
        found.append(text)
        found.append(
            phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
        )
        found.append(text[:2] + " (" + text[2:5] + ") " + text[5:8] + "-" + text[8:])
    return found


ODD = [
    "+1 205 555 0100", "+1 601 555 0100", "+1 800 555 0100", "+1 876 555 0100",
    "+1 205 555 010", "+1 1205 555 0100", "+44 020 7946 0000", "+44 20 7946 0000",
    "+590 690 00 12 34", "+7 912 345 67 89", "+39 06 1234 5678", "+0 123",
    "+1 205 555 0100 ", " +1 205 555 0100", "+12", "+123", "+1-(205)-555/0100",
    "+81 90 1234 5678", "+800 1234 5678", "+882 1234 5678", "+１ 205 555 0100",
    "+49 30 1234567", "+49 0 30 1234567", "+33 6 12 34 56 78", "+44 7700 900123",
]  # fmt: skip


def _answer(text: str, region: str | None) -> tuple[str, ...] | str | None:
    try:
        return _canonical(phone.jurisdictions(text.strip(), region))
    except InputProblem as problem:
        return problem.reason


# Every region of every shared country code, and some regions of none.
SHARED = sorted(
    {
        str(region)
        for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
        if len(regions) > 1 and code != 1
        for region in regions
    }
)


@pytest.mark.parametrize("region", [None, "US", "FR", *SHARED])
def test_decided_phones_are_phone_jurisdictions(region: str | None) -> None:
    texts = _examples() + ODD
    decided = phones.outcomes(pa.array(texts), _canonical, region)
    assert decided is not None
    assert sum(found is not None for found in decided) > len(texts) // 3
    for text, found in zip(texts, decided, strict=True):
        if found is not None:
            assert found == _answer(text, region), text


def test_a_column_without_international_numbers_is_left_alone() -> None:
    assert phones.outcomes(pa.array(["020 7946 0000", None, ""]), _canonical) is None
    assert phones.outcomes(pa.array([1, 2]), _canonical) is None


def test_shared_country_codes_are_decided_for_the_column() -> None:
    """Numbers under a shared code are decided here too, and each resolves
    with the declared country as phone.jurisdictions does."""
    texts = [
        text
        for text in _examples() + ODD
        if phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(_code_of(text), ())[1:]
        and _code_of(text) != 1
    ]
    decided = phones.outcome_ids(pa.array(texts), _canonical)
    assert decided is not None
    ids, values = decided
    assert (ids >= 0).sum() > len(texts) // 3
    assert any(isinstance(value, phones.Shared) for value in values)
    for text, number in zip(texts, ids.tolist(), strict=True):
        value = values[number] if number >= 0 else None
        if not isinstance(value, phones.Shared):
            continue
        for region in (None, "GB", "GG", "IM", "JE", "RU", "KZ", "GP", "BL", "MF"):
            assert _canonical(value.resolve(region)) == _answer(text, region), text


def _code_of(text: str) -> int:
    try:
        return phonenumbers.parse(text, None).country_code or 0
    except phonenumbers.NumberParseException:
        return 0


def test_the_column_may_be_sliced_chunked_large_or_hold_nulls() -> None:
    texts = [*ODD, None, "", "+44 20 7946 0000", None, "+7 912 345 67 89"]
    expected = phones.outcomes(pa.array(texts), _canonical)
    assert expected is not None
    assert any(found is not None for found in expected)
    for column in (
        pa.array(texts, pa.large_string()),
        pa.chunked_array([texts[:7], texts[7:]]),
    ):
        assert phones.outcomes(column, _canonical) == expected
    padded = pa.array(["+1 205 555 0100", *texts, "+1 205 555 0100"]).slice(
        1, len(texts)
    )
    assert phones.outcomes(padded, _canonical) == expected


def test_a_column_of_short_numbers_only() -> None:
    assert phones.outcomes(pa.array(["+4412", "+1 20", "+800 12"]), _canonical) in (
        None,
        [None, None, None],
    )


_SEPARATED = st.sampled_from(["", " ", "-", ".", "/", "(", ")", " (", ") "])


@st.composite
def _numbers(draw: st.DrawFn) -> str:
    """A number of a country code, in the code's own patterns (so often
    valid) or random digits, a digit changed, in separators people type."""
    code = draw(st.sampled_from(CODES))
    patterns = sorted({q.pattern for q in phones._questions(code) if q.full})
    random_digits = st.text("0123456789", min_size=1, max_size=18)
    if patterns:
        pattern = draw(st.sampled_from(patterns))
        national = draw(
            st.one_of(st.from_regex(pattern, fullmatch=True), random_digits)
        )
    else:
        national = draw(random_digits)
    national = "".join(str(unicodedata.digit(c, 0)) for c in national)
    if national and draw(st.booleans()):
        at = draw(st.integers(0, len(national) - 1))
        national = (
            national[:at] + draw(st.sampled_from("0123456789")) + national[at + 1 :]
        )
    text = "+" + str(code)
    for digit in national:
        text += draw(_SEPARATED) + digit
    return text


CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@settings(max_examples=400)
@given(
    st.lists(_numbers(), min_size=1, max_size=20),
    st.sampled_from([None, "US", "GB", "JE", "RU", "KZ", "GP", "MF", "FI", "AX"]),
)
def test_generated_numbers_are_decided_as_phone_jurisdictions(
    texts: list[str], region: str | None
) -> None:
    decided = phones.outcomes(pa.array(texts), _canonical, region)
    for text, found in zip(texts, decided or [None] * len(texts), strict=True):
        if found is not None:
            assert found == _answer(text, region), text


def test_a_column_is_read_in_chunks_with_the_same_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = pa.array([*ODD, None, *ODD])
    whole = phones.outcomes(texts, _canonical, "GB")
    monkeypatch.setattr(phones, "_CHUNK", 7)
    assert phones.outcomes(texts, _canonical, "GB") == whole


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(st.none(), st.text("+0123456789 ().-/x\n\u0663", max_size=45)),
        min_size=1,
        max_size=30,
    )
)
@example(["+1 205 555 0100\n", " +44 20 7946 0000", "++1 205", "+1 205 555 \u0663"])
def test_the_shape_is_the_pattern_phone_reads(texts: list[str | None]) -> None:
    """The rows read are those `_SHAPE` takes with the digits of a country
    code and at most 17 more, with their digits."""
    found = phones._shaped_digits(pa.array(texts, pa.string()))
    # As RE2 reads it: `$` is the end of the text, not before a newline.
    shape = re.compile(phones._SHAPE.removesuffix("$") + r"\Z")
    expected = [
        (row, re.sub(r"\D", "", text))
        for row, text in enumerate(texts)
        if text is not None
        and shape.search(text)
        and 3 <= len(re.sub(r"\D", "", text)) <= 20
    ]
    if found is None:
        assert expected == []
        return
    rows, digits, starts, counts = found
    read = [
        (row, "".join(str(d) for d in digits[start : start + count]))
        for row, start, count in zip(rows.tolist(), starts, counts, strict=True)
    ]
    assert read == expected


COMMON = [
    "+1 212 555 0123", "+1 (604) 555-0123", "+44 20 7946 0123", "+49 30 1234567",
    "+33 6 12 34 56 78", "+81 90 1234 5678", "+55 11 91234 5678", "+91 98123 45678",
    "+7 912 345-67-89", "+61 4 1234 5678", "+1.876.555.0123", "+34/612/345/678",
]  # fmt: skip


def test_common_numbers_are_decided_here() -> None:
    """The numbers most sign-ups carry do not go to the row engine."""
    decided = phones.outcomes(pa.array(COMMON), _canonical, "US")
    assert decided is not None
    for text, found in zip(COMMON, decided, strict=True):
        assert found is not None, text
        assert found == _answer(text, "US"), text
