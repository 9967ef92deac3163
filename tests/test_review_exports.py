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
from datetime import date
from pathlib import Path
from typing import Any

from cli_support import agegate

from agegate.policy import FieldMap
from agegate.review import columnar
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
