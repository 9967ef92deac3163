"""The jurisdictions a phone number points to (phonenumbers)."""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import geocoder

from . import signals
from .decision import Reason
from .signals import SignalProblem

# What people type around the digits of a number; anything else (letters,
# non-ASCII digits) is refused rather than interpreted.
_PHONE_TEXT = re.compile(r"\+?[0-9 ().\-/]{3,40}", re.ASCII)
_NANP = 1


def jurisdictions(text: str, default_region: str | None) -> tuple[str, ...]:
    """Country, or subdivisions where the numbering plan pins them."""
    if not _PHONE_TEXT.fullmatch(text):
        raise SignalProblem(Reason.PHONE_MALFORMED)
    digits = re.sub(r"[^0-9+]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if "+" in digits[1:]:
        raise SignalProblem(Reason.PHONE_MALFORMED)
    try:
        number = phonenumbers.parse(
            digits, None if digits.startswith("+") else default_region
        )
    except phonenumbers.NumberParseException:
        raise SignalProblem(Reason.PHONE_INVALID) from None
    if not phonenumbers.is_valid_number(number):
        raise SignalProblem(Reason.PHONE_INVALID)
    if number.country_code == _NANP:
        return _north_american_places(str(number.national_number)[:3])
    region = phonenumbers.region_code_for_number(number)
    return (region,) if region and region != "001" else ()


@functools.cache
def _north_american_places(area: str) -> tuple[str, ...]:
    """An area code's country and state or province, computed once per code."""
    sample = phonenumbers.parse(f"+1{area}2345678")
    region = phonenumbers.region_code_for_number(sample)
    if region not in {"US", "CA"}:
        return (region,) if region else ()
    names = geocoder.description_for_number(sample, "en")
    found = tuple(
        code
        for name in re.split(r"[/,]| and ", names)
        if name.strip()
        for code in _try_subdivision(name, region)
    )
    return found or (region,)


def _try_subdivision(name: str, region: str) -> tuple[str, ...]:
    try:
        return (signals.subdivision_code(name.strip(), region),)
    except SignalProblem:
        return ()
