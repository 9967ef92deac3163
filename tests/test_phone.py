"""Phone numbers as jurisdiction signals: input forms, validity, regions, area codes."""

from __future__ import annotations

import phonenumbers
import pycountry
import pytest
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumber
from phonenumbers.geodata import GEOCODE_DATA

from agegate import phone, phone_data
from agegate.decision import Reason
from agegate.errors import InputProblem


def _reason(text: str, region: str | None = None) -> str:
    with pytest.raises(InputProblem) as caught:
        phone.jurisdictions(text, region)
    return caught.value.reason


# -- input forms ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("+16015550100", None),  # E.164
        ("+1 601 555 0100", None),  # spaces
        ("+1-601-555-0100", None),  # dashes
        ("+1 (601) 555-0100", None),  # parentheses
        ("+1.601.555.0100", None),  # dots
        ("001 601 555 0100", None),  # leading 00
        ("0016015550100", None),
        ("(601) 555-0100", "US"),  # national, declared country as default region
        ("601 555 0100", "CA"),  # a US number in national form, declared Canada
        ("1 601 555 0100", "US"),  # national with the trunk prefix
        ("  +1 601 555 0100  ", None),  # surrounding spaces
        ("+1 601/555-0100", None),  # slash as separator
    ],
)
def test_every_supported_form_of_a_mississippi_number(
    text: str, region: str | None
) -> None:
    assert phone.jurisdictions(text.strip(), region) == ("US-MS",)
    assert phone.jurisdictions_by_parse(text.strip(), region) == ("US-MS",)


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+81 90 1234 5678", None, ("JP",)),
        ("090-1234-5678", "JP", ("JP",)),  # Japanese national form with trunk 0
        ("+44 20 7946 0000", None, ("GB",)),
        ("+44 (0) 20 7946 0000", None, ("GB",)),  # national prefix kept in +form
        ("020 7946 0000", "GB", ("GB",)),
        ("0049 30 1234567", None, ("DE",)),
        ("+39 06 1234 5678", None, ("IT",)),  # Italian leading zero is kept
        ("+7 812 123 45 67", None, ("RU",)),  # NSN starting with the trunk 8
        ("+800 1234 5678", None, ()),  # international freephone: no country
        ("+1 800 555 0100", None, ()),  # NANP toll-free: shared by every country
    ],
)
def test_other_numbering_plans(
    text: str, region: str | None, expected: tuple[str, ...]
) -> None:
    assert phone.jurisdictions(text, region) == expected
    assert phone.jurisdictions_by_parse(text, region) == expected


@pytest.mark.parametrize(
    ("text", "region", "reason"),
    [
        ("+1 601 555 CALL", None, Reason.PHONE_MALFORMED),  # letters
        ("tel:+16015550100", None, Reason.PHONE_MALFORMED),  # a URI, not a number
        ("+1 601 555 0100 ext 12", None, Reason.PHONE_MALFORMED),  # extension
        ("12", None, Reason.PHONE_MALFORMED),  # too short to be anything
        ("+1", None, Reason.PHONE_MALFORMED),
        ("( ) - .", None, Reason.PHONE_MALFORMED),  # separators only
        ("", None, Reason.PHONE_MALFORMED),  # empty
        ("   ", None, Reason.PHONE_MALFORMED),
        ("1" * 41, None, Reason.PHONE_MALFORMED),  # too long to be typed
        ("+\uff11 601 555 0100", None, Reason.PHONE_MALFORMED),  # fullwidth digit
        ("+1 \u0666\u0660\u0661 555 0100", None, Reason.PHONE_MALFORMED),  # Arabic
        ("+1 601 555 0100 +1", None, Reason.PHONE_MALFORMED),  # two plus signs
        ("+1 601 555", None, Reason.PHONE_INVALID),  # too short for its plan
        ("+1 601 555 0100 99", None, Reason.PHONE_INVALID),  # too long for its plan
        ("+1 234 567 8901 2345 6789", None, Reason.PHONE_INVALID),  # over 17 digits
        ("+999 1234 5678", None, Reason.PHONE_INVALID),  # no such country code
        ("+1 100 555 0100", None, Reason.PHONE_INVALID),  # no such area code
        ("601 555 0100", None, Reason.PHONE_INVALID),  # national, no country known
        ("601 555 0100", "AQ", Reason.PHONE_INVALID),  # a region without a plan
        ("12345", "US", Reason.PHONE_INVALID),
    ],
)
def test_malformed_and_invalid_numbers(
    text: str, region: str | None, reason: str
) -> None:
    assert _reason(text, region) == reason
    with pytest.raises(InputProblem) as caught:
        phone.jurisdictions_by_parse(text, region)
    assert caught.value.reason == reason


def test_a_refused_number_is_not_repeated_in_the_error() -> None:
    with pytest.raises(InputProblem) as caught:
        phone.jurisdictions("+1 601 555 CALL", None)
    assert "601" not in str(caught.value)


# -- shared country codes --------------------------------------------------------

