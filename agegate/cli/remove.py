"""`agegate remove`: plan, approve, run, verify and replay removals, and
read their receipts.

Exit codes: 0 done; 1 refused (not approved, four eyes, flags or targets
changed, over the cap), something left after a removal (`verify`), or a
receipts chain that breaks (`receipts --verify`); 2 bad input.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..flags import open_store
from ..flags.postgres import is_postgres_url
from ..removal.plan import load_plan, read_plan, save_plan
from ..removal.receipts import ReceiptLog, default_receipts_path
from ..removal.run import (
    RemovalRefused,
    TargetResult,
    approve_plan,
    make_plan,
    replay,
    run_plan_file,
    verify_plan,
)
from ..removal.targets import DEFAULT_ID_COLUMN, Target, eraser_target, target_of
from ..removal.tombstones import TombstoneStore, default_tombstones_path
from ..urls import masked
from .flags import who
from .main import EXIT_FINDINGS, EXIT_OK, say, shown

__all__ = ["HELP", "configure", "run"]

HELP = "erase flagged accounts from every store: plan, approve, run, verify, replay"


class _TargetAction(argparse.Action):
    """`--target` starts a target; `--table` and `--id-column` after it
    belong to it (an `--id-column` before any target is everyone's)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given: list[dict[str, str | None]] = list(
            getattr(namespace, "targets", None) or []
        )
        if self.dest == "targets":
            given.append(
                {"location": values, "table": None, "id_column": None, "kind": "target"}
            )
        elif self.dest == "erasers":
            given.append(
                {"location": values, "table": None, "id_column": None, "kind": "eraser"}
            )
        elif not given:
            if self.dest == "table":
                parser.error("--table belongs after the --target it names")
            namespace.default_id_column = values
        else:
            given[-1][self.dest] = values
        namespace.targets = given


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(targets=[], default_id_column=DEFAULT_ID_COLUMN)
    parser.add_argument(
        "--target",
        dest="targets",
        action=_TargetAction,
        metavar="TARGET",
        help="a store to erase from: a .csv, .jsonl or .parquet file, a SQLite"
        " file or a postgresql:// URL (with --table); repeat for each store"
        " (default: none)",
    )
    parser.add_argument(
        "--eraser",
        dest="erasers",
        action=_TargetAction,
        metavar="SPEC",
        help="an operator's eraser, module:callable or a name in the"
        " agegate.erasers entry points; repeat for each (default: none)",
    )
    parser.add_argument(
        "--table",
        dest="table",
        action=_TargetAction,
        metavar="NAME",
        help="the table of the --target before it (default: none)",
    )
    parser.add_argument(
        "--id-column",
        dest="id_column",
        action=_TargetAction,
        metavar="COLUMN",
        help="the account-id column of the --target before it; before any"
        f" --target, of all of them (default: {DEFAULT_ID_COLUMN})",
    )


def _targets(args: argparse.Namespace) -> list[Target]:
    found = []
    for given in args.targets:
        if given["kind"] == "eraser":
            found.append(eraser_target(str(given["location"])))
            continue
        column = given["id_column"] or args.default_id_column
        found.append(
            target_of(str(given["location"]), table=given["table"], id_column=column)
        )
    if not found:
        raise InputError("give at least one --target or --eraser")
    labels = [t.label for t in found]
    if len(set(labels)) != len(labels):
        raise InputError("a target is named twice")
    return found


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        required=True,
        metavar="FLAGS",
        help="the SQLite flag store, or a postgresql:// URL (required)",
    )


