"""ISO 3166 codes, checked against pycountry.

Codes change (ISO withdraws and reassigns them), so every code agegate meets,
in its tables or in input, is checked here against the installed pycountry.
"""

from __future__ import annotations

import functools

import pycountry

# Client text reaches these checks. Only strings shaped like a code are looked
# up, and the caches are bounded, so no input can make them grow for good.
# ISO 3166-2 codes are the country's two letters, a dash and one to three
# letters or digits.
LONGEST_SUBDIVISION_CODE = 6
_CACHE_SIZE = 8192  # above the number of ISO 3166 codes (about 5,300)


def is_country(code: str) -> bool:
    return len(code) == 2 and _is_country(code)


@functools.lru_cache(maxsize=1024)
def _is_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


def is_subdivision(code: str) -> bool:
    return (
        "-" in code
        and 4 <= len(code) <= LONGEST_SUBDIVISION_CODE
        and _is_subdivision(code)
    )


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _is_subdivision(code: str) -> bool:
    return pycountry.subdivisions.get(code=code) is not None


def is_known(code: str) -> bool:
    return is_country(code) or is_subdivision(code)


def country_of(code: str) -> str:
    """The alpha-2 country part of a country or subdivision code."""
    return code.split("-", 1)[0]


def parent_of(code: str) -> str | None:
    """The next wider jurisdiction: a parent subdivision, then the country."""
    if "-" not in code or len(code) > LONGEST_SUBDIVISION_CODE:
        return None
    return _parent_of(code)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parent_of(code: str) -> str | None:
    subdivision = pycountry.subdivisions.get(code=code)
    parent = getattr(subdivision, "parent_code", None) if subdivision else None
    if parent:
        return str(parent)
    return country_of(code)


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=country_of(code))
    return str(country.name) if country else code


def subdivision_name(code: str) -> str | None:
    subdivision = pycountry.subdivisions.get(code=code)
    return str(subdivision.name) if subdivision else None


# Withdrawn ISO 3166-1 alpha-2 codes that were not reassigned, and the
# current countries whose territory they covered (ISO 3166-3, "Codes for
# formerly used names of countries"). Old account stores still hold them. A
# code that covered several of today's countries stands for all of them, so
# the strictest of their ages applies. Reassigned codes (AI, BQ, BY, GE, SK)
# mean today's country and are not listed.
WITHDRAWN: dict[str, tuple[str, ...]] = {
    "AN": ("BQ", "CW", "SX"),
    "BU": ("MM",),
    "CS": ("CZ", "ME", "RS", "SK"),
    "CT": ("KI",),
    "DD": ("DE",),
    "DY": ("BJ",),
    "FQ": ("AQ", "TF"),
    "FX": ("FR",),
    "HV": ("BF",),
    "JT": ("UM",),
    "MI": ("UM",),
    "NH": ("VU",),
    "NQ": ("AQ",),
    "NT": ("IQ", "SA"),
    "PC": ("FM", "MH", "MP", "PW"),
    "PU": ("UM",),
    "PZ": ("PA",),
    "RH": ("ZW",),
    "SU": (
        "AM",
        "AZ",
        "BY",
        "EE",
        "GE",
        "KG",
        "KZ",
        "LT",
        "LV",
        "MD",
        "RU",
        "TJ",
        "TM",
        "UA",
        "UZ",
    ),
    "TP": ("TL",),
    "VD": ("VN",),
    "WK": ("UM",),
    "YD": ("YE",),
    "YU": ("BA", "HR", "ME", "MK", "RS", "SI"),
    "ZR": ("CD",),
}


def successors(code: str) -> tuple[str, ...]:
    """Today's countries for a withdrawn alpha-2 or alpha-3 code; () otherwise."""
    cleaned = code.strip()
    if len(cleaned) not in (2, 3):
        return ()
    return _successors(cleaned.upper())


@functools.lru_cache(maxsize=1024)
def _successors(upper: str) -> tuple[str, ...]:
    if len(upper) == 3 and pycountry.countries.get(alpha_3=upper) is None:
        historic = pycountry.historic_countries.get(alpha_3=upper)
        upper = str(historic.alpha_2) if historic is not None else upper
    if len(upper) == 2 and is_country(upper):
        return ()
    return WITHDRAWN.get(upper, ())
