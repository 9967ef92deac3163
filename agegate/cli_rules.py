"""`agegate rules`: show the rules that apply to jurisdiction codes, with sources."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from . import codes
from .age import live_today
from .cli import EXIT_FINDINGS, EXIT_OK
from .errors import TableError
from .rules import Kind, Rule, load_country_file, load_rules

HELP = "show the age rules in force for jurisdiction codes, with their sources"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "codes",
        nargs="*",
        metavar="CODE",
        help="ISO 3166 code (JP, CA-BC); all countries if none",
    )
    parser.add_argument(
        "--on",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="date asked about (default: today at UTC-12)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--check",
        nargs="+",
        metavar="FILE",
        help="check table files (XX.txt) instead; print each problem with its line",
    )


def _rule_dict(rule: Rule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "code": rule.code,
        "age": rule.age,
        "from": rule.effective_from.isoformat() if rule.effective_from else None,
        "sources": list(rule.sources),
        "note": rule.note,
        "file": rule.file,
        "line": rule.line,
    }


def check_files(names: list[str]) -> int:
    status = EXIT_OK
    for name in names:
        try:
            load_country_file(Path(name))
        except TableError as error:
            print(error, file=sys.stderr)
            status = EXIT_FINDINGS
    return status


def run(args: argparse.Namespace) -> int:
    if args.check:
        return check_files(args.check)
    rules = load_rules()
    on: date = args.on or live_today()
    asked = args.codes or sorted(rules.countries)
    answers = []
    for asked_code in asked:
        canonical = rules.canonical(asked_code)
        answers.append(
            {
                "code": asked_code.strip().upper(),
                "answered_by": canonical,
                "name": codes.subdivision_name(canonical)
                or codes.country_name(canonical),
                "on": on.isoformat(),
                "majority": _rule_dict(rules.rule(canonical, Kind.MAJORITY, on)),
                "digital_consent": _rule_dict(
                    rules.rule(canonical, Kind.DIGITAL_CONSENT, on)
                ),
            }
        )
    if args.json:
        print(json.dumps(answers, indent=2, ensure_ascii=False))
        return EXIT_OK
    detailed = bool(args.codes)
    for answer in answers:
        print(_describe(answer, detailed=detailed))
    return EXIT_OK


def _describe(answer: dict[str, Any], *, detailed: bool) -> str:
    majority = answer["majority"]
    consent = answer["digital_consent"]
    consent_age = consent["age"] if consent and consent["age"] is not None else "-"
    head = (
        f"{answer['code']:<7} {answer['name']}: "
        f"majority {majority['age']}, digital consent {consent_age}"
    )
    if not detailed:
        return head
    lines = [head]
    if answer["answered_by"] != answer["code"]:
        lines.append(f"  answered by {answer['answered_by']} (see aliases.txt)")
    for label, rule in (("majority", majority), ("digital consent", consent)):
        if rule is None:
            lines.append(f"  {label}: no law sets one")
            continue
        since = f"since {rule['from']}" if rule["from"] else "in force"
        lines.append(
            f"  {label} {rule['age']} ({since}; {rule['code']},"
            f" {rule['file']} line {rule['line']})"
        )
        lines.extend(f"    source: {source}" for source in rule["sources"])
        if rule["note"]:
            lines.append(f"    note: {rule['note']}")
    return "\n".join(lines)
