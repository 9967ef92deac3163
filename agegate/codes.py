"""ISO 3166 codes, checked against pycountry.

Codes change (ISO withdraws and reassigns them), so every code agegate meets,
in its tables or in input, is checked here against the installed pycountry.

Loading pycountry's databases costs more than a whole `agegate check`, so
the codes themselves (countries, subdivisions and their parents, alpha-3
codes) can come from a `Snapshot` of that same pycountry, kept in the cache
beside the tables (`rules_cache`): the answers are pycountry's either way.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

# Client text reaches these checks. Only strings shaped like a code are looked
# up, and the caches are bounded, so no input can make them grow for good.
# ISO 3166-2 codes are the country's two letters, a dash and one to three
# letters or digits.
LONGEST_SUBDIVISION_CODE = 6
_CACHE_SIZE = 8192  # above the number of ISO 3166 codes (about 5,300)


@attrs.frozen
class Snapshot:
    """pycountry's codes, each keyed in lower case as pycountry looks it up:
    country alpha-2 codes; alpha-3 to alpha-2 of current and of historic
    countries; each subdivision's parent (None: its country)."""

    countries: frozenset[str]
    alpha_3: dict[str, str]
    historic_alpha_3: dict[str, str]
    parents: dict[str, str | None]


_snapshot: Snapshot | None = None


def _pycountry() -> Any:
    import pycountry

    return pycountry


def take_snapshot() -> Snapshot:
    """The codes of the installed pycountry."""
    pycountry = _pycountry()
    return Snapshot(
        countries=frozenset(str(c.alpha_2).lower() for c in pycountry.countries),
        alpha_3={str(c.alpha_3).lower(): str(c.alpha_2) for c in pycountry.countries},
        historic_alpha_3={
            str(c.alpha_3).lower(): str(c.alpha_2)
            for c in pycountry.historic_countries
            if getattr(c, "alpha_2", None)
        },
        parents={
            str(s.code).lower(): (str(s.parent_code) if s.parent_code else None)
            for s in pycountry.subdivisions
        },
    )


def use_snapshot(snapshot: Snapshot) -> None:
    """Answer from `snapshot` (taken of the installed pycountry) from now on."""
    global _snapshot
    _snapshot = snapshot


def is_country(code: str) -> bool:
    return len(code) == 2 and _is_country(code)


@functools.lru_cache(maxsize=1024)
def _is_country(code: str) -> bool:
    if _snapshot is not None:
        return code.lower() in _snapshot.countries
    return _pycountry().countries.get(alpha_2=code) is not None


def country_for_alpha_3(code: str) -> str | None:
    """The alpha-2 code of a current country's alpha-3 code, or None."""
    if _snapshot is not None:
        return _snapshot.alpha_3.get(code.lower())
    found = _pycountry().countries.get(alpha_3=code)
    return str(found.alpha_2) if found is not None else None


def is_subdivision(code: str) -> bool:
    return (
        "-" in code
        and 4 <= len(code) <= LONGEST_SUBDIVISION_CODE
        and _is_subdivision(code)
    )


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _is_subdivision(code: str) -> bool:
    if _snapshot is not None:
        return code.lower() in _snapshot.parents
    return _pycountry().subdivisions.get(code=code) is not None


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
    if _snapshot is not None:
        return _snapshot.parents.get(code.lower()) or country_of(code)
    subdivision = _pycountry().subdivisions.get(code=code)
    parent = getattr(subdivision, "parent_code", None) if subdivision else None
    if parent:
        return str(parent)
    return country_of(code)


def country_name(code: str) -> str:
    country = _pycountry().countries.get(alpha_2=country_of(code))
    return str(country.name) if country else code


def subdivision_name(code: str) -> str | None:
    subdivision = _pycountry().subdivisions.get(code=code)
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
    if len(upper) == 3 and country_for_alpha_3(upper) is None:
        upper = _historic_alpha_2(upper) or upper
    if len(upper) == 2 and is_country(upper):
        return ()
    return WITHDRAWN.get(upper, ())


def _historic_alpha_2(code: str) -> str | None:
    if _snapshot is not None:
        return _snapshot.historic_alpha_3.get(code.lower())
    historic = _pycountry().historic_countries.get(alpha_3=code)
    return str(historic.alpha_2) if historic is not None else None
