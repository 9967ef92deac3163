"""Resident memory of a uvicorn worker serving a gated app, beside the bare app.

    python benchmarks/bench_gate_memory.py            # each area code once
    python benchmarks/bench_gate_memory.py --repeat 5

Each app runs under uvicorn in a child process on a free loopback port and
receives an adult's signup with a phone number of every US and Canadian area
code (442 with phonenumbers 9.0); the server's RSS is read from
/proc/PID/status before and after. The gated worker should stay under 64 MiB:
the area codes come from a small shipped table, not from phonenumbers'
geocoding data (about 100 MiB once imported).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from load import Tally, area_code_phones, rss_mib, run, serve, signups

GOAL_MIB = 64.0


def measure(factory: str, repeat: int) -> tuple[float, float, Tally]:
    """RSS of a fresh server once up and after the signups, and the tally."""
    requests = signups(area_code_phones(), date.today()) * repeat
    with serve(factory) as server:
        idle = rss_mib(server.pid)
        tally = run(server, requests, connections=4)
        loaded = rss_mib(server.pid)
    return idle, loaded, tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds of signups")
    args = parser.parse_args()
    failed = False
    results = {}
    for name, factory in (("bare app", "bare_app"), ("gated app", "gated_app")):
        idle, loaded, tally = measure(factory, args.repeat)
        results[name] = loaded
        bad = sum(tally.errors.values()) + sum(tally.wrong.values())
        failed |= bad > 0
        print(
            f"{name:10s} RSS {idle:6.1f} MiB idle, {loaded:6.1f} MiB after"
            f" {tally.answered} signups ({bad} errors or wrong statuses)"
        )
    gate = results["gated app"] - results["bare app"]
    print(f"the gate adds {gate:.1f} MiB; goal: gated worker under {GOAL_MIB:.0f} MiB")
    return 1 if failed or results["gated app"] >= GOAL_MIB else 0


if __name__ == "__main__":
    sys.exit(main())
