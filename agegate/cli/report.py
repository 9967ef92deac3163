"""`agegate report`: one HTML page of what was found, removed and proven."""

from __future__ import annotations

import argparse
import sys

from ..removal.report import charts, gather, make_page, write_page
from .main import EXIT_OK, shown, version

HELP = (
    "write one self-contained HTML page of a flag store's flags, removals and"
    " receipts, with charts and the tables behind them; no personal data"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        required=True,
        metavar="FLAGS",
        help="the flag store: a SQLite file, a postgresql:// URL or a JSON Lines"
        " file of flags (required)",
    )
    parser.add_argument(
        "--summary",
        action="append",
        default=[],
        metavar="S.json",
        help="a summary `agegate review --summary` wrote; may be repeated"
        " (default: none)",
    )
    parser.add_argument(
        "--receipts",
        metavar="R.jsonl",
        help="the removal receipts to check (default: <store>.receipts.jsonl"
        " beside a file store, when there is one)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="report.html",
        help="where to write the page (required)",
    )


def run(args: argparse.Namespace) -> int:
    # Before anything is read: without the charts there is no report.
    charts.load()
    report = gather(args.store, args.summary, args.receipts, version=version())
    write_page(args.out, make_page(report))
    print(
        shown(f"report of {report.flags.total} flag(s) written to {args.out}"),
        file=sys.stderr,
    )
    return EXIT_OK
