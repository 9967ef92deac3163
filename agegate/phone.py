"""The jurisdictions a phone number points to (phonenumbers).

A number gives its country (the region phonenumbers assigns it); in the North
American Numbering Plan the area code also pins a state, province or
territory, which is what makes +1 205 (Alabama, 19) or +1 601 (Mississippi,
21) stricter than the country. No other numbering plan is read below country
level: elsewhere a number's prefix does not reliably say where a person lives
(mobile ranges are national), and no other table sets a subdivision age that
a prefix could settle.

Speed: `phonenumbers.parse` costs tens of microseconds. A number written in
international form (+ or 00) is split into country code and national number
here instead, and validated with the same phonenumbers calls `parse` and
`is_valid_number` would make; what depends only on a prefix (the country
code's regions and national prefix, an area code's subdivisions) is computed
once per prefix. `jurisdictions_by_parse` is the plain reading through
`parse`, kept as the reference that tests and benchmarks compare against.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber

from . import numbering
from .errors import InputProblem
from .logs import logger
from .reasons import Reason

# What people type around the digits of a number; anything else (letters,
# extensions, non-ASCII digits) is refused rather than interpreted.
_PHONE_TEXT = re.compile(r"\+?[0-9 ().\-/]{3,40}", re.ASCII)
_SEPARATORS = re.compile(r"[ ().\-/]", re.ASCII)
_NANP = 1
# phonenumbers refuses national numbers outside these lengths.
_MIN_NSN, _MAX_NSN = 2, 17


def jurisdictions(text: str, default_region: str | None) -> tuple[str, ...]:
    """Country, or subdivisions where the numbering plan pins them.

    `default_region` (the declared country) reads a number written in
    national form. Raises InputProblem(PHONE_MALFORMED) for text that is not
    a phone number and InputProblem(PHONE_INVALID) for a number that is not
    valid in any numbering plan.
    """
    digits = _digits(text)
    number = _split_international(digits) if digits.startswith("+") else None
    # is_valid_number(n) is is_valid_number_for_region(n, region_for(n));
    # calling the two halves looks the region up once.
    region = numbering.region_for(number) if number is not None else None
    if (
        number is None
        or region is None
        or not numbering.is_valid_for_region(number, region)
    ):
        number, region = _parse(digits, default_region)
    return _places(number, region, default_region)


def jurisdictions_by_parse(text: str, default_region: str | None) -> tuple[str, ...]:
    """The same answer as `jurisdictions`, through phonenumbers alone: parse,
    region_code_for_number and is_valid_number_for_region for every number."""
    number = _parse_only(_digits(text), default_region)
    region = phonenumbers.region_code_for_number(number)
    if region is None or not phonenumbers.is_valid_number_for_region(number, region):
        raise InputProblem(Reason.PHONE_INVALID)
    return _places(number, region, default_region)


def _digits(text: str) -> str:
    """The digits of `text`, with a leading + for an international number."""
    if not _PHONE_TEXT.fullmatch(text):
        raise InputProblem(Reason.PHONE_MALFORMED)
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if "+" in digits[1:] or len(digits.lstrip("+")) < _MIN_NSN + 1:
        raise InputProblem(Reason.PHONE_MALFORMED)
    return digits


def _parse_only(digits: str, default_region: str | None) -> PhoneNumber:
    try:
        return phonenumbers.parse(
            digits, None if digits.startswith("+") else default_region
        )
    except phonenumbers.NumberParseException:
        raise InputProblem(Reason.PHONE_INVALID) from None


def _parse(digits: str, default_region: str | None) -> tuple[PhoneNumber, str]:
    number = _parse_only(digits, default_region)
    region = numbering.region_for(number)
    if region is None or not numbering.is_valid_for_region(number, region):
        raise InputProblem(Reason.PHONE_INVALID)
    return number, region


def _split_international(digits: str) -> PhoneNumber | None:
    """The number `parse` would build from +digits, or None to let it decide.

    `parse` takes the country code as the shortest known prefix (codes are
    prefix-free) and then strips a national prefix or carrier code only where
    the country's pattern for them matches the start of the national number;
    when it matches, this returns None and `parse` does the work.
    """
    body = digits[1:]
    if body.startswith("0"):
        return None
    for length in (1, 2, 3):
        country_code = int(body[:length])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            national = body[length:]
            break
    else:
        return None
    prefix = _national_prefix(country_code)
    if (
        not _MIN_NSN <= len(national) <= _MAX_NSN
        or prefix is None
        or prefix.match(national)
    ):
        return None
    number = PhoneNumber(country_code=country_code, national_number=int(national))
    # As parse does: a national number that starts with 0 (Italy) keeps it.
    if len(national) > 1 and national[0] == "0":
        number.italian_leading_zero = True
        zeros = len(national) - len(national.lstrip("0"))
        zeros = min(zeros, len(national) - 1)
        if zeros != 1:
            number.number_of_leading_zeros = zeros
    return number


@functools.cache
def _national_prefix(country_code: int) -> re.Pattern[str] | None:
    """The pattern parse strips from the national number, or None if unknown.

    A pattern that never matches stands for a country without one.
    """
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None
    return re.compile(metadata.national_prefix_for_parsing or r"(?!)")


def _places(
    number: PhoneNumber, region: str, default_region: str | None
) -> tuple[str, ...]:
    if region == numbering.NON_GEOGRAPHIC:
        return ()
    if number.country_code == _NANP:
        area = str(number.national_number)[:3]
        return _north_american_places(area, region)
    # A number valid in both the declared country and the region phonenumbers
    # lists first under a shared code (+590: GP, BL, MF) fits the declaration.
    if (
        default_region is not None
        and default_region != region
        and default_region
        in COUNTRY_CODE_TO_REGION_CODE.get(number.country_code or 0, ())
        and numbering.is_valid_for_region(number, default_region)
    ):
        return (default_region,)
    return (region,)


# -- North American area codes ----------------------------------------------

# Generated from phonenumbers' geocoding data by `python -m agegate.phone_data`;
# importing that data here would cost about 100 MiB per process.
_AREA_CODES_FILE = "nanp_area_codes.txt"
_index_lock = threading.Lock()


def data_file(name: str) -> Any:
    """A file of agegate/data: beside this module when installed as files
    (importlib.resources, whose import costs a start-up, only when zipped)."""
    here = Path(__file__).parent / "data" / name
    if here.is_file():
        return here
    import importlib.resources

    return importlib.resources.files("agegate") / "data" / name


@functools.cache
def _area_table() -> Mapping[str, tuple[str, ...]]:
    """Area code -> the subdivisions it serves, read once from the data file."""
    text = data_file(_AREA_CODES_FILE).read_text(encoding="utf-8")
    table: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            area, *codes = line.split()
            table[area] = tuple(codes)
    return table


def area_subdivisions(area: str, region: str) -> tuple[str, ...]:
    """ISO 3166-2 codes of `region` the geocoder places an area code in; ()
    if none."""
    with _index_lock:
        codes = _area_table().get(area, ())
    return tuple(code for code in codes if code.startswith(f"{region}-"))


@functools.cache
def _north_american_places(area: str, region: str) -> tuple[str, ...]:
    """An area code's state or province, computed once per area code.

    Outside the US and Canada a NANP area code is a country of its own
    (+1 876 is Jamaica). Area codes the geocoder places nowhere and that
    phonenumbers gives to the US, the plan's main region, are the shared
    non-geographic ones (toll-free 8XX, 900, personal 5XX): they point to no
    jurisdiction.
    """
    if region not in {"US", "CA"}:
        return (region,)
    found = area_subdivisions(area, region)
    if found:
        return found
    with _index_lock:
        placed = area in _area_table()
    if placed:
        # The table places the area code in the other country: the test that
        # regenerates it from phonenumbers makes this unreachable.
        logger(__name__).warning(
            "area code %s has no subdivision; using the country", area
        )
    return () if region == "US" and not placed else (region,)
