"""How long a short command takes, whole process, start-up cache warm.

    python benchmarks/bench_startup.py              # 20 interleaved rounds
    python benchmarks/bench_startup.py --rounds 40
    python benchmarks/bench_startup.py --baseline /path/to/other/checkout
    python benchmarks/bench_startup.py --bytecode   # as an installed package

Runs, in interleaved rounds, each in a fresh process: a bare `python -c
pass` (the interpreter's own floor), `agegate check` of one person with a
phone number, and `agegate review` of a 2-row CSV file writing its flags.
Prints the median and the least wall time of each, and the median CPU time
(user + system: what a shared machine's load does not inflate), against
the goal of 0.15 s. The first run of each fills the start-up cache and is
not counted. Every run imports agegate from this checkout (put first on
PYTHONPATH); with --baseline, the agegate commands also run from that
checkout, in the same rounds, and each line says how this tree's median
compares. Runs inherit PYTHONDONTWRITEBYTECODE: when it is set (and no
`__pycache__` is there), every run compiles agegate's sources again;
--bytecode gives the runs a bytecode cache of their own in the temporary
directory, as an installed package has (pip compiles it at install).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECRET = "benchmark key, 32 bytes long...."
GOAL = 0.15


def _commands(directory: Path) -> dict[str, list[str]]:
    accounts = directory / "tiny.csv"
    accounts.write_text(
        "account_id,birthdate,country,phone,collected_at\n"
        "a1,2012-01-01,US,,2024-01-01\n"
        "a2,1990-05-05,FR,+33 6 12 34 56 78,2024-01-01\n",
        encoding="utf-8",
    )
    agegate = [sys.executable, "-m", "agegate.cli"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "agegate check": [
            *agegate, "check", "--birthdate=2010-01-01", "--country=US",
            "--phone=+33 6 12 34 56 78", "--today=2026-11-28",
        ],
        "agegate review (2 rows)": [
            *agegate, "review", str(accounts), "--today=2026-11-28",
            f"--flags-out={directory / 'flags.jsonl'}", f"--secret={SECRET}",
            "--quiet",
        ],
    }  # fmt: skip


Run = tuple[list[str], dict[str, str], Path]


def _run(run: Run) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    command, env, directory = run
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # Run from elsewhere: `-m` would put the current directory first on
    # the path, whichever checkout PYTHONPATH names.
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=directory)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout to time side by side"
    )
    parser.add_argument(
        "--bytecode", action="store_true", help="run from compiled bytecode"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        os.environ.setdefault("AGEGATE_CACHE_DIR", str(directory / "cache"))
        if args.bytecode:
            os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
            os.environ["PYTHONPYCACHEPREFIX"] = str(directory / "bytecode")
        runs = _runs(_commands(directory), directory, args.baseline)
        for run in runs.values():
            _run(run)  # fills the cache
        walls: dict[str, list[float]] = {label: [] for label in runs}
        cpus: dict[str, list[float]] = {label: [] for label in runs}
        for _ in range(args.rounds):
            for label, run in runs.items():
                wall, cpu = _run(run)
                walls[label].append(wall)
                cpus[label].append(cpu)
        compiled = "" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "bytecode, "
        print(f"{args.rounds} interleaved rounds ({compiled}goal {GOAL:.2f} s)")
        for label in runs:
            median = statistics.median(walls[label])
            print(
                f"{label:<34} wall median {median:.3f} s"
                f"  least {min(walls[label]):.3f} s"
                f"  cpu median {statistics.median(cpus[label]):.3f} s"
                f"{_against(label, walls)}"
            )


def _runs(
    commands: dict[str, list[str]], directory: Path, baseline: Path | None
) -> dict[str, Run]:
    """Each command as run from this checkout, then the agegate ones from
    `baseline` too, labelled so."""
    here = _env(Path(__file__).resolve().parent.parent)
    runs = {label: (command, here, directory) for label, command in commands.items()}
    if baseline is not None:
        there = _env(baseline.resolve())
        for label, command in commands.items():
            if "agegate" in label:
                runs[f"{label} [baseline]"] = (command, there, directory)
    return runs


def _env(checkout: Path) -> dict[str, str]:
    """The environment with `checkout` first on the module path."""
    path = os.pathsep.join(
        part for part in (str(checkout), os.environ.get("PYTHONPATH")) if part
    )
    return {**os.environ, "PYTHONPATH": path}


def _against(label: str, walls: dict[str, list[float]]) -> str:
    """How this tree's median compares with the baseline's, on its line."""
    other = walls.get(f"{label} [baseline]")
    if other is None:
        return ""
    ratio = statistics.median(other) / statistics.median(walls[label])
    return f"  {ratio:.2f}x the baseline's speed"


if __name__ == "__main__":
    main()
