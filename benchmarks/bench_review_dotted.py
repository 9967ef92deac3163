"""`agegate review` on a CSV whose mapped birthdate column has dots in its
name, against the same file with a plain name, whole process.

    python benchmarks/bench_review_dotted.py                   # 200,000 rows
    python benchmarks/bench_review_dotted.py --rows 1000000 --rounds 3

Writes the realistic accounts of bench_review.py twice: once as they are,
once with the birthdate column named as Shopify names a metafield
(`Birthday (customer.metafields.facts.birth_date)`). Runs `agegate review`
on each in interleaved rounds, each in a fresh Python process, and prints
the median seconds of each and the dotted run's ratio to the plain one
(1.0: a dotted name costs nothing), then checks both wrote the same flags.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_review import MAP, write_accounts
from bench_review_columnar import _digest, _review, _time

DOTTED = "Birthday (customer.metafields.facts.birth_date)"


def _renamed(path: Path, target: Path, old: str, new: str) -> None:
    """`path` with the header's column `old` named `new`."""
    with path.open("rb") as source, target.open("wb") as out:
        header = source.readline().decode("utf-8").rstrip("\r\n").split(",")
        header = [new if name == old else name for name in header]
        out.write((",".join(header) + "\n").encode("utf-8"))
        while block := source.read(1 << 20):
            out.write(block)


def _command(path: Path, out: Path, birthdate: str) -> list[str]:
    command = _review(path, out, "--workers=1")
    return [
        f"--map=birthdate={birthdate}" if part == f"--map=birthdate={MAP['birthdate']}"
        else part
        for part in command
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        plain, dotted = Path(directory) / "plain.csv", Path(directory) / "dotted.csv"
        write_accounts(plain, args.rows)
        _renamed(plain, dotted, MAP["birthdate"], DOTTED)
        print(f"{args.rows} rows, {args.rounds} interleaved rounds")
        out = {n: Path(directory) / f"flags-{n}.jsonl" for n in ("plain", "dotted")}
        commands = {
            "plain": _command(plain, out["plain"], MAP["birthdate"]),
            "dotted": _command(dotted, out["dotted"], DOTTED),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(_time(command))
        baseline = statistics.median(times["plain"])
        for name, found in times.items():
            median = statistics.median(found)
            ratio = median / baseline
            runs = ", ".join(f"{t:.2f}" for t in found)
            print(f"{name:<7} median {median:6.2f} s  ratio {ratio:.2f}  ({runs})")
        same = _digest(out["plain"]) == _digest(out["dotted"])
        print(f"identical flags: {same}")
        if not same:
            raise SystemExit("the runs disagree")


if __name__ == "__main__":
    main()
