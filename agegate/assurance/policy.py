"""Which level of age assurance a jurisdiction needs: `AssurancePolicy`.

The operator says, per jurisdiction code, the least `Level` a signup must
show (`{"GB": Level.HIGHLY_EFFECTIVE, "*": Level.ASSERTED}`). A code is
looked up as given (`CA-BC`), then as its country (`CA`), then as `"*"`;
with no `"*"` the rest of the world needs only `ASSERTED`, what a typed
birthdate is worth. A decision may point to several jurisdictions (the
signals disagree, or a subdivision and its country): the strictest level
among them is the one asked for.

Nothing here imports the web stack: the gate and the review both read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Protocol

import attrs

from ..keys import secret_bytes
from .model import Assurance, Level

ANYWHERE = "*"
_CODE = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", re.ASCII)
# A token the gate issues lives minutes, not days: it is a bearer value.
MAX_TOKEN_TTL = 3600


class Challenge(Protocol):
    """What a wallet verifier's `begin` returns (see `agegate.assurance`)."""

    @property
    def attempt(self) -> str: ...

    @property
    def requests(self) -> Any: ...


class Verifier(Protocol):
    """A wallet verifier: a challenge out, a verified Assurance back."""

    def begin(self, required_age: int) -> Any: ...

    def complete(self, attempt: str, response: Any, *, origin: str) -> Assurance: ...


def required_levels(value: Any) -> dict[str, Level]:
    """`required` checked: jurisdiction codes (or `*`) to Levels."""
    if not isinstance(value, Mapping):
        raise TypeError('required maps jurisdiction codes to a Level: {"GB": ...}')
    found: dict[str, Level] = {}
    for code, level in value.items():
        if not isinstance(code, str) or not (
            code == ANYWHERE or _CODE.fullmatch(code.upper())
        ):
            raise ValueError(f"required: {code!r} is not a jurisdiction code or '*'")
        if not isinstance(level, Level):
            raise TypeError(f"required[{code!r}] must be a Level")
        found[code.upper()] = level
    return found


def level_for(required: Mapping[str, Level], code: str | None) -> Level:
    """The level one jurisdiction needs: its own entry, its country's, `*`'s."""
    if code:
        code = code.upper()
        if code in required:
            return required[code]
        country = code.partition("-")[0]
        if country in required:
            return required[country]
    return required.get(ANYWHERE, Level.ASSERTED)


def strictest(required: Mapping[str, Level], codes: Iterable[str | None]) -> Level:
    """The highest level any of the jurisdictions needs."""
    levels = [level_for(required, code) for code in codes]
    return max(levels, default=level_for(required, None))


def _providers(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


def _start_urls(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _check_ttl(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("token_ttl must be an int (seconds)")
    if not 30 <= value <= MAX_TOKEN_TTL:
        raise ValueError(f"token_ttl must be 30..{MAX_TOKEN_TTL} seconds")


def _check_providers(instance: Any, attribute: Any, value: Any) -> None:
    for name, provider in value.items():
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9-]{1,32}", name):
            raise ValueError("providers are named in lower-case letters, digits, '-'")
        if not all(hasattr(provider, m) for m in ("open", "receive", "take")):
            raise TypeError(f"providers[{name!r}] must be a ProviderWebhook")


def _check_wallet(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and not all(
        callable(getattr(value, m, None)) for m in ("begin", "complete")
    ):
        raise TypeError("wallet must have begin(required_age) and complete(...)")


@attrs.frozen(repr=False)
class AssurancePolicy:
    """What a signup must prove, and where the proof may come from.

    required: jurisdiction code -> least Level (`"*"` for anywhere else).
    wallet: a wallet verifier (`WalletVerifier`), or None.
    providers: name -> `ProviderWebhook` (see `agegate.assurance.providers`).
    secret: key of the assurance token (at least 16 bytes).
    token_ttl: seconds a token is good for after the proof (default 600).
    base_path: where the assurance routes are mounted (`assurance_app`).
    cookie_name, header_name: how a browser and an API client carry a token.
    start_urls: provider name -> the operator's page that starts that
        provider's check (`/verify/veriff?attempt={attempt}&age={age}`):
        it creates the provider's session with the attempt as reference.
    page_script: a local path of a script the assurance page loads before
        its own (the demo's TEST wallet), or None.
    """

    required: dict[str, Level] = attrs.field(converter=required_levels)
    secret: bytes = attrs.field(converter=secret_bytes)
    wallet: Verifier | None = attrs.field(default=None, validator=_check_wallet)
    providers: dict[str, Any] = attrs.field(
        factory=dict, converter=_providers, validator=_check_providers
    )
    token_ttl: int = attrs.field(default=600, validator=_check_ttl)
    base_path: str = attrs.field(default="/assurance")
    cookie_name: str = "agegate_assurance"
    header_name: str = "agegate-assurance"
    validity: timedelta = timedelta(days=365)
    start_urls: dict[str, str] = attrs.field(factory=dict, converter=_start_urls)
    page_script: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.wallet is None and not self.providers:
            needs_more = any(v > Level.ASSERTED for v in self.required.values())
            if needs_more:
                raise ValueError(
                    "a policy that asks for more than ASSERTED needs a wallet "
                    "or at least one provider"
                )
        for name, url in self.start_urls.items():
            if name not in self.providers or not url.startswith("/"):
                raise ValueError(f"start_urls[{name!r}]: a local path of a provider")
        script = self.page_script
        if script is not None and not (
            isinstance(script, str) and script.startswith("/") and "//" not in script
        ):
            raise ValueError("page_script: a local path such as /static/wallet.js")
        if not self.base_path.startswith("/") or self.base_path.endswith("/"):
            raise ValueError("base_path is a path like /assurance")

    def __repr__(self) -> str:
        return f"AssurancePolicy(required={self.required!r})"

    def level_needed(self, codes: Iterable[str | None]) -> Level:
        return strictest(self.required, codes)


__all__ = [
    "ANYWHERE",
    "AssurancePolicy",
    "Challenge",
    "Verifier",
    "level_for",
    "required_levels",
    "strictest",
]
