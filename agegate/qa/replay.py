"""Replay example requests written in the `.http` format against a running app.

The files are the ones editors' REST clients run (VS Code REST Client,
JetBrains HTTP Client); examples/requests/README.md describes the subset read
here and the `# @expect` comments that state what each request must get back.
Requests in one file share a cookie jar, as in those clients; each file starts
with an empty one.
"""

from __future__ import annotations

import calendar
import contextlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import attrs

from ..errors import InputError
from ..safe_text import printable

_SEPARATOR = re.compile(r"^###")
_FILE_VARIABLE = re.compile(r"^@([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_NAME = re.compile(r"^(?:#|//)\s*@name\s+([A-Za-z_][A-Za-z0-9_\-]*)\s*$")
_EXPECT = re.compile(r"^(?:#|//)\s*@expect\s+(.*)$")
_REQUEST_LINE = re.compile(
    r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\S+)(?:\s+HTTP/[0-9.]+)?\s*$"
)
_HEADER = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):\s*(.*)$")
_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_DATETIME = re.compile(
    r'^\$datetime\s+(?:"([^"]*)"|(iso8601))(?:\s+(-?[0-9]+)\s+(y|M|w|d))?$'
)
_RESPONSE_REF = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_\-]*)\.response\.(body|headers)\.(.+)$"
)
_TIMEOUT = 15.0
_FILLED_LIMIT = 1 << 20
_DEFAULT_PORTS = {"http": 80, "https": 443}


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

    @property
    def label(self) -> str:
        return f"{Path(self.file).name}:{self.line}"


@attrs.frozen
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@attrs.frozen
class Result:
    """One request replayed: what was expected, what came back, and whether
    they agree; `problems` names each expectation that failed."""

    request: HttpRequest
    status: int | None
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def expected_status(self) -> str:
        found = [e.value for e in self.request.expects if e.kind == "status"]
        return found[0] if found else "-"


def parse(text: str, *, where: str) -> list[HttpRequest]:
    """All requests of one file, in order; InputError names the file and line."""
    requests: list[HttpRequest] = []
    variables: dict[str, str] = {}
    defined_at: dict[str, int] = {}
    lines = text.splitlines()
    block: list[tuple[int, str]] = []

    def flush() -> None:
        request = _parse_block(block, where, variables, defined_at)
        if request is not None:
            _refuse_cycles(variables, defined_at, where)
            requests.append(request)
        block.clear()

    for number, line in enumerate(lines, start=1):
        if _SEPARATOR.match(line):
            flush()
            continue
        block.append((number, line))
    flush()
    if not requests:
        raise InputError("no request in file", where=where)
    return requests


def _refuse_cycles(
    variables: Mapping[str, str], defined_at: Mapping[str, int], where: str
) -> None:
    """A variable that reaches itself through others would never finish
    filling: refuse it where it is defined."""
    refers = {
        name: [m.group(1) for m in _PLACEHOLDER.finditer(value)]
        for name, value in variables.items()
    }
    done: set[str] = set()
    for start in sorted(variables, key=lambda n: defined_at.get(n, 0)):
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = []
        if start in done:
            continue
        stack.append((start, iter(refers[start])))
        path.append(start)
        on_path.add(start)
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


