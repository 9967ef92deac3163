"""`agegate review`: screen an account store and flag minors' data.

Everything that can be checked before the first row is screened is checked
first, and is a usage error (exit 2) with nothing written: an output path
that is the input or another output, a mapped column the input lacks, an
empty input, a `--store` without account ids. A run that read rows but could
screen none of them (wrong format, encoding or delimiter) is an error too,
not a clean report.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import attrs

from ..age import live_today
from ..errors import InputError
from ..flags.output import FlagFile, flag_format
from ..keys import secret_bytes
from ..policy import FIELDS, FieldMap, Policy
from ..review.checks import UNREADABLE_SHARE, Finding, run_findings, sample_findings
from ..review.readers import (
    FORMATS,
    SAMPLE,
    STDIN,
    Stream,
    Unreadable,
    check_column_types,
    detect_format,
    read,
)
from ..review.reviewer import ReviewSettings
from ..review.run import BATCH_SIZE, ENGINES, Tally, render, write_json
from ..review.run import run as run_review
from ..tables_version import tables_version
from ..urls import is_postgres_url, masked
from .main import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_REAPPEARED,
    EXIT_UNREADABLE,
    RawDescriptionHelpFormatter,
    add_screening_options,
    say,
    shown,
    version,
    warn_threshold,
)

if TYPE_CHECKING:  # loaded for the options that need them (Arrow, PostgreSQL,
    # --store, --assurance)
    from ..assurance.model import Level
    from ..flags.store import FlagStore
    from ..review.batches import Source
    from ..review.postgres import PostgresSource

HELP = "screen every account of a CSV, JSON Lines or SQLite store and flag minors"
SECRET_ENV = "AGEGATE_SECRET"  # noqa: S105 - the name of a variable
# Unreadable rows printed one by one; all of them are counted and in --summary.
UNREADABLE_PRINTED = 50
# A CSV, JSON Lines or SQLite file below this size is screened by the row
# engine when no engine is asked for: loading numpy and pyarrow alone takes
# longer than screening it row by row, and the flags are the same.
SMALL_INPUT = 64 * 1024
# Column names listed in an error about the column map.
COLUMNS_LISTED = 40


EPILOG = """\
Each account is screened twice: on the date its data was collected
(collected_at), with the rule in force then, and today. A collected_at with a
time and an offset counts as its date at UTC-12; a bare date, or a time
without an offset, as the date written. Where collected_at is missing only
today's screening applies; where it cannot be read (or lies in the future) the
account is flagged COLLECTED_AT_INVALID and screened today. A declared age is
the age at collection.

Mapped columns are checked before the first row is read (JSON Lines: in the
first 1000 records). Every flag names the row it comes from: `line` (CSV, JSON
Lines; the line where the record starts, header included) or `rowid` (SQLite).

Most of a mapped birthdate, collected_at or phone column unreadable in the
first 1000 rows stops the run before anything is written; more than 1% of the
rows unreadable, or most rows flagged BIRTHDATE_INVALID or COLLECTED_AT_INVALID,
is exit 3 once the flags are written. Each names the fix (--encoding,
--date-format, --collected-format) and the shapes of the values (NN/NN/NNNN),
never a value; --accept-unreadable reviews such an input and exits 0.

Exit status: 0 run completed, 1 with --fail-on-flags when an account was
flagged, 2 usage or input error (nothing screened included), 3 most of a
column or too many rows unreadable (see above), 4 with --store an account
whose flag was resolved as removed, or erased or verified by agegate remove,
is still in the input and flagged again (its flag is now "reappeared"; a
dismissed flag is left as it is, and counted as dismissed_still_present),
130 interrupted (the summary so far is written, with "completed": false).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = RawDescriptionHelpFormatter
    _input_options(parser)
    _output_options(parser)
    _run_options(parser)


