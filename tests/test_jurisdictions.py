"""One generic test over every jurisdiction in the bundled tables."""

from __future__ import annotations

import functools
import os
from datetime import date, timedelta
from pathlib import Path

import pycountry
import pytest

from agegate import Outcome, Policy, Rule, load_rules, screen
from agegate.age import birthday_reached
from agegate.rules import Confidence, Kind, Rules, bundled_directory, load_country_file

SNAPSHOT_DATES = (date(2012, 1, 1), date(2022, 1, 1), date(2026, 11, 28))


@functools.cache
def rules() -> Rules:
    return load_rules()


def all_rules() -> list[Rule]:
    return [
        rule for code in sorted(rules().countries) for rule in rules().history(code)
    ] + [
        rule
        for code in sorted(_subdivision_codes())
        for rule in rules().history(code)
        if rule.code == code
    ]


def _subdivision_codes() -> set[str]:
    return {
        rule.code
        for country in rules().countries
        for rule in _file_rules(country)
        if "-" in rule.code
    }


def _file_rules(country: str) -> tuple[Rule, ...]:
    return tuple(load_country_file(bundled_directory() / f"{country}.txt"))


def test_every_iso_country_has_a_majority_rule_with_a_source() -> None:
    missing = sorted(
        c.alpha_2 for c in pycountry.countries if c.alpha_2 not in rules().countries
    )
    assert missing == [], f"countries without a table: {missing}"
    assert len(rules().countries) == len(pycountry.countries) == 249


@pytest.mark.parametrize("country", sorted(c.alpha_2 for c in pycountry.countries))
def test_country_table(country: str) -> None:
    table = _file_rules(country)
    assert table, f"{country}.txt has no rules"
    for rule in table:
        assert rule.sources, f"{rule.file}:{rule.line} has no source"
        assert all("<http" in s for s in rule.sources)
        assert isinstance(rule.confidence, Confidence)
        if rule.prevailing is not None:
            # A contested line keeps the strict age and says why in a note.
            assert rule.age is not None
            assert rule.prevailing < rule.age
            assert rule.note, f"{rule.file}:{rule.line}: contested without a note"
            assert "<http" in (rule.prevailing_source or "")
        if rule.kind is not Kind.DIGITAL_CONSENT:
            assert rule.age is not None
            assert 14 <= rule.age <= 21, f"{rule.file}:{rule.line}: implausible age"
        if rule.kind is Kind.CONTRACT:
            # Capacity to contract comes at or before majority, never after.
            on = rule.effective_from or date(2000, 1, 1)
            assert rule.age <= rules().majority_age(rule.code, on=on)  # type: ignore[operator]
        elif rule.kind is Kind.DIGITAL_CONSENT and rule.age is not None:
            # A law may let a person consent alone before majority, not after.
            on = rule.effective_from or date(2000, 1, 1)
            assert 7 <= rule.age <= rules().majority_age(rule.code, on=on), (
                f"{rule.file}:{rule.line}: implausible consent age"
            )
    # Every date has an answer, before and after every change.
    for day in (date(1900, 1, 1), *SNAPSHOT_DATES):
        assert rules().majority_age(country, on=day) >= 14


@pytest.mark.parametrize("alias", sorted(load_rules().aliases))
def test_alias_and_country_code_give_one_answer(alias: str) -> None:
    target = rules().aliases[alias]
    for day in SNAPSHOT_DATES:
        assert rules().majority_age(alias, on=day) == rules().majority_age(
            target, on=day
        )
        assert rules().digital_consent_age(
            alias, on=day
        ) == rules().digital_consent_age(target, on=day)


def in_force(rule: Rule, on: date) -> Rule | None:
    """The rule of `rule`'s code, kind and service in force on `on`."""
    if rule.service is not None:
        return rules().service_rule(rule.code, rule.service, on)
    return rules().rule(rule.code, rule.kind, on)


def policy_for(rule: Rule) -> Policy:
    """A policy under which `rule` alone can set the required age."""
    if rule.service is not None:
        # The threshold's own ages (consent: 13 to 16 or none) stay below
        # a service minimum wherever one is recorded.
        return Policy(minimum_age=1, threshold="digital_consent", service=rule.service)
    return Policy(minimum_age=1, threshold=rule.kind.value)  # type: ignore[arg-type]


def periods() -> list[tuple[Rule, date]]:
    """Each rule whose age is not 18, with a date on which it is in force."""
    found = []
    for rule in all_rules():
        if rule.age is None or rule.age == 18:
            continue
        on = rule.effective_from or date(2000, 1, 1)
        if in_force(rule, on) != rule:
            # A rule from "-" replaced before 2000: ask on the day before the change.
            later = [
                r.effective_from
                for r in rules().history(rule.code)
                if r.code == rule.code and r.kind is rule.kind and r.effective_from
            ]
            on = min(later) - timedelta(days=1)
        found.append((rule, on))
    return found


@pytest.mark.parametrize(
    ("rule", "on"),
    periods(),
    ids=lambda v: f"{v.code}-{v.kind.value}-{v.age}" if isinstance(v, Rule) else str(v),
)
def test_one_day_short_and_on_the_day(rule: Rule, on: date) -> None:
    """A person one day short of the age is blocked; on the day, allowed."""
    assert in_force(rule, on) == rule
    policy = policy_for(rule)
    country, _, sub = rule.code.partition("-")
    record = {"country": country, "subdivision": sub or None}
    # The birthdate on which the person turns rule.age exactly on `on`.
    born = (
        on.replace(year=on.year - rule.age)
        if (on.month, on.day) != (2, 29)
        else date(on.year - rule.age, 3, 1)
    )
    assert rule.age is not None
    assert birthday_reached(born, rule.age) <= on
    on_the_day = screen(
        {**record, "birthdate": born.isoformat()}, policy=policy, today=on
    )
    short = screen(
        {**record, "birthdate": (born + timedelta(days=1)).isoformat()},
        policy=policy,
        today=on,
    )
    assert on_the_day.outcome is Outcome.ALLOW, on_the_day
    assert short.outcome is Outcome.BLOCK, short
    assert short.required_age == rule.age


def snapshot_text() -> str:
    lines = [
        "# code  "
        + "  ".join(f"{d.isoformat()}(majority/consent)" for d in SNAPSHOT_DATES)
    ]
    codes = sorted(rules().countries | _subdivision_codes() | set(rules().aliases))
    for code in codes:
        cells = []
        for day in SNAPSHOT_DATES:
            consent = rules().digital_consent_age(code, on=day)
            cells.append(
                f"{rules().majority_age(code, on=day)}/{consent if consent else '-'}"
            )
        lines.append(f"{code:<7} " + "  ".join(f"{c:<27}" for c in cells).rstrip())
    return "\n".join(lines) + "\n"


def test_snapshot_of_resolved_ages() -> None:
    """A data change shows as a readable diff of this file.

    Regenerate with: AGEGATE_UPDATE_SNAPSHOT=1 python -m pytest tests/test_jurisdictions.py
    """
    path = Path(__file__).parent / "snapshots" / "ages.txt"
    text = snapshot_text()
    if os.environ.get("AGEGATE_UPDATE_SNAPSHOT") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text
