"""The gate's assurance step: does this signup carry the proof its
jurisdiction needs?

`AgeGateMiddleware(..., assurance=AssurancePolicy(...))` calls
`AssuranceCheck.screen` once a signup's declared birthdate has passed:

* a signup whose jurisdictions (the decisive one and every one signalled:
  the strictest level among them) need no more than ASSERTED passes as
  before;
* one that needs more passes only with an assurance token, issued by the
  assurance routes after a verified proof, of that level or higher, that
  proves at least the decision's required age, still valid, signed with
  this operator's secret and not used before (a token admits one signup);
  the Assurance is then in `request.state.agegate_assurance`, beside the
  Decision in `request.state.agegate`, which stays free of it;
* otherwise the gate answers 403 `NEEDS_ASSURANCE`: problem+json with the
  level, the age and the URLs to begin, or for a browser the page that
  runs the check;
* a token proving the person is under the required age blocks the signup
  like a declared minor's (reason `ASSURANCE_UNDER`), whatever the level
  asked.
"""

from __future__ import annotations

import html
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import attrs
from starlette.responses import HTMLResponse, Response
from starlette.types import Scope

from ..assurance.model import Assurance, Level
from ..assurance.policy import AssurancePolicy
from ..assurance.token import TOKEN_SHAPE, read_token
from ..decision import Decision, Outcome
from ..reasons import Reason
from .negotiate import prefers_html
from .notice import BASE_HEADERS
from .pages import page
from .problem import problem_body, problem_response
from .routes import Match

logger = logging.getLogger("agegate.assurance")


class _Spent:
    """Attempts whose token already admitted a signup, until they expire."""

    def __init__(self, keep: float, limit: int = 200_000) -> None:
        self.keep = keep
        self.limit = limit
        self._spent: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def spend(self, attempt: str, now: float) -> bool:
        with self._lock:
            while self._spent:
                oldest, when = next(iter(self._spent.items()))
                if when > now - self.keep and len(self._spent) < self.limit:
                    break
                del self._spent[oldest]
            if attempt in self._spent:
                return False
            self._spent[attempt] = now
            return True


def _tokens(raw: Sequence[tuple[bytes, bytes]], policy: AssurancePolicy) -> list[str]:
    header = policy.header_name.encode("latin-1")
    found = []
    for name, value in raw:
        lowered = name.lower()
        text = value.decode("latin-1")
        if lowered == header:
            found.append(text.strip())
        elif lowered == b"cookie":
            found.extend(_cookie_tokens(text, policy.cookie_name))
    return found[:4]


def _cookie_tokens(header: str, name: str) -> list[str]:
    """The token-shaped values of cookie `name`, split in linear time."""
    found = []
    for pair in header.split(";"):
        key, equals, value = pair.partition("=")
        value = value.strip(" \t")
        if equals and key.strip(" \t") == name and TOKEN_SHAPE.fullmatch(value):
            found.append(value)
    return found


def _accept(raw: Sequence[tuple[bytes, bytes]]) -> str | None:
    for name, value in raw:
        if name.lower() == b"accept":
            return value.decode("latin-1")
    return None


def log_source(assurance: Assurance) -> str:
    """The proof's source as a log line shows it: a provider's name, or the
    first 8 hex digits of an anchor's digest (enough to tell anchors apart
    in a log; a full digest's digit runs read like phone numbers)."""
    scheme, colon, digest = assurance.source.partition(":")
    return f"{scheme}:{digest[:8]}" if colon else assurance.source


@attrs.frozen
class NeedsAssurance:
    """What a signup must still prove: the level and the age."""

    level: Level
    required_age: int


