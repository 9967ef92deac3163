"""`agegate demo`: serve the example gated signup app on 127.0.0.1."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from .main import EXIT_OK, say

HELP = "run the example gated signup app on 127.0.0.1"
HOST = "127.0.0.1"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        metavar="N",
        help="port (default 8000; 0: any free port)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where accounts.db and flags.db go, kept after the demo stops"
        " (default: a new temporary directory, removed when it stops)",
    )
    parser.add_argument(
        "--test-wallet",
        action="store_true",
        help="also serve a TEST wallet and trust its TEST issuer, for the"
        " wallet flow at http://127.0.0.1:PORT (never for production)",
    )


def _usage_text(base: str, data_dir: Path, admin_token: str) -> str:
    return f"""agegate demo: the example signup app is running at {base}/

  Sign-up page       {base}/            (open it in a browser)
  Report a minor     {base}/report-a-minor/
  Accounts & flags   {base}/admin/stats  and  {base}/admin/flags?token={admin_token}
  Admin token        {admin_token}   (new at each start; /admin/flags needs it)
  SQLite files       {data_dir}/accounts.db  {data_dir}/flags.db

Try it from another terminal:

  curl -i {base}/api/signup -H 'Content-Type: application/json' \\
       -d '{{"birthdate": "2015-06-01", "country": "CA", "subdivision": "BC",
            "email": "kid@example.com"}}'          # 403: blocked, nothing stored
  agegate qa --base-url {base} --var adminToken={admin_token}

Press Ctrl+C to stop."""


_TEST_WALLET_TEXT = """
  TEST WALLET ON: the assurance page answers with a TEST wallet whose TEST
  issuer this demo trusts. Open {base}/ (not localhost: the wallet's proofs
  are bound to this origin). Never for production."""


@contextlib.contextmanager
def _data_dir(given: str | None) -> Iterator[Path]:
    """The directory the demo's files go to while it runs.

    A temporary one is removed when the demo stops; a given one is kept, and
    the demo says where. Either is removed if the demo fails before serving
    and it was made for this run and is still empty.
    """
    if given is None:
        directory = Path(tempfile.mkdtemp(prefix="agegate-demo-"))
    else:
        directory = Path(given)
    existed = given is not None and directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"cannot create the data directory ({type(error).__name__})",
            where=str(directory),
        ) from None
    try:
        yield directory
    finally:
        _leave(directory, temporary=given is None, existed=existed)


def _leave(directory: Path, *, temporary: bool, existed: bool) -> None:
    if temporary:
        shutil.rmtree(directory, ignore_errors=True)
        say("demo", f"removed {directory}")
    elif not existed and not any(directory.iterdir()):
        directory.rmdir()
    else:
        say("demo", f"the data stays in {directory}")


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port < 65536:
        raise InputError("--port must be in 0..65535 (0: any free port)")
    from ..apps import serve

    # Bind before anything is made or printed, so that a busy port is a
    # clear usage error and leaves nothing behind.
    try:
        sock = serve.bind(HOST, args.port)
    except OSError:
        raise InputError(f"port {args.port} is not free") from None
    try:
        with _data_dir(args.data_dir) as data_dir:
            from ..apps.demo import create_app

            port = sock.getsockname()[1]
            base = f"http://{HOST}:{port}"
            app = create_app(
                data_dir, test_wallet_origin=base if args.test_wallet else None
            )
            admin_token = str(app.state.admin_token)
            print(_usage_text(base, data_dir, admin_token), flush=True)
            if args.test_wallet:
                print(_TEST_WALLET_TEXT.format(base=base), flush=True)
            # Request lines are logged as plain uvicorn logs them, without
            # query strings (see apps.serve).
            serve.run(app, sock, log_level="info", access_log=True)
    finally:
        sock.close()
    return EXIT_OK
