"""Which requests the gate screens: route matching a client cannot dodge.

A gated route must match however the client spells the path: with a trailing
slash, in another letter case, with repeated slashes, with `.` or `..`
segments or `;params` that some servers drop, and whether the app is mounted
under a `root_path` or not. The gate matches on `scope["path"]` (which a Host
header cannot alter) and on the path relative to `root_path`, each both with
and without dot segments resolved; any match gates the request. Gating a
spelling the app would not route is harmless; missing one it would route is
not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

RouteKind = Literal["signup", "profile"]
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _segments(path: str, resolve_dots: bool) -> list[str]:
    kept: list[str] = []
    for raw in path.split("/"):
        segment = raw.split(";", 1)[0]
        if not segment or (resolve_dots and segment == "."):
            continue
        if resolve_dots and segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    return kept


def spellings(path: str) -> set[str]:
    """The normalised forms of a request path the gate matches against."""
    return {"/" + "/".join(_segments(path, dots)) for dots in (False, True)}


@attrs.frozen
class Route:
    """One gated route, as configured (`/signup`, `/accounts/{account_id}`)."""

    template: str
    kind: RouteKind
    pattern: re.Pattern[str]
    params: tuple[str, ...]
    literal: str

    @classmethod
    def from_template(cls, template: Any, kind: RouteKind) -> Route:
        if not isinstance(template, str):
            raise TypeError("gated paths must be strings such as '/signup'")
        if not template.startswith("/"):
            raise ValueError("a gated path starts with '/'")
        parts: list[str] = []
        params: list[str] = []
        segments = _segments(template, resolve_dots=True)
        for segment in segments:
            match = _PARAM.fullmatch(segment)
            if match is not None:
                name = match.group(1)
                if name in params:
                    raise ValueError(f"path parameter {name} appears twice")
                params.append(name)
                parts.append(f"(?P<{name}>[^/]+)")
            elif "{" in segment or "}" in segment:
                raise ValueError("a path parameter is a whole segment: '/{name}'")
            else:
                parts.append(re.escape(segment))
        pattern = re.compile("/" + "/".join(parts), re.IGNORECASE)
        literal = "/" + "/".join(segments)
        return cls(template, kind, pattern, tuple(params), literal.lower())


@attrs.frozen
class Match:
    route: Route
    params: Mapping[str, str]


class Router:
    """Finds the gated route of a request, if any."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)
        templates = [r.template for r in self.routes]
        if len(set(templates)) != len(templates):
            raise ValueError("a path is gated twice")
        # Routes without parameters are found with one dict lookup, and
        # their one Match is made once.
        self._exact = {
            r.literal: Match(r, MappingProxyType({}))
            for r in self.routes
            if not r.params
        }
        self._templated = tuple(r for r in self.routes if r.params)
        # The answers for the paths seen last, common spellings only: most
        # requests go to a few paths, gated or not. Bounded, so a client
        # sending endless paths only empties it.
        self._seen: dict[str, Match | None] = {}
        # The remembered paths no route matches (without a `root_path`): the
        # gate tests a request's path against them before it calls `match`.
        self.passing: set[str] = set()

    def match(self, scope: Mapping[str, Any]) -> Match | None:
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "") or ""
        if not root:
            try:  # one lookup for a path seen before
                return self._seen[path]
            except KeyError:
                pass
            if "//" not in path and "." not in path and ";" not in path:
                # The common spelling: only a trailing slash can differ.
                found = self._find((path.rstrip("/") or "/",))
                if len(path) <= _SEEN_PATH:
                    if len(self._seen) >= _SEEN_SIZE:
                        self._seen.clear()
                        self.passing.clear()
                    self._seen[path] = found
                    if found is None:
                        self.passing.add(path)
                return found
        candidates = spellings(path)
        if root and path.startswith(root):
            candidates |= spellings(path[len(root) :])
        return self._find(candidates)

    def _find(self, candidates: Iterable[str]) -> Match | None:
        for candidate in candidates:
            match = self._exact.get(candidate.lower())
            if match is not None:
                return match
        for candidate in candidates:
            for route in self._templated:
                found = route.pattern.fullmatch(candidate)
                if found is not None:
                    return Match(route, found.groupdict())
        return None


_SEEN_SIZE = 256
_SEEN_PATH = 200