class AssuranceCheck:
    """The gate's one call into assurance (see the module docstring)."""

    def __init__(self, policy: AssurancePolicy) -> None:
        if not isinstance(policy, AssurancePolicy):
            raise TypeError("assurance must be an AssurancePolicy")
        self.policy = policy
        self._spent = _Spent(keep=float(policy.token_ttl) + 120.0)

    def screen(
        self,
        decision: Decision,
        match: Match,
        raw: Sequence[tuple[bytes, bytes]],
        scope: Scope,
    ) -> tuple[Decision, Response | None]:
        """The decision to act on, and an answer when the gate must ask for
        a proof instead. Only an allowed signup is looked at: a profile
        update is judged on the account's own data."""
        if (
            match.route.kind != "signup"
            or decision.outcome is not Outcome.ALLOW
            or decision.required_age is None
        ):
            return decision, None
        required = decision.required_age
        codes = (decision.jurisdiction, *decision.jurisdictions)
        needed = self.policy.level_needed(codes)
        assurance = self._carried(raw)
        if assurance is not None and assurance.proves_under(required):
            logger.info("assurance proves under: source=%s", log_source(assurance))
            return attrs.evolve(
                decision, outcome=Outcome.BLOCK, reasons=(Reason.ASSURANCE_UNDER,)
            ), None
        usable = (
            assurance is not None
            and assurance.level >= needed
            and assurance.proves_at_least(required)
        )
        if (
            usable
            and assurance is not None
            and (
                needed == Level.ASSERTED
                or self._spent.spend(assurance.attempt, time.time())
            )
        ):
            scope.setdefault("state", {})["agegate_assurance"] = assurance
            return decision, None
        if needed == Level.ASSERTED:
            return decision, None
        logger.info(
            "assurance needed: level=%s required_age=%s jurisdiction=%s",
            needed.name,
            required,
            decision.jurisdiction or "-",
        )
        ask = NeedsAssurance(needed, required)
        if prefers_html(_accept(raw)):
            return decision, HTMLResponse(
                assurance_page(self.policy, ask),
                status_code=403,
                headers=BASE_HEADERS,
            )
        return decision, problem_response(
            needs_assurance_body(self.policy, ask), headers=BASE_HEADERS
        )

    def _carried(self, raw: Sequence[tuple[bytes, bytes]]) -> Assurance | None:
        policy = self.policy
        for token in _tokens(raw, policy):
            found = read_token(token, policy.secret, policy.token_ttl)
            if found is not None:
                return found
        return None


def needs_assurance_body(
    policy: AssurancePolicy, ask: NeedsAssurance
) -> dict[str, Any]:
    """The problem+json of a signup that must prove its age first."""
    body = problem_body(
        403,
        Reason.NEEDS_ASSURANCE,
        "A verified proof of age is needed",
        detail=(
            "Where you live, a typed date of birth is not enough. Prove your"
            " age with a digital wallet or a provider, then send the request"
            f" again with the token, in the {policy.header_name} header."
        ),
        code=Reason.NEEDS_ASSURANCE,
        reasons=(Reason.NEEDS_ASSURANCE,),
    )
    body["level"] = ask.level.name
    body["required_age"] = ask.required_age
    body["begin"] = f"{policy.base_path}/begin"
    body["complete"] = f"{policy.base_path}/complete"
    body["page"] = f"{policy.base_path}/?age={ask.required_age}"
    body["methods"] = methods(policy)
    body["token_header"] = policy.header_name
    return body


def methods(policy: AssurancePolicy) -> list[str]:
    found = ["wallet"] if policy.wallet is not None else []
    return found + sorted(policy.providers)


def _config(policy: AssurancePolicy, ask: NeedsAssurance) -> str:
    data = {
        "age": ask.required_age,
        "begin": f"{policy.base_path}/begin",
        "complete": f"{policy.base_path}/complete",
        "wallet": policy.wallet is not None,
        "providers": {
            name: policy.start_urls.get(name) for name in sorted(policy.providers)
        },
    }
    # Inside <script>: no `<` may close the element early.
    return json.dumps(data).replace("<", "\\u003c")


def _provider_buttons(policy: AssurancePolicy) -> str:
    return "".join(
        f'<button type="button" class="provider" data-provider="{html.escape(n)}"'
        f' id="provider-{html.escape(n)}">Check my age with {html.escape(n)}</button>'
        for n in sorted(policy.providers)
    )


