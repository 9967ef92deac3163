"""The demo's TEST wallet, on only when the demo is run with it
(`agegate demo --test-wallet`, `create_app(..., test_wallet_origin=...)`).

Its routes, mounted at `/test-wallet`:

GET  /wallet.js   a script the assurance page loads: it shows a TEST panel
                  (the holder's age, mdoc or SD-JWT VC) and answers the
                  page's `navigator.credentials.get({digital: ...})` with a
                  proof from `/test-wallet/present`. It installs itself in
                  place of the browser's Digital Credentials API, as the
                  headless browsers that QA uses have no wallet behind it;
                  any other `navigator.credentials.get` goes to the browser.
POST /present     `{"requests", "origin", "age", "format", "revoked"}` -> 200 with the
                  `{protocol, data}` credential a wallet would return, made
                  by `TestWallet` for a holder that many years old and bound
                  to `origin`; 422 naming the field otherwise. QA's catalogue
                  calls it directly to run the flow over plain HTTP.
                  `"revoked": true` names the entry its issuer revoked.
GET  /status/{format}  the TEST issuer's Token Status List for mdoc or
                  sd-jwt (entry 0 valid, 1 revoked), which the demo's
                  verifier fetches over HTTP as it would a real issuer's.

The proof then goes, as a real wallet's would, to `/assurance/complete`
and the real `WalletVerifier`, which trusts the TEST issuer only because
the demo built its trust list with `allow_test_anchors=True`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..asgi.body import Disconnected, Refused, read_body
from ..assurance.status import StatusLists
from ..assurance.verifier import WalletVerifier
from .test_wallet import TestIssuer, TestWallet, WalletRequestError

TEST_WALLET_PATH = "/test-wallet"
SCRIPT_PATH = TEST_WALLET_PATH + "/wallet.js"
_MAX_BODY = 64 * 1024


# Entry 0 of each TEST status list is valid, entry 1 revoked.
_VALID, _REVOKED = 0, 1
_LIST_SIGNERS = {"mdoc": "document_signer", "sd-jwt": "issuer"}


def status_uri(origin: str, format: str) -> str:
    return f"{origin}{TEST_WALLET_PATH}/status/{format}"


def test_wallet_verifier(origin: str) -> tuple[WalletVerifier, TestWallet]:
    """A verifier for `origin` that trusts a TEST issuer made now and checks
    revocation in the issuer's TEST status lists (fetched over HTTP from
    this demo), and the TEST wallet holding that issuer's credentials."""
    issuer = TestIssuer.create()
    verifier = WalletVerifier(
        issuer.trust_list(), origin=origin, status_lists=StatusLists()
    )
    return verifier, TestWallet(issuer)


def _answer(status: int, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


class _Routes:
    def __init__(self, wallet: TestWallet) -> None:
        self.wallet = wallet

    async def script(self, request: Request) -> Response:
        config = json.dumps({"present": f"{TEST_WALLET_PATH}/present"})
        return Response(
            _SCRIPT.replace("__CONFIG__", config.replace("<", "\\u003c")),
            media_type="text/javascript",
            headers={"Cache-Control": "no-store"},
        )

    async def status(self, request: Request) -> Response:
        """The TEST issuer's Status List Token for one format, signed now
        (the demo outlives a token's `exp`)."""
        fmt = request.path_params["format"]
        if fmt not in _LIST_SIGNERS:
            return Response(status_code=404)
        origin = f"{request.url.scheme}://{request.url.netloc}"
        token = self.wallet.issuer.status_list_token(
            status_uri(origin, fmt), [_REVOKED], signer=_LIST_SIGNERS[fmt]
        )
        return Response(
            token,
            media_type="application/statuslist+jwt",
            headers={"Cache-Control": "no-store"},
        )

    async def present(self, request: Request) -> Response:
        try:
            data = json.loads(await read_body(request.receive, _MAX_BODY))
        except (Refused, Disconnected, ValueError, RecursionError):
            return _answer(400, {"title": "send a JSON object", "field": "body"})
        if not isinstance(data, dict):
            return _answer(400, {"title": "send a JSON object", "field": "body"})
        origin = data.get("origin")
        if not isinstance(origin, str) or not origin:
            return _answer(422, {"title": "origin: the page's origin"})
        fmt = data.get("format", "mdoc")
        entry = _REVOKED if data.get("revoked") is True else _VALID
        try:
            credential = self.wallet.present(
                data.get("requests"),
                origin,
                age=data.get("age", 30),
                format=fmt,
                status=(status_uri(origin, str(fmt)), entry),
            )
        except WalletRequestError as error:
            return _answer(422, {"title": str(error)})
        return _answer(200, credential)


def test_wallet_app(wallet: TestWallet) -> Starlette:
    routes = _Routes(wallet)
    return Starlette(
        routes=[
            Route("/wallet.js", routes.script, methods=["GET"]),
            Route("/present", routes.present, methods=["POST"]),
            Route("/status/{format}", routes.status, methods=["GET"]),
        ]
    )


# The TEST panel and the stand-in for the Digital Credentials API.
_SCRIPT = """
(function () {
  var cfg = __CONFIG__;
  var panel = document.createElement('div');
  panel.className = 'notice';
  panel.id = 'test-wallet';
  panel.setAttribute('role', 'note');
  panel.innerHTML = '<p><strong>TEST WALLET.</strong> This demo answers with a'
    + ' TEST wallet: it proves nobody\\u2019s age, and its issuer is trusted only'
    + ' because the demo was started with its test-wallet option. It also'
    + ' shares a TEST name and document number, which agegate drops.</p>'
    + '<label>TEST holder\\u2019s age <input id="test-wallet-age" type="number"'
    + ' min="0" max="130" value="30"></label> '
    + '<label>Credential <select id="test-wallet-format">'
    + '<option value="mdoc">mdoc (ISO 18013-5)</option>'
    + '<option value="sd-jwt">SD-JWT VC</option></select></label> '
    + '<label><input id="test-wallet-revoked" type="checkbox"> TEST: a'
    + ' credential its issuer has revoked</label>';
  var anchor = document.getElementById('wallet');
  if (anchor) { anchor.parentNode.insertBefore(panel, anchor); }
  else { document.body.insertBefore(panel, document.body.firstChild); }
  if (typeof window.DigitalCredential === 'undefined') {
    window.DigitalCredential = function DigitalCredential() {};
  }
  if (!navigator.credentials) {
    Object.defineProperty(navigator, 'credentials', {value: {}});
  }
  var container = navigator.credentials;
  var browserGet = container.get ? container.get.bind(container) : null;
  container.get = function (options) {
    if (!options || !options.digital) {
      return browserGet ? browserGet(options)
        : Promise.reject(new Error('no credentials API'));
    }
    var body = {
      requests: options.digital.requests,
      origin: location.origin,
      age: Number(document.getElementById('test-wallet-age').value),
      format: document.getElementById('test-wallet-format').value,
      revoked: document.getElementById('test-wallet-revoked').checked
    };
    return fetch(cfg.present, {method: 'POST', credentials: 'omit',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})
      .then(function (r) {
        if (!r.ok) { throw new Error('the TEST wallet refused the request'); }
        return r.json();
      });
  };
})();
"""


__all__ = [
    "SCRIPT_PATH",
    "TEST_WALLET_PATH",
    "test_wallet_app",
    "test_wallet_verifier",
]
