"""`agegate flags`: list, show, resolve and export the flags in a store."""

from __future__ import annotations

import argparse
import getpass
import heapq
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError
from ..flags.model import STATUSES, Status, StoredFlag, account_id_problem
from ..flags.output import (
    EXPORT_COLUMNS,
    FlagFile,
    FlagFormat,
    RecordWriter,
    stored_to_dict,
)

__all__ = ["HELP", "configure", "run"]
from ..flags import FlagStore, lifecycle, open_store
from ..safe_text import printable
from .main import EXIT_OK, shown

HELP = "list, show, resolve and export the flags kept in a flag store"


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def with_store(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--store",
            required=True,
            metavar="PATH",
            help="the SQLite flag store, or a postgresql:// URL (required)",
        )
        return sub

    _list_options(
        with_store("list", "list flags (open and reappeared ones unless --status says)")
    )

    show = with_store("show", "show every flag of one account, with its resolution")
    show.add_argument("account_id", metavar="ACCOUNT_ID", help="the account")

    _resolve_options(
        with_store(
            "resolve",
            "mark accounts' open (or reappeared) flags removed or dismissed,"
            " all or none",
        )
    )

    hold = with_store(
        "hold", "put an account's flags under a legal hold: no removal takes them"
    )
    hold.add_argument("account_id", metavar="ACCOUNT_ID", help="the account")
    hold.add_argument("--why", required=True, metavar="TEXT", help="why (required)")
    _by_option(hold)

    release = with_store("release", "lift a legal hold: the account's flags reopen")
    release.add_argument("account_id", metavar="ACCOUNT_ID", help="the account")
    release.add_argument(
        "--why", default="", metavar="TEXT", help="why (default: no note)"
    )
    _by_option(release)

    export = with_store("export", "write flags with their resolution as JSONL or CSV")
    _status_filter(export, "all")
    export.add_argument(
        "--out", metavar="PATH", help=".jsonl or .csv (default: JSONL on stdout)"
    )


# What `flags list` shows by default: the flags that wait for someone.
TO_ACT = "open,reappeared"


def _list_options(listing: argparse.ArgumentParser) -> None:
    _status_filter(listing, TO_ACT)
    listing.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="a tab-separated table with a header row, CSV with a header row,"
        " or one JSON object a line (default: table)",
    )
    listing.add_argument("--json", action="store_true", help="same as --format json")


def _resolve_options(resolve: argparse.ArgumentParser) -> None:
    resolve.add_argument(
        "account_ids", nargs="*", metavar="ACCOUNT_ID", help="accounts to resolve"
    )
    resolve.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="read account ids from FILE, one a line; - reads standard input"
        " (default: none)",
    )
    resolve.add_argument(
        "--status",
        required=True,
        choices=("removed", "dismissed"),
        help="what was done (required)",
    )
    resolve.add_argument("--by", required=True, metavar="WHO", help="who (required)")
    resolve.add_argument("--why", required=True, metavar="TEXT", help="why (required)")


def _by_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by",
        default=None,
        metavar="WHO",
        help="who (default: the login name of the user running the command)",
    )


def who(given: str | None) -> str:
    """The name given, or the login name of the user running the command."""
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _status_filter(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--status",
        choices=(*STATUSES, TO_ACT, "all"),
        default=default,
        help=f"which flags (default: {default})",
    )


def _chosen_status(args: argparse.Namespace) -> Status | None:
    return None if args.status == "all" else args.status


def _write(flags: Iterable[StoredFlag], writer: RecordWriter | FlagFile) -> int:
    return writer.write_all(stored_to_dict(stored) for stored in flags)


TABLE_COLUMNS = (
    "account_id",
    "status",
    "action",
    "codes",
    "jurisdiction",
    "required_age",
    "source",
    "line",
    "rowid",
)


def _dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def _line(stored: StoredFlag) -> str:
    flag = stored.flag
    cells = (
        flag.account_id,
        stored.status,
        flag.action,
        ",".join(flag.codes),
        flag.jurisdiction or "-",
        _dash(flag.required_age),
        flag.source,
        _dash(flag.line),
        _dash(flag.rowid),
    )
    # Escaped cell by cell: a tab or newline in an id cannot forge a column
    # or a row, nor an escape sequence reach the terminal.
    return "\t".join(printable(cell) for cell in cells)


