"""agegate.numbering answers exactly as phonenumbers does, faster."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumber, PhoneNumberType

from agegate import numbering

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
]


def examples() -> list[PhoneNumber]:
    found = []
    for region in REGIONS:
        for kind in TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append(number)
    return found


EXAMPLES = examples()


def agree(number: PhoneNumber) -> None:
    region = phonenumbers.region_code_for_number(number)
    assert numbering.region_for(number) == region, number
    candidates = {
        region,
        *phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(number.country_code, ()),
    }
    for candidate in sorted(c for c in candidates if c):
        assert numbering.is_valid_for_region(number, candidate) == (
            phonenumbers.is_valid_number_for_region(number, candidate)
        ), (number, candidate)


def test_every_example_number_of_every_region_and_type() -> None:
    assert len(EXAMPLES) > 1000
    for number in EXAMPLES:
        agree(number)


@settings(max_examples=3000)
@given(
    st.sampled_from(EXAMPLES),
    st.integers(min_value=0, max_value=14),
    st.integers(min_value=0, max_value=9),
    st.sampled_from(["replace", "insert", "delete"]),
)
def test_mutated_numbers(
    number: PhoneNumber, position: int, digit: int, edit: str
) -> None:
    national = phonenumbers.national_significant_number(number)
    position = min(position, len(national))
    if edit == "replace":
        changed = national[:position] + str(digit) + national[position + 1 :]
    elif edit == "insert":
        changed = national[:position] + str(digit) + national[position:]
    else:
        changed = national[:position] + national[position + 1 :]
    if not changed or changed.startswith("0"):
        return
    agree(PhoneNumber(country_code=number.country_code, national_number=int(changed)))


def test_numbers_with_italian_leading_zeros() -> None:
    number = phonenumbers.parse("+39 06 6982 0000")
    assert number.italian_leading_zero
    agree(number)
