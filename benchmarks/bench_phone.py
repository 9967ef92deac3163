"""Phone signal speed: the prefix-cached path against a full parse of every number.

Both paths read the same generated numbers in the same run; the figure that
matters is the ratio. Usage:

    python benchmarks/bench_phone.py [--rows 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
from collections.abc import Callable

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from agegate import phone
from agegate.signals import SignalProblem

# A signup mix: mostly North American, some elsewhere, in the forms people type.
_REGIONS = {"US": 50, "CA": 15, "GB": 8, "JP": 6, "DE": 5, "FR": 5, "IN": 5}
_REGIONS.update({"BR": 3, "JM": 1, "RU": 1, "AU": 1})


def _numbers(rows: int, seed: int) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    regions = list(_REGIONS)
    weights = list(_REGIONS.values())
    out: list[tuple[str, str | None]] = []
    while len(out) < rows:
        region = rng.choices(regions, weights)[0]
        kind = rng.choice((PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE))
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        national = list(str(example.national_number))
        for at in range(len(national) // 2, len(national)):
            national[at] = str(rng.randrange(10))
        number = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=int("".join(national))
        )
        style = rng.random()
        if style < 0.6:
            text = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        elif style < 0.9:
            text = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
        else:
            text = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        out.append((text, region))
    return out


Reader = Callable[[str, str | None], tuple[str, ...]]


def _run(reader: Reader, numbers: list[tuple[str, str | None]]) -> tuple[float, int]:
    invalid = 0
    start = time.perf_counter()
    for text, region in numbers:
        try:
            reader(text, region)
        except SignalProblem:
            invalid += 1
    return time.perf_counter() - start, invalid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    numbers = _numbers(args.rows, args.seed)
    # Warm both paths (the geocoder data loads once) before timing either.
    for text, region in numbers[:1000]:
        for reader in (phone.jurisdictions, phone.jurisdictions_by_parse):
            with contextlib.suppress(SignalProblem):
                reader(text, region)
    parsed, parsed_invalid = _run(phone.jurisdictions_by_parse, numbers)
    cached, cached_invalid = _run(phone.jurisdictions, numbers)
    if parsed_invalid != cached_invalid:
        raise SystemExit("the two paths disagree on which numbers are invalid")
    rows = len(numbers)
    print(f"numbers: {rows} ({parsed_invalid} invalid), seed {args.seed}")
    print(f"{'path':<28}{'seconds':>10}{'us/number':>12}{'numbers/s':>12}")
    for name, seconds in (("parse every number", parsed), ("prefix cache", cached)):
        print(
            f"{name:<28}{seconds:>10.3f}{seconds / rows * 1e6:>12.2f}"
            f"{rows / seconds:>12.0f}"
        )
    print(f"ratio (parse / cached): {parsed / cached:.2f}x")


if __name__ == "__main__":
    main()
