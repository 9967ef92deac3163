"""ISO 3166 codes, checked against pycountry.

Codes change (ISO withdraws and reassigns them), so every code agegate meets,
in its tables or in input, is checked here against the installed pycountry.
"""

from __future__ import annotations

import functools

import pycountry


@functools.cache
def is_country(code: str) -> bool:
    return len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None


@functools.cache
def is_subdivision(code: str) -> bool:
    return "-" in code and pycountry.subdivisions.get(code=code) is not None


def is_known(code: str) -> bool:
    return is_country(code) or is_subdivision(code)


def country_of(code: str) -> str:
    """The alpha-2 country part of a country or subdivision code."""
    return code.split("-", 1)[0]


@functools.cache
def parent_of(code: str) -> str | None:
    """The next wider jurisdiction: a parent subdivision, then the country."""
    if "-" not in code:
        return None
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
