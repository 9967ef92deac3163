"""One naming of accounts and one choice of a phone's region, used by both
review engines: `review.identity` and `Reading.phone_region`."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from agegate.policy import FieldMap
from agegate.review import identity
from agegate.review.reviewer import Reviewer, ReviewSettings
from agegate.screen import read

SECRET = b"identity test key of 32 bytes..."


def test_the_fingerprint_is_a_keyed_hash_of_the_stripped_fields() -> None:
    message = identity.message_of([" 2010-01-01 ", None, "US", 7, True])
    assert message == "2010-01-01\x1f\x1fUS\x1f7\x1ftrue"
    expected = hmac.new(SECRET, message.encode(), hashlib.sha256).hexdigest()
    assert identity.fingerprint(SECRET, message) == expected
    # A lone surrogate (an export's broken text) is signed, not refused.
    assert len(identity.fingerprint(SECRET, "\udcff")) == 64


def test_ids_given_and_derived() -> None:
    assert identity.given_id("  u1 ") == "u1"
    assert identity.given_id(42) == "42"
    for missing in (None, "", "   ", True, 1.5, ["u1"]):
        assert identity.given_id(missing) is None
    derived = identity.derived_id(SECRET, "ab" * 32)
    assert derived.startswith("anon-")
    assert len(derived) == len("anon-") + 24
    assert derived != identity.derived_id(b"another key of 32 bytes........", "ab" * 32)


def test_the_row_engine_names_accounts_through_identity() -> None:
    fields = FieldMap.from_mapping({"account_id": "id", "collected_at": "at"})
    reviewer = Reviewer(
        ReviewSettings(today=date(2026, 1, 1), secret=SECRET, fields=fields)
    )
    record = {"birthdate": "2015-01-01", "country": "US", "at": "2024-01-01"}
    flag = reviewer.review(record)
    assert flag is not None
    assert flag.fingerprint is not None
    # The record names no id: the one derived from its fingerprint stands in.
    assert flag.account_id == identity.derived_id(SECRET, flag.fingerprint)


def test_a_phone_is_read_in_the_declared_country_else_the_billing_one() -> None:
    assert read({"country": "FR", "billing_country": "DE"}).phone_region == "FR"
    assert read({"billing_country": "DE"}).phone_region == "DE"
    assert read({"subdivision": "US-AL"}).phone_region == "US"
    assert read({"country": "France"}).phone_region == "FR"
    # A withdrawn code stands for several countries: no one region.
    assert read({"country": "SU", "billing_country": "DE"}).phone_region == "DE"
    assert read({}).phone_region is None
    assert read({"country": "Atlantis"}).phone_region is None
