"""Replay example requests read from `.http` files against a running app.

Requests in one file share a cookie jar, as in editors' REST clients; each
file starts with an empty one, and a `# @no-cookie-jar` request neither
carries nor keeps cookies. `parser` reads the files; this module fills their
`{{...}}` placeholders, sends them and checks their assertions.
"""

from __future__ import annotations

import calendar
import contextlib
import http.client
import json
import re
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import attrs

from ..errors import InputError
from ..origins import origin_of
from ..safe_text import printable
from .parser import (
    PLACEHOLDER,
    Expect,
    HttpRequest,
    body_path,
    catalogue,
    parse_file,
)

_DATETIME = re.compile(
    r'^\$datetime\s+(?:"([^"]*)"|(iso8601))(?:\s+(-?[0-9]+)\s+(y|M|w|d))?$'
)
_RESPONSE_REF = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_\-]*)\.response\.(body|headers)\.(.+)$"
)
# The longest one request may take, from connecting to the last byte of its
# answer: a server that drips its answer a byte at a time is cut off.
TIMEOUT = 15.0
# The most of an answer's body a replay keeps; a longer body is cut off there
# (the connection is closed rather than the rest read) and the example fails.
BODY_LIMIT = 1 << 20
_FILLED_LIMIT = 1 << 20
# What a header value or a request target may hold: a tab, visible ASCII and
# the Latin-1 letters HTTP/1.1 sends as bytes (header values only); never a
# CR, LF or other control character, which would end the line early.
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\xa0-\xff]*")
_TARGET = re.compile(r"[\x21-\x7e]+")


class UnsafeValue(InputError):
    """A header value, as filled, holding characters HTTP does not allow
    there: a value captured from an answer may carry CR LF to write headers
    of its own. The replay stops (exit 2): the catalogue or the server is
    wrong, not the app under test."""