SHARED = {
    code: regions
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items()
    if len(regions) > 1 and code in {1, 7, 44, 262, 590, 599, 47, 358, 61, 212}
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+44 1481 256789", "GG"),
        ("+44 1534 456789", "JE"),
        ("+44 1624 756789", "IM"),
        ("+44 20 7946 0000", "GB"),
        ("+7 495 123 4567", "RU"),
        ("+7 771 000 9998", "KZ"),
        ("+262 262 16 12 34", "RE"),
        ("+262 269 60 12 34", "YT"),
        ("+590 690 00 12 34", "GP"),
        ("+599 9 435 1234", "CW"),
        ("+599 715 1234", "BQ"),
        ("+1 876 523 0123", "JM"),
        ("+1 787 234 5678", "PR"),
        ("+1 242 345 6789", "BS"),
        ("+1 340 642 1234", "VI"),
        ("+47 79 12 34 56", "SJ"),
        ("+358 18 1234567", "AX"),
    ],
)
def test_shared_country_codes_give_the_numbers_region(text: str, expected: str) -> None:
    number = phonenumbers.parse(text)
    assert phonenumbers.region_code_for_number(number) == expected
    assert phone.jurisdictions(text, None) == (expected,)


@pytest.mark.parametrize(
    "region", sorted({r for regions in SHARED.values() for r in regions})
)
def test_example_numbers_of_shared_codes_land_in_their_region(region: str) -> None:
    """Every region's own example number points to it, given the declaration.

    Some numbers are valid in several regions of one code (+590 590 27 12 34
    is valid for GP, BL and MF): phonenumbers names the first, and a declared
    country that also fits the number is kept rather than called a conflict.
    """
    example = phonenumbers.example_number(region)
    assert example is not None
    text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    countries = {code.split("-")[0] for code in phone.jurisdictions(text, region)}
    assert countries == {region}
    alone = {code.split("-")[0] for code in phone.jurisdictions(text, None)}
    assert alone == {phonenumbers.region_code_for_number(example)}


# -- North American area codes ------------------------------------------------


def _known_area_codes() -> dict[str, str]:
    """Every +1 area code that phonenumbers holds a valid number for, by region."""
    found: dict[str, str] = {}
    for area in range(200, 1000):
        for exchange in range(200, 1000, 7):
            number = PhoneNumber(
                country_code=1, national_number=int(f"{area}{exchange}4567")
            )
            if phonenumbers.is_valid_number(number):
                region = phonenumbers.region_code_for_number(number)
                assert region is not None
                found[str(area)] = region
                break
    return found


AREA_CODES = _known_area_codes()
GEOGRAPHIC = sorted(
    area
    for area, region in AREA_CODES.items()
    if region in {"US", "CA"}
    and any(key.startswith(f"1{area}") for key in GEOCODE_DATA)
)


def test_the_area_code_list_is_the_full_plan() -> None:
    # Guards the sweep above: it must find the whole US and Canadian plan.
    us_ca = [a for a, r in AREA_CODES.items() if r in {"US", "CA"}]
    assert len(us_ca) > 400
    assert len(GEOGRAPHIC) > 380
    assert {"205", "601", "604", "867", "902", "202", "206", "203", "905"} <= set(
        GEOGRAPHIC
    )


@pytest.mark.parametrize("area", GEOGRAPHIC)
def test_every_geographic_area_code_maps_to_a_pycountry_subdivision(
    area: str,
) -> None:
    region = AREA_CODES[area]
    places = phone.area_subdivisions(area, region)
    assert places, f"area code {area} ({region}) maps to no subdivision"
    for code in places:
        subdivision = pycountry.subdivisions.get(code=code)
        assert subdivision is not None, f"{area}: {code} is not in pycountry"
        assert subdivision.country_code == region
    number = f"+1{area}2345678"
    parsed = phonenumbers.parse(number)
    if phonenumbers.is_valid_number(parsed):
        assert phone.jurisdictions(number, None) == places


def test_non_geographic_area_codes_point_nowhere() -> None:
    non_geographic = sorted(
        a for a, r in AREA_CODES.items() if r in {"US", "CA"} and a not in GEOGRAPHIC
    )
    assert {"800", "888", "900"} <= set(non_geographic)
    for area in non_geographic:
        assert phone.area_subdivisions(area, AREA_CODES[area]) == ()


@pytest.mark.parametrize(
    ("area", "expected"),
    [
        ("205", ("US-AL",)),
        ("601", ("US-MS",)),
        ("402", ("US-NE",)),
        ("604", ("CA-BC",)),
        ("250", ("CA-BC",)),
        ("867", ("CA-NT", "CA-NU", "CA-YT")),
        ("902", ("CA-NS", "CA-PE")),
        ("202", ("US-DC",)),  # "Washington D.C." in the geocoder
        ("206", ("US-WA",)),  # "Washington State"
        ("212", ("US-NY",)),  # "New York, NY"
        ("203", ("US-CT",)),  # only exchange-level descriptions
        ("905", ("CA-ON",)),
        ("514", ("CA-QC",)),
    ],
)
def test_area_codes_of_note(area: str, expected: tuple[str, ...]) -> None:
    assert phone.area_subdivisions(area, AREA_CODES[area]) == expected


def test_every_name_fix_is_used_and_still_needed() -> None:
    names = {
        name.strip()
        for key, entry in GEOCODE_DATA.items()
        if key.startswith("1") and len(key) == 4 and "en" in entry
        for name in entry["en"].split("/")
    }
    for name, code in phone_data.GEOCODER_NAMES.items():
        assert name in names, f"{name!r} is no longer in phonenumbers' data"
        assert pycountry.subdivisions.get(code=code) is not None


def test_caribbean_area_codes_are_countries() -> None:
    assert phone.jurisdictions("+1 876 523 0123", None) == ("JM",)
    assert phone.jurisdictions("+1 671 300 1234", None) == ("GU",)
    for area, region in AREA_CODES.items():
        if region not in {"US", "CA"}:
            assert phone._north_american_places(area, region) == (region,)
