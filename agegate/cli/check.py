"""`agegate check`: screen one person from the command line."""

from __future__ import annotations

import argparse
import json

from ..decision import Outcome, decision_to_dict
from ..errors import InputError
from ..policy import Policy
from ..screen import screen
from .main import EXIT_FINDINGS, EXIT_OK, add_screening_options, warn_threshold

HELP = "screen one person: birthdate and jurisdiction signals in, decision out"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--birthdate", required=True, metavar="D", help="YYYY-MM-DD (required)"
    )
    parser.add_argument(
        "--country", metavar="C", help="code or English name (default: none)"
    )
    parser.add_argument(
        "--subdivision",
        metavar="S",
        help="ISO 3166-2 code, its suffix, or a name (default: none)",
    )
    parser.add_argument(
        "--phone",
        metavar="P",
        help="phone number, international or national (default: none)",
    )
    add_screening_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print the decision as JSON"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 unless the outcome is ALLOW (default: exit 0 on any outcome)",
    )


def run(args: argparse.Namespace) -> int:
    warn_threshold(args)
    try:
        policy = Policy(
            minimum_age=args.minimum_age,
            threshold=args.threshold,
            readings=args.readings,
            service=args.service,
        )
    except (TypeError, ValueError) as error:
        raise InputError(str(error)) from None
    record = {
        "birthdate": args.birthdate,
        "country": args.country,
        "subdivision": args.subdivision,
        "phone": args.phone,
    }
    decision = screen(record, policy=policy, today=args.today)
    status = EXIT_OK
    if args.strict and decision.outcome is not Outcome.ALLOW:
        status = EXIT_FINDINGS
    if args.json:
        print(json.dumps(decision_to_dict(decision), indent=2))
        return status
    print(f"outcome:      {decision.outcome.value}")
    print(f"required age: {decision.required_age}")
    print(f"jurisdiction: {decision.jurisdiction or '-'}")
    if decision.reading is not None:
        print(f"reading:      {decision.reading}")
    print(f"considered:   {', '.join(decision.jurisdictions) or '-'}")
    print(f"reasons:      {', '.join(decision.reasons) or '-'}")
    if decision.fields:
        print(f"fields:       {', '.join(decision.fields)}")
    return status
