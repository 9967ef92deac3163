"""`agegate review`: screen an account store and flag minors' data."""

from __future__ import annotations

import argparse
import os
import sys

from .age import live_today
from .cli import EXIT_FINDINGS, EXIT_OK, add_screening_options
from .errors import InputError
from .flags import SqliteFlagStore
from .policy import FIELDS, FieldMap, Policy
from .readers import FORMATS, Unreadable, read
from .review import ReviewSettings
from .review_run import FlagFile, render, write_json
from .review_run import run as run_review

HELP = "screen every account of a CSV, JSON Lines or SQLite store and flag minors"
SECRET_ENV = "AGEGATE_SECRET"  # noqa: S105 - the name of a variable
# Unreadable rows printed one by one; all of them are counted and in --summary.
UNREADABLE_PRINTED = 50


EPILOG = """\
Each account is screened twice: on the date its data was collected
(collected_at), with the rule in force then, and today. A collected_at with a
time and an offset counts as its date at UTC-12; a bare date, or a time
without an offset, as the date written. Where collected_at is missing only
today's screening applies; where it cannot be read (or lies in the future) the
account is flagged COLLECTED_AT_INVALID and screened today. A declared age is
the age at collection. Exit status: 0 run completed, 1 with --fail-on-flags
when an account was flagged, 2 usage or input error.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("input", metavar="INPUT", help="the account store to read")
    parser.add_argument("--format", choices=FORMATS, help="default: from extension")
    parser.add_argument("--table", metavar="NAME", help="table or view (SQLite)")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help=f"column holding FIELD, once per field; fields: {' '.join(FIELDS)}",
    )
    parser.add_argument("--flags-out", metavar="PATH", help="flags to .jsonl or .csv")
    parser.add_argument("--summary", metavar="PATH", help="counts as JSON")
    parser.add_argument(
        "--store", metavar="PATH", help="upsert flags into this SQLite flag store"
    )
    parser.add_argument(
        "--secret",
        metavar="TEXT",
        help=f"key of the hashes that identify rows (default: ${SECRET_ENV}, "
        "else a random key kept in --store)",
    )
    parser.add_argument("--workers", type=int, default=1, metavar="N")
    parser.add_argument("--batch-size", type=int, default=2000, metavar="N")
    add_screening_options(parser)
    parser.add_argument(
        "--phone-optional",
        action="store_true",
        help="ignore unusable phone numbers instead of flagging them",
    )
    parser.add_argument(
        "--fail-on-flags", action="store_true", help="exit 1 if any account is flagged"
    )
    parser.add_argument("--quiet", action="store_true", help="no summary on stdout")


def field_map(pairs: list[str]) -> FieldMap:
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, equals, column = pair.partition("=")
        field, column = field.strip(), column.strip()
        if not equals or not field or not column:
            raise InputError("--map takes FIELD=COLUMN")
        if field in mapping:
            raise InputError(f"--map {field} is given twice")
        mapping[field] = column
    try:
        return FieldMap.from_mapping(mapping) if mapping else FieldMap()
    except (TypeError, ValueError) as error:
        raise InputError(f"--map: {error}") from None


def _secret(args: argparse.Namespace, store: SqliteFlagStore | None) -> bytes:
    given = args.secret or os.environ.get(SECRET_ENV)
    if given:
        if len(given.encode()) < 16:
            raise InputError("the secret must be at least 16 bytes")
        return given.encode()
    if store is not None:
        return store.secret()
    # Without a store nothing outlives the run, so a fresh key will do; the
    # anonymous ids it makes then differ from run to run.
    return os.urandom(32)


def run(args: argparse.Namespace) -> int:
    if args.workers < 1 or args.batch_size < 1:
        raise InputError("--workers and --batch-size must be at least 1")
    fields = field_map(args.map)
    try:
        policy = Policy(
            minimum_age=args.minimum_age,
            threshold=args.threshold,
            phone_optional=args.phone_optional,
        )
    except (TypeError, ValueError) as error:
        raise InputError(str(error)) from None
    if args.flags_out and not args.flags_out.lower().endswith(
        (".jsonl", ".ndjson", ".csv")
    ):
        raise InputError("--flags-out must end in .jsonl or .csv")
    items = read(args.input, args.format, table=args.table)
    store = None
    flag_file = None
    try:
        store = SqliteFlagStore(args.store) if args.store else None
        settings = ReviewSettings(
            today=args.today or live_today(),
            secret=_secret(args, store),
            fields=fields,
            policy=policy,
        )
        flag_file = FlagFile(args.flags_out) if args.flags_out else None
        printed = 0

        def report(row: Unreadable) -> None:
            nonlocal printed
            printed += 1
            if printed <= UNREADABLE_PRINTED:
                print(f"{args.input}:{row.line}: {row.reason}", file=sys.stderr)

        tally = run_review(
            items,
            settings,
            flag_file=flag_file,
            store=store,
            workers=args.workers,
            batch_size=args.batch_size,
            on_unreadable=report,
        )
    finally:
        items.close()
        if flag_file is not None:
            flag_file.close()
        if store is not None:
            store.close()
    if printed > UNREADABLE_PRINTED:
        print(
            f"... and {printed - UNREADABLE_PRINTED} more unreadable rows",
            file=sys.stderr,
        )
    if args.summary:
        write_json(args.summary, tally.to_dict())
    if not args.quiet:
        print(render(tally))
    if args.fail_on_flags and tally.accounts_flagged:
        return EXIT_FINDINGS
    return EXIT_OK
