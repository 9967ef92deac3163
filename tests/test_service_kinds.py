"""Ages a law sets for one kind of service, the rows changed with them, and
the review dates that keep the tables current."""

from __future__ import annotations

import csv
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from cli_support import agegate

from agegate import Outcome, Policy, load_rules, screen
from agegate.age import live_today
from agegate.errors import TableError
from agegate.rules import Kind, Rule, Rules, bundled_directory
from agegate.services import SERVICE_KINDS

RULES = load_rules()
DAY = timedelta(days=1)
DATES = (date(2019, 6, 1), date(2024, 1, 1), date(2026, 3, 17), date(2026, 12, 7))


def _born(age: int, on: date) -> str:
    """The birthdate of someone who turns `age` on `on`, one day short."""
    try:
        birthday = on.replace(year=on.year - age)
    except ValueError:
        birthday = date(on.year - age, 3, 1)
    return (birthday + DAY).isoformat()


# -- the rows changed, the day before and the day of each change ----------------


@pytest.mark.parametrize(
    ("code", "changed", "before", "after"),
    [
        ("DK", date(2024, 1, 1), 13, 15),
        ("AE", date(2026, 1, 1), None, 13),
        ("SA", date(2023, 9, 14), None, 18),
        ("VN", date(2026, 1, 1), 16, 16),
    ],
)
def test_digital_consent_on_the_day_before_and_of_the_change(
    code: str, changed: date, before: int | None, after: int
) -> None:
    for reading in ("strict", "prevailing"):
        assert RULES.digital_consent_age(code, changed - DAY, reading=reading) == before
        assert RULES.digital_consent_age(code, changed, reading=reading) == after
    # A 14-year-old in Denmark no longer consents alone from 2024.
    policy = Policy(minimum_age=13, threshold="digital_consent")
    young = {"birthdate": _born(after, changed), "country": code}
    assert screen(young, policy=policy, today=changed).outcome is Outcome.BLOCK
    adult = {"birthdate": _born(after, changed - timedelta(days=400)), "country": code}
    assert screen(adult, policy=policy, today=changed).outcome is Outcome.ALLOW


def test_the_new_vietnamese_law_is_cited_from_its_start() -> None:
    rule = RULES.rule("VN", Kind.DIGITAL_CONSENT, date(2026, 1, 1))
    assert rule is not None
    assert any(
        "91/2025/QH15" in source and "art. 24" in source for source in rule.sources
    )


def test_mississippi_contract_keeps_21_with_18_as_the_prevailing_reading() -> None:
    assert RULES.contract_age("US-MS", date(2026, 12, 7)) == 21
    assert RULES.contract_age("US-MS", date(2026, 12, 7), reading="prevailing") == 18
    assert RULES.majority_age("US-MS", reading="prevailing") == 21


def test_alabama_contract_from_the_2019_act() -> None:
    assert RULES.contract_age("US-AL", date(2019, 8, 31)) == 19
    assert RULES.contract_age("US-AL", date(2019, 9, 1)) == 18


# -- service kinds ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "service", "changed", "age", "prevailing"),
    [
        ("AU", "social_media", date(2025, 12, 10), 16, 16),
        ("BR", "social_media", date(2026, 3, 17), 16, 16),
        ("US-FL", "social_media", date(2025, 1, 1), 16, 14),
        ("US-UT", "app_store", date(2026, 5, 6), 18, 18),
        ("US-CA", "data_sale", date(2020, 1, 1), 16, 16),
    ],
)
def test_service_ages_on_the_day_before_and_of_their_start(
    code: str, service: str, changed: date, age: int, prevailing: int
) -> None:
    assert RULES.service_age(code, service, changed - DAY) is None
    assert RULES.service_age(code, service, changed) == age
    assert RULES.service_age(code, service, changed, reading="prevailing") == prevailing
    country, _, sub = code.partition("-")
    record = {"country": country, "subdivision": sub or None}
    served = Policy(minimum_age=13, threshold="digital_consent", service=service)
    plain = Policy(minimum_age=13, threshold="digital_consent")
    one_short = {**record, "birthdate": _born(age, changed)}
    blocked = screen(one_short, policy=served, today=changed)
    assert (blocked.outcome, blocked.required_age) == (Outcome.BLOCK, age)
    # The day before, and for a service of no kind, the law does not apply.
    assert screen(one_short, policy=served, today=changed - DAY).required_age < age
    assert screen(one_short, policy=plain, today=changed).required_age < age


def test_a_service_kind_applies_only_in_its_places_and_to_its_kind() -> None:
    on = date(2026, 12, 7)
    fifteen = _born(15, on - timedelta(days=30))
    policy = Policy(minimum_age=13, threshold="digital_consent", service="app_store")
    # Utah's app store act does not reach a social network in Australia.
    assert (
        screen({"birthdate": fifteen, "country": "AU"}, policy=policy, today=on).outcome
        is Outcome.ALLOW
    )
    # Florida's social media age does not reach Georgia.
    social = Policy(minimum_age=13, threshold="digital_consent", service="social_media")
    georgia = {"birthdate": fifteen, "country": "US", "subdivision": "GA"}
    assert screen(georgia, policy=social, today=on).outcome is Outcome.ALLOW
    florida = {**georgia, "subdivision": "FL"}
    assert screen(florida, policy=social, today=on).outcome is Outcome.BLOCK


def test_policy_refuses_an_unknown_service() -> None:
    with pytest.raises(ValueError, match="service"):
        Policy(service="social")


