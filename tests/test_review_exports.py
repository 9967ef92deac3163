"""`agegate review` on files shaped like the exports real services write:
Shopify's customers CSV (a metafield column whose name holds dots),
Salesforce's MM/DD/YYYY dates, Excel's apostrophe-prefixed phones, Firebase's
epoch milliseconds and `auth:export` JSON, Django's `dumpdata`, Auth0 and
Stripe exports, and a store that holds removed accounts a re-run finds again.

Each case runs the real command in a subprocess on a file the test writes and
checks the flags it raised, or that it stopped with a non-zero exit naming the
fix.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cli_support import agegate

from agegate.policy import FieldMap
from agegate.review import columnar, jsondoc
from agegate.review.batches import read_batches
from agegate.review.reviewer import ReviewSettings

TODAY = "2026-11-28"
SECRET = "a test key of enough bytes"
ENGINES = ("columnar", "rows")
MINORS = ("2012-05-01", "2010-12-24", "2014-03-09")
ADULTS = ("1980-06-15", "1975-01-31", "1999-11-02")


def review(path: Path | str, tmp_path: Path, *options: str) -> dict[str, Any]:
    """A run of the command: its exit status, output, flags by account and
    summary (None where it wrote none)."""
    out, summary = tmp_path / "flags.jsonl", tmp_path / "summary.json"
    out.unlink(missing_ok=True)
    summary.unlink(missing_ok=True)
    done = agegate(
        "review", path, f"--today={TODAY}", f"--secret={SECRET}",
        f"--flags-out={out}", f"--summary={summary}", *options,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    flags = (
        [json.loads(line) for line in out.read_text().splitlines()]
        if out.exists()
        else None
    )
    return {
        "code": done.returncode,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "flags": None if flags is None else {f["account_id"]: f for f in flags},
        "summary": json.loads(summary.read_text()) if summary.exists() else None,
    }


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _kept(flags: dict[str, Any]) -> dict[str, Any]:
    """Flags without the time each was raised."""
    return {k: {**f, "raised_at": None} for k, f in flags.items()}


def _removals(flags: dict[str, Any]) -> set[str]:
    return {k for k, f in flags.items() if f["action"] == "remove"}


# -- Shopify: a metafield column is a name with dots, read by the columnar engine


SHOPIFY_BIRTHDAY = "Birthday (customer.metafields.facts.birth_date)"
SHOPIFY_HEADER = [
    "Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
    "Default Address Company", "Default Address Address1", "Default Address City",
    "Default Address Province Code", "Default Address Country Code",
    "Default Address Zip", "Phone", "Total Spent", "Total Orders", "Note", "Tags",
    SHOPIFY_BIRTHDAY,
]  # fmt: skip
SHOPIFY_MAP = [
    "--map=account_id=Customer ID",
    f"--map=birthdate={SHOPIFY_BIRTHDAY}",
    "--map=country=Default Address Country Code",
    "--map=subdivision=Default Address Province Code",
]


def _shopify(path: Path, count: int = 60) -> set[str]:
    """A customers export; returns the ids of the minors planted in it."""
    rows, minors = [], set()
    places = [("US", "CA"), ("US", "TX"), ("CA", "ON"), ("US", "NY")]
    for n in range(count):
        customer = f"{7000000000 + n}"
        born = MINORS[n % 3] if n % 4 == 0 else ADULTS[n % 3]
        if born in MINORS:
            minors.add(customer)
        country, province = places[n % len(places)]
        rows.append([
            customer, f"Ann{n}", "Doe", f"ann{n}@example.com", "yes", "", "1 Main St",
            "Springfield", province, country, "12345", "", "12.50", "1", "", "",
            born,
        ])  # fmt: skip
    _write_csv(path, SHOPIFY_HEADER, rows)
    return minors


def test_a_shopify_metafield_column_with_dots_is_read_by_name(tmp_path: Path) -> None:
    path = tmp_path / "customers_export.csv"
    minors = _shopify(path)
    runs = [review(path, tmp_path, *SHOPIFY_MAP, f"--engine={e}") for e in ENGINES]
    for run in runs:
        assert run["code"] == 0, run["stderr"]
        assert _removals(run["flags"]) == minors
        assert run["summary"]["rows_screened"] == 60
    assert _kept(runs[0]["flags"]) == _kept(runs[1]["flags"])


def test_a_dotted_csv_column_stays_on_the_columnar_path(tmp_path: Path) -> None:
    """A flat format's column named `a.b` is a name, not a path: its batches
    are screened column-wise, never handed to the row engine."""
    path = tmp_path / "customers_export.csv"
    _shopify(path, 200)
    fields = FieldMap.from_mapping(
        {
            "account_id": "Customer ID",
            "birthdate": SHOPIFY_BIRTHDAY,
            "country": "Default Address Country Code",
            "subdivision": "Default Address Province Code",
        }
    )
    settings = ReviewSettings(
        today=date(2026, 11, 28), secret=SECRET.encode(), fields=fields
    )
    engine = columnar.ColumnarReviewer(settings)
    found = list(read_batches(path, batch_rows=50))
    assert found
    assert all(batch.rows is None for batch in found)
    for batch in found:
        assert engine._fast_columns(batch.records) is not None


def test_a_dotted_json_key_still_reaches_into_objects(tmp_path: Path) -> None:
    """In JSON Lines a dotted key is a path where an object holds it: both
    engines read it so, and a record holding it both ways is flagged."""
    path = tmp_path / "accounts.jsonl"
    records = [
        {"id": "nested", "customer": {"birth": MINORS[0]}},
        {"id": "literal", "customer.birth": MINORS[1]},
        {"id": "adult", "customer": {"birth": ADULTS[0]}},
        {"id": "text", "customer": "none", "customer.birth": MINORS[2]},
        {"id": "both", "customer": {"birth": ADULTS[1]}, "customer.birth": MINORS[0]},
    ]
    path.write_text("".join(json.dumps({**r, "c": "US"}) + "\n" for r in records))
    options = [
        "--map=account_id=id",
        "--map=birthdate=customer.birth",
        "--map=country=c",
    ]
    runs = [review(path, tmp_path, *options, f"--engine={e}") for e in ENGINES]
    assert _kept(runs[0]["flags"]) == _kept(runs[1]["flags"])
    flags = runs[0]["flags"]
    assert _removals(flags) == {"nested", "literal", "text"}
    assert "BIRTHDATE_INVALID" in flags["both"]["codes"]


# -- Salesforce: MM/DD/YYYY birthdates stop the run, naming --date-format ------


SALESFORCE_HEADER = [
    "Id", "FirstName", "LastName", "Email", "Birthdate", "MailingCountry",
    "MailingState", "CreatedDate",
]  # fmt: skip
SALESFORCE_MAP = [
    "--map=account_id=Id", "--map=birthdate=Birthdate",
    "--map=country=MailingCountry", "--map=subdivision=MailingState",
    "--map=collected_at=CreatedDate",
]  # fmt: skip


def _us(day: str) -> str:
    year, month, dom = day.split("-")
    return f"{month}/{dom}/{year}"


def _salesforce(path: Path, count: int = 80) -> tuple[set[str], list[str]]:
    """A contacts report; the minors' ids and every birthdate written."""
    rows, minors, written = [], set(), []
    for n in range(count):
        contact = f"0035g00000{n:08d}"
        born = MINORS[n % 3] if n % 3 == 0 else ADULTS[n % 3]
        if born in MINORS:
            minors.add(contact)
        written.append(_us(born))
        rows.append([
            contact, f"Ann{n}", "Doe", f"ann{n}@example.com", _us(born), "US", "CA",
            "2024-02-01T10:00:00.000Z",
        ])  # fmt: skip
    _write_csv(path, SALESFORCE_HEADER, rows)
    return minors, written