def _listed(store: FlagStore, args: argparse.Namespace) -> Iterable[StoredFlag]:
    """The flags --status names, in the store's order (account, source)."""
    if args.status != TO_ACT:
        return store.list(status=_chosen_status(args))
    return heapq.merge(
        store.list(status="open"),
        store.list(status="reappeared"),
        key=lambda stored: (stored.flag.account_id, stored.flag.source),
    )


def _list(store: FlagStore, args: argparse.Namespace) -> None:
    flags = _listed(store, args)
    chosen = "json" if args.json else args.format
    if chosen == "table":
        print("\t".join(TABLE_COLUMNS))
        for stored in flags:
            print(_line(stored))
    else:
        fmt: FlagFormat = "csv" if chosen == "csv" else "jsonl"
        _write(flags, RecordWriter(sys.stdout, fmt, EXPORT_COLUMNS))


def _ids(args: argparse.Namespace) -> list[str]:
    """The account ids given, on the command line and in --from, in order,
    each once."""
    given = list(args.account_ids)
    if args.from_file:
        try:
            if args.from_file == "-":
                text = sys.stdin.read()
            else:
                text = Path(args.from_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise InputError("cannot read the ids", where=args.from_file) from None
        given.extend(line.strip() for line in text.splitlines())
    ids = list(dict.fromkeys(_checked(account) for account in given if account))
    if not ids:
        raise InputError("give ACCOUNT_ID or --from FILE")
    return ids


def _resolve(store: FlagStore, args: argparse.Namespace) -> None:
    ids = _ids(args)
    # Every id is checked before any is changed: a typo resolves nothing.
    unknown = [
        account
        for account in ids
        if not any(store.list(status="open", account_id=account))
        and not any(store.list(status="reappeared", account_id=account))
    ]
    if unknown:
        shown = ", ".join(printable(a) for a in unknown[:20])
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        raise InputError(f"no open flag for {shown}{more}; nothing was resolved")
    changed = 0
    for account in ids:
        count = store.resolve(account, args.status, by=args.by, why=args.why)
        changed += count
        if len(ids) == 1:
            print(f"{printable(account)}: {count} flag(s) marked {args.status}")
    if len(ids) > 1:
        print(f"{len(ids)} accounts: {changed} flag(s) marked {args.status}")


def _checked(account: str) -> str:
    """An id as typed, or an InputError when no store could hold it (bytes
    that are not UTF-8 reach us as lone surrogates)."""
    why = account_id_problem(account)
    if why is not None:
        raise InputError(f"the account id {why}")
    return account


def _show(store: FlagStore, args: argparse.Namespace) -> None:
    found = list(store.list(account_id=_checked(args.account_id)))
    if not found:
        raise InputError("no flag for this account", where=printable(args.account_id))
    for stored in found:
        print(json.dumps(stored_to_dict(stored), indent=2, sort_keys=True))


def _hold(store: FlagStore, args: argparse.Namespace) -> None:
    account = _checked(args.account_id)
    count = lifecycle.hold(store, account, by=who(args.by), why=args.why)
    if count == 0:
        raise InputError(
            "no flag of this account that a hold can stop (none, or all erased)",
            where=printable(account),
        )
    print(f"{printable(account)}: {count} flag(s) held")


def _release(store: FlagStore, args: argparse.Namespace) -> None:
    account = _checked(args.account_id)
    count = lifecycle.release(store, account, by=who(args.by), why=args.why)
    if count == 0:
        raise InputError("no held flag for this account", where=printable(account))
    print(f"{printable(account)}: {count} flag(s) released, open again")


def _export(store: FlagStore, args: argparse.Namespace) -> None:
    flags = _listed(store, args)
    if not args.out:
        _write(flags, RecordWriter(sys.stdout, "jsonl", EXPORT_COLUMNS))
        return
    with FlagFile(args.out, option="--out", columns=EXPORT_COLUMNS) as out:
        count = _write(flags, out)
    print(shown(f"{count} flag(s) written to {args.out}"), file=sys.stderr)


_ACTIONS = {
    "list": _list,
    "show": _show,
    "resolve": _resolve,
    "hold": _hold,
    "release": _release,
    "export": _export,
}


def run(args: argparse.Namespace) -> int:
    with open_store(args.store, existing=True) as store:
        _ACTIONS[args.action](store, args)
    return EXIT_OK
