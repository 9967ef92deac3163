"""The README stays honest: every command is documented, the figures are computed."""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pycountry
import pytest

from agegate import load_rules
from agegate.cli.main import COMMANDS, build_parser
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
    services: dict[str, set[str]] = {}
    for rule in every_rule:
        if rule.service is not None:
            services.setdefault(rule.service, set()).add(rule.code)
    by_service = "; ".join(
        f"{name} {', '.join(sorted(found))}" for name, found in sorted(services.items())
    )
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
            f"- rules for one kind of service: {sum(map(len, services.values()))} ({by_service})",
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


def _synopsis() -> dict[str, set[str]]:
    """The options the README's command synopsis shows, by command (and
    `flags` action)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1]
    block = section.split("```", 2)[1]
    entries: list[str] = []
    for line in block.splitlines():
        if line.startswith("agegate "):
            entries.append(line)
        elif line.startswith(" ") and entries:
            entries[-1] += " " + line.strip()
    found: dict[str, set[str]] = {}
    for entry in entries:
        words = entry.split()
        name = " ".join(words[1:3]) if words[1] in ("flags", "remove") else words[1]
        found.setdefault(name, set()).update(re.findall(r"--[a-z][a-z-]*", entry))
    return found


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    return dict(action.choices)


def _parsers() -> dict[str, argparse.ArgumentParser]:
    commands = _subparsers(build_parser())
    found = {name: commands[name] for name in ("review", "check")}
    for command in ("flags", "remove"):
        for action, sub in _subparsers(commands[command]).items():
            found[f"{command} {action}"] = sub
    return found


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


@pytest.mark.parametrize("command", sorted(_parsers()))
def test_the_readme_synopsis_matches_help(command: str) -> None:
    assert _synopsis()[command] == _options(_parsers()[command])


def test_the_readme_shows_the_version_option() -> None:
    assert "--version" in _synopsis()["--version"]


@pytest.mark.parametrize("command", sorted(_parsers()))
def test_every_option_has_help_with_its_default(command: str) -> None:
    for action in _parsers()[command]._actions:
        if action.dest == "help":
            continue
        assert action.help, (command, action.dest)
        takes_value = action.nargs != 0 and action.option_strings
        if takes_value and not action.required:
            assert "default" in action.help, (command, action.dest)
