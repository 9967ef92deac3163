"""Suite-wide checks.

Every log record emitted anywhere during the test session is kept, and the
session fails if one of them looks like a birthdate, a phone number or an
e-mail address: agegate's logs name fields and codes, never values.
"""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import HealthCheck, settings

# The machines running the suite are shared and noisy: time limits would make
# property tests flaky without making them stricter.
settings.register_profile(
    "agegate", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("agegate")

_LOOKS_PERSONAL = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"  # an ISO date
    r"|[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}"  # a written date
    r"|\+?[0-9][0-9 ()\-.]{7,}[0-9]"  # a phone number
    r"|[^\s@]+@[^\s@]+\.[a-z]{2,}"  # an e-mail address
)


class _Keeper(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if _LOOKS_PERSONAL.search(text):
            self.leaks.append(f"{record.name}: {text[:200]}")


_keeper = _Keeper()
_keeper.setFormatter(logging.Formatter("%(message)s"))


# The project's own loggers; a server's access log is not ours to police.
WATCHED_LOGGERS = ("agegate", "examples")


def pytest_configure(config: pytest.Config) -> None:
    for name in WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(_keeper)
        logger.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for name in WATCHED_LOGGERS:
        logging.getLogger(name).removeHandler(_keeper)
    if _keeper.leaks:
        print("\nlog records that look like personal data:")
        for leak in _keeper.leaks[:20]:
            print("  ", leak)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
