"""Shared pieces of the middleware tests: a gated app that records what its own
parsers read, birthdates relative to today, and a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, suppress
from datetime import date
from typing import Any

from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agegate import AgeGateMiddleware, load_rules
from agegate.age import age_on, live_today
from agegate.apps.serve import serve

SECRET = "test-secret-that-is-long-enough-0123456789"
# Request paths however spelled: slashes, case, dots and `;` parameters.
ROUTE_PATHS = st.lists(
    st.sampled_from(["", "/", "signup", "SignUp", "accounts", "7", ".", ";x", "a"]),
    max_size=5,
).map("/".join)


def years_ago(years: int, today: date | None = None) -> str:
    """The birthdate of someone who turns `years` today (at UTC-12)."""
    on = today or live_today()
    try:
        born = on.replace(year=on.year - years)
    except ValueError:  # 29 February: born the day before is still that age
        born = date(on.year - years, 2, 28)
    return born.isoformat()


AGE_17 = years_ago(17)
AGE_18 = years_ago(18)
AGE_19 = years_ago(19)
ADULT = years_ago(40)
UNDERAGE_IN_BC = (AGE_17, AGE_18)


class Recorder:
    """What the app behind the gate received and what its parsers read."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def birthdates(self) -> list[str]:
        found: list[str] = []
        for seen in self.requests:
            for reading in seen["readings"].values():
                found.extend(_strings(reading))
        return found

    def read_birthdates(self) -> list[str]:
        """The `birthdate` values the app's own parsers read."""
        found: list[str] = []
        for seen in self.requests:
            readings = seen["readings"]
            document = readings.get("json")
            if isinstance(document, dict):
                found.append(document.get("birthdate"))
            found.extend(v for k, v in readings.get("form", []) if k == "birthdate")
            found.append(readings["query"].get("birthdate"))
        return [b for b in found if isinstance(b, str)]

    def read_minor(self, under: int = 18) -> bool:
        """Whether the app read a birthdate of someone under `under`, whatever
        the jurisdiction (no jurisdiction allows a 17-year-old here)."""
        today = live_today()
        for text in self.read_birthdates():
            try:
                born = date.fromisoformat(text.strip())
            except ValueError:
                continue
            if age_on(born, today) < under:
                return True
        return False

    def saw_underage(self) -> bool:
        """Whether any reading by the app holds an underage BC birthdate."""
        texts = self.birthdates()
        return any(b in t for t in texts for b in UNDERAGE_IN_BC)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


async def _read_everything(request: Request) -> dict[str, Any]:
    """Every way a Starlette or FastAPI app could read the request."""
    readings: dict[str, Any] = {"query": dict(request.query_params)}
    with suppress(Exception):
        readings["json"] = await request.json()
    try:
        form = await request.form()
        readings["form"] = [
            [k, v if isinstance(v, str) else "<file>"] for k, v in form.multi_items()
        ]
        await form.close()
    except Exception:
        pass
    return readings


def make_app(recorder: Recorder, **gate: Any) -> Starlette:
    async def signup(request: Request) -> Response:
        body = await request.body()
        decision = getattr(request.state, "agegate", None)
        recorder.requests.append(
            {
                "body": body,
                "readings": await _read_everything(request),
                "decision": decision,
            }
        )
        return JSONResponse(
            {"created": True, "outcome": decision.outcome.value if decision else None}
        )

    async def page(request: Request) -> Response:
        return PlainTextResponse("signup form")

    async def account(request: Request) -> Response:
        body = await request.body()
        recorder.requests.append(
            {"body": body, "readings": await _read_everything(request)}
        )
        return JSONResponse({"updated": request.path_params["account_id"]})

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route(
                "/signup",
                signup,
                methods=["POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            ),
            Route("/signup", page, methods=["GET"]),
            Route("/accounts/{account_id}", account, methods=["PATCH", "PUT"]),
            Route("/health", health),
        ]
    )
    settings: dict[str, Any] = {
        "paths": ["/signup"],
        "secret": SECRET,
        "rules": load_rules(),
    }
    settings.update(gate)
    app.add_middleware(AgeGateMiddleware, **settings)
    return app


def bc(birthdate: str, **extra: Any) -> dict[str, Any]:
    return {"birthdate": birthdate, "country": "CA", "subdivision": "BC", **extra}


def uvicorn_server(app: Any, ws: str = "none") -> AbstractContextManager[str]:
    """A real uvicorn server on a free loopback port; yields its base URL.

    `ws` picks uvicorn's websocket implementation ("none": no websockets)."""
    return serve(app, lifespan="on", http="h11", ws=ws, access_log=False)