def _parse_block(
    block: list[tuple[int, str]],
    where: str,
    variables: dict[str, str],
    defined_at: dict[str, int],
) -> HttpRequest | None:
    name: str | None = None
    expects: list[Expect] = []
    index = 0
    request_line: tuple[int, str, str] | None = None
    while index < len(block):
        number, line = block[index]
        index += 1
        stripped = line.strip()
        if not stripped:
            continue
        if match := _FILE_VARIABLE.match(stripped):
            variables[match.group(1)] = match.group(2).strip()
            defined_at[match.group(1)] = number
            continue
        if match := _NAME.match(stripped):
            name = match.group(1)
            continue
        if match := _EXPECT.match(stripped):
            expects.append(Expect.from_text(match.group(1), where=where, line=number))
            continue
        if stripped.startswith(("#", "//")):
            continue
        match = _REQUEST_LINE.match(stripped)
        if match is None:
            raise InputError(
                "expected a request line `METHOD URL`", where=f"{where}:{number}"
            )
        request_line = (number, match.group(1), match.group(2))
        break
    if request_line is None:
        if expects or name:
            raise InputError(
                "@expect or @name without a request", where=f"{where}:{block[0][0]}"
            )
        return None
    headers: list[tuple[str, str]] = []
    while index < len(block):
        number, line = block[index]
        index += 1
        if not line.strip():
            break
        if match := _EXPECT.match(line.strip()):
            expects.append(Expect.from_text(match.group(1), where=where, line=number))
            continue
        match = _HEADER.match(line.strip())
        if match is None:
            raise InputError(
                "expected a header `Name: value`", where=f"{where}:{number}"
            )
        headers.append((match.group(1), match.group(2).strip()))
    body_lines = [line for _, line in block[index:]]
    while body_lines and not body_lines[-1].strip():
        body_lines.pop()
    if not any(e.kind == "status" for e in expects):
        raise InputError(
            "every request needs an `# @expect status N` line",
            where=f"{where}:{request_line[0]}",
        )
    body_file = None
    if len(body_lines) == 1 and body_lines[0].startswith("< "):
        body_file = body_lines[0][2:].strip()
        body_lines = []
    return HttpRequest(
        file=where,
        line=request_line[0],
        name=name,
        method=request_line[1],
        url=request_line[2],
        headers=tuple(headers),
        body="\n".join(body_lines) if body_lines else None,
        expects=tuple(expects),
        variables=tuple(sorted(variables.items())),
        body_file=body_file,
    )


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


def catalogue(paths: Iterable[str | Path]) -> list[Path]:
    """The `.http` files named, or found (sorted) in the directories named."""
    found: list[Path] = []
    for entry in paths:
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


