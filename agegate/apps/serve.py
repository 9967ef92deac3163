"""Serve an ASGI app with uvicorn on a socket bound beforehand.

One place for the two ways agegate runs a server: in the foreground
(`agegate demo`) and in a background thread (test suites, and teams that
replay a catalogue against their own app). The socket is bound by the caller
first, so a busy port is known before anything is printed and a port of 0
yields the free one the system chose.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..safe_text import printable

_START_TIMEOUT = 20.0


class _PathOnly(logging.Filter):
    """Access-log lines show the path without its query string, escaped: a
    query may carry a token or a value a person typed, and a decoded path
    may hold a line break that would forge a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            path = str(args[2])
            shown = printable(path.partition("?")[0])
            if "?" in path:
                shown += "?..."
            record.args = (args[0], args[1], shown, args[3], args[4])
        return True


_ACCESS_FILTER = _PathOnly()


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound to `host:port` (0: a free port); OSError if busy."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A port free at the time of asking (another process may take it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _server(app: Any, options: dict[str, Any]) -> Any:
    import uvicorn

    settings: dict[str, Any] = {"log_level": "warning", "lifespan": "auto"}
    settings.update(options)
    # uvicorn sets up its loggers when the Config is made; the filter goes on
    # after, once (the same object is not added twice).
    config = uvicorn.Config(app, **settings)
    logging.getLogger("uvicorn.access").addFilter(_ACCESS_FILTER)
    return uvicorn.Server(config)


def run(app: Any, sock: socket.socket, **options: Any) -> None:
    """Serve in the foreground until Ctrl+C; `options` go to uvicorn.Config."""
    try:
        _server(app, options).run(sockets=[sock])
    finally:
        sock.close()


@contextlib.contextmanager
def serve(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> Iterator[str]:
    """Serve in a thread while the block runs; yields the base URL.

    `options` go to uvicorn.Config (for example `ws="none"`, `http="h11"`).
    """
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    server = _server(app, options)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT)
        sock.close()