def test_salesforce_us_dates_stop_the_run_naming_the_format(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    minors, written = _salesforce(path)
    for engine in ENGINES:
        run = review(path, tmp_path, *SALESFORCE_MAP, f"--engine={engine}")
        assert run["code"] == 3
        assert run["flags"] is None, "nothing is written"
        assert "--map birthdate=Birthdate: 80 of the 80 values" in run["stderr"]
        assert "NN/NN/NNNN" in run["stderr"]
        assert "--date-format '%m/%d/%Y'" in run["stderr"]
        assert not any(value in run["stderr"] for value in written)
        fixed = review(
            path,
            tmp_path,
            *SALESFORCE_MAP,
            "--date-format=%m/%d/%Y",
            f"--engine={engine}",
        )
        assert fixed["code"] == 0, fixed["stderr"]
        assert _removals(fixed["flags"]) == minors
        assert fixed["summary"]["problems"] == []


def test_accept_unreadable_reviews_the_column_as_read(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    _salesforce(path)
    run = review(path, tmp_path, *SALESFORCE_MAP, "--accept-unreadable")
    assert run["code"] == 0
    assert "warning: --map birthdate=Birthdate" in run["stderr"]
    assert run["summary"]["accepted_unreadable"] is True
    assert [p["field"] for p in run["summary"]["problems"]] == ["birthdate"]
    assert {tuple(f["codes"]) for f in run["flags"].values()} == {
        ("BIRTHDATE_INVALID",)
    }


def test_day_first_and_month_first_dates_are_named_both(tmp_path: Path) -> None:
    """Dates no value of which has a day above 12 fit both orders: both are
    named, and the operator is told to check the source."""
    path = tmp_path / "report.csv"
    rows = [[f"c{n}", f"0{n % 9 + 1}/0{n % 8 + 1}/2010", "US"] for n in range(30)]
    _write_csv(path, ["Id", "Birthdate", "MailingCountry"], rows)
    run = review(
        path, tmp_path, "--map=account_id=Id", "--map=birthdate=Birthdate",
        "--map=country=MailingCountry",
    )  # fmt: skip
    assert run["code"] == 3
    assert "'%m/%d/%Y' or '%d/%m/%Y'" in run["stderr"]
    assert "check the source" in run["stderr"]


# -- Excel on Windows: cp1252 bytes read as UTF-8 are exit 3 naming --encoding


def _excel_cp1252(path: Path, count: int = 60) -> set[str]:
    """A `;`-separated export in cp1252, as Excel on Windows saves one; a
    third of the names have accents."""
    minors = set()
    lines = ["Kundennummer;Name;Geburtsdatum;Land"]
    for n in range(count):
        born = MINORS[n % 3] if n % 5 == 0 else ADULTS[n % 3]
        if born in MINORS:
            minors.add(f"K{n}")
        name = "Jürgen Müller" if n % 3 == 0 else "Anna Schmidt"
        lines.append(f"K{n};{name};{born};DE")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return minors


EXCEL_MAP = [
    "--map=account_id=Kundennummer",
    "--map=birthdate=Geburtsdatum",
    "--map=country=Land",
]


@pytest.mark.parametrize("engine", ENGINES)
def test_rows_unreadable_in_the_encoding_are_exit_3_naming_encoding(
    tmp_path: Path, engine: str
) -> None:
    path = tmp_path / "Kunden.csv"
    minors = _excel_cp1252(path)
    run = review(path, tmp_path, *EXCEL_MAP, f"--engine={engine}")
    assert run["code"] == 3
    assert (
        "20 of the 60 rows read (33.3%) could not be read (not UTF-8: 20)"
        in run["stderr"]
    )
    assert "give --encoding" in run["stderr"]
    assert "Jürgen" not in run["stderr"]
    assert run["summary"]["rows_unreadable"] == 20
    assert [p["field"] for p in run["summary"]["problems"]] == ["rows"]
    fixed = review(
        path, tmp_path, *EXCEL_MAP, "--encoding=cp1252", f"--engine={engine}"
    )
    assert fixed["code"] == 0, fixed["stderr"]
    assert _removals(fixed["flags"]) == minors
    accepted = review(
        path, tmp_path, *EXCEL_MAP, "--accept-unreadable", f"--engine={engine}"
    )
    assert accepted["code"] == 0
    assert "warning: 20 of the 60 rows read" in accepted["stderr"]


# -- collection times: Firebase epoch ms, Stripe epoch s, a local format -------

# 16 when the data was collected (2023-01-15 18:22 UTC), 20 today.
GROWN_UP = "2006-06-01"
COLLECTED_MS = "1673806920000"
COLLECTED_S = "1673806920"


def _collected(path: Path, column: str, value: str, count: int = 30) -> None:
    rows = [
        [f"u{n}", GROWN_UP if n % 2 == 0 else ADULTS[n % 3], "US", "TX", value]
        for n in range(count)
    ]
    _write_csv(path, ["localId", "birthdate", "country", "region", column], rows)


@pytest.mark.parametrize(
    ("column", "value"), [("createdAt", COLLECTED_MS), ("created", COLLECTED_S)],
    ids=["firebase-epoch-ms", "stripe-epoch-s"],
)  # fmt: skip
def test_epoch_collection_times_are_read_by_their_length(
    tmp_path: Path, column: str, value: str
) -> None:
    path = tmp_path / "users.csv"
    _collected(path, column, value)
    options = [
        "--map=account_id=localId",
        "--map=subdivision=region",
        f"--map=collected_at={column}",
    ]
    runs = [review(path, tmp_path, *options, f"--engine={e}") for e in ENGINES]
    for run in runs:
        assert run["code"] == 0, run["stderr"]
        flags = run["flags"]
        assert set(flags) == {f"u{n}" for n in range(0, 30, 2)}
        assert {tuple(f["codes"]) for f in flags.values()} == {("MINOR_AT_COLLECTION",)}
    assert _kept(runs[0]["flags"]) == _kept(runs[1]["flags"])


def test_a_local_collection_format_is_named_then_read(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    _collected(path, "Angelegt", "15.01.2023 18:22")
    options = [
        "--map=account_id=localId",
        "--map=subdivision=region",
        "--map=collected_at=Angelegt",
    ]
    run = review(path, tmp_path, *options)
    assert run["code"] == 3
    assert "--map collected_at=Angelegt: 30 of the 30 values" in run["stderr"]
    assert "NN.NN.NNNN NN:NN" in run["stderr"]
    assert "--collected-format '%d.%m.%Y %H:%M'" in run["stderr"]
    for engine in ENGINES:
        fixed = review(
            path,
            tmp_path,
            *options,
            "--collected-format=%d.%m.%Y %H:%M",
            f"--engine={engine}",
        )
        assert fixed["code"] == 0, fixed["stderr"]
        assert len(fixed["flags"]) == 15
        assert {tuple(f["codes"]) for f in fixed["flags"].values()} == {
            ("MINOR_AT_COLLECTION",)
        }


def test_epoch_formats_named_read_any_length(tmp_path: Path) -> None:
    """`epoch-s` reads a 9-digit value by length auto-detection does not."""
    path = tmp_path / "users.csv"
    # 1999-01-01 UTC: a person born in 1985 was 13.
    rows = [[f"u{n}", "1985-06-01", "US", "TX", "915148800"] for n in range(12)]
    _write_csv(path, ["localId", "birthdate", "country", "region", "created"], rows)
    options = [
        "--map=account_id=localId",
        "--map=subdivision=region",
        "--map=collected_at=created",
    ]
    assert review(path, tmp_path, *options)["code"] == 3
    run = review(path, tmp_path, *options, "--collected-format=epoch-s")
    assert run["code"] == 0, run["stderr"]
    assert len(run["flags"]) == 12
    bad = review(path, tmp_path, *options, "--collected-format=%H:%M")
    assert bad["code"] == 2
    assert "--collected-format" in bad["stderr"]


# -- phones as a spreadsheet keeps them ---------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_leading_apostrophe_is_taken_off_phones_and_dates(
    tmp_path: Path, engine: str
) -> None:
    """Shopify's and Excel's `'+16045550123`: the apostrophe keeps the `+` in
    a spreadsheet and is not part of the number (or of a date)."""
    path = tmp_path / "customers_export.csv"
    rows = [
        [f"c{n}", f"'+1604555{n:04d}", f"'{MINORS[0]}" if n % 2 else ADULTS[0]]
        for n in range(20)
    ]
    _write_csv(path, ["Customer ID", "Phone", "Birthday"], rows)
    run = review(
        path, tmp_path, "--map=account_id=Customer ID", "--map=phone=Phone",
        "--map=birthdate=Birthday", f"--engine={engine}",
    )  # fmt: skip
    assert run["code"] == 0, run["stderr"]
    assert set(run["flags"]) == {f"c{n}" for n in range(1, 20, 2)}
    for flag in run["flags"].values():
        assert flag["jurisdiction"] == "CA-BC"
        assert flag["codes"] == ["MINOR_AT_COLLECTION", "MINOR_NOW"] or flag[
            "codes"
        ] == ["MINOR_NOW"]


def test_most_phones_unreadable_are_named_once_with_the_fix(tmp_path: Path) -> None:
    """National numbers and no country column: the run stops at the start,
    once, naming the column and the fix."""
    path = tmp_path / "customers.csv"
    rows = [[f"c{n}", f"0{n % 9 + 1}1 555 {n:04d}", ADULTS[0]] for n in range(40)]
    _write_csv(path, ["id", "phone", "birthdate"], rows)
    run = review(path, tmp_path, "--map=account_id=id", "--map=phone=phone")
    assert run["code"] == 3
    assert run["stderr"].count("--map phone=phone: 40 of the 40 values") == 1
    assert "give --map country=COLUMN" in run["stderr"]
    assert "555" not in run["stderr"]


# -- Auth0: a removed account still in the export reappears --------------------


AUTH0_HEADER = [
    "user_id",
    "email",
    "name",
    "created_at",
    "user_metadata.birthdate",
    "user_metadata.country",
]
AUTH0_MAP = [
    "--map=account_id=user_id", "--map=birthdate=user_metadata.birthdate",
    "--map=country=user_metadata.country", "--map=collected_at=created_at",
]  # fmt: skip


def test_a_removed_account_still_exported_reappears_and_exits_4(tmp_path: Path) -> None:
    path = tmp_path / "auth0_users.csv"
    rows = [
        [f"auth0|{n:024x}", f"u{n}@example.com", f"User {n}", "2024-05-01T09:30:00.000Z",
         MINORS[n % 3] if n < 6 else ADULTS[n % 3], "GB"]
        for n in range(20)
    ]  # fmt: skip
    _write_csv(path, AUTH0_HEADER, rows)
    ids = [row[0] for row in rows]
    store = tmp_path / "flags.sqlite"
    first = review(path, tmp_path, *AUTH0_MAP, f"--store={store}")
    assert first["code"] == 0, first["stderr"]
    assert set(first["flags"]) == set(ids[:6])
    resolve = ["flags", "resolve", "--store", store, "--by=ops", "--why=ticket 7"]
    assert agegate(*resolve, ids[0], "--status=removed").returncode == 0
    assert agegate(*resolve, ids[1], "--status=dismissed").returncode == 0
    # A legal hold and a removal under way, set by other tools.
    with sqlite3.connect(store) as db:
        db.execute("UPDATE flags SET status = 'held' WHERE account_id = ?", (ids[2],))
        db.execute("UPDATE flags SET status = 'erased' WHERE account_id = ?", (ids[3],))
    again = review(path, tmp_path, *AUTH0_MAP, f"--store={store}")
    assert again["code"] == 4
    # The erased one too: the removal missed this export.
    assert "2 account(s) removed or erased are still in the input" in again["stderr"]
    assert again["summary"]["flags_reappeared"] == 2
    assert again["summary"]["dismissed_still_present"] == 1
    assert "reappeared" in again["stdout"]
    listed = agegate("flags", "list", "--store", store, "--format=json")
    statuses = {
        json.loads(line)["account_id"]: json.loads(line)["status"]
        for line in listed.stdout.splitlines()
    }
    assert statuses == {
        ids[0]: "reappeared",
        ids[3]: "reappeared",
        ids[4]: "open",
        ids[5]: "open",
    }
    every = agegate("flags", "list", "--store", store, "--status=all", "--format=json")
    statuses = {
        json.loads(line)["account_id"]: json.loads(line)["status"]
        for line in every.stdout.splitlines()
    }
    assert [statuses[i] for i in ids[:4]] == [
        "reappeared",
        "dismissed",
        "held",
        "reappeared",
    ]
    # Deleted at last, and gone from the next export: nothing reappears.
    assert agegate(*resolve, ids[0], "--status=removed").returncode == 0
    assert agegate(*resolve, ids[3], "--status=removed").returncode == 0
    _write_csv(
        path, AUTH0_HEADER, [row for n, row in enumerate(rows) if n not in (0, 3)]
    )
    final = review(path, tmp_path, *AUTH0_MAP, f"--store={store}")
    assert final["code"] == 0, final["stderr"]
    assert final["summary"]["flags_reappeared"] == 0


# -- JSON documents: Django's dumpdata, Firebase's auth:export -----------------


def _django(path: Path, count: int = 30) -> tuple[set[str], dict[str, int]]:
    """`manage.py dumpdata accounts.user --indent 2`: the minors' pks and the
    line each record starts on."""
    records, minors = [], set()
    for n in range(1, count + 1):
        born = MINORS[n % 3] if n % 4 == 0 else ADULTS[n % 3]
        if born in MINORS:
            minors.add(str(n))
        fields = {
            "username": f"user{n}", "email": f"u{n}@example.com", "birth_date": born,
            "country": "FR", "date_joined": "2024-03-01T08:00:00Z", "groups": [],
        }  # fmt: skip
        records.append({"model": "accounts.user", "pk": n, "fields": fields})
    text = json.dumps(records, indent=2)
    path.write_text(text + "\n")
    starts = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line == "  {":
            starts[str(len(starts) + 1)] = number
    return minors, starts


DJANGO_MAP = [
    "--map=account_id=pk", "--map=birthdate=fields.birth_date",
    "--map=country=fields.country", "--map=collected_at=fields.date_joined",
]  # fmt: skip


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_django_dumpdata_array_is_read_with_nested_fields(
    tmp_path: Path, workers: str
) -> None:
    path = tmp_path / "users.json"
    minors, starts = _django(path)
    runs = [
        review(path, tmp_path, *DJANGO_MAP, f"--engine={e}", f"--workers={workers}")
        for e in ENGINES
    ]
    for run in runs:
        assert run["code"] == 0, run["stderr"]
        assert run["summary"]["format"] == "json"
        assert run["summary"]["rows_read"] == 30
        assert _removals(run["flags"]) == minors
        assert {k: f["line"] for k, f in run["flags"].items()} == {
            k: starts[k] for k in minors
        }
    assert _kept(runs[0]["flags"]) == _kept(runs[1]["flags"])


def test_a_firebase_auth_export_is_read_from_its_users_array(tmp_path: Path) -> None:
    """`firebase auth:export users.json`: an object whose `users` key holds
    the records, one a line; createdAt in epoch milliseconds. A record that
    is not an object, or names a key twice, is an unreadable row by line."""
    users = [
        {"localId": f"uid{n}", "email": f"u{n}@example.com", "emailVerified": True,
         "phoneNumber": f"+1604555{n:04d}", "createdAt": COLLECTED_MS,
         "lastSignedInAt": "1700000000000", "providerUserInfo": []}
        for n in range(12)
    ]  # fmt: skip
    lines = [json.dumps(user) for user in users]
    lines[3] = '"not a user"'
    lines[5] = lines[5][:-1] + ', "email": "again@example.com"}'
    path = tmp_path / "users.json"
    path.write_text('{"users": [\n' + ",\n".join(lines) + "\n]}\n")
    options = [
        "--map=account_id=localId",
        "--map=phone=phoneNumber",
        "--map=collected_at=createdAt",
    ]
    run = review(path, tmp_path, *options, "--accept-unreadable")
    assert run["code"] == 0, run["stderr"]
    summary = run["summary"]
    assert (
        summary["rows_read"],
        summary["rows_screened"],
        summary["rows_unreadable"],
    ) == (12, 10, 2)
    assert summary["unreadable"] == [
        {"line": 5, "reason": "not a JSON object"},
        {"line": 7, "reason": "a key appears twice"},
    ]
    flags = run["flags"]
    assert len(flags) == 10
    assert {f["jurisdiction"] for f in flags.values()} == {"CA-BC"}
    assert flags["uid0"]["line"] == 2
    assert flags["uid11"]["line"] == 13
    # Without --accept-unreadable two rows of twelve are too many.
    assert review(path, tmp_path, *options)["code"] == 3


def test_a_json_document_read_as_json_lines_names_the_format(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    _django(path)
    run = review(path, tmp_path, *DJANGO_MAP, "--format=jsonl")
    assert run["code"] == 2
    assert "is read with --format json" in run["stderr"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[{"pk": 1},\n{"pk": 2,,}]', "broken JSON at line 2"),
        ('{"pk": 1}\n{"pk": 2}\n', "give --format jsonl"),
        ('{"a": [{"pk": 1}], "b": [{"pk": 2}]}', "two arrays of records ('a' and 'b')"),
        ('{"count": 2}', "holds no array of records"),
        ('"users"', "not a JSON document of records"),
    ],
    ids=["broken", "json-lines", "two-arrays", "no-array", "scalar"],
)
def test_a_json_document_that_cannot_be_read_is_exit_2(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "users.json"
    path.write_text(text)
    run = review(path, tmp_path, "--map=account_id=pk")
    assert run["code"] == 2
    assert says in run["stderr"]


def test_a_json_document_is_read_in_blocks_as_a_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks far smaller than a record, cut anywhere (inside strings, numbers,
    multi-byte characters): the records and lines of `json.loads`."""
    path = tmp_path / "users.json"
    records = [
        {
            "pk": n,
            "name": "Zoë Ünal " * (n % 4),
            "n": 10**n,
            "f": {"birth_date": "2010-01-01"},
        }
        for n in range(40)
    ]
    text = (
        '{"meta": {"v": 1}, "tags": ["x"],\n "records": [\n'
        + ",\n\n".join(json.dumps(r, ensure_ascii=False) for r in records)
        + "]}"
    )
    path.write_text(text, encoding="utf-8")
    for block in (1, 7, 64):
        monkeypatch.setattr(jsondoc, "BLOCK", block)
        with jsondoc.read_json(path) as stream:
            found = list(stream)
        assert [item.values for item in found] == records
        assert [item.line for item in found] == [3 + 2 * n for n in range(40)]


def test_epoch_collection_times_vectorised_are_the_row_engine_s() -> None:
    """The columnar engine's epoch reading, value for value against
    `collection_date`: around midnight at UTC-12, across the whole range,
    after today (invalid), and lengths that are not epochs (left alone)."""
    import random

    import pyarrow as pa

    from agegate.review import dates
    from agegate.review.reviewer import CollectedAtInvalid, collection_date

    today = date(2026, 11, 28)
    rng = random.Random(5)
    seconds = [1_000_000_000, 9_999_999_999, 1_764_331_200, 1_764_331_199]
    seconds += [
        43_200 + 86_400 * rng.randrange(11_575, 115_000) + d for d in (-1, 0, 1)
    ]
    seconds += [rng.randrange(1_000_000_000, 9_999_999_999) for _ in range(300)]
    texts = [str(s) for s in seconds] + [
        f"{s}{rng.randrange(1000):03d}" for s in seconds
    ]
    texts += ["123456789", "12345678901", " 1673806920", "١٦٧٣٨٠٦٩٢٠", None]
    found = dates.collection_array(pa.array(texts, pa.string()), 20261128, epochs=True)
    assert found is not None
    for text, value in zip(texts, found.to_pylist(), strict=True):
        if value is None:
            assert text is None or not (text.isascii() and len(text) in (10, 13))
            continue
        try:
            expected = collection_date(text, today)
        except CollectedAtInvalid:
            assert value == dates.LATE, text
            continue
        assert value == expected.year * 10000 + expected.month * 100 + expected.day, (
            text
        )
