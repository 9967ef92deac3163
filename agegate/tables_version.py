"""Which jurisdiction tables a run used: a digest of their files.

A review summary records it so that an auditor can tell, years later, whether
two runs applied the same tables. It changes whenever a table file's name or
content changes, and only then (the order files are listed in, or where the
tables are installed, does not matter).
"""

from __future__ import annotations

import hashlib
from importlib.resources.abc import Traversable
from pathlib import Path

from .rules import bundled_directory

# Hex digits kept: 64 bits tell table versions apart and stay readable.
_LENGTH = 16


def tables_version(directory: str | Path | Traversable | None = None) -> str:
    """A stable digest of every table file (`*.txt`) in `directory`
    (default: the bundled tables)."""
    folder: Traversable
    if directory is None:
        folder = bundled_directory()
    elif isinstance(directory, str):
        folder = Path(directory)
    else:
        folder = directory
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
