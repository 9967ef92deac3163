"""The `agegate` command: a dispatcher; each command lives in its own module.

Library errors become exit codes here, in one place: 0 done, 1 done with
findings where a command's option asks for it, 2 usage or input error.
Commands say "bad input" by raising `errors.InputError` (never by printing
and returning 2 themselves); it and the library's other `AgeGateError`s (an
unknown jurisdiction code, a malformed table) are turned into exit 2 by
`main` below, as are the failures of files and of the system (exit 2
naming the file). A message shows every URL in it with its password masked
(`urls.masked_text`), whoever wrote it. Anything else is a bug, reported by
its type alone and exit 2 (never 1, which means findings); `python -X dev`
shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any, NoReturn, Protocol

from ..errors import AgeGateError
from ..safe_text import printable
from ..services import SERVICE_KINDS
from ..urls import masked_text

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
# `agegate review`: most of a column, or too many rows, could not be read.
EXIT_UNREADABLE = 3
# `agegate review`: an account flagged and resolved as removed is still there.
EXIT_REAPPEARED = 4
# What a command killed by SIGPIPE answers: a reader such as `head` stopped.
EXIT_BROKEN_PIPE = 141

# command name -> module with `configure(parser)` and `run(args) -> int`
COMMANDS = {
    "rules": "agegate.cli.rules",
    "check": "agegate.cli.check",
    "review": "agegate.cli.review",
    "flags": "agegate.cli.flags",
    "demo": "agegate.cli.demo",
    "qa": "agegate.cli.qa",
    "check-app": "agegate.cli.check_app",
    "remove": "agegate.cli.remove",
    "report": "agegate.cli.report",
}


def version() -> str:
    # importlib.metadata costs a start-up: loaded when a version is shown.
    import importlib.metadata

    try:
        return importlib.metadata.version("agegate")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


class _Version(argparse.Action):
    """`--version`, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: object) -> None:
        super().__init__(
            option_strings, dest, nargs=0, help="show the version and exit"
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        print(f"agegate {version()}")
        parser.exit()


def iso_date(text: str) -> date:
    """An option's calendar date, or a usage error that says what is expected."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected YYYY-MM-DD") from None


THRESHOLD_HELP = (
    "which legal age a jurisdiction sets: majority; contract (the age from which"
    " a person can be bound by a contract, the majority age where no law sets it"
    " apart); or digital_consent (the age a law lets a young person consent"
    " alone online); the service minimum (--minimum-age) still applies, so"
    " digital_consent changes nothing unless --minimum-age is lowered too"
    " (default: majority)"
)
READINGS_HELP = (
    "where authorities conflict over a jurisdiction's age: strict takes the"
    " higher age the table line gives, prevailing the lower age recorded beside"
    " it (default: strict)"
)


def add_screening_options(parser: argparse.ArgumentParser) -> None:
    """The options every screening command shares: the date and the policy."""
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="date to screen on (default: today at UTC-12)",
    )
    parser.add_argument(
        "--minimum-age",
        type=int,
        default=18,
        metavar="N",
        help="the service's own minimum age (default: 18)",
    )
    parser.add_argument(
        "--threshold",
        choices=("majority", "contract", "digital_consent"),
        default="majority",
        help=THRESHOLD_HELP,
    )
    parser.add_argument(
        "--readings",
        choices=("strict", "prevailing"),
        default="strict",
        help=READINGS_HELP,
    )
    parser.add_argument(
        "--service",
        choices=tuple(SERVICE_KINDS),
        default=None,
        help="the kind of service this is; the minimum ages laws set for that"
        " kind of service apply too (`agegate rules --services` lists them;"
        " default: none)",
    )


def warn_threshold(args: argparse.Namespace) -> None:
    """Say what --threshold digital_consent does while the service minimum
    stays where it is: it lowers no one's required age."""
    if args.threshold == "digital_consent" and args.minimum_age >= 18:
        print(
            f"agegate {args.command}: warning: with --threshold digital_consent"
            f" the service minimum (--minimum-age {args.minimum_age}) still"
            " applies; lower --minimum-age to admit people below it where a law"
            " lets them consent",
            file=sys.stderr,
        )


def terminal_columns() -> int:
    """`shutil.get_terminal_size().columns`, without importing shutil (and
    the compression modules it loads): argparse asks on every option added,
    so a run that prints no help would pay for it at start-up."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stream = sys.__stdout__
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80 if stream else 80
    except (AttributeError, ValueError, OSError):
        return 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, as wide as the terminal (as argparse makes it)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        width = terminal_columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The same, keeping the description's and epilog's own lines."""


class _Parser(argparse.ArgumentParser):
    """argparse's own messages quote what was typed: masked like ours."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        super().error(shown(message))


def shown(message: str) -> str:
    """A message as the command prints it: URLs masked, controls escaped."""
    return printable(masked_text(message))


def say(command: str, message: str) -> None:
    print(f"agegate {command}: {shown(message)}", file=sys.stderr)


class Command(Protocol):
    HELP: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every command's, or `only` the one named
    (a run imports the modules of no other command)."""
    parser = _Parser(
        prog="agegate",
        description="Keep minors out of services that are not for them.",
    )
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = {only: COMMANDS[only]} if only in COMMANDS else COMMANDS
    for name, module_name in chosen.items():
        module: Command = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words else None)
    args = parser.parse_args(words)
    # Run from the command line, the process is this command's alone.
    args.own_process = argv is None
    try:
        status: int = args.run(args)
    except AgeGateError as error:
        # A message may name a stored id or a line of a file: never raw.
        say(args.command, str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        say(args.command, "interrupted")
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as error:
        say(args.command, _os_problem(error))
        return EXIT_USAGE
    except Exception as error:
        if sys.flags.dev_mode:
            raise
        # Its message may carry a value read from the input: only the type.
        say(args.command, f"internal error ({type(error).__name__}); please report it")
        return EXIT_USAGE
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    return status


def _os_problem(error: OSError) -> str:
    """The file and the system's reason (`No such file or directory`)."""
    why = error.strerror or type(error).__name__
    name = error.filename
    if name is None:
        return why
    return f"{os.fsdecode(name) if isinstance(name, bytes) else name}: {why}"


def _quiet_stdout() -> None:
    """The reader of our output went away (`agegate ... | head`): send what
    is still buffered nowhere, so that exiting prints no traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
