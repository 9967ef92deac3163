"""Checks of a gated app's configuration that the gate cannot make per request.

A gate configured for paths the app does not serve, or for keys its request
models do not read, screens nothing and says nothing: a minor gets through
and nobody is told. `check_app` reads the app's routes (through every
`Mount`) and reports each such miss as a `Finding`:

- PATH_NOT_SERVED (error): a gated path no route of the app serves; where a
  route under a mount ends with it (`/v2/signup` for `/signup`), the finding
  names that path, which is the one to gate.
- CORS_INSIDE_GATE (warning): `CORSMiddleware` runs inside the gate, so the
  gate's own answers (403, 422, ...) carry no CORS headers and a browser on
  another origin sees a CORS error instead of the notice.
- for FastAPI apps, the keys its request models read a birth value from that
  the FieldMap does not name (see `fastapi_check`).

The gate runs the check itself (`check_routes=`), and `agegate check-app
module:app` runs it from the command line. No finding carries a value sent
by a client: it names paths, keys and model fields only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

import attrs

from .config import GateConfig

Severity = Literal["error", "warning"]
# How far down a chain of wrapped apps (`.app`) a check looks.
_DEPTH = 32


@attrs.frozen
class Finding:
    """One configuration miss: what, where, and what to do about it."""

    severity: Severity
    code: str
    route: str | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f" {self.route}" if self.route else ""
        key = f" key {self.key!r}" if self.key else ""
        return f"{self.severity}: {self.code}{where}{key}: {self.message}"


@attrs.frozen
class AppRoute:
    """A route of the app with its full path (mount prefixes included)."""

    path: str
    route: Any


def app_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[AppRoute]:
    """Every route of a route list, through mounts, with its full path.

    A mount whose app shows no routes (any ASGI app) is yielded itself: what
    it serves cannot be read.
    """
    for route in routes:
        path = str(getattr(route, "path", "") or "")
        inner = _inner_routes(route)
        if inner is None:
            yield AppRoute(prefix + path, route)
        else:
            yield from app_routes(inner, prefix + path.rstrip("/"))


def _inner_routes(route: Any) -> list[Any] | None:
    from starlette.routing import Host, Mount

    if not isinstance(route, Mount | Host):
        return None
    try:
        inner = route.routes
    except Exception:  # a mounted app that is not a router
        return None
    return list(inner) if inner else None


def routed_app(app: Any) -> Any | None:
    """The first app down the `.app` chain that has routes, or None."""
    seen = 0
    while app is not None and seen < _DEPTH:
        if isinstance(getattr(app, "routes", None), list | tuple):
            return app
        app = getattr(app, "app", None)
        seen += 1
    return None


def _sample(template: str) -> str:
    """A path the gated template matches: each parameter becomes one segment."""
    segments = [
        "0" if s.startswith("{") and s.endswith("}") else s for s in template.split("/")
    ]
    return "/".join(segments)


def _serves(route: AppRoute, path: str) -> bool:
    from starlette.routing import BaseRoute, Match

    if not isinstance(route.route, BaseRoute):
        return True
    if not hasattr(route.route, "path_regex"):  # a mounted app: cannot tell
        return path.startswith(route.path.rstrip("/") + "/") or path == route.path
    own = str(getattr(route.route, "path", ""))
    prefix = route.path[: len(route.path) - len(own)]
    if not path.startswith(prefix):
        return False
    scope = {
        "type": "http",
        "path": path[len(prefix) :] or "/",
        "root_path": "",
        "method": "POST",
        "headers": [],
    }
    try:
        match, _ = route.route.matches(scope)
    except Exception:
        return True
    return bool(match != Match.NONE)


def unserved_paths(app: Any, config: GateConfig) -> list[Finding]:
    """A finding for each gated path that no route of the app serves."""
    routed = routed_app(app)
    if routed is None:
        return []
    routes = list(app_routes(routed.routes))
    findings: list[Finding] = []
    for gated in config.router.routes:
        sample = _sample(gated.literal)
        variants = {sample, sample.rstrip("/") + "/"}
        if any(_serves(r, v) for r in routes for v in variants):
            continue
        elsewhere = [r.path for r in routes if _ends_with(r.path, gated.template)]
        hint = (
            f"routes under a mount serve {', '.join(sorted(elsewhere))}: gate "
            "that path (the gate matches the full path, mount prefix included)"
            if elsewhere
            else "check the path and any mount prefix"
        )
        findings.append(
            Finding(
                "error",
                "PATH_NOT_SERVED",
                gated.template,
                None,
                f"no route of the app serves this gated path, so the gate "
                f"screens nothing there; {hint}",
            )
        )
    return findings


def _ends_with(path: str, template: str) -> bool:
    path, template = path.rstrip("/").lower(), template.rstrip("/").lower()
    return path != template and path.endswith(template)


def cors_inside(inner: Any) -> list[Finding]:
    """A warning when CORSMiddleware is among the apps the gate wraps."""
    from starlette.middleware.cors import CORSMiddleware

    app, seen = inner, 0
    while app is not None and seen < _DEPTH:
        if isinstance(app, CORSMiddleware):
            return [_CORS_INSIDE]
        app = getattr(app, "app", None)
        seen += 1
    return []


_CORS_INSIDE = Finding(
    "warning",
    "CORS_INSIDE_GATE",
    None,
    None,
    "CORSMiddleware runs inside the gate: the gate's own answers carry no "
    "CORS headers, and a browser on another origin sees a CORS error instead "
    "of the notice. Add the gate first and CORSMiddleware after it, so CORS "
    "wraps the gate",
)


def check_app(app: Any, config: GateConfig | None = None) -> list[Finding]:
    """Every finding for an app and one gate's configuration.

    `app` is the app (a Starlette or FastAPI app, or one wrapped by
    `AgeGateMiddleware`); `config` is the gate's `GateConfig` (for instance
    `GateConfig.from_options(paths=..., fields=..., block_cookie=False)`).
    Without it, every `AgeGateMiddleware` the app adds with
    `add_middleware`, or is wrapped in, is checked with its own options.
    """
    if config is not None:
        return _check_one(app, config)
    gates = gates_of(app)
    if not gates:
        return [
            Finding(
                "error",
                "NO_GATE",
                None,
                None,
                "the app adds no AgeGateMiddleware: nothing is screened",
            )
        ]
    findings: list[Finding] = []
    for gate, cors in gates:
        findings.extend(_check_one(app, gate) + cors)
    return list(dict.fromkeys(findings))


def _check_one(app: Any, config: GateConfig) -> list[Finding]:
    findings = unserved_paths(app, config)
    routed = routed_app(app)
    if routed is not None and _has_fastapi_routes(routed):
        from .fastapi_check import unread_birth_keys

        findings.extend(unread_birth_keys(routed, config))
    return findings


def _has_fastapi_routes(app: Any) -> bool:
    return any(
        type(r.route).__module__.startswith("fastapi.") for r in app_routes(app.routes)
    )


def gates_of(app: Any) -> list[tuple[GateConfig, list[Finding]]]:
    """The config of every gate around or in the app, each with the CORS
    finding of its place in the stack."""
    from starlette.middleware.cors import CORSMiddleware

    from .middleware import AgeGateMiddleware

    found: list[tuple[GateConfig, list[Finding]]] = []
    node, seen = app, 0
    while node is not None and seen < _DEPTH:
        if isinstance(node, AgeGateMiddleware):
            found.append((node.config, cors_inside(node.app)))
        node = getattr(node, "app", None)
        seen += 1
    routed = routed_app(app)
    stack = list(getattr(routed, "user_middleware", None) or [])
    for index, middleware in enumerate(stack):
        if getattr(middleware, "cls", None) is not AgeGateMiddleware:
            continue
        options = dict(getattr(middleware, "kwargs", {}) or {})
        config = GateConfig.from_options(
            block_cookie=False,
            **{k: v for k, v in options.items() if k in _CONFIG_OPTIONS},
        )
        # Starlette lists the outermost middleware first.
        inner = [getattr(m, "cls", None) for m in stack[index + 1 :]]
        found.append((config, [_CORS_INSIDE] if CORSMiddleware in inner else []))
    return found


_CONFIG_OPTIONS = frozenset(
    {"paths", "fields", "policy", "rules", "profile_paths", "account_id_param"}
)
