"""Running a batch review: rows in batches, through one or more processes, out
to flag files, the flag store and a summary.

Two engines give the same flags. The columnar one (the default) reads the
input as Arrow record batches and screens each with `ColumnarReviewer`; with
several workers, this process and the worker processes each read their own
shares of the input (CSV byte ranges that start where a record starts,
Parquet row groups, SQLite rowid ranges), so no row is pickled, and the
results come back in input order. The row engine reads `Row | Unreadable`
items and screens them with `Reviewer.review_batch`, in this process or in
workers that are sent the rows. Then come the writers. Memory stays flat:
only a few batches are in flight at a time. Each batch is written to the
store in one transaction, so a run killed part-way leaves the store as it
was after its last whole batch, and a re-run converges on the same content.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ..flags.output import FlagFile
from ..logs import logger
from .readers import Item, Stream, Unreadable
from .reviewer import LOG, Batch, Reviewer, ReviewSettings, screen_batch

if TYPE_CHECKING:  # loaded by the engine and the outputs chosen
    from concurrent.futures import Future, ThreadPoolExecutor

    from ..flags.store import FlagStore
    from .batches import Share, Source
    from .columnar import ColumnarReviewer, Screened
    from .postgres import PostgresSource

Engine = Literal["columnar", "rows"]
ENGINES: tuple[Engine, ...] = ("columnar", "rows")

__all__ = [
    "BATCH_SIZE",
    "ENGINES",
    "Engine",
    "Tally",
    "chunks",
    "render",
    "run",
    "screen_batch",
    "screen_batches",
    "screen_source",
    "write_json",
]


BATCH_SIZE = 2000
# Unreadable rows listed in the summary file; the count is always exact.
UNREADABLE_LISTED = 1000


def chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- screening, here or in workers -----------------------------------------

_worker: Reviewer | None = None


def _start_worker(settings: ReviewSettings) -> None:
    global _worker
    _worker = Reviewer(settings)


def _work(items: list[Item]) -> Batch:
    if _worker is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker not started")
    return screen_batch(_worker, items)


def screen_batches(
    items: Iterable[Item],
    settings: ReviewSettings,
    *,
    workers: int = 1,
    batch_size: int = BATCH_SIZE,
) -> Iterator[Batch]:
    """Batches of results, in input order."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if workers == 1:
        reviewer = Reviewer(settings)
        for batch in chunks(items, batch_size):
            yield screen_batch(reviewer, batch)
        return
    # Spawned workers import agegate afresh: no lock or thread state of the
    # parent is copied into them.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(settings,),
    ) as pool:
        pending: collections.deque[Future[Batch]] = collections.deque()
        for batch in chunks(items, batch_size):
            pending.append(pool.submit(_work, batch))
            # A bounded window keeps memory flat however long the input.
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# -- the columnar engine ------------------------------------------------------

_columnar: ColumnarReviewer | None = None


def _start_columnar(settings: ReviewSettings, for_store: bool) -> None:
    global _columnar
    from .batches import skip_pandas_probe

    skip_pandas_probe()
    _columnar = _columnar_reviewer(settings, for_store)


def _columnar_reviewer(settings: ReviewSettings, for_store: bool) -> ColumnarReviewer:
    """An engine that signs flags and lists clean accounts only where a
    flag store needs them: they cost more than the screening."""
    from .columnar import ColumnarReviewer

    return ColumnarReviewer(settings, fingerprints=for_store, keep_clean=for_store)


def _screen_share(
    source: Source | PostgresSource, share: Share, batch_rows: int
) -> list[Screened]:
    """A worker's task: read one share of the input and screen it."""
    if _columnar is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker not started")
    return _screen_with(_columnar, source, share, batch_rows)


def _screen_with(
    engine: ColumnarReviewer,
    source: Source | PostgresSource,
    share: Share,
    batch_rows: int,
) -> list[Screened]:
    from .batches import sliced

    found = sliced(_read_share(source, share, batch_rows), batch_rows)
    return [engine.screen(batch) for batch in found]


def _read_share(
    source: Source | PostgresSource, share: Share, batch_rows: int
) -> Iterator[Any]:
    from . import batches
    from .postgres import PostgresSource

    if isinstance(source, PostgresSource):
        return source.read_share(share, batch_rows)
    return batches.read_share(source, share, batch_rows)


@contextlib.contextmanager
def _cut(
    source: Source | PostgresSource, workers: int
) -> Iterator[tuple[Source | PostgresSource, list[Share]]]:
    """The source as its workers read it, and its shares; a PostgreSQL
    split holds its coordinating transaction open until the block ends."""
    from . import batches
    from .postgres import PostgresSource

    if isinstance(source, PostgresSource):
        with source.split(workers) as (split, cut):
            yield split, cut
        return
    yield source, batches.shares(source, workers)