def _input_options(parser: argparse.ArgumentParser) -> None:
    """What to read, and how: format, table, delimiter, encoding, columns."""
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="the account store to read; - reads standard input (give --format)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="default: from the extension (.csv .tsv .jsonl .ndjson .json .sqlite"
        " .db .parquet); json: an array of records, or an object holding one",
    )
    parser.add_argument(
        "--table",
        metavar="NAME",
        help="table or view of a SQLite input (default: its only table), or of"
        " a postgresql:// input",
    )
    parser.add_argument(
        "--query",
        metavar="SQL",
        help="a postgresql:// input: read what this query returns, in a"
        " read-only transaction, instead of a --table (default: none)",
    )
    parser.add_argument(
        "--key",
        metavar="COLUMN",
        help="a postgresql:// input: the column rows are read in the order of;"
        " an integer key is each flag's rowid (default: the table's primary key)",
    )
    parser.add_argument(
        "--delimiter",
        metavar="CHAR",
        help="CSV delimiter; 'tab' for a tab (default: found on the header line"
        " among , ; tab |)",
    )
    parser.add_argument(
        "--encoding",
        default="utf-8",
        metavar="NAME",
        help="text encoding, e.g. latin-1 or cp1252 (default: utf-8; a byte"
        " order mark is skipped)",
    )
    parser.add_argument(
        "--date-format",
        action="append",
        default=[],
        metavar="FORMAT",
        help="strftime format of birthdates besides YYYY-MM-DD, e.g. %%d/%%m/%%Y;"
        " repeatable; a date two formats read differently is ambiguous"
        " (default: YYYY-MM-DD only)",
    )
    parser.add_argument(
        "--collected-format",
        action="append",
        default=[],
        metavar="FORMAT",
        help="how collected_at is written besides ISO 8601: a strftime format"
        " (e.g. '%%d.%%m.%%Y %%H:%%M'), epoch-s or epoch-ms; repeatable (default:"
        " ISO 8601, and epoch seconds or milliseconds by their 10 or 13 digits)",
    )
    parser.add_argument(
        "--accept-unreadable",
        action="store_true",
        help="review an input most of whose birthdates, collection times or"
        f" phones, or more than {UNREADABLE_SHARE * 100:g}%% of whose rows, cannot be"
        " read, and exit 0 (default: stop, or exit 3, naming the fix)",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="column holding FIELD, once per field (default: the field's own"
        f" name); fields: {' '.join(FIELDS)}",
    )


def _output_options(parser: argparse.ArgumentParser) -> None:
    """Where the flags and the counts go, and the key of the hashes."""
    parser.add_argument(
        "--flags-out",
        metavar="PATH",
        help="write flags to .jsonl or .csv; - writes JSON Lines to standard"
        " output and the summary to standard error (default: none)",
    )
    parser.add_argument(
        "--summary", metavar="PATH", help="write counts as JSON (default: none)"
    )
    parser.add_argument(
        "--store",
        metavar="PATH",
        help="upsert flags into this SQLite flag store, or a postgresql:// URL"
        " (default: none)",
    )
    parser.add_argument(
        "--secret",
        metavar="TEXT",
        help=f"key of the hashes that identify rows (default: ${SECRET_ENV}, "
        "else a random key kept in --store)",
    )


def _run_options(parser: argparse.ArgumentParser) -> None:
    """How to screen (the policy, the workers) and what to say."""
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processes that screen; with the columnar engine each reads its"
        " own share of the input (a postgresql:// --table with an integer key:"
        " key ranges of one snapshot; a --query or another key: one reader)"
        " (default: 1)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="columnar screens Arrow record batches, Python once per distinct"
        " value; rows screens row by row, for comparison: the flags are the"
        " same (default: columnar; rows for one worker on a file under"
        f" {SMALL_INPUT // 1024} KiB, which it screens before Arrow would"
        " have loaded)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="rows screened and written at a time (default: 20000 columnar, 2000 rows)",
    )
    add_screening_options(parser)
    parser.add_argument(
        "--phone-optional",
        action="store_true",
        help="ignore unusable phone numbers instead of flagging them",
    )
    parser.add_argument(
        "--assurance",
        action="append",
        default=[],
        metavar="JURISDICTION=LEVEL",
        help="the jurisdiction (or *) needs a verified proof of age of LEVEL"
        " (BASIC, EFFECTIVE, HIGHLY_EFFECTIVE); an account there whose"
        " --map assurance_valid_until column is empty or past is flagged"
        " ASSURANCE_LAPSED (verify); repeatable; runs on the row engine"
        " (default: none)",
    )
    parser.add_argument(
        "--fail-on-flags", action="store_true", help="exit 1 if any account is flagged"
    )
    parser.add_argument("--quiet", action="store_true", help="print no summary")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar with a total and an ETA on standard error"
        " (default: when standard error is a terminal)",
    )