def split(url: str) -> SplitResult | None:
    """`url` split into its parts, or None when it does not parse (an
    unclosed `[`, a port that is not a number)."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return None
    return parts


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        return origin_of(url)
    except ValueError:
        return None


@attrs.frozen
class Response:
    """An answer; `truncated` when its body ran past BODY_LIMIT, of which
    `body` holds the first BODY_LIMIT bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool = False

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
        filled = PLACEHOLDER.sub(lambda m: self._value(m.group(1), where), text)
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
                elif _TARGET.fullmatch(morsel.coded_value):
                    # Sent back as it came, quoted: its unquoted value may
                    # hold a CR or LF written as an escape.
                    self.cookies[morsel.key] = morsel.coded_value

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
    timeout: float = TIMEOUT,
) -> Response:
    """One HTTP exchange, without following redirects, within one deadline
    of `timeout` seconds in all; TimeoutError once it has passed."""
    parts = split(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("URL must be http(s)://host[:port]/path")
    kind = (
        http.client.HTTPSConnection
        if parts.scheme == "https"
        else http.client.HTTPConnection
    )
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    deadline = _Deadline(timeout)
    answer: http.client.HTTPResponse | None = None
    try:
        connection.connect()
        deadline.watch(connection.sock)
        connection.putrequest(method, target, skip_accept_encoding=True)
        for key, value in headers:
            connection.putheader(key, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        answer = connection.getresponse()
        kept = answer.read(BODY_LIMIT + 1)
        if deadline.passed:
            # Cut off mid-body, a body without a length just looks ended.
            raise TimeoutError
        return Response(
            status=answer.status,
            headers=tuple(answer.getheaders()),
            body=kept[:BODY_LIMIT],
            truncated=len(kept) > BODY_LIMIT,
        )
    except (OSError, http.client.HTTPException):
        if deadline.passed:
            raise TimeoutError(f"no whole answer within {timeout:g} s") from None
        raise
    finally:
        deadline.cancel()
        if answer is not None:
            answer.close()
        connection.close()


class _Deadline:
    """Cuts a connection off once its time is up: a socket timeout counts
    each read alone, so a server sending a byte a second never trips it.
    The socket is held here, since the connection lets go of it once an
    answer without a length comes."""

    def __init__(self, seconds: float) -> None:
        self.passed = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.passed:
                self._shut()

    def _cut(self) -> None:
        with self._lock:
            self.passed = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _included(request: HttpRequest) -> str:
    """A body given as `< path`, relative to the .http file, sent as is."""
    path = body_path(request)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError("cannot read the body file", where=request.label) from None


def _encode_body(
    body: str | None, headers: Sequence[tuple[str, str]], request: HttpRequest
) -> bytes | None:
    if body is None:
        return None
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    # Multipart needs CRLF line ends; editors save LF.
    if content_type.lower().startswith("multipart/"):
        body = body.replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n"
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate, which a JSON answer can spell as \ud800.
        raise InputError(
            "the body holds text that is not valid Unicode; refused",
            where=request.label,
        ) from None


def _check_header(name: str, value: str, request: HttpRequest, index: int) -> None:
    """Refuse a value that would end the header line early or cannot be
    sent as bytes: a CR or LF in it would write headers of its own."""
    if _HEADER_VALUE.fullmatch(value):
        return
    lines = request.header_lines
    line = lines[index] if index < len(lines) else request.line
    raise UnsafeValue(
        f"header {name}: its value, as filled, holds a CR, LF or other"
        " character not allowed in a header; refused",
        where=f"{request.file}:{line}",
    )


def _sendable_url(url: str, request: HttpRequest) -> str:
    if not _TARGET.fullmatch(url):
        # Nothing is sent, so the request fails and the others still run.
        raise InputError(
            "the URL holds a space, CR, LF or other character not allowed in a"
            " URL (write it percent-encoded); refused",
            where=request.label,
        )
    return url


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
            parts = split("//" + entry.strip())
            if parts is None or not parts.hostname or parts.path or parts.username:
                raise InputError("--allow-host takes HOST or HOST:PORT")
            hosts.add((parts.hostname.lower(), parts.port))
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
            if value is None or not _meets(value, expect):
                verb = "is not" if expect.test == "equals" else "lacks"
                problems.append(f"header {expect.name} {verb} {expect.value!r}")
        elif expect.kind == "body" and not _meets(response.text(), expect):
            problems.append(f"body lacks {expect.value!r}")
    return tuple(problems)


def _meets(found: str, expect: Expect) -> bool:
    """Whether a header or body meets its expectation, compared as httpyac
    compares (case counts), or any case for a `# @expect header` line."""
    if expect.test == "equals":
        return found == expect.value
    if expect.test == "includes-any-case":
        return expect.value.lower() in found.lower()
    return expect.value in found


def run_file(
    path: str | Path,
    base_url: str,
    *,
    today: date | None = None,
    allow_hosts: Iterable[str] = (),
    variables: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> list[Result]:
    """Replay every request of one file in order, with one cookie jar.

    Requests go only to `base_url`'s origin and to `allow_hosts`; a request
    elsewhere fails without being sent. `variables` override the file's own,
    as `base_url` overrides `@baseUrl`. Each request has `timeout` seconds
    in all; a body longer than BODY_LIMIT is cut off and fails its request.
    A header value that cannot be sent as written (a CR or LF from a
    captured value) raises UnsafeValue, naming the file and line.
    """
    session = _Session(
        base_url.rstrip("/"),
        Origins.of(base_url, allow_hosts),
        today if today is not None else date.today(),
        dict(variables or {}),
        timeout,
    )
    return [session.replay(request) for request in parse_file(path)]


@attrs.define
class _Prepared:
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None


@attrs.define
class _Session:
    """What the requests of one file share: where they may go, the day
    their dates count from, the cookie jar and the named responses."""

    base_url: str
    origins: Origins
    today: date
    variables: dict[str, str]
    timeout: float = TIMEOUT
    jar: _Jar = attrs.field(factory=lambda: _Jar())
    responses: dict[str, Response] = attrs.field(factory=dict)

    def replay(self, request: HttpRequest) -> Result:
        """Fill, send and check one request; a problem at any step is its
        result, and the file goes on with the next request."""
        filler = self._filler(request)
        try:
            prepared = self._prepare(request, filler)
        except UnsafeValue:
            raise
        except InputError as error:
            return Result(request, None, (str(error),))
        try:
            response = send(
                request.method,
                prepared.url,
                prepared.headers,
                prepared.body,
                self.timeout,
            )
        except TimeoutError as error:
            return Result(request, None, (f"no response ({error})",))
        except (OSError, http.client.HTTPException) as error:
            return Result(request, None, (f"no response ({type(error).__name__})",))
        if not request.no_cookie_jar:
            self.jar.store(response)
        if request.name:
            self.responses[request.name] = response
        try:
            # Expectations may name values of this very response.
            expects = tuple(
                attrs.evolve(e, value=filler.fill(e.value, request.label))
                for e in request.expects
            )
        except InputError as error:
            return Result(request, response.status, (str(error),))
        filled = attrs.evolve(request, expects=expects)
        problems = check(filled, response)
        if response.truncated:
            cut = f"body over {BODY_LIMIT >> 20} MiB: only its start was read"
            problems = (cut, *problems)
        return Result(request, response.status, problems)

    def _filler(self, request: HttpRequest) -> _Filler:
        known = {**dict(request.variables), **self.variables}
        known["baseUrl"] = self.base_url
        return _Filler(known, self.responses, self.today)

    def _prepare(self, request: HttpRequest, filler: _Filler) -> _Prepared:
        where = request.label
        url = _sendable_url(filler.fill(request.url, where), request)
        parts = split(url)
        if parts is None:
            raise InputError("not a valid URL", where=where)
        if not parts.scheme:
            url = urljoin(self.base_url + "/", url.lstrip("/"))
        headers = [(k, filler.fill(v, where)) for k, v in request.headers]
        for index, (name, value) in enumerate(headers):
            _check_header(name, value, request, index)
        body = filler.fill(request.body, where) if request.body else None
        if request.body_file is not None:
            body = _included(request)
        self.origins.check(url, where)
        cookie = None if request.no_cookie_jar else self.jar.header()
        if cookie and not any(k.lower() == "cookie" for k, _ in headers):
            headers.append(("Cookie", cookie))
        return _Prepared(url, headers, _encode_body(body, headers, request))


def run(
    paths: Iterable[str | Path],
    base_url: str,
    *,
    today: date | None = None,
    allow_hosts: Iterable[str] = (),
    variables: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> list[Result]:
    """Replay a whole catalogue; files are independent of each other."""
    hosts = tuple(allow_hosts)
    results: list[Result] = []
    for path in catalogue(paths):
        results.extend(
            run_file(
                path,
                base_url,
                today=today,
                allow_hosts=hosts,
                variables=variables,
                timeout=timeout,
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