def screen_source(
    source: Source | PostgresSource,
    settings: ReviewSettings,
    *,
    stream: Stream | None = None,
    workers: int = 1,
    batch_size: int = BATCH_SIZE,
    for_store: bool = True,
) -> Iterator[Screened]:
    """The columnar engine: results of each batch, in input order. `stream`,
    an open reader of `source` (peeked rows included), is read when the
    input is not cut in shares. Without `for_store`, flags carry no
    fingerprint (but for accounts without an id) and no clean ids are
    listed."""
    from . import batches

    if workers < 1 or batch_size < 1:
        raise ValueError("workers and batch_size must be at least 1")
    with _cut(source, workers) as (source, cut):
        if len(cut) == 1:
            found = _whole(source, stream, batch_size)
            engine = _columnar_reviewer(settings, for_store)
            for batch in batches.sliced(found, batch_size):
                yield engine.screen(batch)
            return
        if stream is not None:
            stream.close()
        yield from _screen_shares(source, cut, settings, workers, batch_size, for_store)


def _whole(
    source: Source | PostgresSource, stream: Stream | None, batch_size: int
) -> Iterator[Any]:
    """The whole input in batches: from the open `stream` where it reads
    a file's rows, else read afresh (a PostgreSQL input's stream closed
    first, so that one connection reads at a time)."""
    from . import batches

    if isinstance(source, batches.Source):
        if stream is not None and source.format != "parquet":
            return batches.stream_batches(
                stream, source.path, source.encoding, source.columns, batch_size
            )
    elif stream is not None:
        stream.close()
    return _read_share(source, batches.WHOLE, batch_size)


def _screen_shares(
    source: Source | PostgresSource,
    cut: list[Share],
    settings: ReviewSettings,
    workers: int,
    batch_size: int,
    for_store: bool,
) -> Iterator[Screened]:
    """The shares screened by this process and `workers - 1` worker
    processes, results in input order."""
    here = _columnar_reviewer(settings, for_store)

    def screen_here(number: int) -> list[Screened]:
        return _screen_with(here, source, cut[number], batch_size)

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        max_workers=workers - 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_columnar,
        initargs=(settings, for_store),
    ) as pool:

        def submit(number: int) -> Future[list[Screened]]:
            return pool.submit(_screen_share, source, cut[number], batch_size)

        for screened in _in_order(len(cut), submit, screen_here, workers - 1):
            yield from screened


def _in_order(
    count: int,
    submit: Callable[[int], Future[list[Screened]]],
    here: Callable[[int], list[Screened]],
    children: int,
) -> Iterator[list[Screened]]:
    """The results of shares 0..count-1, in order. Worker processes always
    hold a few shares; whenever the share due is not back yet, this
    process screens the next share nobody holds, so the workers' start-up
    (an interpreter, the imports, the tables) leaves no core idle. At most
    `window` shares are held or kept out of order: memory stays flat."""
    window = 4 * (children + 1)
    flying: dict[int, Future[list[Screened]]] = {}
    done: dict[int, list[Screened]] = {}
    taken = 0

    def feed(due: int) -> None:
        nonlocal taken
        while taken < count and len(flying) < 2 * children and taken - due < window:
            flying[taken] = submit(taken)
            taken += 1

    for due in range(count):
        while due not in done:
            if due == taken:  # nobody holds it
                taken += 1
                feed(due)
                done[due] = here(due)
                continue
            feed(due)
            future = flying[due]
            if future.done() or taken >= count or taken - due >= window:
                done[due] = flying.pop(due).result()
                continue
            number, taken = taken, taken + 1
            done[number] = here(number)
        yield done.pop(due)


# -- counting --------------------------------------------------------------


