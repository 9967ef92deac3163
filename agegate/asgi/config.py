"""The gate's options, checked once: `GateConfig`.

`AgeGateMiddleware` takes its options as keyword arguments (the way Starlette's
`add_middleware` passes them); `GateConfig.from_options` checks them and keeps
them as one frozen value. A bad option raises TypeError (wrong kind of value)
or ValueError (right kind, unusable value) naming the option, at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs
from starlette.authentication import SimpleUser
from starlette.types import Scope

from ..policy import FieldMap, Policy
from ..rules import Rules, load_rules
from .body import Limits, dotted_paths, key_prefixes
from .cookie import DEFAULT_MAX_AGE, BlockCookie, SameSite
from .notice import Notice, check_link
from .routes import Route, Router

AccountOf = Callable[[Scope], "str | None"]
WebsocketPolicy = Literal["refuse", "pass"]

# A birthdate is read from a full date, a birth year (with its parts) or an age.
BIRTH_SOURCES = ("birthdate", "birth_year", "age")


def starlette_user(scope: Scope) -> str | None:
    """The authenticated user's identity that Starlette's
    `AuthenticationMiddleware` put in `scope["user"]`, or None."""
    user = scope.get("user")
    if user is None:
        return None
    try:
        if getattr(user, "is_authenticated", False) is not True:
            return None
        identity = user.identity
    except NotImplementedError:
        # Starlette's own SimpleUser says its identity (its username) only
        # in later 1.x releases.
        identity = user.username if isinstance(user, SimpleUser) else None
    except Exception:  # a user class of the app's own that cannot say
        return None
    return identity if isinstance(identity, str) and identity else None


def _paths(value: Any, name: str) -> tuple[Any, ...]:
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} is a list of paths, e.g. {name}=['/signup']")
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"{name} is a list of paths") from None


def _size(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int")
    if value < least:
        raise ValueError(f"{name} is too small")
    return value


def _header_name(value: str | None) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError("trusted_country_header is a header name")
    return value.strip().lower().encode("latin-1")


def _check_fields(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, FieldMap):
        raise TypeError("fields must be a FieldMap")
    if not any(value.keys_of(f) for f in BIRTH_SOURCES):
        raise ValueError("fields must map birthdate, birth_year or age")


def _check_account_of(instance: Any, attribute: Any, value: Any) -> None:
    if not callable(value):
        raise TypeError("account_of is a callable: scope -> account id or None")


def _check_router(instance: GateConfig, attribute: Any, value: Router) -> None:
    """Every profile route must say where its account id comes from."""
    param = instance.account_id_param
    for route in value.routes:
        if route.kind != "profile":
            continue
        if param is not None and param not in route.params:
            raise ValueError(f"profile path {route.template} has no {{{param}}}")
        if param is None and len(route.params) > 1:
            raise ValueError(
                f"profile path {route.template} has several parameters: "
                "name the account's with account_id_param"
            )
        if not route.params and instance.fields.account_id is None:
            raise ValueError(
                f"profile path {route.template} has no parameter and "
                "fields.account_id is None: no account id to flag"
            )


def _check_form_url(instance: Any, attribute: Any, value: str | None) -> None:
    check_link("form_url", value)


@attrs.frozen
class GateConfig:
    """What the gate screens, with which rules, and how it answers."""

    fields: FieldMap = attrs.field(validator=_check_fields)
    policy: Policy = attrs.field(validator=attrs.validators.instance_of(Policy))
    rules: Rules = attrs.field(validator=attrs.validators.instance_of(Rules))
    account_id_param: str | None
    router: Router = attrs.field(validator=_check_router)
    cookie: BlockCookie | None
    trusted_country_header: bytes | None
    limits: Limits
    max_header_size: int
    account_of: AccountOf = attrs.field(validator=_check_account_of)
    websockets: WebsocketPolicy = attrs.field(
        validator=attrs.validators.in_(("refuse", "pass"))
    )
    notice: Notice = attrs.field(
        default=Notice(), validator=attrs.validators.instance_of(Notice)
    )
    form_url: str | None = attrs.field(default=None, validator=_check_form_url)

    @property
    def gated(self) -> frozenset[str]:
        """The keys the gate reads: a repeat of one of them is refused.

        With them, the first name of each dotted key (`user` of `user.dob`):
        an app may read that object from a form field or query parameter
        holding its JSON text, so the gate reads it there too."""
        keys = self.fields.screened_keys()
        return frozenset(keys) | key_prefixes(keys)

    @property
    def dotted_paths(self) -> tuple[tuple[str, ...], ...]:
        """The dotted keys the gate reads, split at their dots."""
        return dotted_paths(self.fields.screened_keys())

    @property
    def has_profile_routes(self) -> bool:
        return any(route.kind == "profile" for route in self.router.routes)

    # One keyword per option of AgeGateMiddleware, with its default: a
    # reason to be longer than the usual function.
    @classmethod
    def from_options(
        cls,
        *,
        paths: Iterable[str] = (),
        fields: FieldMap | None = None,
        policy: Policy | None = None,
        secret: str | bytes | None = None,
        rules: Rules | None = None,
        profile_paths: Iterable[str] = (),
        account_id_param: str | None = None,
        block_cookie: bool = True,
        cookie_name: str = "agegate_block",
        cookie_max_age: int = DEFAULT_MAX_AGE,
        cookie_same_site: SameSite = "lax",
        cookie_secure: bool | None = None,
        trusted_country_header: str | None = None,
        max_body_size: int = 64 * 1024,
        max_fields: int = 256,
        max_files: int = 16,
        max_header_size: int = 8 * 1024,
        account_of: AccountOf | None = None,
        websockets: WebsocketPolicy = "refuse",
        notice: Notice | None = None,
        form_url: str | None = None,
    ) -> GateConfig:
        if websockets not in ("refuse", "pass"):
            raise ValueError('websockets is "refuse" or "pass"')
        if rules is not None and not isinstance(rules, Rules):
            raise TypeError("rules must be a Rules (see load_rules)")
        if notice is not None and not isinstance(notice, Notice):
            raise TypeError("notice must be a Notice")
        limits = Limits(
            _size("max_body_size", max_body_size, 1),
            _size("max_fields", max_fields, 1),
            _size("max_files", max_files, 0),
        )
        cookie = None
        if block_cookie:
            if secret is None:
                raise ValueError(
                    "the block cookie needs a secret: pass secret=..., or "
                    "block_cookie=False to run without it"
                )
            cookie = BlockCookie(
                secret,
                name=cookie_name,
                max_age=cookie_max_age,
                same_site=cookie_same_site,
                secure=cookie_secure,
            )
        return cls(
            fields=fields if fields is not None else FieldMap(),
            policy=policy if policy is not None else Policy(),
            rules=rules if rules is not None else load_rules(),
            account_id_param=account_id_param,
            router=_router(paths, profile_paths),
            cookie=cookie,
            trusted_country_header=_header_name(trusted_country_header),
            limits=limits,
            max_header_size=_size("max_header_size", max_header_size, 1),
            account_of=account_of if account_of is not None else starlette_user,
            websockets=websockets,
            notice=notice if notice is not None else Notice(),
            form_url=form_url,
        )


def _router(paths: Iterable[str], profile_paths: Iterable[str]) -> Router:
    signup = [Route.from_template(p, "signup") for p in _paths(paths, "paths")]
    profile = [
        Route.from_template(p, "profile")
        for p in _paths(profile_paths, "profile_paths")
    ]
    if not signup and not profile:
        raise ValueError("give at least one gated path (paths or profile_paths)")
    return Router(signup + profile)
