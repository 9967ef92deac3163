"""`agegate review` over the example account stores, and its building blocks."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agegate.cli.main import main
from agegate.flags import FlagCode
from agegate.policy import FieldMap
from agegate.review.reviewer import (
    CollectedAtInvalid,
    Reviewer,
    ReviewSettings,
    age_now,
    collection_date,
)

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-11-28"
SECRET = "a test key of enough bytes"

# What every kind of example account must raise (see examples/make_accounts.py).
AT, NOW = FlagCode.MINOR_AT_COLLECTION, FlagCode.MINOR_NOW
EXPECTED: dict[str, tuple[str, ...]] = {
    "both": (AT, NOW),
    "collection": (AT,),
    "now": (NOW,),
    "missing": (FlagCode.BIRTHDATE_MISSING,),
    "broken": (FlagCode.BIRTHDATE_INVALID,),
    "jpbefore": (AT,),
    "strict": (AT, NOW),
    "conflict": (AT, NOW, FlagCode.SIGNALS_CONFLICT),
    "declared": (AT,),
    "offset": (AT,),
    "nowhere": (FlagCode.JURISDICTION_UNKNOWN,),
    "anon": (AT, NOW),
}
COUNTS = {
    "both": 30,
    "collection": 30,
    "now": 20,
    "missing": 15,
    "broken": 15,
    "jpbefore": 12,
    "strict": 24,
    "conflict": 6,
    "declared": 6,
    "offset": 6,
    "nowhere": 6,
    "anon": 4,
}
ACCOUNTS = 390


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_accounts", ROOT / "examples" / "make_accounts.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_accounts"] = module
    spec.loader.exec_module(module)
    return module


make_accounts = _load_generator()


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("examples")
    assert make_accounts.main([str(directory)]) == 0
    return directory


def _review(
    tmp_path: Path, source: Path, *extra: str, name: str = "out"
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    flags_out = tmp_path / f"{name}.jsonl"
    summary = tmp_path / f"{name}.summary.json"
    args = [
        "review",
        str(source),
        *(f"--map={m}" for m in make_accounts.MAP),
        f"--today={TODAY}",
        f"--secret={SECRET}",
        f"--flags-out={flags_out}",
        f"--summary={summary}",
        "--quiet",
        *extra,
    ]
    if source.suffix == ".sqlite":
        args.append("--table=accounts")
    status = main(args)
    flags = [json.loads(line) for line in flags_out.read_text().splitlines()]
    return status, flags, json.loads(summary.read_text())


def _essence(flags: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (f["account_id"], tuple(f["codes"]), f["action"], f["jurisdiction"],
         f["required_age"])
        for f in flags
    )  # fmt: skip


def test_shipped_examples_are_what_the_generator_writes(examples: Path) -> None:
    for name in ("accounts.csv", "accounts.jsonl"):
        shipped = (ROOT / "examples" / name).read_bytes()
        assert shipped == (examples / name).read_bytes(), name


def test_example_accounts_raise_exactly_the_expected_flags(
    tmp_path: Path, examples: Path
) -> None:
    status, flags, summary = _review(tmp_path, examples / "accounts.csv")
    assert status == 0
    seen: dict[str, int] = {}
    for flag in flags:
        kind = flag["account_id"].split("-")[0]
        assert tuple(flag["codes"]) == EXPECTED[kind], flag
        assert flag["action"] == (
            "remove" if {AT, NOW} & set(flag["codes"]) else "verify"
        )
        assert set(flag) >= {"account_id", "codes", "action", "jurisdiction"}
        seen[kind] = seen.get(kind, 0) + 1
    assert seen == COUNTS

    jp = [f for f in flags if f["account_id"].startswith("jpbefore")]
    assert {(f["jurisdiction"], f["required_age"]) for f in jp} == {("JP", 20)}
    conflict = [f for f in flags if f["account_id"].startswith("conflict")]
    assert {(f["jurisdiction"], f["required_age"]) for f in conflict} == {("CA-BC", 19)}
    strict = {
        (f["jurisdiction"], f["required_age"])
        for f in flags
        if f["account_id"].startswith("strict")
    }
    assert strict == {("CA-BC", 19), ("US-AL", 19), ("US-MS", 21)}
    anon = [f["account_id"] for f in flags if f["account_id"].startswith("anon")]
    assert all(len(a) == len("anon-") + 24 for a in anon)

    assert summary["rows_read"] == ACCOUNTS + 3
    assert summary["rows_screened"] == ACCOUNTS
    assert summary["rows_unreadable"] == 3
    assert summary["rows_read"] == summary["rows_screened"] + summary["rows_unreadable"]
    assert summary["accounts_flagged"] == sum(COUNTS.values())
    expected_codes: dict[str, int] = {}
    for kind, count in COUNTS.items():
        for code in EXPECTED[kind]:
            expected_codes[code] = expected_codes.get(code, 0) + count
    assert summary["by_code"] == expected_codes
    assert summary["unreadable"] == [
        {"line": 53, "reason": "expected 7 fields, found 2"},
        {"line": 154, "reason": "expected 7 fields, found 8"},
        {"line": ACCOUNTS + 4, "reason": "not UTF-8"},
    ]


def test_flags_hold_no_personal_data(tmp_path: Path, examples: Path) -> None:
    _review(tmp_path, examples / "accounts.csv")
    text = (tmp_path / "out.jsonl").read_text() + (
        tmp_path / "out.summary.json"
    ).read_text()
    with (examples / "accounts.csv").open(encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            for column in ("dob", "phone"):
                value = (row.get(column) or "").strip()
                if len(value) >= 8:
                    assert value not in text


def test_csv_jsonl_and_sqlite_give_identical_flags(
    tmp_path: Path, examples: Path
) -> None:
    results = {
        name: _review(tmp_path, examples / f"accounts.{name}", name=name)
        for name in ("csv", "jsonl", "sqlite")
    }
    essences = {name: _essence(flags) for name, (_, flags, _) in results.items()}
    assert essences["csv"] == essences["jsonl"] == essences["sqlite"]
    for _, _, summary in results.values():
        assert summary["rows_screened"] == ACCOUNTS
        assert summary["rows_unreadable"] == 3
        assert summary["accounts_flagged"] == sum(COUNTS.values())


@pytest.mark.slow
def test_two_workers_give_the_same_flags_in_the_same_order(
    tmp_path: Path, examples: Path
) -> None:
    source = examples / "accounts.csv"
    _, one, _ = _review(tmp_path, source, "--batch-size=37", name="one")
    _, two, summary = _review(
        tmp_path, source, "--workers=2", "--batch-size=37", name="two"
    )
    strip = [{k: v for k, v in f.items() if k != "raised_at"} for f in one]
    assert strip == [{k: v for k, v in f.items() if k != "raised_at"} for f in two]
    assert summary["rows_read"] == ACCOUNTS + 3


def test_flags_out_csv(tmp_path: Path, examples: Path) -> None:
    out = tmp_path / "flags.csv"
    status = main(
        [
            "review",
            str(examples / "accounts.jsonl"),
            *(f"--map={m}" for m in make_accounts.MAP),
            f"--today={TODAY}",
            f"--flags-out={out}",
            "--quiet",
        ]
    )
    assert status == 0
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(COUNTS.values())
    assert {r["codes"] for r in rows if r["account_id"].startswith("both")} == {
        "MINOR_AT_COLLECTION;MINOR_NOW"
    }


def test_exit_codes(
    tmp_path: Path, examples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = str(examples / "accounts.csv")
    maps = [f"--map={m}" for m in make_accounts.MAP]
    assert main(["review", source, *maps, f"--today={TODAY}", "--quiet"]) == 0
    assert main(["review", source, *maps, f"--today={TODAY}", "--fail-on-flags"]) == 1
    out = capsys.readouterr().out
    assert "accounts flagged 174" in out
    assert "by jurisdiction" in out
    assert main(["review", source, "--map=shoe_size=x"]) == 2
    assert main(["review", source, "--map=birthdate"]) == 2
    assert main(["review", str(tmp_path / "nothing.csv")]) == 2
    assert main(["review", source, "--workers=0"]) == 2
    assert main(["review", source, "--flags-out", str(tmp_path / "f.txt")]) == 2
    err = capsys.readouterr().err
    assert "shoe_size" in err
    with pytest.raises(SystemExit) as usage:
        main(["review"])
    assert usage.value.code == 2


def test_clean_accounts_exit_0_even_with_fail_on_flags(tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_text("account_id,birthdate,country\n1,1980-01-01,DE\n")
    assert main(["review", str(source), "--fail-on-flags", "--quiet"]) == 0


# -- building blocks -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-10", date(2024, 3, 10)),
        # 08:00 in Tokyo is 23:00 UTC the day before, 11:00 at UTC-12.
        ("2024-03-10T08:00:00+09:00", date(2024, 3, 9)),
        ("2024-03-10T12:00:00Z", date(2024, 3, 10)),
        ("2024-03-10T11:59:59+00:00", date(2024, 3, 9)),
        ("2024-03-10T12:00:00.5-05:00", date(2024, 3, 10)),
        # Without an offset the calendar date is taken as written.
        ("2024-03-10 01:00:00", date(2024, 3, 10)),
        # Epoch seconds and milliseconds by their length: 16:00 UTC.
        ("1710000000", date(2024, 3, 9)),
        ("1710000000123", date(2024, 3, 9)),
    ],
)
def test_collection_dates(text: str, expected: date) -> None:
    assert collection_date(text, date(2026, 1, 1)) == expected


@pytest.mark.parametrize(
    "text",
    ["2024-02-30", "yesterday", "171000000", "17100000001", "2024-3-1", "2027-01-01"],
)
def test_unusable_collection_dates(text: str) -> None:
    with pytest.raises(CollectedAtInvalid):
        collection_date(text, date(2026, 1, 1))


def test_declared_age_is_carried_to_today_as_young_as_possible() -> None:
    assert age_now(16, date(2024, 6, 1), date(2026, 5, 31)) == 17
    assert age_now(16, date(2024, 6, 1), date(2026, 6, 1)) == 18
    # Born 29 February 2008 at the latest: 18 only on 1 March 2026.
    assert age_now(16, date(2024, 2, 29), date(2026, 2, 28)) == 17
    # 2009 has no 29 February: born 28 February 2009 at the latest.
    assert age_now(15, date(2024, 2, 29), date(2027, 2, 28)) == 18


def _reviewer(**fields: str | None) -> Reviewer:
    return Reviewer(
        ReviewSettings(
            today=date(2026, 11, 28),
            secret=b"0123456789abcdef",
            fields=FieldMap.from_mapping(fields) if fields else FieldMap(),
        )
    )


def test_collected_at_unusable_is_flagged_and_today_still_screened() -> None:
    flag = _reviewer().review(
        {"account_id": "x", "birthdate": "2012-01-01", "country": "DE",
         "collected_at": "last week"}
    )  # fmt: skip
    assert flag is not None
    assert flag.codes == (FlagCode.MINOR_NOW, FlagCode.COLLECTED_AT_INVALID)
    assert flag.action == "remove"


def test_adults_raise_nothing() -> None:
    reviewer = _reviewer()
    record = {"account_id": "x", "birthdate": "1980-01-01", "country": "JP",
              "phone": "+81 90 1234 5678", "collected_at": "2020-01-01"}  # fmt: skip
    assert reviewer.review(record) is None


def test_fingerprint_follows_the_screened_data_only() -> None:
    reviewer = _reviewer()
    record = {"account_id": "x", "birthdate": "2012-01-01", "country": "DE",
              "name": "ignored"}  # fmt: skip
    first = reviewer.review(record)
    renamed = reviewer.review({**record, "name": "another"})
    changed = reviewer.review({**record, "birthdate": "2012-01-02"})
    as_int = reviewer.review({**record, "account_id": "x", "country": " DE "})
    assert first is not None
    assert renamed is not None
    assert changed is not None
    assert first.fingerprint == renamed.fingerprint
    assert first.fingerprint != changed.fingerprint
    assert as_int is not None
    assert as_int.fingerprint == first.fingerprint
    other_key = Reviewer(
        ReviewSettings(today=date(2026, 11, 28), secret=b"another key, 16 bytes")
    ).review(record)
    assert other_key is not None
    assert other_key.fingerprint != first.fingerprint


def test_nested_and_ambiguous_json_keys() -> None:
    reviewer = _reviewer(account_id="id", birthdate="user.dob", country="user.country")
    nested = {"id": 7, "user": {"dob": "2012-01-01", "country": "DE"}}
    flag = reviewer.review(nested)
    assert flag is not None
    assert flag.account_id == "7"
    assert flag.codes == (FlagCode.MINOR_NOW,)
    ambiguous = {**nested, "user.dob": "1980-01-01"}
    flag = reviewer.review(ambiguous)
    assert flag is not None
    assert FlagCode.BIRTHDATE_INVALID in flag.codes


def test_settings_refuse_a_short_secret() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        ReviewSettings(today=date(2026, 1, 1), secret=b"short")
