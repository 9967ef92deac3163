"""`agegate flags`: list, show, resolve and export the flags in a store."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from .cli import EXIT_OK
from .errors import InputError
from .flags import FLAG_COLUMNS, STATUSES, SqliteFlagStore, StoredFlag, flag_to_dict
from .safe_text import csv_row, printable

HELP = "list, show, resolve and export the flags kept in a flag store"


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def with_store(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--store", required=True, metavar="PATH", help="the SQLite flag store"
        )
        return sub

    listing = with_store("list", "list flags (open ones unless --status says)")
    listing.add_argument("--status", choices=(*STATUSES, "all"), default="open")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")

    show = with_store("show", "show every flag of one account, with its resolution")
    show.add_argument("account_id", metavar="ACCOUNT_ID")

    resolve = with_store("resolve", "mark an account's open flags removed or dismissed")
    resolve.add_argument("account_id", metavar="ACCOUNT_ID")
    resolve.add_argument("--status", required=True, choices=("removed", "dismissed"))
    resolve.add_argument("--by", required=True, metavar="WHO")
    resolve.add_argument("--why", required=True, metavar="TEXT")

    export = with_store("export", "write flags with their resolution as JSONL or CSV")
    export.add_argument("--status", choices=(*STATUSES, "all"), default="all")
    export.add_argument(
        "--out", metavar="PATH", help=".jsonl or .csv (default: JSONL on stdout)"
    )


def _open(path: str) -> SqliteFlagStore:
    if not Path(path).is_file():
        raise InputError("no such flag store", where=path)
    return SqliteFlagStore(path)


def stored_to_dict(stored: StoredFlag) -> dict[str, Any]:
    record = flag_to_dict(stored.flag)
    record.update(
        status=stored.status,
        updated_at=stored.updated_at.isoformat(),
        resolved_by=stored.resolved_by,
        resolved_at=stored.resolved_at.isoformat() if stored.resolved_at else None,
        resolution_note=stored.resolution_note,
    )
    return record


EXPORT_COLUMNS = (
    *FLAG_COLUMNS,
    "status",
    "updated_at",
    "resolved_by",
    "resolved_at",
    "resolution_note",
)


def _write(flags: Iterable[StoredFlag], out: TextIO, as_csv: bool) -> int:
    count = 0
    writer = csv.writer(out) if as_csv else None
    if writer is not None:
        writer.writerow(EXPORT_COLUMNS)
    for stored in flags:
        record = stored_to_dict(stored)
        if writer is not None:
            record["codes"] = ";".join(record["codes"])
            writer.writerow(csv_row([record[c] for c in EXPORT_COLUMNS]))
        else:
            out.write(json.dumps(record, sort_keys=True) + "\n")
        count += 1
    return count


def _line(stored: StoredFlag) -> str:
    flag = stored.flag
    cells = (
        flag.account_id,
        stored.status,
        flag.action,
        ",".join(flag.codes),
        flag.jurisdiction or "-",
        "-" if flag.required_age is None else str(flag.required_age),
        flag.source,
    )
    # Escaped cell by cell: a tab or newline in an id cannot forge a column
    # or a row, nor an escape sequence reach the terminal.
    return "\t".join(printable(cell) for cell in cells)


def run(args: argparse.Namespace) -> int:
    with _open(args.store) as store:
        if args.action == "list":
            status = None if args.status == "all" else args.status
            flags = store.list(status=status)
            if args.json:
                _write(flags, sys.stdout, as_csv=False)
            else:
                for stored in flags:
                    print(_line(stored))
        elif args.action == "show":
            found = list(store.list(account_id=args.account_id))
            if not found:
                raise InputError(
                    "no flag for this account", where=printable(args.account_id)
                )
            for stored in found:
                print(json.dumps(stored_to_dict(stored), indent=2, sort_keys=True))
        elif args.action == "resolve":
            changed = store.resolve(
                args.account_id, args.status, by=args.by, why=args.why
            )
            if not changed:
                raise InputError(
                    "no open flag for this account", where=printable(args.account_id)
                )
            print(
                f"{printable(args.account_id)}: {changed} flag(s) marked {args.status}"
            )
        else:
            status = None if args.status == "all" else args.status
            flags = store.list(status=status)
            if args.out:
                suffix = Path(args.out).suffix.lower()
                if suffix not in (".jsonl", ".csv"):
                    raise InputError("--out must end in .jsonl or .csv", where=args.out)
                with open(args.out, "w", encoding="utf-8", newline="") as out:
                    count = _write(flags, out, as_csv=suffix == ".csv")
                print(f"{count} flag(s) written to {args.out}", file=sys.stderr)
            else:
                _write(flags, sys.stdout, as_csv=False)
    return EXIT_OK
