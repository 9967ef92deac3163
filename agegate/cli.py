"""The `agegate` command: a dispatcher; each command lives in its own module.

Library errors become exit codes here, in one place: 0 done, 1 done with
findings where a command's option asks for it, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from datetime import date
from typing import Protocol

from .errors import AgeGateError
from .safe_text import printable

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

# command name -> module with `configure(parser)` and `run(args) -> int`
COMMANDS = {
    "rules": "agegate.cli_rules",
    "check": "agegate.cli_check",
    "review": "agegate.cli_review",
    "flags": "agegate.cli_flags",
    "demo": "agegate.cli_demo",
    "qa": "agegate.cli_qa",
}


def add_screening_options(parser: argparse.ArgumentParser) -> None:
    """The options every screening command shares: the date and the policy."""
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="date to screen on (default: today at UTC-12)",
    )
    parser.add_argument(
        "--minimum-age",
        type=int,
        default=18,
        metavar="N",
        help="the service's own minimum age (default 18)",
    )
    parser.add_argument(
        "--threshold", choices=("majority", "digital_consent"), default="majority"
    )


class Command(Protocol):
    HELP: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agegate",
        description="Keep minors out of services that are not for them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module: Command = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except AgeGateError as error:
        # A message may name a stored id or a line of a file: never raw.
        print(f"agegate {args.command}: {printable(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"agegate {args.command}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