def field_map(pairs: list[str]) -> tuple[FieldMap, dict[str, str]]:
    """The FieldMap of the --map options, and the mapping as given."""
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
        return (FieldMap.from_mapping(mapping) if mapping else FieldMap()), mapping
    except (TypeError, ValueError) as error:
        raise InputError(f"--map: {error}") from None


def _policy(args: argparse.Namespace) -> Policy:
    try:
        return Policy(
            minimum_age=args.minimum_age,
            threshold=args.threshold,
            readings=args.readings,
            service=args.service,
            phone_optional=args.phone_optional,
            birthdate_formats=tuple(args.date_format),
        )
    except (TypeError, ValueError) as error:
        message = str(error).replace("birthdate_formats", "--date-format")
        raise InputError(message) from None


def _delimiter(given: str | None) -> str | None:
    if given is None:
        return None
    return "\t" if given.lower() in ("tab", "\\t") else given


def _secret(args: argparse.Namespace, store: FlagStore | None) -> bytes:
    given = args.secret or os.environ.get(SECRET_ENV)
    if given:
        try:
            return secret_bytes(given)
        except ValueError as error:
            raise InputError(str(error)) from None
    if store is not None:
        return store.secret()
    # Without a store nothing outlives the run, so a fresh key will do; the
    # anonymous ids it makes then differ from run to run.
    return os.urandom(32)


# -- checks before the first row -------------------------------------------


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file, however spelled (relative, `./`, a
    symbolic link, a hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def check_outputs(args: argparse.Namespace) -> None:
    """No output may overwrite the input or another output."""
    named = [
        ("INPUT", args.input),
        ("--flags-out", args.flags_out),
        ("--summary", args.summary),
        ("--store", args.store),
    ]
    paths = [
        (name, path)
        for name, path in named
        if path and path != STDIN and not is_postgres_url(path)
    ]
    for index, (first, first_path) in enumerate(paths):
        for second, second_path in paths[index + 1 :]:
            if same_file(first_path, second_path):
                raise InputError(
                    f"{second} is the same file as {first}; nothing was written",
                    where=second_path,
                )
    if args.flags_out:
        flag_format(args.flags_out, "--flags-out")


def _listed(columns: tuple[str, ...]) -> str:
    shown = ", ".join(columns[:COLUMNS_LISTED])
    if len(columns) > COLUMNS_LISTED:
        shown += f", ... ({len(columns)} in all)"
    return shown or "(none)"


def check_input(items: Stream, mapping: dict[str, str], where: str) -> None:
    """The input has rows, and every mapped column is among its columns."""
    if not items.peek(1):
        raise InputError("no rows to review (the input is empty)", where=where)
    jsonl = items.format in ("jsonl", "json")
    for field, column in mapping.items():
        if items.has_key(column):
            continue
        what = (
            f"no such key in the first {SAMPLE} records" if jsonl else "no such column"
        )
        hint = ""
        if items.format == "csv" and len(items.columns) == 1:
            hint = "; the header was read as one column: give --delimiter?"
        if items.format == "jsonl" and not items.columns:
            hint = (
                "; no line holds an object: a JSON document (an array of records,"
                " or an object holding one) is read with --format json"
            )
        raise InputError(
            f"--map {field}={column}: {what}; "
            f"{'keys' if jsonl else 'columns'}: {_listed(items.columns)}{hint}",
            where=where,
        )


def check_account_ids(
    items: Stream, fields: FieldMap, args: argparse.Namespace
) -> None:
    """A run without account ids names accounts by a hash of their data:
    say so, and keep such names out of a store, where they would pile up."""
    if any(items.has_key(key) for key in fields.keys_of("account_id")):
        return
    if args.store:
        raise InputError(
            "--store needs account ids: give --map account_id=COLUMN",
            where=args.input,
        )
    print(
        "agegate review: warning: no account id column; flags name accounts by"
        " a keyed hash of their data (give --map account_id=COLUMN)",
        file=sys.stderr,
    )


# -- the run ---------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def context(
    args: argparse.Namespace,
    items: Stream,
    settings: ReviewSettings,
    started_at: str,
) -> dict[str, Any]:
    """What was run, for the summary: an auditor can tell two runs apart."""
    return {
        "agegate_version": version(),
        "tables_version": tables_version(settings.rules_directory),
        "today": settings.today.isoformat(),
        "input": _shown_input(args.input),
        "format": "postgresql" if _is_postgres(items) else items.format,
        "table": items.table,
        "delimiter": items.delimiter,
        "encoding": args.encoding,
        "map": _map(settings.fields),
        "policy": attrs.asdict(settings.policy),
        "started_at": started_at,
    }