def _by_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--by",
        default=None,
        metavar="NAME",
        help=f"who {what} (default: the login name of the user running it)",
    )


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    plan = actions.add_parser("plan", help="survey the targets; change no target")
    _store_option(plan)
    _target_options(plan)
    plan.add_argument(
        "--max-accounts",
        type=_count,
        default=None,
        metavar="N",
        help="refuse to run the plan when it holds more accounts (default: no cap)",
    )
    plan.add_argument(
        "--out",
        required=True,
        metavar="PLAN.json",
        help="where the plan goes (required)",
    )
    _by_option(plan, "makes the plan")
    plan.add_argument(
        "--receipts",
        metavar="PATH",
        help="the receipts log (default: FLAGS.receipts.jsonl beside a SQLite"
        " store, PLAN.json.receipts.jsonl beside the plan for PostgreSQL)",
    )
    plan.add_argument(
        "--tombstones",
        metavar="PATH",
        help="where the run keeps tombstones (default: FLAGS.tombstones.jsonl"
        " beside a SQLite store, PLAN.json.tombstones.jsonl for PostgreSQL)",
    )

    approve = actions.add_parser("approve", help="approve a plan, naming who")
    approve.add_argument("plan", metavar="PLAN.json", help="the plan")
    approve.add_argument(
        "--by", required=True, metavar="NAME", help="who approves (required)"
    )
    approve.add_argument(
        "--store",
        metavar="FLAGS",
        help="the flag store: its flags of the plan become approved now"
        " (default: none; the run moves them)",
    )

    run_ = actions.add_parser("run", help="erase the plan's accounts from every target")
    run_.add_argument("plan", metavar="PLAN.json", help="the approved plan")
    _store_option(run_)
    run_.add_argument(
        "--four-eyes",
        action="store_true",
        help="refuse a plan approved by nobody but its author",
    )
    run_.add_argument(
        "--max-accounts",
        type=_count,
        default=None,
        metavar="N",
        help="refuse a plan of more accounts (default: the plan's own cap)",
    )
    _by_option(run_, "runs it")

    verify = actions.add_parser(
        "verify", help="check that no target holds the accounts"
    )
    verify.add_argument("plan", metavar="PLAN.json", help="the plan that was run")
    _store_option(verify)
    _by_option(verify, "verifies")

    again = actions.add_parser(
        "replay", help="after a restore, remove the tombstoned accounts again"
    )
    again.add_argument(
        "--tombstones",
        required=True,
        metavar="T",
        help="the tombstones file (required)",
    )
    _store_option(again)
    _target_options(again)
    again.add_argument(
        "--receipts",
        metavar="PATH",
        help="the receipts log (default: FLAGS.receipts.jsonl beside the store)",
    )

    receipts = actions.add_parser(
        "receipts", help="list the receipts; check their chain"
    )
    receipts.add_argument(
        "--receipts",
        metavar="PATH",
        help="the receipts log (default: FLAGS.receipts.jsonl beside --store)",
    )
    receipts.add_argument(
        "--store", metavar="FLAGS", help="the SQLite flag store (default: none)"
    )
    receipts.add_argument(
        "--verify", action="store_true", help="check the chain; exit 1 when it breaks"
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("expected 0 or more")
    return value


def _beside(store: str, plan_path: str, default: Any, suffix: str) -> str:
    """Beside a file store by default; beside the plan for PostgreSQL."""
    if is_postgres_url(store):
        return str(Path(f"{os.path.abspath(plan_path)}.{suffix}"))
    return str(Path(default(os.path.abspath(store))))


def _plan(args: argparse.Namespace) -> int:
    targets = _targets(args)
    receipts = args.receipts or _beside(
        args.store, args.out, default_receipts_path, "receipts.jsonl"
    )
    tombstones = args.tombstones or _beside(
        args.store, args.out, default_tombstones_path, "tombstones.jsonl"
    )
    with open_store(args.store, existing=True) as store:
        plan = make_plan(
            store,
            targets,
            store_label=masked(args.store),
            by=who(args.by),
            max_accounts=args.max_accounts,
            receipts=os.path.abspath(receipts),
            tombstones=os.path.abspath(tombstones),
        )
    save_plan(plan, args.out)
    for target in plan.targets:
        print(
            shown(
                f"{target.target.label}: {target.rows} row(s) of {target.accounts}"
                f" account(s), of {target.total} row(s)"
            )
        )
    print(f"accounts: {plan.accounts}; flags: {plan.flag_count}")
    print(f"plan digest: {plan.digest}")
    print(shown(f"plan written to {args.out}; nothing was removed"), file=sys.stderr)
    if plan.max_accounts is not None and plan.accounts > plan.max_accounts:
        say(
            "remove",
            f"the plan holds {plan.accounts} accounts, more than --max-accounts"
            f" {plan.max_accounts}: it will not run",
        )
        return EXIT_FINDINGS
    return EXIT_OK


def _approve(args: argparse.Namespace) -> int:
    if args.store:
        with open_store(args.store, existing=True) as store:
            plan = approve_plan(args.plan, args.by, store)
    else:
        plan = approve_plan(args.plan, args.by)
    print(
        f"plan {plan.digest} approved by {shown(args.by)}"
        f" ({len(plan.approvals)} approval(s))"
    )
    return EXIT_OK


def _print(results: Sequence[TargetResult], what: str) -> None:
    for result in results:
        count = result.left if what == "left" else result.removed
        print(shown(f"{result.label}: {count} row(s) {what}"))
        for note in result.notes:
            print(shown(f"{result.label}: note: {note}"))


def _run(args: argparse.Namespace) -> int:
    # Read, not yet checked: the run checks the plan beside its first erase.
    file = read_plan(args.plan)
    with open_store(args.store, existing=True) as store:
        plan, results = run_plan_file(
            file,
            store,
            by=who(args.by),
            four_eyes=args.four_eyes,
            max_accounts=args.max_accounts,
        )
    _print(results, "removed")
    print(f"plan {plan.digest}: {plan.accounts} account(s) erased; run verify next")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    with open_store(args.store, existing=True) as store:
        results = verify_plan(plan, store, by=who(args.by))
    _print(results, "left")
    if any(r.left for r in results):
        print(f"plan {plan.digest}: rows of the accounts remain; flags failed")
        return EXIT_FINDINGS
    print(f"plan {plan.digest}: verified, no target holds the accounts")
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    targets = _targets(args)
    receipts = args.receipts or str(default_receipts_path(os.path.abspath(args.store)))
    with open_store(args.store, existing=True) as store:
        secret = store.secret()
    results = replay(
        TombstoneStore(args.tombstones), targets, secret, ReceiptLog(Path(receipts))
    )
    for result in results:
        print(
            shown(
                f"{result.label}: {result.planned_rows} removed account(s) found again,"
                f" {result.removed} row(s) removed"
            )
        )
    return EXIT_OK


def _receipts(args: argparse.Namespace) -> int:
    if args.receipts:
        path = Path(args.receipts)
    elif args.store and not is_postgres_url(args.store):
        path = default_receipts_path(os.path.abspath(args.store))
    else:
        raise InputError("give --receipts PATH (or --store of a SQLite flag store)")
    log = ReceiptLog(path)
    status = log.verify()
    if args.verify:
        if status.ok:
            print(f"chain holds: {status.entries} entries; head {status.head}")
            return EXIT_OK
        print(f"chain broken at entry {status.broken_at}: {status.reason}")
        return EXIT_FINDINGS
    for receipt in log.entries():
        plan = receipt.body.get("plan", "-")
        print(
            f"{receipt.seq}\t{receipt.at.isoformat()}\t{receipt.kind}\t{plan}\t{receipt.digest}"
        )
    return EXIT_OK


_ACTIONS = {
    "plan": _plan,
    "approve": _approve,
    "run": _run,
    "verify": _verify,
    "replay": _replay,
    "receipts": _receipts,
}


def run(args: argparse.Namespace) -> int:
    # A removal holds a few hundred thousand small objects (ids, keys, the
    # flags' rows) until the command ends, and makes no cycles worth
    # collecting: the cyclic collector would only walk them again and again
    # (a quarter of the time spent reading the flags).
    gc.disable()
    try:
        return _ACTIONS[args.action](args)
    except RemovalRefused as refusal:
        say("remove", f"refused: {refusal}")
        return EXIT_FINDINGS