@attrs.define
class Tally:
    """The counts of a run; `rows_read == rows_screened + rows_unreadable`."""

    rows_screened: int = 0
    rows_unreadable: int = 0
    accounts_flagged: int = 0
    flags_cleared: int = 0
    # Accounts flagged again that the store had as removed (now `reappeared`),
    # or as dismissed (left so).
    flags_reappeared: int = 0
    dismissed_present: int = 0
    by_code: collections.Counter[str] = attrs.field(factory=collections.Counter)
    by_action: collections.Counter[str] = attrs.field(factory=collections.Counter)
    by_jurisdiction: collections.Counter[str] = attrs.field(factory=collections.Counter)
    unreadable: list[tuple[int, str]] = attrs.field(factory=list)
    completed: bool = False

    @property
    def rows_read(self) -> int:
        return self.rows_screened + self.rows_unreadable

    def add(self, batch: Batch) -> None:
        self._add_rows(batch.screened, batch.unreadable)
        self.accounts_flagged += len(batch.flags)
        for flag in batch.flags:
            self.by_code.update(flag.codes)
            self.by_action[flag.action] += 1
            self.by_jurisdiction[flag.jurisdiction or "unknown"] += 1

    def add_screened(self, screened: Screened) -> None:
        """Counts a batch of the columnar engine, from its flag columns."""
        self._add_rows(screened.rows_screened, screened.unreadable)
        self.accounts_flagged += screened.flags.num_rows
        self.by_code.update(screened.by_code)
        self.by_action.update(screened.by_action())
        self.by_jurisdiction.update(screened.by_jurisdiction())

    def _add_rows(self, screened: int, unreadable: tuple[tuple[int, str], ...]) -> None:
        self.rows_screened += screened
        self.rows_unreadable += len(unreadable)
        room = UNREADABLE_LISTED - len(self.unreadable)
        if room > 0:
            self.unreadable.extend(unreadable[:room])

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_screened": self.rows_screened,
            "rows_unreadable": self.rows_unreadable,
            "accounts_flagged": self.accounts_flagged,
            "flags_cleared": self.flags_cleared,
            "flags_reappeared": self.flags_reappeared,
            "dismissed_still_present": self.dismissed_present,
            "by_code": dict(sorted(self.by_code.items())),
            "by_action": dict(sorted(self.by_action.items())),
            "by_jurisdiction": dict(sorted(self.by_jurisdiction.items())),
            "unreadable": [
                {"line": line, "reason": reason} for line, reason in self.unreadable
            ],
            "unreadable_listed_all": len(self.unreadable) == self.rows_unreadable,
            "completed": self.completed,
        }


def render(tally: Tally) -> str:
    """A one-screen summary for people."""
    lines = [
        f"rows read        {tally.rows_read}",
        f"  screened       {tally.rows_screened}",
        f"  unreadable     {tally.rows_unreadable}",
        f"accounts flagged {tally.accounts_flagged}",
    ]
    if tally.flags_cleared:
        lines.append(f"flags cleared    {tally.flags_cleared}")
    if tally.flags_reappeared:
        lines.append(
            f"reappeared       {tally.flags_reappeared}  (removed, still here)"
        )
    if tally.dismissed_present:
        lines.append(f"dismissed, still present {tally.dismissed_present}")
    for action, count in sorted(tally.by_action.items()):
        lines.append(f"  {action:<14} {count}")
    if tally.by_code:
        lines.append("by code")
        for code, count in tally.by_code.most_common():
            lines.append(f"  {code:<22} {count}")
    if tally.by_jurisdiction:
        lines.append("by jurisdiction")
        shown = tally.by_jurisdiction.most_common(10)
        for code, count in shown:
            lines.append(f"  {code:<22} {count}")
        rest = sum(tally.by_jurisdiction.values()) - sum(c for _, c in shown)
        if rest:
            lines.append(f"  {'(others)':<22} {rest}")
    return "\n".join(lines)