def _without_service_rules(tmp_path: Path) -> Rules:
    for entry in bundled_directory().iterdir():
        if entry.name.endswith(".txt"):
            kept = [
                line
                for line in entry.read_text("utf-8").splitlines()
                if "service_minimum" not in line.split("#", 1)[0]
            ]
            (tmp_path / entry.name).write_text("\n".join(kept) + "\n", "utf-8")
    return Rules.from_directory(tmp_path)


def test_a_service_of_no_kind_gets_todays_answers_everywhere(tmp_path: Path) -> None:
    """The service-kind rows change nothing for a policy that names no kind:
    every jurisdiction, every threshold and reading, several dates."""
    bare = _without_service_rules(tmp_path)
    codes = sorted(RULES.countries | {r.code for r in RULES.all() if "-" in r.code})
    for threshold in ("majority", "contract", "digital_consent"):
        for readings in ("strict", "prevailing"):
            policy = Policy(minimum_age=1, threshold=threshold, readings=readings)  # type: ignore[arg-type]
            for on in DATES:
                for code in codes:
                    country, _, sub = code.partition("-")
                    record = {
                        "birthdate": _born(15, on),
                        "country": country,
                        "subdivision": sub or None,
                    }
                    ours = screen(record, policy=policy, today=on, rules=RULES)
                    theirs = screen(record, policy=policy, today=on, rules=bare)
                    assert ours == theirs, (code, on, threshold, readings)


def test_the_review_engines_agree_under_a_service_kind(tmp_path: Path) -> None:
    on = date(2026, 12, 7)
    accounts = tmp_path / "accounts.csv"
    with accounts.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_id", "birthdate", "country", "subdivision"])
        for n, (country, sub) in enumerate(
            [("AU", ""), ("BR", ""), ("US", "FL"), ("US", "GA"), ("FR", ""), ("DK", "")]
            * 20
        ):
            age = 12 + n % 6
            writer.writerow([f"a{n}", _born(age, on - timedelta(days=n)), country, sub])
    outputs = {}
    for engine in ("columnar", "rows"):
        flags = tmp_path / f"{engine}.jsonl"
        result = agegate(
            "review", accounts, "--today", on.isoformat(), "--minimum-age", "13",
            "--threshold", "digital_consent", "--service", "social_media",
            "--engine", engine, "--flags-out", flags, "--quiet",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs[engine] = [
            {k: v for k, v in json.loads(line).items() if k != "raised_at"}
            for line in flags.read_text().splitlines()
        ]
    assert outputs["columnar"] == outputs["rows"]
    flagged = {(f["jurisdiction"], f["required_age"]) for f in outputs["rows"]}
    assert {("AU", 16), ("BR", 16), ("US-FL", 16)} <= flagged


def test_rules_shows_the_service_kinds() -> None:
    result = agegate("rules", "AU", "--on", "2026-12-07", "--json")
    assert result.returncode == 0, result.stderr
    (answer,) = json.loads(result.stdout)
    rule = answer["services"]["social_media"]
    assert (rule["age"], rule["from"], rule["service"]) == (
        16,
        "2025-12-10",
        "social_media",
    )
    text = agegate("rules", "AU", "--on", "2026-12-07").stdout
    assert "service social_media 16 (since 2025-12-10" in text


def test_changes_include_the_service_kinds() -> None:
    result = agegate(
        "rules", "--changes", "--from", "2025-12-01", "--to", "2026-06-30", "--json"
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    found = {(r["code"], r["kind"], r["service"], r["from"]) for r in rows}
    assert ("AU", "service_minimum", "social_media", "2025-12-10") in found
    assert ("BR", "service_minimum", "social_media", "2026-03-17") in found
    assert ("US-UT", "service_minimum", "app_store", "2026-05-06") in found


def test_the_worklist_lists_rules_due_for_review_first() -> None:
    result = agegate("rules", "--worklist", "--on", "2027-12-31", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    due = [r for r in rows if r["review_by"] and r["review_by"] <= "2027-12-31"]
    assert due
    assert rows[: len(due)] == due
    assert {"AE", "US-FL", "US-UT"} <= {r["code"] for r in due}
    # Before any review date, the worklist is the low and contested rules alone.
    early = json.loads(
        agegate("rules", "--worklist", "--on", "2026-01-01", "--json").stdout
    )
    assert all(r["confidence"] == "low" or r["prevailing"] for r in early)


def test_no_recorded_review_date_has_passed() -> None:
    """A rule's review_by is when its law is expected to move: once it has
    passed, the row must be read again and its date moved or removed."""
    today = live_today()
    overdue = [
        f"{r.file}:{r.line} {r.code} review_by {r.review_by}"
        for r in RULES.all()
        if r.review_by is not None and r.review_by < today
    ]
    assert not overdue, "rules due for review:\n" + "\n".join(overdue)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'AU service_minimum 16 2025-12-10 confidence=high source="x <https://a>"',
            "service=",
        ),
        (
            'AU majority 18 - service=social_media confidence=high source="x <https://a>"',
            "service=",
        ),
        (
            'AU service_minimum 16 - service=dating confidence=high source="x <https://a>"',
            "service must be one of",
        ),
        (
            'AU majority 18 - review_by=soon confidence=high source="x <https://a>"',
            "YYYY-MM-DD",
        ),
    ],
)
def test_table_lines_of_service_kinds_are_checked(line: str, message: str) -> None:
    with pytest.raises(TableError, match=re.escape(message)):
        Rule.from_record(line, file="AU.txt", line=7)


def test_every_service_kind_is_documented() -> None:
    readme = (bundled_directory() / "README.md").read_text("utf-8")
    for name in SERVICE_KINDS:
        assert f"`{name}`" in readme
