"""`agegate rules`: show the rules that apply to jurisdiction codes, with sources.

Also a reviewer's worklist (every low-confidence or contested rule) and a
calendar of the rules that take effect in a window.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from .. import codes
from ..age import live_today
from ..errors import InputError, InputProblem
from ..reasons import Reason
from ..rules import Confidence, Kind, Rule, Rules, load_rules
from ..services import SERVICE_KINDS
from ..signals import LONGEST_NAME, country_code
from ..tables_version import tables_version
from .main import EXIT_FINDINGS, EXIT_OK, iso_date
from .rules_check import check_paths

HELP = "show the age rules in force for jurisdiction codes, with their sources"

# The kinds every answer shows; service minimums are shown apart, by service.
KINDS = tuple(k for k in Kind if k is not Kind.SERVICE_MINIMUM)

LIST_COLUMNS = (
    "code",
    "kind",
    "age",
    "from",
    "confidence",
    "service",
    "prevailing",
    "prevailing_source",
    "sources",
    "note",
    "review_by",
    "where",
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "codes",
        nargs="*",
        metavar="CODE",
        help="ISO 3166 code (JP, CA-BC) or country name (Canada);"
        " all countries if none",
    )
    parser.add_argument(
        "--on",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="date asked about (default: today at UTC-12)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--check",
        nargs="+",
        metavar="PATH",
        help="check table files (XX.txt, aliases.txt) or every table in a"
        " directory instead; print every problem with its line",
    )
    parser.add_argument(
        "--tables-version",
        "--version",
        action="store_true",
        help="print the digest of the bundled tables (the tables_version a"
        " review summary records) and exit",
    )
    parser.add_argument(
        "--worklist",
        action="store_true",
        help="list the rules to re-read: those whose review_by date has come"
        " first, then every low-confidence or contested rule, for counsel",
    )
    parser.add_argument(
        "--changes",
        action="store_true",
        help="list the rules of every kind taking effect from --from to --to",
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="first day of the --changes window",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="last day of the --changes window",
    )
    parser.add_argument(
        "--format",
        choices=("markdown", "csv"),
        default="markdown",
        help="table format of --worklist and --changes (default: markdown)",
    )


def _rule_dict(rule: Rule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "code": rule.code,
        "kind": rule.kind.value,
        "age": rule.age,
        "from": rule.effective_from.isoformat() if rule.effective_from else None,
        "confidence": rule.confidence.value,
        "prevailing": (
            {"age": rule.prevailing, "source": rule.prevailing_source}
            if rule.prevailing is not None
            else None
        ),
        "sources": list(rule.sources),
        "note": rule.note,
        "service": rule.service,
        "review_by": rule.review_by.isoformat() if rule.review_by else None,
        "file": rule.file,
        "line": rule.line,
    }


def run(args: argparse.Namespace) -> int:
    if args.tables_version:
        print(tables_version())
        return EXIT_OK
    if args.check:
        return EXIT_FINDINGS if check_paths([Path(p) for p in args.check]) else EXIT_OK
    rules = load_rules()
    if args.worklist or args.changes:
        return _run_list(args, rules)
    on: date = args.on or live_today()
    asked = [resolve(rules, text) for text in args.codes]
    answers = [_answer(rules, code, on) for code in asked or sorted(rules.countries)]
    if args.json:
        print(json.dumps(answers, indent=2, ensure_ascii=False))
        return EXIT_OK
    detailed = bool(args.codes)
    for answer in answers:
        print(_describe(answer, detailed=detailed))
        if detailed and answer["subdivisions"]:
            print("  subdivisions with rules of their own:")
            for code in answer["subdivisions"]:
                print("    " + _describe(_answer(rules, code, on), detailed=False))
    return EXIT_OK


def resolve(rules: Rules, text: str) -> str:
    """The code a CODE argument names: a code, or a country name as
    `agegate check --country` reads it."""
    upper = text.strip().upper()
    if codes.is_known(upper):
        return upper
    if "-" in upper and len(upper) <= 6:
        rules.canonical(text)  # raises the usual unknown-code error
    try:
        return country_code(text)
    except InputProblem as problem:
        shown = repr(text.strip()) if len(text) <= LONGEST_NAME else "(too long)"
        if problem.reason is Reason.COUNTRY_AMBIGUOUS:
            raise InputError(
                f"{shown} names more than one country; give its ISO 3166 code"
            ) from None
        raise InputError(
            f"{shown} is neither an ISO 3166 code nor a country name"
        ) from None


def _answer(rules: Rules, code: str, on: date) -> dict[str, Any]:
    canonical = rules.canonical(code)
    return {
        "code": code,
        "answered_by": canonical,
        "name": codes.subdivision_name(canonical) or codes.country_name(canonical),
        "on": on.isoformat(),
        **{kind.value: _rule_dict(rules.rule(canonical, kind, on)) for kind in KINDS},
        "services": {
            service: _rule_dict(found)
            for service in SERVICE_KINDS
            if (found := rules.service_rule(canonical, service, on)) is not None
        },
        "subdivisions": own_subdivisions(rules, canonical),
    }


def own_subdivisions(rules: Rules, country: str) -> list[str]:
    """The subdivisions of `country` whose tables set rules of their own."""
    if "-" in country:
        return []
    return sorted(
        {
            r.code
            for r in rules.all()
            if "-" in r.code and r.code.startswith(country + "-")
        }
    )


def _run_list(args: argparse.Namespace, rules: Rules) -> int:
    if args.worklist and args.changes:
        raise InputError("--worklist and --changes are separate lists")
    if args.worklist:
        chosen = worklist(rules.all(), on=args.on or live_today())
    else:
        if args.start is None or args.end is None or args.start > args.end:
            raise InputError("--changes needs --from and --to, --from not after --to")
        chosen = changes(rules.all(), args.start, args.end)
    rows = [_list_row(rule) for rule in chosen]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        sys.stdout.write(_csv(rows))
    else:
        sys.stdout.write(_markdown(rows))
    return EXIT_OK


def worklist(rules: Iterable[Rule], *, on: date) -> list[Rule]:
    """The rules counsel should review: first those whose review_by date has
    come (by that date), then every other one of low confidence or contested."""
    listed = list(rules)
    due = sorted(
        (r for r in listed if r.review_by is not None and r.review_by <= on),
        key=lambda r: (r.review_by, r.code),
    )
    rest = [
        r
        for r in listed
        if r not in due and (r.confidence is Confidence.LOW or r.contested)
    ]
    return due + rest


def changes(rules: Iterable[Rule], start: date, end: date) -> list[Rule]:
    """The rules taking effect from `start` to `end`, both included, by date."""
    found = [
        r
        for r in rules
        if r.effective_from is not None and start <= r.effective_from <= end
    ]
    return sorted(
        found, key=lambda r: (r.effective_from, r.code, r.kind.value, r.service or "")
    )


def _list_row(rule: Rule) -> dict[str, Any]:
    return {
        "code": rule.code,
        "kind": rule.kind.value,
        "service": rule.service,
        "age": "none" if rule.age is None else rule.age,
        "from": rule.effective_from.isoformat() if rule.effective_from else "-",
        "confidence": rule.confidence.value,
        "prevailing": rule.prevailing,
        "prevailing_source": rule.prevailing_source,
        "sources": list(rule.sources),
        "note": rule.note,
        "review_by": rule.review_by.isoformat() if rule.review_by else None,
        "where": f"{rule.file}:{rule.line}",
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ; ".join(value)
    return str(value)


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LIST_COLUMNS)
    writer.writerows([_cell(row[c]) for c in LIST_COLUMNS] for row in rows)
    return out.getvalue()


def _markdown(rows: Sequence[dict[str, Any]]) -> str:
    def line(cells: Iterable[str]) -> str:
        escaped = (c.replace("|", "\\|").replace("\n", " ") for c in cells)
        return "| " + " | ".join(escaped) + " |\n"

    text = line(LIST_COLUMNS) + line("---" for _ in LIST_COLUMNS)
    return text + "".join(line(_cell(row[c]) for c in LIST_COLUMNS) for row in rows)


def _describe(answer: dict[str, Any], *, detailed: bool) -> str:
    majority = answer["majority"]
    consent = answer["digital_consent"]
    contract = answer["contract"]
    consent_age = consent["age"] if consent and consent["age"] is not None else "-"
    head = (
        f"{answer['code']:<7} {answer['name']}: "
        f"majority {majority['age']}{_flags(majority)}, "
        f"contract {contract['age']}{_flags(contract)}, "
        f"digital consent {consent_age}{_flags(consent)}"
    )
    services = answer["services"]
    if services:
        head += "; " + ", ".join(
            f"{name} {rule['age'] if rule['age'] is not None else '-'}{_flags(rule)}"
            for name, rule in services.items()
        )
    if not detailed:
        return head
    lines = [head]
    if answer["answered_by"] != answer["code"]:
        lines.append(f"  answered by {answer['answered_by']} (see aliases.txt)")
    for label, rule in (
        ("majority", majority),
        ("contract", contract),
        ("digital consent", consent),
        *((f"service {name}", rule) for name, rule in services.items()),
    ):
        lines.extend(_detail(label, rule))
    return "\n".join(lines)


def _flags(rule: dict[str, Any] | None) -> str:
    """A short mark for a rule that needs a reviewer's eye."""
    if rule is None:
        return ""
    marks = []
    if rule["confidence"] != "high":
        marks.append(f"confidence {rule['confidence']}")
    if rule["prevailing"]:
        marks.append(f"prevailing {rule['prevailing']['age']}")
    return f" ({'; '.join(marks)})" if marks else ""


def _detail(label: str, rule: dict[str, Any] | None) -> list[str]:
    if rule is None:
        return [f"  {label}: no law sets one"]
    if rule["kind"] == "majority" != label:
        return [
            f"  {label} {rule['age']}: no rule of its own, the majority rule applies"
        ]
    since = f"since {rule['from']}" if rule["from"] else "in force"
    lines = [
        f"  {label} {rule['age']} ({since}; {rule['code']},"
        f" {rule['file']} line {rule['line']}; confidence {rule['confidence']})"
    ]
    lines.extend(f"    source: {source}" for source in rule["sources"])
    if rule["prevailing"]:
        lines.append(f"    prevailing reading: {rule['prevailing']['age']}")
        lines.append(f"    prevailing source: {rule['prevailing']['source']}")
    if rule["note"]:
        lines.append(f"    note: {rule['note']}")
    return lines