# -- writing ---------------------------------------------------------------


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write whole or not at all: a reader never sees half a summary."""
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)


def _update_store(
    store: FlagStore, batch: Batch, flagged: set[str], at: datetime
) -> tuple[int, collections.Counter[str]]:
    """Upsert the batch's flags and close the open flags of the accounts it
    screened clean; returns how many were closed, and the statuses of the
    accounts first flagged in this batch once upserted (a removed one is
    now `reappeared`). An account flagged anywhere in this run (a duplicate
    row) is never cleared by another row."""
    first = {f.account_id for f in batch.flags if f.account_id not in flagged}
    flagged.update(first)
    cleared = 0
    clean = [account for account in batch.clean if account not in flagged]
    if clean:
        cleared = store.clear(clean, at=at)
    statuses: collections.Counter[str] = collections.Counter()
    if batch.flags:
        store.add_many(batch.flags)
        statuses = store.statuses(first)
    return cleared, statuses


def run(
    items: Iterable[Item],
    settings: ReviewSettings,
    *,
    source: Source | PostgresSource | None = None,
    flag_file: FlagFile | None = None,
    store: FlagStore | None = None,
    workers: int = 1,
    batch_size: int = BATCH_SIZE,
    on_unreadable: Callable[[Unreadable], None] | None = None,
    progress: bool | None = None,
    tally: Tally | None = None,
    started_at: datetime | None = None,
) -> Tally:
    """Review every item and write the flags; returns the counts.

    With `source` (the input `items` reads) the columnar engine screens it;
    without, the row engine screens `items`. `tally`, if given, is counted
    into as batches complete, so a caller interrupted part-way still has the
    counts so far. `started_at` is the run's time, given to the flags the
    store clears.
    """
    tally = tally if tally is not None else Tally()
    out = _Outputs(tally, flag_file, store, started_at or datetime.now(UTC))
    results: Iterator[Batch | Screened]
    if source is not None:
        stream = items if isinstance(items, Stream) else None
        results = screen_source(
            source, settings, stream=stream, workers=workers,
            batch_size=batch_size, for_store=store is not None,
        )  # fmt: skip
    else:
        results = screen_batches(
            items, settings, workers=workers, batch_size=batch_size
        )
    with _progress_bar(items, progress) as bar, out:
        for result in results:
            out.take(result)
            _report_unreadable(result.unreadable, on_unreadable)
            _advance(bar, items, result)
    tally.completed = True
    return tally


@attrs.define
class _Outputs:
    """Where each batch's results go: the counts, the flag file, the store."""

    tally: Tally
    flag_file: FlagFile | None
    store: FlagStore | None
    started_at: datetime
    # Accounts flagged so far: a duplicate row never clears their flag.
    flagged: set[str] = attrs.field(factory=set)
    # The columnar engine's flags are written in a thread (pyarrow builds
    # the lines without the GIL) while the next batch is screened: one
    # write in flight, whose error surfaces at the next batch or the end.
    _writer: ThreadPoolExecutor | None = None
    _writing: Future[None] | None = None

    def __enter__(self) -> _Outputs:
        return self

    def __exit__(self, kind: object, *exc_info: object) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        if kind is None:  # else the error under way is the one to report
            self._written()

    def _written(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def _write(self, flags: Any) -> None:
        if self.flag_file is None:
            return
        self._written()
        if self._writer is None:
            from concurrent.futures import ThreadPoolExecutor

            self._writer = ThreadPoolExecutor(1, thread_name_prefix="agegate-write")
        at = datetime.now(UTC)
        self._writing = self._writer.submit(self.flag_file.add_columns, flags, at)

    def take(self, result: Batch | Screened) -> None:
        batch = result if isinstance(result, Batch) else None
        if self.store is not None:
            batch = batch or _as_batch(result)
            cleared, statuses = _update_store(
                self.store, batch, self.flagged, self.started_at
            )
            self.tally.flags_cleared += cleared
            self.tally.flags_reappeared += statuses["reappeared"]
            self.tally.dismissed_present += statuses["dismissed"]
        if isinstance(result, Batch):
            if self.flag_file is not None and result.flags:
                self.flag_file.add_many(result.flags)
            self.tally.add(result)
            return
        if result.flags.num_rows:
            self._write(result.flags)
        self.tally.add_screened(result)


def _as_batch(screened: Any) -> Batch:
    from .columnar import as_batch

    return as_batch(screened)


def _progress_bar(items: Iterable[Item], progress: bool | None) -> _Bar:
    """A bar on standard error, shown when asked (default: on a terminal).
    A Stream measures itself (bytes of a file, rows of a table): the bar then
    has a total and an ETA."""
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        # tqdm's import costs more than a small review: not for no bar.
        return _NoBar()
    import tqdm

    total = items.total if isinstance(items, Stream) else None
    unit = items.unit if isinstance(items, Stream) else " rows"
    bar: tqdm.tqdm[Any] = tqdm.tqdm(
        total=total,
        unit=unit,
        unit_scale=unit == "B",
        file=sys.stderr,
        dynamic_ncols=True,
    )
    return bar


class _NoBar:
    """What a run that shows no bar moves: it counts, as a bar does."""

    n = 0

    def update(self, count: int) -> None:
        self.n += count

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *_: object) -> None:
        return None


# A tqdm bar or a _NoBar: both count `n` and take `update`.
_Bar = Any


def _advance(bar: _Bar, items: Iterable[Item], result: Batch | Screened) -> None:
    """Moves the bar by what the batch says it read, else by the stream's
    position, else by its rows."""
    measured = isinstance(items, Stream) and items.total is not None
    advanced = 0 if isinstance(result, Batch) else result.advanced
    if advanced:
        bar.update(advanced)
        return
    done = items.position() if isinstance(items, Stream) else None
    if measured and done is not None:
        bar.update(max(0, done - bar.n))
    else:
        bar.update(result.rows_read)


def _report_unreadable(
    unreadable: tuple[tuple[int, str], ...],
    on_unreadable: Callable[[Unreadable], None] | None,
) -> None:
    for line, reason in unreadable:
        logger(LOG).debug("line %d unreadable: %s", line, reason)
        if on_unreadable is not None:
            on_unreadable(Unreadable(line, reason))
