"""Turn raw inputs into the jurisdictions they point to.

A signal is one input that says where a person is: a declared country and
subdivision, a billing address, a phone number, or a country header set by a
trusted proxy. Each yields ISO 3166 codes or a reason code; none yields the
value it read.
"""

from __future__ import annotations

import functools
import re

import attrs

from . import codes, place_names
from .errors import InputProblem
from .reasons import Reason


@attrs.frozen
class Signal:
    """One input and the jurisdiction codes it points to (most specific)."""

    source: str
    codes: tuple[str, ...]


# No country or subdivision name is this long (the longest ISO names have
# about 50 characters): longer text is unknown, and never reaches a cache.
LONGEST_NAME = 100


def country_code(text: str) -> str:
    """Alpha-2 code from an alpha-2 or alpha-3 code, a common code (UK), a
    name in one of the languages `place_names` reads, or the full name of a
    subdivision that only one country has ("British Columbia": CA; see
    `named_subdivision`)."""
    cleaned = text.strip()
    if len(cleaned) <= LONGEST_NAME:
        match = _country_code(*_country_key(cleaned))
        if not match.codes:
            match = _named_subdivision(place_names.fold(cleaned))
            match = place_names.Match(frozenset(map(codes.country_of, match.codes)))
        if match.ambiguous:
            raise InputProblem(Reason.COUNTRY_AMBIGUOUS)
        if match.code is not None:
            return match.code
    raise InputProblem(Reason.COUNTRY_UNKNOWN)


def named_subdivision(text: str) -> str | None:
    """The subdivision a country field names instead of a country
    ("British Columbia"), when the text is no country's name and one
    subdivision only has it; else None. Its age may differ from its
    country's, so the gate reads it as a subdivision too."""
    cleaned = text.strip()
    if len(cleaned) > LONGEST_NAME or _country_code(*_country_key(cleaned)).codes:
        return None
    return _named_subdivision(place_names.fold(cleaned)).code


@functools.lru_cache(maxsize=1024)
def _named_subdivision(folded: str) -> place_names.Match:
    return place_names.subdivision_anywhere(folded)


def _country_key(cleaned: str) -> tuple[str, str]:
    """The cache key of a country: its code-shaped form, and its folded name.

    Spellings that differ only in case, accents or punctuation share a key.
    """
    code = cleaned.upper() if cleaned.isascii() and cleaned.isalpha() else ""
    return (code if len(code) in (2, 3) else ""), place_names.fold(cleaned)


@functools.lru_cache(maxsize=1024)
def _country_code(code: str, folded: str) -> place_names.Match:
    if len(code) == 2 and codes.is_country(code):
        return place_names.Match(frozenset({code}))
    if len(code) == 3:
        found = codes.country_for_alpha_3(code)
        if found is not None:
            return place_names.Match(frozenset({found}))
    return place_names.country(folded)


def subdivision_code(text: str, country: str | None) -> str:
    """ISO 3166-2 code from a full code, the part after the dash, or a name."""
    cleaned = text.strip()
    if len(cleaned) > LONGEST_NAME:
        raise InputProblem(Reason.SUBDIVISION_UNKNOWN)
    upper = cleaned.upper()
    if "-" in upper and codes.is_subdivision(upper):
        return upper
    if country is None:
        raise InputProblem(Reason.SUBDIVISION_WITHOUT_COUNTRY)
    part = upper if upper.isascii() and upper.isalnum() else ""
    match = _subdivision_code(country, part, place_names.fold(cleaned))
    if match.ambiguous:
        raise InputProblem(Reason.SUBDIVISION_AMBIGUOUS)
    if match.code is None:
        raise InputProblem(Reason.SUBDIVISION_UNKNOWN)
    return match.code


@functools.lru_cache(maxsize=1024)
def _subdivision_code(country: str, part: str, folded: str) -> place_names.Match:
    if part and codes.is_subdivision(f"{country}-{part}"):
        return place_names.Match(frozenset({f"{country}-{part}"}))
    return place_names.subdivision(folded, country)


def combine(country: str | None, subdivision: str | None) -> tuple[str, ...]:
    """The codes a read country and subdivision point to together.

    A subdivision of another country than the one given is a second
    jurisdiction; both are returned so that the stricter wins.
    """
    if subdivision is None:
        return (country,) if country else ()
    if country is not None and codes.country_of(subdivision) != country:
        return (country, subdivision)
    return (subdivision,)