def assurance_page(policy: AssurancePolicy, ask: NeedsAssurance) -> str:
    """The page that asks a browser for a proof: the Digital Credentials API
    with the wallet's OpenID4VP request, else a provider's check."""
    wallet = ""
    if policy.wallet is not None:
        wallet = (
            "<h2>With a digital wallet</h2><p>Your wallet shares only that you"
            f" are over {ask.required_age}, nothing else.</p>"
            '<button type="button" id="wallet">Use my wallet</button>'
            '<p class="hint" id="cross-device" hidden>This browser cannot reach a'
            " wallet on this device. Open this page on your phone, or use a"
            " provider below.</p>"
        )
    providers = ""
    if policy.providers:
        providers = (
            "<h2>With an age-check provider</h2>"
            "<p>The provider tells us only whether you are old enough.</p>"
            f"{_provider_buttons(policy)}"
        )
    extra = ""
    if policy.page_script is not None:
        extra = f'<script src="{html.escape(policy.page_script)}"></script>'
    return page(
        "Prove your age",
        '<h1 id="needs-assurance">Prove your age to continue</h1>'
        "<p>Where you live, the law asks us to check your age with more than a"
        " date of birth. We do not keep your name, your documents or your"
        " date of birth from this check.</p>"
        f"{wallet}{providers}"
        '<div role="status" id="status" aria-live="polite"></div>'
        f'<script type="application/json" id="assurance-config">'
        f"{_config(policy, ask)}</script>{extra}<script>{_SCRIPT}</script>",
    )


# Begin, then the wallet (DC API) or the provider's page in a frame,
# then complete until the proof is in; the token comes back as an HttpOnly
# cookie, so the script never holds it.
_SCRIPT = """
(function () {
  var cfg = JSON.parse(document.getElementById('assurance-config').textContent);
  var status = document.getElementById('status');
  function say(text) { status.textContent = text; }
  function post(url, body) {
    return fetch(url, {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
      body: JSON.stringify(body)}).then(function (r) {
        return r.json().then(function (j) { return {status: r.status, body: j}; });
      });
  }
  function done(answer) {
    if (answer.status === 200) {
      say('Your age is checked. Go back and send the form again.');
      document.body.setAttribute('data-assured', 'yes');
      return true;
    }
    if (answer.status !== 202) {
      say('The check did not succeed (' + (answer.body.code || answer.status) + ').');
      return true;
    }
    return false;
  }
  // The provider's page in a frame (as k-ID suggests), with a link to open
  // it in its own window for a provider that refuses to be framed.
  function show(url) {
    var frame = document.createElement('iframe');
    frame.id = 'provider-frame';
    frame.src = url;
    frame.title = 'Age check';
    frame.style.cssText = 'width:100%;height:26rem;border:1px solid #444';
    var link = document.createElement('a');
    link.href = url;
    link.target = '_blank';
    link.rel = 'noopener';
    link.textContent = 'Open the age check in a new window';
    status.parentNode.insertBefore(frame, status);
    status.parentNode.insertBefore(link, status);
  }
  function poll(attempt, left) {
    post(cfg.complete, {attempt: attempt}).then(function (answer) {
      if (!done(answer) && left > 0) {
        setTimeout(function () { poll(attempt, left - 1); }, 1500);
      }
    });
  }
  var wallet = document.getElementById('wallet');
  if (wallet) {
    wallet.addEventListener('click', function () {
      if (!(navigator.credentials && window.DigitalCredential)) {
        document.getElementById('cross-device').hidden = false;
        return;
      }
      post(cfg.begin, {method: 'wallet', age: cfg.age}).then(function (begun) {
        if (begun.status !== 201) { return done(begun); }
        return navigator.credentials.get({digital: {requests: begun.body.requests}})
          .then(function (credential) {
            return post(cfg.complete, {attempt: begun.body.attempt,
              response: {protocol: credential.protocol, data: credential.data}});
          }).then(done);
      }).catch(function () { say('The wallet did not answer.'); });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('button.provider'),
    function (button) {
      button.addEventListener('click', function () {
        var name = button.getAttribute('data-provider');
        post(cfg.begin, {method: name, age: cfg.age}).then(function (begun) {
          if (begun.status !== 201) { return done(begun); }
          if (begun.body.start) { show(begun.body.start); }
          say('Waiting for the provider\\u2026');
          poll(begun.body.attempt, 400);
        });
      });
    });
})();
"""


__all__ = [
    "AssuranceCheck",
    "NeedsAssurance",
    "assurance_page",
    "log_source",
    "methods",
    "needs_assurance_body",
]
