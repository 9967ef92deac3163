"""`agegate check-app module:app`: check a gated app's configuration."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any

from ..errors import InputError
from .main import EXIT_FINDINGS, EXIT_OK

HELP = (
    "check a gated ASGI app: gated paths no route serves, FastAPI model keys "
    "a birth value is read from that the gate's fields miss, CORS order"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target", metavar="MODULE:APP", help="the app to import, e.g. myapp.main:app"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the findings as JSON lines"
    )
    parser.add_argument(
        "--warnings-fail",
        action="store_true",
        help="exit 1 on warnings too (default: on errors only)",
    )


def load_app(target: str) -> Any:
    """The object `module:attribute` names; InputError when it cannot be had."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise InputError("give the app as MODULE:APP, e.g. myapp.main:app")
    # Like uvicorn: the current directory is importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # the app's own import error, by kind only
        raise InputError(
            f"cannot import {module_name}: {type(error).__name__}"
        ) from None
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise InputError(f"{module_name} has no attribute {attribute}")
    return found


def run(args: argparse.Namespace) -> int:
    from ..asgi.app_check import check_app

    app = load_app(args.target)
    try:
        findings = check_app(app)
    except (TypeError, ValueError) as error:
        raise InputError(f"the gate's options: {error}") from None
    for finding in findings:
        if args.json:
            print(
                json.dumps(
                    {
                        "severity": finding.severity,
                        "code": finding.code,
                        "route": finding.route,
                        "key": finding.key,
                        "message": finding.message,
                    }
                )
            )
        else:
            print(finding)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if not args.json:
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
    failing = errors + (warnings if args.warnings_fail else 0)
    return EXIT_FINDINGS if failing else EXIT_OK
