"""`agegate qa`: replay `.http` example requests against a running app."""

from __future__ import annotations

import argparse
import math
import re

from ..errors import InputError
from ..qa.replay import BODY_LIMIT, TIMEOUT, split, table
from ..qa.replay import run as replay
from .main import EXIT_FINDINGS, EXIT_OK, iso_date

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_TIMEOUT = 3600

HELP = "replay .http example requests against a running app; exit 1 on a failure"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=".http files or directories of them (default: the catalogue shipped"
        " with agegate, which runs against `agegate demo`)",
    )
    parser.add_argument(
        "--base-url",
        required=True,
        metavar="URL",
        help="where the app runs, e.g. http://127.0.0.1:8000 (fills {{baseUrl}})",
    )
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the date {{$datetime ...}} counts from (default: today)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="a host requests may go to besides --base-url's (repeatable);"
        " a request to any other host fails unsent",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=TIMEOUT,
        metavar="SECONDS",
        help="the longest one request may take, from connecting to the last"
        f" byte of its answer (default: {TIMEOUT:g}); a body over"
        f" {BODY_LIMIT >> 20} MiB is cut off there and fails its request",
    )
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set {{NAME}}, over the files' own @NAME (repeatable)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("expected a number of seconds")
    return value


def _variables(given: list[str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for entry in given:
        name, equals, value = entry.partition("=")
        if not equals or not _NAME.fullmatch(name):
            raise InputError("--var takes NAME=VALUE")
        variables[name] = value
    return variables


def run(args: argparse.Namespace) -> int:
    parts = split(args.base_url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("--base-url must be http(s)://host[:port]")
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise InputError(f"--timeout takes seconds above 0, at most {MAX_TIMEOUT}")
    variables = _variables(args.var)
    results = replay(
        args.paths,
        args.base_url,
        today=args.today,
        allow_hosts=args.allow_host,
        variables=variables,
        timeout=args.timeout,
    )
    print(table(results))
    return EXIT_OK if all(r.passed for r in results) else EXIT_FINDINGS