def shift(today: date, amount: int, unit: str) -> date:
    """`today` moved by whole years, months, weeks or days; a day that does
    not exist in the target month (29 February) becomes its month's last."""
    if unit in ("d", "w"):
        return date.fromordinal(today.toordinal() + amount * (7 if unit == "w" else 1))
    months = today.year * 12 + today.month - 1 + amount * (12 if unit == "y" else 1)
    year, month = divmod(months, 12)
    month += 1
    day = min(today.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def _format_date(value: date, fmt: str | None) -> str:
    if fmt is None:
        return value.isoformat()
    return (
        fmt.replace("YYYY", f"{value.year:04d}")
        .replace("MM", f"{value.month:02d}")
        .replace("DD", f"{value.day:02d}")
    )


class _Filler:
    def __init__(
        self,
        variables: Mapping[str, str],
        responses: Mapping[str, Response],
        today: date,
    ) -> None:
        self.variables = variables
        self.responses = responses
        self.today = today
        self._filling: set[str] = set()

    def fill(self, text: str, where: str) -> str:
        filled = _PLACEHOLDER.sub(lambda m: self._value(m.group(1), where), text)
        if len(filled) > _FILLED_LIMIT:
            raise InputError("variables fill more than 1 MiB", where=where)
        return filled

    def _value(self, expression: str, where: str) -> str:
        if expression in self.variables:
            # Files are checked for cycles when parsed; this catches one made
            # by a variable given on the command line.
            if expression in self._filling:
                raise InputError(f"variable {expression} refers to itself", where=where)
            self._filling.add(expression)
            try:
                return self.fill(self.variables[expression], where)
            finally:
                self._filling.discard(expression)
        if match := _DATETIME.match(expression):
            fmt, _, amount, unit = match.groups()
            value = self.today
            if amount is not None:
                value = shift(value, int(amount), unit)
            return _format_date(value, fmt)
        if match := _RESPONSE_REF.match(expression):
            return self._from_response(*match.groups(), where=where)
        raise InputError("unknown variable {{" + expression + "}}", where=where)

    def _from_response(self, name: str, part: str, path: str, *, where: str) -> str:
        response = self.responses.get(name)
        if response is None:
            raise InputError(f"no earlier response named {name}", where=where)
        if part == "headers":
            value = response.header(path)
            if value is None:
                raise InputError(f"response {name} has no header {path}", where=where)
            return value
        if not path.startswith("$"):
            raise InputError("a body reference is a JSONPath like $.id", where=where)
        try:
            node: Any = json.loads(response.body)
        except ValueError:
            raise InputError(f"response {name} is not JSON", where=where) from None
        for key in filter(None, path[1:].split(".")):
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise InputError(f"response {name} has no {path}", where=where)
        return node if isinstance(node, str) else json.dumps(node)


class _Jar:
    """The cookies one file's requests carry, per REST-client convention."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def store(self, response: Response) -> None:
        for key, value in response.headers:
            if key.lower() != "set-cookie":
                continue
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value)
            except CookieError:
                continue
            for morsel in jar.values():
                if morsel["max-age"] in ("0", "-1") or (
                    morsel["expires"] and _expired(morsel["expires"])
                ):
                    self.cookies.pop(morsel.key, None)
                else:
                    self.cookies[morsel.key] = morsel.value

    def header(self) -> str | None:
        if not self.cookies:
            return None
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def _expired(text: str) -> bool:
    try:
        when = datetime.strptime(text, "%a, %d %b %Y %H:%M:%S GMT")
    except ValueError:
        return False
    return when.replace(tzinfo=UTC) <= datetime.now(UTC)


def send(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]],
    body: bytes | None,
    timeout: float = _TIMEOUT,
) -> Response:
    """One HTTP exchange, without following redirects."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("URL must be http(s)://host[:port]/path")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout
        )
    else:
        connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=timeout
        )
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for key, value in headers:
            connection.putheader(key, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        answer = connection.getresponse()
        return Response(
            status=answer.status,
            headers=tuple(answer.getheaders()),
            body=answer.read(),
        )
    finally:
        connection.close()


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


def _included(request: HttpRequest) -> str:
    """A body given as `< path`, relative to the .http file, sent as is."""
    path = body_path(request)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError("cannot read the body file", where=request.label) from None


def _encode_body(body: str | None, headers: Sequence[tuple[str, str]]) -> bytes | None:
    if body is None:
        return None
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    # Multipart needs CRLF line ends; editors save LF.
    if content_type.lower().startswith("multipart/"):
        body = body.replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n"
    return body.encode("utf-8")


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


@attrs.frozen
class Origins:
    """Where a replay may send requests: the base URL's scheme, host and
    port, and hosts the user allowed by name (`host` for any port,
    `host:port` for one). A catalogue from elsewhere must not be able to
    send the replaying user's requests, or files, to a host of its choice."""

    base: tuple[str, str, int]
    hosts: frozenset[tuple[str, int | None]] = frozenset()

    @classmethod
    def of(cls, base_url: str, allow_hosts: Iterable[str] = ()) -> Origins:
        base = _origin(base_url)
        if base is None:
            raise InputError("the base URL must be http(s)://host[:port]")
        hosts: set[tuple[str, int | None]] = set()
        for entry in allow_hosts:
            parts = urlsplit("//" + entry.strip())
            try:
                port = parts.port
            except ValueError:
                port = -1
            if not parts.hostname or port == -1 or parts.path or parts.username:
                raise InputError("--allow-host takes HOST or HOST:PORT")
            hosts.add((parts.hostname.lower(), port))
        return cls(base, frozenset(hosts))

    def allows(self, url: str) -> bool:
        origin = _origin(url)
        if origin is None:
            return False
        if origin == self.base:
            return True
        _, host, port = origin
        return (host, None) in self.hosts or (host, port) in self.hosts

    def check(self, url: str, where: str) -> None:
        if not self.allows(url):
            raise InputError(
                "request to a host other than --base-url's (see --allow-host)",
                where=where,
            )


def check(request: HttpRequest, response: Response) -> tuple[str, ...]:
    """The expectations of `request` that `response` does not meet."""
    problems: list[str] = []
    for expect in request.expects:
        if expect.kind == "status" and str(response.status) != expect.value:
            problems.append(f"status {response.status}, expected {expect.value}")
        elif expect.kind == "header":
            value = response.header(expect.name)
            if value is None or expect.value.lower() not in value.lower():
                problems.append(f"header {expect.name} lacks {expect.value!r}")
        elif expect.kind == "body" and expect.value not in response.text():
            problems.append(f"body lacks {expect.value!r}")
    return tuple(problems)


def run_file(
    path: str | Path,
    base_url: str,
    *,
    today: date | None = None,
    allow_hosts: Iterable[str] = (),
    variables: Mapping[str, str] | None = None,
) -> list[Result]:
    """Replay every request of one file in order, with one cookie jar.

    Requests go only to `base_url`'s origin and to `allow_hosts`; a request
    elsewhere fails without being sent. `variables` override the file's own,
    as `base_url` overrides `@baseUrl`.
    """
    origins = Origins.of(base_url, allow_hosts)
    requests = parse_file(path)
    day = today if today is not None else date.today()
    responses: dict[str, Response] = {}
    jar = _Jar()
    results: list[Result] = []
    for request in requests:
        known = {**dict(request.variables), **(variables or {})}
        known["baseUrl"] = base_url.rstrip("/")
        filler = _Filler(known, responses, day)
        where = request.label
        try:
            url = filler.fill(request.url, where)
            if not urlsplit(url).scheme:
                url = urljoin(base_url.rstrip("/") + "/", url.lstrip("/"))
            headers = [(k, filler.fill(v, where)) for k, v in request.headers]
            body = filler.fill(request.body, where) if request.body else None
            if request.body_file is not None:
                body = _included(request)
            origins.check(url, where)
        except InputError as error:
            results.append(Result(request, None, (str(error),)))
            continue
        cookie = jar.header()
        if cookie and not any(k.lower() == "cookie" for k, _ in headers):
            headers.append(("Cookie", cookie))
        try:
            response = send(request.method, url, headers, _encode_body(body, headers))
        except (OSError, http.client.HTTPException) as error:
            results.append(
                Result(request, None, (f"no response ({type(error).__name__})",))
            )
            continue
        jar.store(response)
        if request.name:
            responses[request.name] = response
        try:
            expects = tuple(
                attrs.evolve(e, value=filler.fill(e.value, where))
                for e in request.expects
            )
        except InputError as error:
            results.append(Result(request, response.status, (str(error),)))
            continue
        filled = attrs.evolve(request, expects=expects)
        results.append(Result(request, response.status, check(filled, response)))
    return results


def run(
    paths: Iterable[str | Path],
    base_url: str,
    *,
    today: date | None = None,
    allow_hosts: Iterable[str] = (),
    variables: Mapping[str, str] | None = None,
) -> list[Result]:
    """Replay a whole catalogue; files are independent of each other."""
    hosts = tuple(allow_hosts)
    results: list[Result] = []
    for path in catalogue(paths):
        results.extend(
            run_file(
                path, base_url, today=today, allow_hosts=hosts, variables=variables
            )
        )
    return results


def table(results: Sequence[Result]) -> str:
    """A plain-text pass/fail table, one request a row, and a total line."""
    # Every cell may hold text from a file or a response: escaped, so that
    # a row cannot be forged nor the terminal driven.
    rows = [
        tuple(
            printable(cell)
            for cell in (
                "PASS" if r.passed else "FAIL",
                r.request.label,
                f"{r.request.method} {r.request.url.replace('{{baseUrl}}', '')}",
                r.expected_status,
                "-" if r.status is None else str(r.status),
                "; ".join(r.problems),
            )
        )
        for r in results
    ]
    header = ("result", "request", "call", "expected", "got", "problem")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + ("  " + row[5] if row[5] else "")
        for row in [header, *rows]
    ]
    failed = sum(1 for r in results if not r.passed)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(line.rstrip() for line in lines)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yields its base URL.

    For test suites that replay a catalogue against their own app.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
