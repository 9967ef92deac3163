"""The README stays honest: every command is documented, the figures are computed."""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pycountry
import pytest

from agegate import load_rules
from agegate.cli import COMMANDS, build_parser
from agegate.rules import Kind, bundled_directory, load_country_file

README = Path(__file__).resolve().parent.parent / "README.md"
ON = date(2026, 11, 28)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_and_is_in_the_readme(command: str) -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    sub = subparsers.choices[command]  # type: ignore[index]
    assert sub.description
    assert sub.format_help()
    assert f"agegate {command}" in README.read_text(encoding="utf-8")


def coverage_text() -> str:
    rules = load_rules()
    subdivisions = {
        rule.code
        for country in rules.countries
        for rule in load_country_file(bundled_directory() / f"{country}.txt")
        if "-" in rule.code
    }
    not_18 = sorted(c for c in rules.countries if rules.majority_age(c, on=ON) != 18)
    consent = [
        c for c in rules.countries if rules.digital_consent_age(c, on=ON) is not None
    ]
    changes = {
        rule.code
        for code in rules.countries | subdivisions
        for rule in rules.history(code)
        if rule.kind is Kind.MAJORITY and rule.effective_from is not None
    }
    every_rule = list(rules.all())
    confidence = Counter(rule.confidence.value for rule in every_rule)
    contested = sorted({rule.code for rule in every_rule if rule.contested})
    contract = sorted({rule.code for rule in every_rule if rule.kind is Kind.CONTRACT})
    return "\n".join(
        [
            f"- countries: {len(rules.countries)} of {len(pycountry.countries)} ISO 3166-1 countries",
            f"- subdivisions with rules of their own: {len(subdivisions)}",
            f"- codes answered by another country's table (aliases): {len(rules.aliases)}",
            f"- countries whose age of majority is not 18 (on {ON}): {len(not_18)} ({', '.join(not_18)})",
            f"- countries with a digital age of consent set by law (on {ON}): {len(consent)}",
            f"- jurisdictions with a recorded change of the age of majority: {len(changes)}",
            f"- rules: {len(every_rule)}; confidence high {confidence['high']},"
            f" medium {confidence['medium']}, low {confidence['low']}",
            f"- jurisdictions with a contested reading (a prevailing age recorded): {len(contested)} ({', '.join(contested)})",
            f"- jurisdictions with an age of contractual capacity of their own: {len(contract)} ({', '.join(contract)})",
        ]
    )


def test_readme_coverage_figures_are_computed() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- coverage -->\n(.*?)\n<!-- /coverage -->", text, re.S)
    assert block is not None
    expected = coverage_text()
    if os.environ.get("AGEGATE_UPDATE_SNAPSHOT") == "1":
        README.write_text(text.replace(block.group(1), expected), encoding="utf-8")
        return
    assert block.group(1) == expected
