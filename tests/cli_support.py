"""Run the real `agegate` command in a child process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def agegate(
    *args: str | Path, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m agegate.cli ARGS` on this checkout, its output read as UTF-8
    (ids and names in flags may be any text)."""
    return subprocess.run(
        [sys.executable, "-m", "agegate.cli", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        input=stdin,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"},
    )
