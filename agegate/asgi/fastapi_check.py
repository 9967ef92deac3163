"""The keys a FastAPI app reads a birth value from that the gate does not.

The gate screens the keys its FieldMap names; the app reads the keys its
request models name. A Pydantic field with
`validation_alias=AliasChoices("dob", "birthdate")` behind a gate that maps
only `dob` lets a client send a minor's date under `birthdate` and an
adult's `age` for the gate: the app stores the minor. This module reads
each gated route's request parameters (body models, `Form()` models and
parameters, scalar query parameters, through dependencies), and every key
each field is read from (its name, `alias`, `validation_alias`,
`AliasChoices`, `AliasPath`, the name too where the model populates by
name), nested models as dotted keys; and reports:

- BIRTH_KEY_UNMAPPED (error): a key of a field with a birth-like name (dob,
  birth..., born, age, yob) that no birth field of the FieldMap names;
- BIRTH_KEY_UNREADABLE (error): a birth-like key the gate cannot read at
  all (an `AliasPath` through a list index, a model inside a list);
- DATE_KEY_UNMAPPED (warning): a `date` or `datetime` field the FieldMap
  does not name, which may hold a birthdate under another name.

FastAPI and Pydantic are imported here only: nothing imports this module
but `app_check`, and only for an app with FastAPI routes.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from datetime import date
from typing import Any

import attrs
from fastapi import params as fastapi_params
from fastapi.routing import APIRoute
from pydantic import AliasChoices, AliasPath, BaseModel
from pydantic.fields import FieldInfo

from .app_check import Finding, app_routes
from .config import GateConfig

_BIRTH_WORDS = frozenset({"dob", "born", "age", "yob", "bday", "birthday", "ages"})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
# How deep nested models are followed (a model may refer to itself).
_DEPTH = 8


def birth_like(name: str) -> bool:
    """Whether a field or key name suggests a birth value (dob, birthDate,
    date_of_birth, born_on, age, ...)."""
    for part in name.split("."):
        words = [w.lower() for w in _WORDS.findall(part)]
        if any(w in _BIRTH_WORDS or w.startswith("birth") for w in words):
            return True
    return False


@attrs.frozen
class _Key:
    """One key a request parameter's value may be read from."""

    key: str
    field: str  # where it is declared: `SignupIn.profile.dob`
    birth: bool  # a birth-like name
    dated: bool  # typed date or datetime
    readable: bool = True  # the gate can reach it (no list in the way)


def unread_birth_keys(app: Any, config: GateConfig) -> list[Finding]:
    """Findings for every gated FastAPI route of `app` (through mounts)."""
    mapped = set(config.fields.birth_keys())
    others = set(config.fields.screened_keys()) - mapped
    findings: list[Finding] = []
    for routed in app_routes(app.routes):
        route = routed.route
        if not isinstance(route, APIRoute):
            continue
        if config.router.match({"path": routed.path, "root_path": ""}) is None:
            continue
        for key in _route_keys(route):
            finding = _finding(routed.path, key, mapped, others)
            if finding is not None:
                findings.append(finding)
    return list(dict.fromkeys(findings))


def _finding(
    path: str, key: _Key, mapped: set[str], others: set[str]
) -> Finding | None:
    if key.key in mapped or not (key.birth or key.dated):
        return None
    if key.birth and not key.readable:
        return Finding(
            "error",
            "BIRTH_KEY_UNREADABLE",
            path,
            key.key,
            f"{key.field} is read from inside a list, which the gate cannot "
            "screen: take the birth value out of the list in the model",
        )
    if key.birth and key.key not in others:
        return Finding(
            "error",
            "BIRTH_KEY_UNMAPPED",
            path,
            key.key,
            f"{key.field} reads a birth value from this key, which no birth "
            "field of the FieldMap names: a client can send a minor's value "
            "there unscreened. Add it to the FieldMap (a field takes several "
            "keys, e.g. birthdate=(...))",
        )
    if key.dated and key.key not in others:
        return Finding(
            "warning",
            "DATE_KEY_UNMAPPED",
            path,
            key.key,
            f"{key.field} is a date the gate does not read: map it if it "
            "holds a birthdate",
        )
    return None


def _route_keys(route: APIRoute) -> Iterator[_Key]:
    body, query = _params(route.dependant)
    single = len(body) == 1
    for param in body:
        info = param.field_info
        model = _model_of(info.annotation)
        form = isinstance(info, fastapi_params.Form)
        embedded = bool(getattr(info, "embed", False))
        prefix = "" if (form or (single and not embedded)) and model else param.alias
        name = f"{route.name}({param.name})"
        if model is not None:
            yield from _model_keys(model, prefix, name, 0)
        else:
            yield _scalar(param.alias, name, info)
    for param in query:
        yield _scalar(param.alias, f"{route.name}({param.name})", param.field_info)


def _params(dependant: Any) -> tuple[list[Any], list[Any]]:
    """The body and query parameters of a dependant and its dependencies."""
    body = list(dependant.body_params)
    query = list(dependant.query_params)
    for sub in dependant.dependencies:
        more_body, more_query = _params(sub)
        body += more_body
        query += more_query
    return body, query


def _scalar(key: str, where: str, info: FieldInfo) -> _Key:
    return _Key(key, where, birth_like(key), _dated(info.annotation))


def _model_keys(
    model: type[BaseModel], prefix: str, where: str, depth: int
) -> Iterator[_Key]:
    by_name = bool(
        model.model_config.get("populate_by_name")
        or model.model_config.get("validate_by_name")
    )
    for name, info in model.model_fields.items():
        field = f"{where}.{name}" if depth else f"{model.__name__}.{name}"
        for key, readable in _field_keys(name, info, by_name):
            full = f"{prefix}.{key}" if prefix else key
            birth = birth_like(name) or birth_like(key)
            yield _Key(full, field, birth, _dated(info.annotation), readable)
            nested, in_list = _nested(info.annotation)
            if nested is not None and depth < _DEPTH:
                for inner in _model_keys(nested, full, field, depth + 1):
                    yield attrs.evolve(
                        inner, readable=inner.readable and readable and not in_list
                    )


def _field_keys(name: str, info: FieldInfo, by_name: bool) -> list[tuple[str, bool]]:
    """(key, whether the gate can reach it) for every key a field reads."""
    alias = info.validation_alias
    found: list[tuple[str, bool]] = []
    if alias is None:
        found.append((info.alias or name, True))
    elif isinstance(alias, str):
        found.append((alias, True))
    elif isinstance(alias, AliasPath):
        found.append(_path(alias))
    elif isinstance(alias, AliasChoices):
        for choice in alias.choices:
            found.append(
                _path(choice) if isinstance(choice, AliasPath) else (choice, True)
            )
    if by_name and all(key != name for key, _ in found):
        found.append((name, True))
    return found


def _path(alias: AliasPath) -> tuple[str, bool]:
    parts = [str(p) for p in alias.path]
    return ".".join(parts), all(isinstance(p, str) for p in alias.path)


def _unwrap(annotation: Any) -> list[Any]:
    """The types an annotation allows (Optional, unions and Annotated undone)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for option in _unwrap(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """A model the field holds, and whether inside a list, set or dict."""
    model = _model_of(annotation)
    if model is not None:
        return model, False
    for option in _unwrap(annotation):
        for arg in typing.get_args(option):
            inner = _model_of(arg)
            if inner is not None:
                return inner, True
    return None, False


def _dated(annotation: Any) -> bool:
    return any(
        isinstance(option, type) and issubclass(option, date)
        for option in _unwrap(annotation)
    )
