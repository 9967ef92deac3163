"""`agegate demo`: serve the example gated signup app on 127.0.0.1."""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

from .main import EXIT_OK, EXIT_USAGE

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
        help="where accounts.db and flags.db go (default: a new temporary directory)",
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
  agegate qa examples/requests --base-url {base} --var adminToken={admin_token}

Press Ctrl+C to stop."""


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port < 65536:
        print(
            "agegate demo: --port must be in 0..65535 (0: any free port)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.data_dir:
        data_dir = Path(args.data_dir)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="agegate-demo-"))
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(
            f"agegate demo: cannot create {data_dir} ({type(error).__name__})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    # Bind before anything is printed, so a busy port is a clear usage error.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, args.port))
    except OSError:
        sock.close()
        print(f"agegate demo: port {args.port} is not free", file=sys.stderr)
        return EXIT_USAGE
    import uvicorn

    from ..apps.demo import create_app

    app = create_app(data_dir)
    port = sock.getsockname()[1]
    admin_token = str(app.state.admin_token)
    print(_usage_text(f"http://{HOST}:{port}", data_dir, admin_token), flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
    return EXIT_OK
