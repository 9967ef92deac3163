"""Read example requests written in the `.http` format.

The files are the ones editors' REST clients run (VS Code REST Client,
JetBrains HTTP Client); the shipped catalogue's README.md (beside this module,
in `catalogue/`) describes the subset read here and the `# @expect` comments
that state what each request must get back.

A file is split into blocks at `###` lines; a block reads, in order, a
preamble (file variables, `# @name`, `# @expect`, comments), one request line,
headers up to a blank line, and a body (inline, or `< path` to a file).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import attrs

from ..errors import InputError

# The catalogue of example requests shipped with agegate: it runs against
# `agegate demo`, also where agegate was installed from a wheel.
CATALOGUE = Path(__file__).resolve().parent / "catalogue"

_SEPARATOR = re.compile(r"^###")
_FILE_VARIABLE = re.compile(r"^@([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_NAME = re.compile(r"^(?:#|//)\s*@name\s+([A-Za-z_][A-Za-z0-9_\-]*)\s*$")
_EXPECT = re.compile(r"^(?:#|//)\s*@expect\s+(.*)$")
_REQUEST_LINE = re.compile(
    r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\S+)(?:\s+HTTP/[0-9.]+)?\s*$"
)
_HEADER = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):\s*(.*)$")
PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")


@attrs.frozen
class Expect:
    """One `# @expect` line: `status N`, `header NAME TEXT` or `body TEXT`."""

    kind: str
    name: str
    value: str
    line: int

    @classmethod
    def from_text(cls, text: str, *, where: str, line: int) -> Expect:
        parts = text.strip().split(None, 2)
        if parts and parts[0] == "status" and len(parts) == 2 and parts[1].isdigit():
            return cls("status", "", parts[1], line)
        if parts and parts[0] == "header" and len(parts) == 3:
            return cls("header", parts[1].lower(), parts[2], line)
        if parts and parts[0] == "body" and len(parts) >= 2:
            return cls("body", "", text.strip()[len("body") :].strip(), line)
        raise InputError(
            "expected `@expect status N`, `@expect header NAME TEXT`"
            " or `@expect body TEXT`",
            where=f"{where}:{line}",
        )


@attrs.frozen
class HttpRequest:
    """One request of a file, before its `{{...}}` placeholders are filled."""

    file: str
    line: int
    name: str | None
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str | None
    expects: tuple[Expect, ...]
    variables: tuple[tuple[str, str], ...]
    body_file: str | None = None
    # The line each header is on, in the order of `headers`.
    header_lines: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        return f"{Path(self.file).name}:{self.line}"


def parse(text: str, *, where: str) -> list[HttpRequest]:
    """All requests of one file, in order; InputError names the file and line."""
    requests: list[HttpRequest] = []
    variables: dict[str, str] = {}
    defined_at: dict[str, int] = {}
    for block in _blocks(text):
        request = _Block(block, where, variables, defined_at).request()
        if request is not None:
            _refuse_cycles(variables, defined_at, where)
            requests.append(request)
    if not requests:
        raise InputError("no request in file", where=where)
    return requests


def _blocks(text: str) -> Iterator[list[tuple[int, str]]]:
    """The numbered lines of each `###`-separated block."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _SEPARATOR.match(line):
            yield block
            block = []
        else:
            block.append((number, line))
    yield block


def _refuse_cycles(
    variables: Mapping[str, str], defined_at: Mapping[str, int], where: str
) -> None:
    """A variable that reaches itself through others would never finish
    filling: refuse it where it is defined."""
    refers = {
        name: [m.group(1) for m in PLACEHOLDER.finditer(value)]
        for name, value in variables.items()
    }
    done: set[str] = set()
    for start in sorted(variables, key=lambda n: defined_at.get(n, 0)):
        if start not in done:
            _walk(start, refers, done, defined_at, where)


def _walk(
    start: str,
    refers: Mapping[str, list[str]],
    done: set[str],
    defined_at: Mapping[str, int],
    where: str,
) -> None:
    """Depth-first from `start`, without recursion (a long chain of
    variables must not exhaust the stack)."""
    path = [start]
    on_path = {start}
    stack: list[tuple[str, Iterator[str]]] = [(start, iter(refers[start]))]
    while stack:
        name, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            path.pop()
            on_path.discard(name)
            done.add(name)
            continue
        if child in on_path:
            raise InputError(
                f"variable {child} refers to itself"
                f" (through {' -> '.join([*path[path.index(child) :], child])})",
                where=f"{where}:{defined_at.get(child, 0)}",
            )
        if child in refers and child not in done:
            stack.append((child, iter(refers[child])))
            path.append(child)
            on_path.add(child)


class _Block:
    """One block's lines, read front to back by the steps below."""

    def __init__(
        self,
        lines: list[tuple[int, str]],
        where: str,
        variables: dict[str, str],
        defined_at: dict[str, int],
    ) -> None:
        self.lines = lines
        self.index = 0
        self.where = where
        self.variables = variables
        self.defined_at = defined_at
        self.name: str | None = None
        self.expects: list[Expect] = []

    def request(self) -> HttpRequest | None:
        found = self._preamble()
        if found is None:
            if self.expects or self.name:
                raise InputError(
                    "@expect or @name without a request",
                    where=f"{self.where}:{self.lines[0][0]}",
                )
            return None
        line, method, url = found
        headers, header_lines = self._headers()
        body, body_file = self._body()
        if not any(e.kind == "status" for e in self.expects):
            raise InputError(
                "every request needs an `# @expect status N` line",
                where=f"{self.where}:{line}",
            )
        return HttpRequest(
            file=self.where,
            line=line,
            name=self.name,
            method=method,
            url=url,
            headers=headers,
            body=body,
            expects=tuple(self.expects),
            variables=tuple(sorted(self.variables.items())),
            body_file=body_file,
            header_lines=header_lines,
        )

    def _expect(self, text: str, number: int) -> bool:
        match = _EXPECT.match(text)
        if match is not None:
            self.expects.append(
                Expect.from_text(match.group(1), where=self.where, line=number)
            )
        return match is not None

    def _preamble(self) -> tuple[int, str, str] | None:
        """Variables, name, expectations and comments up to the request line."""
        while self.index < len(self.lines):
            number, line = self.lines[self.index]
            self.index += 1
            stripped = line.strip()
            if match := _FILE_VARIABLE.match(stripped):
                self.variables[match.group(1)] = match.group(2).strip()
                self.defined_at[match.group(1)] = number
            elif match := _NAME.match(stripped):
                self.name = match.group(1)
            elif (
                not stripped
                or self._expect(stripped, number)
                or stripped.startswith(("#", "//"))
            ):
                continue
            elif match := _REQUEST_LINE.match(stripped):
                return number, match.group(1), match.group(2)
            else:
                raise InputError(
                    "expected a request line `METHOD URL`",
                    where=f"{self.where}:{number}",
                )
        return None

    def _headers(self) -> tuple[tuple[tuple[str, str], ...], tuple[int, ...]]:
        """Headers up to the first blank line, and their lines; `# @expect`
        may sit among them."""
        headers: list[tuple[str, str]] = []
        lines: list[int] = []
        while self.index < len(self.lines):
            number, line = self.lines[self.index]
            self.index += 1
            stripped = line.strip()
            if not stripped:
                break
            if self._expect(stripped, number):
                continue
            match = _HEADER.match(stripped)
            if match is None:
                raise InputError(
                    "expected a header `Name: value`", where=f"{self.where}:{number}"
                )
            headers.append((match.group(1), match.group(2).strip()))
            lines.append(number)
        return tuple(headers), tuple(lines)

    def _body(self) -> tuple[str | None, str | None]:
        """The inline body, or the file a lone `< path` line names."""
        body = [line for _, line in self.lines[self.index :]]
        while body and not body[-1].strip():
            body.pop()
        if len(body) == 1 and body[0].startswith("< "):
            return None, body[0][2:].strip()
        return ("\n".join(body) if body else None), None


def parse_file(path: str | Path) -> list[HttpRequest]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            f"cannot read ({type(error).__name__})", where=str(path)
        ) from None
    requests = parse(text, where=str(path))
    for request in requests:
        if request.body_file is not None:
            body_path(request)
    return requests


def catalogue(paths: Iterable[str | Path] = ()) -> list[Path]:
    """The `.http` files named, or found (sorted) in the directories named;
    with none named, the catalogue shipped with agegate."""
    found: list[Path] = []
    for entry in list(paths) or [CATALOGUE]:
        path = Path(entry)
        if path.is_dir():
            found.extend(sorted(path.glob("*.http")))
        elif path.is_file():
            found.append(path)
        else:
            raise InputError("no such file or directory", where=str(path))
    if not found:
        raise InputError("no .http files found")
    return found


def body_path(request: HttpRequest) -> Path:
    """The file a `< path` body names, which must lie inside the directory of
    the `.http` file: a catalogue from elsewhere must not read (and send) the
    replaying user's files."""
    name = request.body_file or ""
    where = request.label
    if not name or Path(name).is_absolute() or name.startswith(("~", "\\")):
        raise InputError("a body file is named relative to the .http file", where=where)
    directory = Path(request.file).parent.resolve()
    try:
        # Symbolic links are followed, so a link pointing out is caught too.
        path = (directory / name).resolve(strict=True)
    except (OSError, RuntimeError):
        raise InputError("no such body file", where=where) from None
    if not path.is_relative_to(directory) or not path.is_file():
        raise InputError(
            "a body file must be inside the directory of the .http file",
            where=where,
        )
    return path