def _map(fields: FieldMap) -> dict[str, str | list[str]]:
    found: dict[str, str | list[str]] = {}
    for field in FIELDS:
        keys = fields.keys_of(field)
        if keys:
            found[field] = keys[0] if len(keys) == 1 else list(keys)
    return found


class UnreadableReport:
    """Prints the first unreadable rows by line; counts them all."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.printed = 0

    def __call__(self, row: Unreadable) -> None:
        self.printed += 1
        if self.printed <= UNREADABLE_PRINTED:
            print(shown(f"{self.where}:{row.line}: {row.reason}"), file=sys.stderr)


def _options(args: argparse.Namespace) -> tuple[FieldMap, dict[str, str], Policy]:
    """The column map (as a FieldMap and as given) and the policy, once
    every option and output path is checked."""
    if args.engine is None:
        args.engine = "rows" if _small(args) else "columnar"
    if args.batch_size is None:
        # The columnar engine pays per batch what the row engine pays per row.
        args.batch_size = _batch_rows() if args.engine == "columnar" else BATCH_SIZE
    if args.workers < 1 or args.batch_size < 1:
        raise InputError("--workers and --batch-size must be at least 1")
    fields, mapping = field_map(args.map)
    policy = _policy(args)
    warn_threshold(args)
    check_outputs(args)
    return fields, mapping, policy


def _small(args: argparse.Namespace) -> bool:
    """A file the row engine screens sooner than Arrow loads (`SMALL_INPUT`)."""
    if args.workers != 1 or args.input == STDIN or is_postgres_url(args.input):
        return False
    if (args.format or _format_of(args.input)) not in ("csv", "jsonl", "sqlite"):
        return False
    try:
        return os.stat(args.input).st_size < SMALL_INPUT
    except (OSError, ValueError):  # the reader says what is wrong with it
        return False


def _format_of(path: str) -> str | None:
    try:
        return detect_format(path)
    except InputError:
        return None


def _arrow_read(args: argparse.Namespace) -> bool:
    """Whether this run reads its input through pyarrow."""
    if args.engine == "columnar" or is_postgres_url(args.input):
        return True
    return args.input != STDIN and (args.format or _format_of(args.input)) == "parquet"


def _batch_rows() -> int:
    from ..review.batches import BATCH_ROWS

    return BATCH_ROWS


def _is_postgres(items: Stream) -> bool:
    """A PostgreSQL stream exists only once its module is loaded."""
    module = sys.modules.get("agegate.review.postgres")
    return module is not None and isinstance(items, module.PostgresStream)


def _shown_input(given: str) -> str:
    if given == STDIN or is_postgres_url(given):
        return given  # a URL is masked once its input is open
    if "://" in given:
        return masked(given)  # shown as typed, never with its password
    return os.path.abspath(given)


def _open_postgres(args: argparse.Namespace) -> Stream:
    """A postgresql:// input: its columns checked against --map before a row
    is read; from here on the URL is shown with its password masked."""
    from ..review.postgres import open_source

    fields, mapping = field_map(args.map)
    source = open_source(args.input, table=args.table, query=args.query, key=args.key)
    args.input = masked(args.input)
    source.check_columns(mapping)
    wanted = tuple(key for field in FIELDS for key in fields.keys_of(field))
    return source.stream(wanted, args.batch_size)


def _open_input(args: argparse.Namespace) -> Stream:
    if is_postgres_url(args.input):
        return _open_postgres(args)
    if args.query is not None or args.key is not None:
        raise InputError("--query and --key apply to postgresql:// inputs only")
    return read(
        args.input,
        args.format,
        table=args.table,
        delimiter=_delimiter(args.delimiter),
        encoding=args.encoding,
    )


def _settings(
    args: argparse.Namespace,
    items: Stream,
    store: FlagStore | None,
    fields: FieldMap,
    policy: Policy,
) -> ReviewSettings:
    today: date = args.today or live_today()
    try:
        return ReviewSettings(
            today=today,
            secret=_secret(args, store),
            fields=fields,
            policy=policy,
            locator="rowid" if _by_rowid(items) else "line",
            assurance=assurance_levels(args.assurance, fields),
            collected_formats=tuple(args.collected_format),
        )
    except ValueError as error:
        raise InputError(f"--collected-format: {error}") from None


def assurance_levels(pairs: list[str], fields: FieldMap) -> dict[str, Level] | None:
    """The --assurance options as an AssurancePolicy's `required`, or None."""
    if not pairs:
        return None
    from ..assurance.model import Level
    from ..assurance.policy import required_levels

    if fields.assurance_valid_until is None:
        raise InputError("--assurance needs --map assurance_valid_until=COLUMN")
    found: dict[str, Level] = {}
    for pair in pairs:
        code, equals, name = pair.partition("=")
        level = Level.__members__.get(name.strip().upper())
        if not equals or level is None:
            raise InputError(
                f"--assurance {pair!r}: JURISDICTION=LEVEL, LEVEL one of"
                f" {', '.join(Level.__members__)}"
            )
        found[code.strip().upper()] = level
    try:
        return required_levels(found)
    except ValueError as error:
        raise InputError(f"--assurance: {error}") from None


