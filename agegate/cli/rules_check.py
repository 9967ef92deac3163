"""`agegate rules --check`: every problem of the table files, not only the first.

The loader stops at the first problem, which suits a server and not an editor
fixing a table. Here each problem is recorded, the line it names is set
aside, and the same loader runs again on the rest, until it passes: the
checks are the loader's own, never a second copy that could drift from it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from .. import codes
from ..errors import InputError, TableError
from ..rules import (
    ALIASES_FILE,
    Alias,
    Kind,
    Rule,
    Rules,
    check_country_file,
    parse_aliases,
    parse_table,
)
from ..tables_version import tables_version


@attrs.frozen
class Checked:
    """What one file held once its bad lines were set aside."""

    rules: tuple[Rule, ...] = ()
    aliases: tuple[Alias, ...] = ()
    problems: tuple[TableError, ...] = ()
    # False for the problems found across files, which add no file to count.
    is_file: bool = True


def check_paths(paths: Sequence[Path]) -> int:
    """Print every problem of the files and directories given, then a count;
    the number of problems."""
    for path in paths:
        if not path.exists():
            raise InputError(f"no such file or directory: {path}")
    problems = files = rules = aliases = 0
    for path in paths:
        found = _check_directory(path) if path.is_dir() else [_check_file(path)]
        for location, checked in found:
            files += checked.is_file
            rules += len(checked.rules)
            aliases += len(checked.aliases)
            problems += _report(location, checked.problems)
        if path.is_dir():
            print(f"{path}: tables version {tables_version(path)}")
    print(
        f"checked {files} files: {rules} rules, {aliases} aliases;"
        f" {problems} problem{'' if problems == 1 else 's'}"
    )
    return problems


def _report(location: Path, problems: Iterable[TableError]) -> int:
    count = 0
    unique = {(p.line, p.reason): p for p in problems}
    for _, problem in sorted(unique.items()):
        where = f"{location}:{problem.line}" if problem.line else f"{location}"
        print(f"{where}: {problem.reason}", file=sys.stderr)
        count += 1
    return count


def _check_file(path: Path) -> tuple[Path, Checked]:
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        return path, Checked(problems=(_error(path, "not UTF-8 text"),))
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    if path.name == ALIASES_FILE:
        return path, _aliases(text)
    country = path.name.removesuffix(".txt")
    if not codes.is_country(country) or not path.name.endswith(".txt"):
        message = "a table is named by an ISO 3166-1 alpha-2 code"
        return path, Checked(problems=(_error(path, message),))
    return path, _table(text, file=path.name, country=country)


def _check_directory(directory: Path) -> list[tuple[Path, Checked]]:
    entries = sorted(e for e in directory.iterdir() if e.name.endswith(".txt"))
    if not entries:
        raise InputError(f"no table files (*.txt) in {directory}")
    found = [_check_file(entry) for entry in entries]
    # What only the whole set can tell: aliases against the tables' codes.
    every_rule = [r for _, checked in found for r in checked.rules]
    every_alias = [a for _, checked in found for a in checked.aliases]
    for problem in _cross_check(every_rule, every_alias):
        where = directory / problem.file
        found.append((where, Checked(problems=(problem,), is_file=False)))
    return found


def _error(path: Path, message: str) -> TableError:
    return TableError(message, file=path.name, line=0)


def _blank(lines: list[str], number: int) -> bool:
    """Set line `number` aside; False when there is no such line to set."""
    if not 1 <= number <= len(lines) or not lines[number - 1].strip():
        return False
    lines[number - 1] = ""
    return True


def _table(text: str, *, file: str, country: str) -> Checked:
    lines = text.splitlines()
    problems: list[TableError] = []
    while True:
        try:
            rules = list(parse_table("\n".join(lines), file=file))
            break
        except TableError as error:
            problems.append(error)
            if not _blank(lines, error.line):  # pragma: no cover - parse names a line
                return Checked(problems=tuple(problems))
    while True:
        try:
            check_country_file(rules, file=file, country=country)
            break
        except TableError as error:
            problems.append(error)
            # The last check (a majority rule from -) names the first majority
            # rule or line 1; every other names the rule to set aside.
            first = next(
                (r for r in rules if r.code == country and r.kind is Kind.MAJORITY),
                None,
            )
            kept = [r for r in rules if r.line != error.line or r is first]
            if len(kept) == len(rules):
                break
            rules = kept
    return Checked(rules=tuple(rules), problems=tuple(problems))


def _aliases(text: str) -> Checked:
    lines = text.splitlines()
    problems: list[TableError] = []
    while True:
        try:
            found = parse_aliases("\n".join(lines), file=ALIASES_FILE)
            return Checked(aliases=tuple(found.values()), problems=tuple(problems))
        except TableError as error:
            problems.append(error)
            if not _blank(lines, error.line):  # pragma: no cover
                return Checked(problems=tuple(problems))


def _cross_check(rules: list[Rule], aliases: list[Alias]) -> list[TableError]:
    problems: list[TableError] = []
    while True:
        try:
            Rules(rules, {a.code: a for a in aliases})
            return problems
        except TableError as error:
            problems.append(error)
            if error.file == ALIASES_FILE:
                aliases = [a for a in aliases if a.line != error.line]
            else:
                rules = [
                    r for r in rules if (r.file, r.line) != (error.file, error.line)
                ]
