"""`agegate report`: one HTML page a privacy officer can read at a glance.

`facts` counts a flag store's flags and review summaries, `source` reads
the store, `chain` states the receipts' chain, `charts` draws with
matplotlib (the optional `report` extra) and `page` lays it out. The data
is gathered first and holds only counts and codes; the page is drawn from
that alone.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ...errors import InputError
from . import charts
from .chain import ChainFacts, chain_facts, no_receipts
from .facts import read_summary
from .page import Report, render
from .source import read_flags, store_label

__all__ = ["INSTALL_HINT", "gather", "make_page", "write_page"]

INSTALL_HINT = charts.INSTALL_HINT


def gather(
    store: str,
    summaries: Sequence[str] = (),
    receipts: str | None = None,
    *,
    version: str = "",
    now: datetime | None = None,
) -> Report:
    """The report's facts: everything is read before anything is drawn."""
    made = (now or datetime.now(UTC)).astimezone(UTC)
    return Report(
        store=store_label(store),
        made_at=made.strftime("%Y-%m-%d %H:%M UTC"),
        version=version,
        flags=read_flags(store),
        reviews=tuple(read_summary(path) for path in summaries),
        chain=_chain(store, receipts),
    )


def _chain(store: str, receipts: str | None) -> ChainFacts:
    if receipts is not None:
        return chain_facts(Path(receipts))
    from ..receipts import default_receipts_path

    beside = None if "://" in store else default_receipts_path(store)
    if beside is not None and beside.is_file():
        return chain_facts(beside)
    return no_receipts()


def make_page(report: Report) -> str:
    charts.load()
    return render(report)


def write_page(path: str, page: str) -> None:
    """Write the page whole or not at all, beside its final name."""
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path(".")
        )
    except OSError as error:
        raise InputError(f"cannot write ({error.strerror})", where=path) from None
    try:
        # mkstemp makes the file private; the page holds nothing personal,
        # so it gets the mode any file the user writes gets.
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(page)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"cannot write ({error.strerror})", where=path) from None


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