def _by_rowid(items: Stream) -> bool:
    if _is_postgres(items):
        return bool(items.source.integer_key)  # type: ignore[attr-defined]
    return items.format == "sqlite"


def _source(
    args: argparse.Namespace, items: Stream, fields: FieldMap
) -> Source | PostgresSource | None:
    """The input as the columnar engine reads it; None for the row engine
    (asked for, or needed by --assurance)."""
    if args.engine != "columnar" or args.assurance:
        return None
    if _is_postgres(items):
        return items.source  # type: ignore[attr-defined, no-any-return]
    from ..review.batches import Source

    return Source.of(items, args.input, args.encoding, _keys(fields))


def _keys(fields: FieldMap) -> tuple[str, ...]:
    """Every key the review reads."""
    return tuple(key for field in FIELDS for key in fields.keys_of(field))


@attrs.define
class _Run:
    """One review: its options, its input, and what it has counted so far."""

    args: argparse.Namespace
    items: Stream
    started_at: str = attrs.field(factory=_now)
    tally: Tally = attrs.field(factory=Tally)
    # What was run, for the summary; known once the input is open.
    about: dict[str, Any] = attrs.field(factory=dict)
    report: UnreadableReport = attrs.field(
        default=attrs.Factory(lambda self: UnreadableReport(self.args.input), True)
    )
    # What the checks of `checks` found, at the start and at the end.
    findings: list[Finding] = attrs.field(factory=list)

    def check_sample(self, settings: ReviewSettings) -> bool:
        """Whether the first rows read as meant (or --accept-unreadable):
        else each misread column is named, with its fix."""
        rows = [
            item.values
            for item in self.items.peek(SAMPLE)
            if not isinstance(item, Unreadable)
        ]
        self.findings = sample_findings(rows, settings)
        accepted = self.args.accept_unreadable
        for finding in self.findings:
            say("review", f"{'warning: ' if accepted else ''}{finding.message}")
        if self.findings and not accepted:
            say(
                "review",
                "nothing was written: give the option named, or --accept-unreadable"
                " to review the input as it is read",
            )
        return accepted or not self.findings

    def check_counts(self) -> list[Finding]:
        """What the run's counts say was misread, not named at the start."""
        tally = self.tally
        named = {finding.field for finding in self.findings}
        found = [
            finding
            for finding in run_findings(
                tally.rows_read,
                tally.rows_unreadable,
                (reason for _, reason in tally.unreadable),
                tally.by_code,
                tally.rows_screened,
            )
            if finding.field not in named
        ]
        self.findings.extend(found)
        return found

    def screen(
        self,
        settings: ReviewSettings,
        store: FlagStore | None,
        flag_file: FlagFile | None,
    ) -> None:
        args = self.args
        try:
            run_review(
                self.items,
                settings,
                source=_source(args, self.items, settings.fields),
                flag_file=flag_file,
                store=store,
                workers=args.workers,
                batch_size=args.batch_size,
                on_unreadable=self.report,
                progress=args.progress,
                tally=self.tally,
                started_at=datetime.fromisoformat(self.started_at),
            )
        except KeyboardInterrupt:
            # The counts so far, marked incomplete, for whoever resumes.
            self.write_summary()
            raise

    def write_summary(self) -> None:
        if self.args.summary:
            checks = {
                "problems": [attrs.asdict(f) for f in self.findings],
                "accepted_unreadable": self.args.accept_unreadable,
            }
            write_json(
                self.args.summary,
                {**self.tally.to_dict(), **self.about, **checks, "finished_at": _now()},
            )

    def finish(self) -> int:
        """Reports the run and returns its exit status."""
        args, tally = self.args, self.tally
        if self.report.printed > UNREADABLE_PRINTED:
            print(
                f"... and {self.report.printed - UNREADABLE_PRINTED} more"
                " unreadable rows",
                file=sys.stderr,
            )
        late = self.check_counts() if tally.rows_screened else []
        self.write_summary()
        if not args.quiet:
            human = sys.stderr if args.flags_out == STDIN else sys.stdout
            print(render(tally), file=human)
        if tally.rows_read and not tally.rows_screened:
            raise InputError(
                f"none of the {tally.rows_read} rows read could be screened;"
                " check --format, --encoding and --delimiter",
                where=args.input,
            )
        accepted = args.accept_unreadable
        for finding in late:
            say("review", f"{'warning: ' if accepted else ''}{finding.message}")
        if late and not accepted:
            say("review", "exit 3: give the option named, or --accept-unreadable")
            return EXIT_UNREADABLE
        if tally.flags_reappeared:
            say(
                "review",
                f"{tally.flags_reappeared} account(s) removed or erased are still"
                " in the input, flagged again: status reappeared (agegate flags"
                " list --status reappeared)",
            )
            return EXIT_REAPPEARED
        if args.fail_on_flags and tally.accounts_flagged:
            return EXIT_FINDINGS
        return EXIT_OK


def _open_store(target: str) -> FlagStore:
    from ..flags.store import open_store

    return open_store(target)


def run(args: argparse.Namespace) -> int:
    started_at = _now()
    fields, mapping, policy = _options(args)
    if getattr(args, "own_process", False) and _arrow_read(args):
        from ..review.batches import skip_pandas_probe

        skip_pandas_probe()
    review = _Run(args, _open_input(args), started_at)
    items = review.items
    with contextlib.ExitStack() as stack:
        stack.callback(items.close)
        check_input(items, mapping, args.input)
        check_column_types(items, _keys(fields), args.input)
        check_account_ids(items, fields, args)
        if not review.check_sample(_settings(args, items, None, fields, policy)):
            return EXIT_UNREADABLE
        store = _open_store(args.store) if args.store else None
        if store is not None:
            stack.callback(store.close)
        settings = _settings(args, items, store, fields, policy)
        # What was run is written only into a summary.
        if args.summary:
            review.about = context(args, items, settings, started_at)
        flag_file = (
            stack.enter_context(FlagFile(args.flags_out)) if args.flags_out else None
        )
        review.screen(settings, store, flag_file)
    return review.finish()
