"""The load test's short version: a real uvicorn server, a few thousand mixed
requests over keep-alive connections, every status as expected.

A correctness test, not a timing one: `python benchmarks/load.py` is the
measurement. The client and the apps live in that script; it is loaded here
by path because benchmarks/ is not a package.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "load.py"
REQUESTS = 2_000


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agegate_load_test", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


load = _load_script()


def test_the_mix_has_every_kind_and_status() -> None:
    requests = load.schedule(load.mix(date.today()), REQUESTS)
    assert {r.kind for r in requests} == set(load.PATTERN)
    assert {r.expected for r in requests} == {200, 400, 403, 422}
    # Every US and Canadian area code is screened at least once.
    phones = load.area_code_phones()
    assert len(phones) > 400
    assert sum(r.kind == "adult" for r in requests) >= len(phones)


@pytest.mark.parametrize("factory", ["gated_app", "checking_app"])
def test_a_short_load_gets_every_status_right(factory: str) -> None:
    requests = load.schedule(load.mix(date.today()), REQUESTS)
    with load.serve(factory) as server:
        tally = load.run(server, requests, connections=8)
    assert dict(tally.errors) == {}
    assert dict(tally.wrong) == {}
    assert tally.answered == REQUESTS
