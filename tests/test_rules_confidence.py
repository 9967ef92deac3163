"""Confidence, contested readings and the contract kind: loader, lookups and CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from cli_support import agegate

from agegate import load_rules
from agegate.age import birthday_reached
from agegate.rules import Confidence, Kind, Rule, Rules

SOURCE = 'source="Act <https://example.org/a>"'
TABLE = (
    f'XX majority 21 - confidence=low {SOURCE} note="Common law."\n'
    f"XX majority 21 2016-01-05 confidence=medium {SOURCE}"
    ' prevailing=19 prevailing_source="Constitution <https://example.org/c>"'
    ' note="Contested."\n'
    f"XX contract 18 2009-03-01 confidence=high {SOURCE}\n"
)


@pytest.fixture
def small(tmp_path: Path) -> Rules:
    # SG stands in for any country: the codes must be real ISO codes.
    (tmp_path / "SG.txt").write_text(TABLE.replace("XX", "SG"), encoding="utf-8")
    return load_rules(tmp_path)


def test_the_loader_reads_confidence_and_the_prevailing_reading(small: Rules) -> None:
    first, contested, contract = small.history("SG")[:3]
    assert first.confidence is Confidence.LOW
    assert first.prevailing is None
    assert not first.contested
    assert contested.confidence is Confidence.MEDIUM
    assert contested.prevailing == 19
    assert contested.prevailing_source == "Constitution <https://example.org/c>"
    assert contested.contested
    assert contract.kind is Kind.CONTRACT
    assert contract.confidence is Confidence.HIGH


def test_strict_is_the_default_and_prevailing_applies_from_its_date(
    small: Rules,
) -> None:
    before, on = date(2016, 1, 4), date(2016, 1, 5)
    assert small.majority_age("SG", on=on) == 21
    assert small.age("SG", Kind.MAJORITY, on) == 21
    assert small.majority_age("SG", on=on, reading="prevailing") == 19
    assert small.age("SG", Kind.MAJORITY, on, reading="prevailing") == 19
    assert small.majority_age("SG", on=before, reading="prevailing") == 21
    with pytest.raises(ValueError, match="reading"):
        small.age("SG", Kind.MAJORITY, on, reading="lenient")  # type: ignore[arg-type]


def test_contract_age_falls_back_to_majority(small: Rules) -> None:
    assert small.contract_age("SG", on=date(2009, 2, 28)) == 21
    assert small.contract_age("SG", on=date(2009, 3, 1)) == 18
    assert small.contract_age("SG", on=date(2020, 1, 1), reading="prevailing") == 18
    # Before 2009 the majority rule answers, and under its readings.
    fallback = small.rule("SG", Kind.CONTRACT, date(2009, 2, 28))
    assert fallback is not None
    assert fallback.kind is Kind.MAJORITY
    assert small.contract_age("SG-01", on=date(2009, 3, 1)) == 18


def _turns(age: int, on: date) -> date:
    """The birthdate of a person who turns `age` exactly on `on`."""
    if (on.month, on.day) == (2, 29):
        return date(on.year - age, 3, 1)
    return on.replace(year=on.year - age)


def _cases() -> list[tuple[Rule, date]]:
    """Each bundled rule that is contested or of kind contract, with the day it
    takes effect and the day before (or a day in force for a rule from -)."""
    found = []
    for rule in load_rules().all():
        if rule.service is not None or not (
            rule.contested or rule.kind is Kind.CONTRACT
        ):
            continue
        start = rule.effective_from or date(2000, 1, 1)
        found.append((rule, start))
        if rule.effective_from is not None:
            found.append((rule, start - timedelta(days=1)))
    return found


@pytest.mark.parametrize(
    ("rule", "on"),
    _cases(),
    ids=lambda v: f"{v.code}-{v.kind.value}" if isinstance(v, Rule) else str(v),
)
def test_one_day_either_side_of_each_contested_or_contract_age(
    rule: Rule, on: date
) -> None:
    rules = load_rules()
    in_force = on >= (rule.effective_from or date.min)
    lookup = rules.contract_age if rule.kind is Kind.CONTRACT else rules.majority_age
    for reading in ("strict", "prevailing"):
        age = lookup(rule.code, on=on, reading=reading)  # type: ignore[arg-type]
        if in_force:
            assert age == rule.age_for(reading)  # type: ignore[arg-type]
        else:
            # The day before the change, the earlier rule still answers.
            earlier = rules.rule(rule.code, rule.kind, on)
            assert earlier != rule
        born = _turns(age, on)
        assert birthday_reached(born, age) == on
        assert birthday_reached(born + timedelta(days=1), age) > on


def test_every_bundled_rule_has_a_confidence() -> None:
    for rule in load_rules().all():
        assert isinstance(rule.confidence, Confidence), f"{rule.file}:{rule.line}"


def test_rules_json_carries_confidence_and_the_prevailing_reading() -> None:
    result = agegate("rules", "NG", "SG", "--on", "2026-01-01", "--json")
    assert result.returncode == 0, result.stderr
    nigeria, singapore = json.loads(result.stdout)
    assert nigeria["majority"]["confidence"] in {"high", "medium", "low"}
    assert nigeria["majority"]["age"] == 21
    assert nigeria["majority"]["prevailing"]["age"] == 18
    assert "<http" in nigeria["majority"]["prevailing"]["source"]
    assert singapore["majority"]["prevailing"] is None
    assert singapore["contract"]["kind"] == "contract"
    assert singapore["contract"]["age"] == 18
    assert nigeria["contract"]["kind"] == "majority"


def test_worklist_lists_low_confidence_and_contested_rules_as_csv() -> None:
    result = agegate("rules", "--worklist", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows
    assert all(row["confidence"] == "low" or row["prevailing"] for row in rows)
    assert {"NG", "ID", "ZM"} <= {row["code"] for row in rows}
    assert all("<http" in row["sources"] for row in rows)
    low = sum(r.confidence is Confidence.LOW or r.contested for r in load_rules().all())
    assert len(rows) == low


def test_worklist_as_markdown() -> None:
    result = agegate("rules", "--worklist")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| code | kind | age | from | confidence |")
    assert lines[1].startswith("| --- |")
    assert any(line.startswith("| ZM | majority | 21 | 2025-12-18 |") for line in lines)


def test_changes_lists_the_rules_taking_effect_in_a_window() -> None:
    result = agegate(
        "rules", "--changes", "--from", "2025-12-01", "--to", "2026-12-31", "--json"
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows
    assert all("2025-12-01" <= row["from"] <= "2026-12-31" for row in rows)
    assert [row["from"] for row in rows] == sorted(row["from"] for row in rows)
    assert {"majority", "digital_consent"} <= {row["kind"] for row in rows}
    assert ("ZM", "2025-12-18") in {(row["code"], row["from"]) for row in rows}
    contract = agegate(
        "rules", "--changes", "--from", "2009-03-01", "--to", "2009-03-01"
    )
    assert "| SG | contract | 18 | 2009-03-01 |" in contract.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--changes",),
        ("--changes", "--from", "2026-01-01"),
        ("--changes", "--from", "2026-02-01", "--to", "2026-01-01"),
        ("--changes", "--from", "soon", "--to", "2026-01-01"),
        ("--worklist", "--changes", "--from", "2026-01-01", "--to", "2026-02-01"),
        ("--worklist", "--format", "pdf"),
    ],
)
def test_bad_list_options_exit_2(args: tuple[str, ...]) -> None:
    result = agegate("rules", *args)
    assert result.returncode == 2
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr
