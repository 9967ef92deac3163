"""Read example requests written in the `.http` format.

The files are the ones REST clients of editors and terminals run (httpyac,
JetBrains HTTP Client, VS Code REST Client); the shipped catalogue's README.md
(beside this module, in `catalogue/`) describes the subset read here and the
assertions that state what each request must get back: httpyac's `??` lines,
or `# @expect` comments.

A file is split into blocks at `###` lines; a block reads, in order, a
preamble (file variables, `# @name`, `# @no-cookie-jar`, assertions,
comments), one request line, headers up to a blank line, and a body (inline,
or `< path` to a file). A `??` line is an assertion wherever it stands in the
block, body included, as in httpyac.
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
_NO_COOKIE_JAR = re.compile(r"^(?:#|//)\s*@no-cookie-jar\s*$")
_ASSERT_START = re.compile(r"^\s*\?\?")
# httpyac's own reading of a `??` line, its predicates in its order: a line
# agegate accepts means the same to both (httpyac finds the predicate by
# backtracking, so `?? body includes a == b` is the body's `includes a`
# compared by `==`, which agegate refuses rather than misread).
_PREDICATES = (
    "endsWith|==|===|equals|exists|isTrue|>=|>|contains|includes|isArray"
    "|isBoolean|isNumber|isString|<=|<|matches|!=|!==|not equals|startsWith"
    "|sha256|md5|sha512|isFalse"
)
_ASSERT = re.compile(
    r"^\s*\?\?\s*(?P<type>\S*)(\s+(?P<value>.*))?\s+"
    rf"(?P<predicate>({_PREDICATES}))\s*(?P<expected>.*)\s*$",
    re.IGNORECASE,
)
# The predicates agegate evaluates, spelt as httpyac finds them (its lookup
# is case-sensitive: `?? status EQUALS 200` would check nothing there).
_TESTS = {"==": "equals", "includes": "includes", "contains": "includes"}
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# `{{signup.id}}` (httpyac's reference to a named response's JSON body) is
# read as `{{signup.response.body.$.id}}` (REST Client's) when `signup` names
# an earlier request of the file.
_SHORT_REFERENCE = re.compile(
    r"\{\{\s*([A-Za-z_][A-Za-z0-9_\-]*)((?:\.[A-Za-z0-9_\-]+)+)\s*\}\}"
)
_REQUEST_LINE = re.compile(
    r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\S+)(?:\s+HTTP/[0-9.]+)?\s*$"
)
_HEADER = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):\s*(.*)$")
PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")


@attrs.frozen
class Expect:
    """One assertion: the `status`, a `header` (by `name`) or the `body`,
    compared with `value` by `test`: `equals`, `includes`, or
    `includes-any-case` (a `# @expect header` line's)."""

    kind: str
    name: str
    value: str
    line: int
    test: str = "equals"

    @classmethod
    def from_text(cls, text: str, *, where: str, line: int) -> Expect:
        """A `# @expect` comment's text, after `@expect`."""
        parts = text.strip().split(None, 2)
        if parts and parts[0] == "status" and len(parts) == 2 and parts[1].isdigit():
            return cls("status", "", parts[1], line)
        if parts and parts[0] == "header" and len(parts) == 3:
            return cls("header", parts[1].lower(), parts[2], line, "includes-any-case")
        if parts and parts[0] == "body" and len(parts) >= 2:
            body = text.strip()[len("body") :].strip()
            return cls("body", "", body, line, "includes")
        raise InputError(
            "expected `@expect status N`, `@expect header NAME TEXT`"
            " or `@expect body TEXT`",
            where=f"{where}:{line}",
        )

    @classmethod
    def from_assert(cls, text: str, *, where: str, line: int) -> Expect:
        """An httpyac `??` line, of the subset agegate evaluates."""
        match = _ASSERT.match(text)
        found = None if match is None else cls._of_assert(match, line)
        if found is None:
            raise InputError(
                "expected `?? status == N`, `?? header NAME includes TEXT`,"
                " `?? header NAME == TEXT` or `?? body includes TEXT`",
                where=f"{where}:{line}",
            )
        return found

    @classmethod
    def _of_assert(cls, match: re.Match[str], line: int) -> Expect | None:
        kind, name, predicate = match["type"], match["value"], match["predicate"]
        expected = match["expected"].strip()
        test = _TESTS.get(predicate)
        if not expected or test is None:
            return None
        if kind == "status" and not name and test == "equals" and expected.isdigit():
            return cls("status", "", expected, line)
        if kind == "header" and name and _HEADER_NAME.match(name):
            return cls("header", name.lower(), expected, line, test)
        if kind == "body" and not name and test == "includes":
            return cls("body", "", expected, line, test)
        return None


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
    # `# @no-cookie-jar`: sent without the file's cookies, its own not kept.
    no_cookie_jar: bool = False
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
    names: set[str] = set()
    for block in _blocks(text):
        request = _Block(block, where, variables, defined_at).request()
        if request is not None:
            _refuse_cycles(variables, defined_at, where)
            if request.name:
                names.add(request.name)
            requests.append(_long_references(request, names))
    if not requests:
        raise InputError("no request in file", where=where)
    return requests


def _long_references(request: HttpRequest, names: set[str]) -> HttpRequest:
    """The request with `{{name.path}}` written `{{name.response.body.$.path}}`
    wherever `name` is a request of the file named so far."""

    def rewrite(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, path = match.group(1), match.group(2)
            if name not in names or path.startswith(
                (".response.body.", ".response.headers.")
            ):
                return match.group(0)
            return "{{" + f"{name}.response.body.${path}" + "}}"

        return _SHORT_REFERENCE.sub(one, text)

    return attrs.evolve(
        request,
        url=rewrite(request.url),
        headers=tuple((key, rewrite(value)) for key, value in request.headers),
        body=None if request.body is None else rewrite(request.body),
        expects=tuple(attrs.evolve(e, value=rewrite(e.value)) for e in request.expects),
        variables=tuple((key, rewrite(value)) for key, value in request.variables),
    )


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
        self.no_cookie_jar = False

    def request(self) -> HttpRequest | None:
        found = self._preamble()
        if found is None:
            if self.expects or self.name or self.no_cookie_jar:
                raise InputError(
                    "an assertion, @name or @no-cookie-jar without a request",
                    where=f"{self.where}:{self.lines[0][0]}",
                )
            return None
        line, method, url = found
        headers, header_lines = self._headers()
        body, body_file = self._body()
        if not any(e.kind == "status" for e in self.expects):
            raise InputError(
                "every request needs a `?? status == N` (or `# @expect status N`) line",
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
            no_cookie_jar=self.no_cookie_jar,
            header_lines=header_lines,
        )

    def _expect(self, text: str, number: int) -> bool:
        """Take an assertion line (`??` or `# @expect`), if `text` is one."""
        if _ASSERT_START.match(text):
            self.expects.append(Expect.from_assert(text, where=self.where, line=number))
            return True
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
            elif _NO_COOKIE_JAR.match(stripped):
                self.no_cookie_jar = True
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
        """The inline body, or the file a lone `< path` line names; `??`
        lines in it are assertions (httpyac reads them so after a body)."""
        body = [
            line
            for number, line in self.lines[self.index :]
            if not (_ASSERT_START.match(line) and self._expect(line, number))
        ]
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