# Values proxies put in a country header when they do not know the country
# (Cloudflare: XX unknown, T1 Tor; GeoIP legacy: A1 anonymous proxy,
# A2 satellite, O1 other, EU and AP continents). They are no signal.
UNKNOWN_COUNTRY_MARKERS = frozenset({"XX", "T1", "A1", "A2", "O1", "EU", "AP"})


def trusted_country_code(text: str) -> str | None:
    """The alpha-2 code in a trusted proxy's country header.

    None for a value that says the proxy does not know; anything else that is
    not an ISO 3166-1 alpha-2 code is refused: the operator named the header,
    so an unexpected value means the proxy is not sending what they think.
    """
    upper = text.strip().upper()
    if not upper or upper in UNKNOWN_COUNTRY_MARKERS:
        return None
    if not (upper.isascii() and codes.is_country(upper)):
        raise InputProblem(Reason.COUNTRY_UNKNOWN)
    return upper


# The first letter of a Canadian postal code names its province or territory
# (Canada Post, "Addressing guidelines", postal code map). X is shared by the
# Northwest Territories and Nunavut, which both set 19.
_CANADIAN_POSTAL_AREAS = {
    "A": ("CA-NL",),
    "B": ("CA-NS",),
    "C": ("CA-PE",),
    "E": ("CA-NB",),
    "G": ("CA-QC",),
    "H": ("CA-QC",),
    "J": ("CA-QC",),
    "K": ("CA-ON",),
    "L": ("CA-ON",),
    "M": ("CA-ON",),
    "N": ("CA-ON",),
    "P": ("CA-ON",),
    "R": ("CA-MB",),
    "S": ("CA-SK",),
    "T": ("CA-AB",),
    "V": ("CA-BC",),
    "X": ("CA-NT", "CA-NU"),
    "Y": ("CA-YT",),
}


# The first three digits of a US ZIP code name a sectional center, which lies
# in one state (USPS Labeling List L002, "3-Digit ZIP Code Prefix Matrix",
# <https://pe.usps.com/text/LabelingLists/L002.htm>). Only the prefixes of
# places whose age differs from the country's are listed: Alabama (19),
# Mississippi (21), Nebraska (19), Puerto Rico (21) and the US Virgin Islands.
# Any other ZIP code says no more than "United States".
_ZIP_PREFIX_AREAS: dict[range, str] = {
    range(6, 8): "US-PR",
    range(8, 9): "US-VI",
    range(9, 10): "US-PR",
    range(350, 353): "US-AL",
    range(354, 370): "US-AL",
    range(386, 398): "US-MS",
    range(680, 682): "US-NE",
    range(683, 694): "US-NE",
}
_ZIP = re.compile(r"([0-9]{3})[0-9]{2}(?:-?[0-9]{4})?", re.ASCII)


def postal_code(text: str, country: str | None) -> tuple[str, ...]:
    """Subdivisions a postal code pins, where its format says so reliably.

    Canadian codes (first letter: province or territory) and US ZIP codes
    (first three digits, for the states and territories whose age differs)
    are read. Elsewhere no subdivision age in the tables differs from its
    country's in a way a postal code could settle: other codes point nowhere.
    """
    if country == "US":
        return _us_zip_code(text)
    if country != "CA":
        return ()
    cleaned = text.replace(" ", "").upper()
    if not (
        len(cleaned) == 6
        and cleaned.isascii()
        and cleaned[0::2].isalpha()
        and cleaned[1::2].isdigit()
    ):
        raise InputProblem(Reason.POSTAL_CODE_UNKNOWN)
    areas = _CANADIAN_POSTAL_AREAS.get(cleaned[0])
    if areas is None:
        raise InputProblem(Reason.POSTAL_CODE_UNKNOWN)
    return areas


def _us_zip_code(text: str) -> tuple[str, ...]:
    match = _ZIP.fullmatch(text.strip())
    if match is None:
        raise InputProblem(Reason.POSTAL_CODE_UNKNOWN)
    prefix = int(match.group(1))
    for prefixes, code in _ZIP_PREFIX_AREAS.items():
        if prefix in prefixes:
            return (code,)
    return ("US",)
