"""A target's erase started early, beside the run's own checks.

The first target of a run, when its eraser can stage an erase (see
`StagedEraser`), is erased from the start in a thread of its own, in a
transaction left open, while the run reads and checks the plan's flags:
sqlite3 lets other threads run while a statement executes, so the DELETE
and the checks proceed at once. Nothing is committed before every check
passed and the journal holds the target as started; a refusal rolls the
erase back, the target left as it was. The flag store is not written while
the erase is open, so its lock is never held beside the target's.
"""

from __future__ import annotations

import functools
import json
import threading

from .erasers.base import Erased, StagedEraser

__all__ = ["EarlyErase"]


class EarlyErase:
    """The staged erase of the ids `listed` (a JSON array, as the store
    read them), its state checked against `state`, for the plan whose flags
    bear `note`."""

    def __init__(
        self, eraser: StagedEraser, listed: str, state: str, note: str
    ) -> None:
        self.listed = listed
        self.note = note
        self._decided = threading.Event()
        self._committed = threading.Event()
        self.rows = 0
        self._commit = False
        self._outcome: Erased | BaseException | None = None
        # A daemon: a run interrupted never waits on it, and an erase never
        # committed is rolled back by the database itself.
        self._thread = threading.Thread(
            target=self._work, args=(eraser, state), daemon=True
        )
        self._thread.start()

    @functools.cached_property
    def ids(self) -> frozenset[str]:
        """The ids, made in the run's own thread once the erase is started."""
        return frozenset(json.loads(self.listed))

    def _work(self, eraser: StagedEraser, state: str) -> None:
        try:
            try:
                staged = eraser.stage_listed(self.listed, state)
            except BaseException as error:  # raised again by `result`
                self._outcome = error
                return
            self.rows = staged.rows
            self._decided.wait()
            try:
                if self._commit:
                    self._outcome = staged.commit(self._committed.set)
                else:
                    staged.rollback()
            except BaseException as error:
                self._outcome = error
        finally:
            # Whatever happened: `committed` waits no longer.
            self._committed.set()

    def commit(self) -> None:
        """Commit the erase once it is staged; `result` says how it went."""
        self._commit = True
        self._decided.set()

    def committed(self) -> int:
        """Wait for the commit (what follows it, a WAL checkpoint, may still
        run); how many rows it removed, or what the stage or the commit
        raised (TargetChanged when the target moved since the plan)."""
        self._committed.wait()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self.rows

    def result(self) -> Erased:
        """What the erase removed, or what its stage or commit raised
        (TargetChanged when the target moved since the plan)."""
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        if self._outcome is None:
            raise RuntimeError("the early erase was abandoned")
        return self._outcome

    def abandon(self) -> None:
        """Roll the erase back, unless committed already; whatever the stage
        raised is dropped (the run is failing for a reason of its own)."""
        self._decided.set()
        self._thread.join()
