"""`agegate check`: screen one person from the command line."""

from __future__ import annotations

import argparse
import json

from .cli import EXIT_OK, add_screening_options
from .decision import decision_to_dict
from .errors import InputError
from .policy import Policy
from .screen import screen

HELP = "screen one person: birthdate and jurisdiction signals in, decision out"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--birthdate", required=True, metavar="D", help="YYYY-MM-DD")
    parser.add_argument("--country", metavar="C", help="code or English name")
    parser.add_argument(
        "--subdivision", metavar="S", help="ISO 3166-2 code, its suffix, or a name"
    )
    parser.add_argument(
        "--phone", metavar="P", help="phone number, international or national"
    )
    add_screening_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print the decision as JSON"
    )


def run(args: argparse.Namespace) -> int:
    try:
        policy = Policy(minimum_age=args.minimum_age, threshold=args.threshold)
    except (TypeError, ValueError) as error:
        raise InputError(str(error)) from None
    record = {
        "birthdate": args.birthdate,
        "country": args.country,
        "subdivision": args.subdivision,
        "phone": args.phone,
    }
    decision = screen(record, policy=policy, today=args.today)
    if args.json:
        print(json.dumps(decision_to_dict(decision), indent=2))
        return EXIT_OK
    print(f"outcome:      {decision.outcome.value}")
    print(f"required age: {decision.required_age}")
    print(f"jurisdiction: {decision.jurisdiction or '-'}")
    print(f"considered:   {', '.join(decision.jurisdictions) or '-'}")
    print(f"reasons:      {', '.join(decision.reasons) or '-'}")
    if decision.fields:
        print(f"fields:       {', '.join(decision.fields)}")
    return EXIT_OK
