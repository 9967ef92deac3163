"""Write the example account stores: accounts.csv, accounts.jsonl, accounts.sqlite.

A few hundred synthetic accounts, the same in all three files, built so that
a review on TODAY finds known minors: at collection only, now only (no
collection date), and both; adults; missing and broken birthdates; Japanese
accounts collected before and after the age of majority fell from 20 to 18
on 2022-04-01; British Columbia (19), Alabama (19) and Mississippi (21);
declared ages; a phone number that points to a stricter place than the
declared country; and, in each file, rows that cannot be read.

Each account id starts with its kind (`both-0003`), so a test can tell what
every flag should be. Deterministic: the same files on every run.

    python examples/make_accounts.py [DIRECTORY]
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

TODAY = date(2026, 11, 28)
COLUMNS = (
    "user_id",
    "dob",
    "declared_age",
    "country",
    "region",
    "phone",
    "created_at",
)
# The --map options that read these files.
MAP = (
    "account_id=user_id",
    "birthdate=dob",
    "age=declared_age",
    "subdivision=region",
    "collected_at=created_at",
)

# Valid numbers of the places used (area codes pin US states and provinces).
_PHONES = {
    ("US", ""): "+1 212 555 01{:02d}",
    ("US", "AL"): "+1 205 555 01{:02d}",
    ("US", "MS"): "+1 601 555 01{:02d}",
    ("CA", "BC"): "+1 604 555 01{:02d}",
    ("CA", "ON"): "+1 416 555 01{:02d}",
    ("GB", ""): "+44 20 7946 00{:02d}",
    ("DE", ""): "+49 30 9018 20{:02d}",
    ("FR", ""): "+33 6 12 34 56 {:02d}",
    ("JP", ""): "+81 90 1234 56{:02d}",
}
_ADULT_PLACES = [("US", ""), ("GB", ""), ("DE", ""), ("FR", ""), ("CA", "ON")]


def years_before(day: date, years: int, extra_days: int = 0) -> date:
    """`day` moved back whole years (28 Feb for a missing 29 Feb), then days."""
    try:
        moved = day.replace(year=day.year - years)
    except ValueError:
        moved = date(day.year - years, 2, 28)
    return moved - timedelta(days=extra_days)


def _account(
    rng: random.Random,
    kind: str,
    number: int,
    *,
    born: date | None,
    place: tuple[str, str],
    collected: date | str | None,
    declared_age: int | None = None,
    dob_text: str | None = None,
    phone_place: tuple[str, str] | None = None,
    with_id: bool = True,
) -> dict[str, str]:
    country, region = place
    phone_format = _PHONES.get(phone_place or place)
    if isinstance(collected, date):
        # Half the timestamps carry a time at UTC noon, which is the same
        # calendar date at UTC-12.
        created = (
            collected.isoformat()
            if rng.random() < 0.5
            else f"{collected.isoformat()}T12:00:00Z"
        )
    else:
        created = collected or ""
    return {
        "user_id": f"{kind}-{number:04d}" if with_id else "",
        "dob": dob_text if dob_text is not None else (born.isoformat() if born else ""),
        "declared_age": str(declared_age) if declared_age is not None else "",
        "country": country,
        "region": region,
        "phone": phone_format.format(rng.randrange(100)) if phone_format else "",
        "created_at": created,
    }


def accounts(seed: int = 2026) -> Iterator[dict[str, str]]:
    """Every example account, in a fixed order."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    n = 0

    def next_number() -> int:
        nonlocal n
        n += 1
        return n

    def days(low: int, high: int) -> int:
        return rng.randrange(low, high)

    for _ in range(180):  # adults, collected as adults
        born = years_before(TODAY, rng.randrange(25, 70), days(0, 365))
        collected = TODAY - timedelta(days=days(30, 1800))
        place = rng.choice(_ADULT_PLACES)
        yield _account(
            rng, "adult", next_number(), born=born, place=place, collected=collected
        )
    for _ in range(30):  # minors when collected and still minors today
        born = years_before(TODAY, rng.randrange(13, 17), days(0, 300))
        collected = TODAY - timedelta(days=days(30, 300))
        place = rng.choice(_ADULT_PLACES)
        yield _account(
            rng, "both", next_number(), born=born, place=place, collected=collected
        )
    for _ in range(30):  # minors when collected, adults (>= 20) today
        born = years_before(TODAY, rng.randrange(20, 23), days(0, 300))
        collected = years_before(born, -16) + timedelta(days=days(0, 300))
        place = rng.choice(_ADULT_PLACES)
        yield _account(
            rng,
            "collection",
            next_number(),
            born=born,
            place=place,
            collected=collected,
        )
    for _ in range(20):  # minors today, no collection date on record
        born = years_before(TODAY, rng.randrange(14, 18), days(0, 300))
        place = rng.choice(_ADULT_PLACES)
        yield _account(
            rng, "now", next_number(), born=born, place=place, collected=None
        )
    for _ in range(15):  # no birthdate at all
        place = rng.choice(_ADULT_PLACES)
        collected = TODAY - timedelta(days=days(30, 900))
        yield _account(
            rng, "missing", next_number(), born=None, place=place, collected=collected
        )
    broken = ["2001-02-30", "not a date", "03/04/2005", "1880-01-01", "2031-05-05"]
    for index in range(15):  # birthdates that cannot be used
        place = rng.choice(_ADULT_PLACES)
        collected = TODAY - timedelta(days=days(30, 900))
        yield _account(
            rng,
            "broken",
            next_number(),
            born=None,
            dob_text=broken[index % len(broken)],
            place=place,
            collected=collected,
        )
    for _ in range(12):  # Japan, 19 when collected before 2022-04-01 (20 then)
        collected = date(2021, 1, 10) + timedelta(days=days(0, 400))
        born = years_before(collected, 19, days(0, 300))
        yield _account(
            rng,
            "jpbefore",
            next_number(),
            born=born,
            place=("JP", ""),
            collected=collected,
        )
    for _ in range(12):  # Japan, 19 when collected after 2022-04-01 (18 then)
        collected = date(2022, 4, 1) + timedelta(days=days(0, 600))
        born = years_before(collected, 19, days(0, 300))
        yield _account(
            rng,
            "jpafter",
            next_number(),
            born=born,
            place=("JP", ""),
            collected=collected,
        )
    for place, age in ((("CA", "BC"), 18), (("US", "AL"), 18), (("US", "MS"), 20)):
        # Adults elsewhere, under the age of majority where they live.
        for _ in range(8):
            born = years_before(TODAY, age, days(30, 200))
            collected = TODAY - timedelta(days=days(1, 25))
            yield _account(
                rng,
                "strict",
                next_number(),
                born=born,
                place=place,
                collected=collected,
            )
        for _ in range(8):
            born = years_before(TODAY, rng.randrange(30, 60), days(0, 365))
            collected = TODAY - timedelta(days=days(30, 900))
            yield _account(
                rng, "adult", next_number(), born=born, place=place, collected=collected
            )
    for _ in range(
        6
    ):  # 18, declared in the US (18), with a British Columbia (19) phone
        born = years_before(TODAY, 18, days(30, 200))
        collected = TODAY - timedelta(days=days(1, 25))
        yield _account(
            rng,
            "conflict",
            next_number(),
            born=born,
            place=("US", ""),
            phone_place=("CA", "BC"),
            collected=collected,
        )
    for _ in range(6):  # a declared age, 16 when collected two years ago
        collected = TODAY - timedelta(days=730 + days(0, 60))
        yield _account(
            rng,
            "declared",
            next_number(),
            born=None,
            declared_age=16,
            place=rng.choice(_ADULT_PLACES),
            collected=collected,
        )
    for _ in range(6):  # turned 18 on the day collected, at a time still
        # the day before at UTC-12
        collected = TODAY - timedelta(days=days(100, 600))
        born = years_before(collected, 18)
        row = _account(
            rng,
            "offset",
            next_number(),
            born=born,
            place=("US", ""),
            collected=None,
        )
        row["created_at"] = f"{collected.isoformat()}T08:00:00+09:00"
        yield row
    for index in range(6):  # no usable jurisdiction
        yield _account(
            rng,
            "nowhere",
            next_number(),
            born=years_before(TODAY, 40),
            place=("Atlantis", "") if index % 2 else ("", ""),
            collected=TODAY - timedelta(days=100),
        )
    for _ in range(4):  # minors with no account id
        born = years_before(TODAY, 15, days(0, 300))
        yield _account(
            rng,
            "anon",
            next_number(),
            born=born,
            place=("GB", ""),
            collected=TODAY - timedelta(days=days(30, 300)),
            with_id=False,
        )


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    """CSV with three unreadable rows: too few fields, too many, not UTF-8."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for index, row in enumerate(rows):
            writer.writerow([row[c] for c in COLUMNS])
            if index == 50:
                out.write("short-row,1990-01-01\n")
            if index == 150:
                writer.writerow([*(row[c] for c in COLUMNS), "extra"])
    with path.open("ab") as raw:
        raw.write(b"bad-bytes,\xff\xfe1990-01-01,,US,,,2024-01-01\n")


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    """JSON Lines with three unreadable lines: broken JSON, a list, not UTF-8."""
    with path.open("wb") as out:
        for index, row in enumerate(rows):
            out.write(json.dumps(row).encode() + b"\n")
            if index == 50:
                out.write(b'{"user_id": "broken", "dob": \n')
            if index == 150:
                out.write(b'["not", "an", "object"]\n')
        out.write(b'{"user_id": "bad-bytes", "dob": "\xff\xfe"}\n')


def write_sqlite(path: Path, rows: list[dict[str, str]]) -> None:
    """Table `accounts`, with three rows whose text is not UTF-8."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    with db:
        db.execute(f"CREATE TABLE accounts ({', '.join(c + ' TEXT' for c in COLUMNS)})")
        marks = ", ".join("?" for _ in COLUMNS)
        db.executemany(
            f"INSERT INTO accounts VALUES ({marks})",  # noqa: S608 - fixed names
            ([row[c] for c in COLUMNS] for row in rows),
        )
        for _ in range(3):
            db.execute(
                "INSERT INTO accounts (user_id, dob) VALUES"
                " ('bad-bytes', CAST(X'fffe' AS TEXT))"
            )
    db.close()


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else Path(__file__).resolve().parent
    directory.mkdir(parents=True, exist_ok=True)
    rows = list(accounts())
    write_csv(directory / "accounts.csv", rows)
    write_jsonl(directory / "accounts.jsonl", rows)
    write_sqlite(directory / "accounts.sqlite", rows)
    print(f"{len(rows)} accounts written to {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
