"""Which jurisdiction tables a run used: a digest of their files.

A review summary records it so that an auditor can tell, years later, whether
two runs applied the same tables. It changes whenever a table file's name or
content changes, and only then (the order files are listed in, or where the
tables are installed, does not matter).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

# Hex digits kept: 64 bits tell table versions apart and stay readable.
_LENGTH = 16


def bundled_directory() -> Traversable | Path:
    """The tables shipped with agegate (inside the wheel, or in a checkout)."""
    # A package installed as files holds them beside this module; only a
    # zipped one needs importlib.resources, whose import costs a start-up.
    here = Path(__file__).resolve().parent
    for folder in (here / "jurisdictions", here.parent / "jurisdictions"):
        if folder.is_dir():
            return folder
    import importlib.resources

    return importlib.resources.files("agegate") / "jurisdictions"


def tables_version(directory: str | Path | Traversable | None = None) -> str:
    """A stable digest of every table file (`*.txt`) in `directory`
    (default: the bundled tables, read once a process)."""
    if directory is None:
        return _bundled_version()
    return _digest(Path(directory) if isinstance(directory, str) else directory)


@functools.cache
def _bundled_version() -> str:
    return _digest(bundled_directory())


def _digest(folder: Path | Traversable) -> str:
    digest = hashlib.sha256()
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".txt")),
        key=lambda entry: entry.name,
    )
    for entry in files:
        content = entry.read_bytes()
        digest.update(f"{entry.name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:_LENGTH]
