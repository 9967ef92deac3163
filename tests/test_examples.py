"""The example signup app under a real uvicorn server, and QA's whole
catalogue replayed against it."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agegate.apps.demo import create_app
from agegate.apps.report import identifier_hash
from agegate.apps.serve import serve
from agegate.cli.main import main
from agegate.qa.replay import run, table

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = ROOT / "agegate" / "qa" / "catalogue"
SECRET = "example-app-test-secret-0123"
ADMIN = "example-app-admin-token-0123"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def base(data_dir: Path) -> Iterator[str]:
    with serve(create_app(data_dir, secret=SECRET, admin_token=ADMIN)) as url:
        yield url


def _rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


def test_every_example_request_passes(base: str) -> None:
    results = run([REQUESTS], base, variables={"adminToken": ADMIN})
    report = table(results)
    assert all(r.passed for r in results), report
    files = {Path(r.request.file).name for r in results}
    assert files == {p.name for p in REQUESTS.glob("*.http")}
    statuses = {r.status for r in results}
    assert {200, 201, 202, 400, 401, 403, 413, 415, 422} <= statuses


def test_the_catalogue_passes_twice_against_the_same_app(base: str) -> None:
    # QA replays against a demo that keeps running; state must not break it.
    for _ in range(2):
        results = run([REQUESTS], base, variables={"adminToken": ADMIN})
        assert all(r.passed for r in results), table(results)


def test_blocked_signup_stores_nothing(base: str, data_dir: Path) -> None:
    minor = {
        "birthdate": "2015-03-14",
        "country": "CA",
        "subdivision": "BC",
        "phone": "+1 604 555 0199",
        "email": "child.bc@example.com",
    }
    response = httpx.post(f"{base}/api/signup", json=minor)
    assert response.status_code == 403
    form = httpx.post(f"{base}/signup", data=minor, headers={"Accept": "text/html"})
    assert form.status_code == 403
    assert form.headers["content-type"].startswith("text/html")
    assert _rows(data_dir / "accounts.db", "SELECT COUNT(*) FROM accounts") == [(0,)]
    assert httpx.get(f"{base}/admin/stats").json() == {"accounts": 0, "flags_open": 0}
    for name in ("accounts.db", "flags.db"):
        for path in data_dir.glob(name + "*"):
            raw = path.read_bytes()
            for clear in (b"2015-03-14", b"child.bc", b"555 0199"):
                assert clear not in raw


def test_allowed_signup_is_stored_and_visible(base: str, data_dir: Path) -> None:
    adult = {"birthdate": "1980-07-01", "country": "CA", "subdivision": "BC"}
    response = httpx.post(
        f"{base}/api/signup", json={**adult, "email": "adult@example.com"}
    )
    assert response.status_code == 201
    account_id = response.json()["id"]
    shown = httpx.get(f"{base}/accounts/{account_id}").json()
    assert shown["id"] == account_id
    assert shown["country"] == "CA"
    assert "birthdate" not in shown
    assert "email" not in shown
    assert _rows(data_dir / "accounts.db", "SELECT id FROM accounts") == [(account_id,)]


def test_allowed_signup_without_email_is_refused_by_the_app(base: str) -> None:
    response = httpx.post(
        f"{base}/api/signup", json={"birthdate": "1980-07-01", "country": "FR"}
    )
    assert response.status_code == 422
    assert response.json()["fields"] == ["email"]


def test_underage_profile_update_flags_the_account(base: str, data_dir: Path) -> None:
    created = httpx.post(
        f"{base}/api/signup",
        json={"birthdate": "1985-01-20", "country": "NZ", "email": "nz@example.com"},
    )
    account_id = created.json()["id"]
    holder = {"Authorization": f"Bearer {created.json()['token']}"}
    update = httpx.patch(
        f"{base}/accounts/{account_id}",
        json={"birthdate": "2012-01-20", "country": "NZ"},
        headers=holder,
    )
    assert update.status_code == 403
    flags = httpx.get(f"{base}/admin/flags", headers=AS_ADMIN).json()
    assert [(f["account_id"], f["codes"]) for f in flags] == [
        (account_id, ["PROFILE_UNDERAGE"])
    ]
    # The stored account still has the old data: the blocked update never
    # reached the app.
    assert _rows(data_dir / "accounts.db", "SELECT birthdate FROM accounts") == [
        ("1985-01-20",)
    ]


def test_report_intake_is_mounted_and_hashes_with_the_app_secret(
    base: str, data_dir: Path
) -> None:
    response = httpx.post(
        f"{base}/report-a-minor/", json={"email": "reported@example.com"}
    )
    assert response.status_code == 202
    [(account_id, codes, action)] = _rows(
        data_dir / "flags.db", "SELECT account_id, codes, action FROM flags"
    )
    assert account_id == identifier_hash("email", "reported@example.com", SECRET)
    assert codes == '["REPORTED"]'
    assert action == "verify"


def test_default_secret_is_kept_in_the_data_dir(tmp_path: Path) -> None:
    create_app(tmp_path)
    key = tmp_path / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600
    first = key.read_text()
    create_app(tmp_path)
    assert key.read_text() == first


def test_examples_signup_app_reexports_the_packaged_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("AGEGATE_DEMO_DIR", str(tmp_path))
    from examples import signup_app

    assert signup_app.create_app is create_app
    app = signup_app.app()
    assert app.state.data_dir == tmp_path


def test_demo_refuses_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 2
    assert "not free" in capsys.readouterr().err


def test_demo_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_a_failed_demo_start_leaves_no_directory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket
    import tempfile

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert main(["demo", "--port", port]) == 2
        assert main(["demo", "--port", port, "--data-dir", str(tmp_path / "d")]) == 2
    assert "not free" in capsys.readouterr().err
    assert list(temporary.iterdir()) == []
    assert not (tmp_path / "d").exists()


def test_qa_without_a_path_replays_the_shipped_catalogue(
    base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["qa", "--base-url", base, "--var", f"adminToken={ADMIN}"]) == 0
    out = capsys.readouterr().out
    assert "01-signup-adult-json.http" in out
    assert " 0 failed" in out


@pytest.mark.slow
def test_agegate_demo_serves_and_qa_passes(tmp_path: Path) -> None:
    """The README's two commands, as a user runs them."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agegate.cli",
            "demo",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    banner: list[str] = []
    try:
        # The banner comes before the server starts; it holds the admin token.
        assert demo.stdout is not None
        while not any("--var adminToken=" in line for line in banner):
            line = demo.stdout.readline()
            assert line, demo.stderr.read() if demo.stderr else ""
            banner.append(line)
        found = re.search(r"--var adminToken=(\S+)", "".join(banner))
        assert found is not None
        # Port 0: the system picked a free one, which the banner names.
        bound = re.search(r"http://127\.0\.0\.1:([0-9]+)/", "".join(banner))
        assert bound is not None
        port = int(bound.group(1))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert demo.poll() is None, demo.stderr.read() if demo.stderr else ""
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.1)
        qa = subprocess.run(
            [
                sys.executable,
                "-m",
                "agegate.cli",
                "qa",
                "--base-url",
                base,
                "--var",
                f"adminToken={found.group(1)}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert qa.returncode == 0, qa.stdout + qa.stderr
        assert " 0 failed" in qa.stdout
        admin = httpx.get(base + "/admin/flags", params={"token": found.group(1)})
        assert admin.status_code == 200
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            out, err = demo.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
            out, err = demo.communicate()
    out = "".join(banner) + out
    assert f"http://127.0.0.1:{port}/" in out
    assert f"agegate qa --base-url http://127.0.0.1:{port}" in out
    assert (tmp_path / "accounts.db").exists()
    # Request lines are logged, as plain uvicorn logs them (to stdout),
    # without the query string: the admin token in `?token=` stays out.
    log = out.replace("".join(banner), "") + err
    assert '"GET / HTTP/1.1" 200' in log
    assert '"POST /api/signup HTTP/1.1" 403' in log
    assert '"GET /admin/flags?... HTTP/1.1" 200' in log
    assert found.group(1) not in log
    assert f"the data stays in {tmp_path}" in err


def _start_demo(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`agegate demo --port 0` (the system picks a free port, so nothing else
    listening can get in the way), once it answers; and its base URL, read
    from its banner."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "agegate.cli", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert demo.stdout is not None
    found = None
    while found is None:
        line = demo.stdout.readline()
        assert line, demo.stderr.read() if demo.stderr else ""
        found = re.search(r"(http://127\.0\.0\.1:[0-9]+)/", line)
    base = found.group(1)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/").status_code == 200:
                return demo, base
        except httpx.TransportError:
            pass
        assert demo.poll() is None, demo.stderr.read() if demo.stderr else ""
        assert time.monotonic() < deadline, "the demo did not start"
        time.sleep(0.1)


@pytest.mark.slow
def test_ctrl_c_removes_the_demos_temporary_directory(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(temporary)}
    demo, base = _start_demo(env)
    try:
        assert httpx.post(base + "/api/signup", json={}).status_code in (400, 422)
        (made,) = temporary.iterdir()
        assert (made / "accounts.db").exists()
    finally:
        demo.send_signal(signal.SIGINT)
        _, err = demo.communicate(timeout=20)
    assert demo.returncode == 130
    assert f"removed {made}" in err
    assert list(temporary.iterdir()) == []


def test_admin_flags_needs_the_admin_token(base: str) -> None:
    httpx.post(f"{base}/report-a-minor/", json={"account_id": "acct-reported"})
    for headers, params in (
        ({}, {}),
        ({"Authorization": "Bearer wrong-token-0123456789"}, {}),
        ({"Authorization": f"Basic {ADMIN}"}, {}),
        ({}, {"token": ADMIN[:-1]}),
        ({}, {"token": "é" + ADMIN}),
    ):
        refused = httpx.get(f"{base}/admin/flags", headers=headers, params=params)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "acct-reported" not in refused.text
    by_header = httpx.get(f"{base}/admin/flags", headers=AS_ADMIN)
    by_query = httpx.get(f"{base}/admin/flags", params={"token": ADMIN})
    for allowed in (by_header, by_query):
        assert allowed.status_code == 200
        assert [f["account_id"] for f in allowed.json()] == ["acct-reported"]


def test_the_admin_token_is_new_for_each_app_and_never_short(tmp_path: Path) -> None:
    first = create_app(tmp_path / "a").state.admin_token
    second = create_app(tmp_path / "b").state.admin_token
    assert first != second
    assert len(first) >= 16
    with pytest.raises(ValueError, match="admin_token"):
        create_app(tmp_path / "c", admin_token="short")


def _signup(base: str, email: str) -> tuple[str, dict[str, str]]:
    created = httpx.post(
        f"{base}/api/signup",
        json={"birthdate": "1985-01-20", "country": "NZ", "email": email},
    )
    assert created.status_code == 201
    body = created.json()
    return body["id"], {"Authorization": f"Bearer {body['token']}"}


def test_only_the_holder_of_an_account_raises_its_profile_flag(
    base: str, data_dir: Path
) -> None:
    victim, _ = _signup(base, "victim@example.com")
    _, other = _signup(base, "other@example.com")
    minor = {"birthdate": "2012-01-20", "country": "NZ"}
    for headers in ({}, other, {"Authorization": "Bearer not-a-token"}):
        refused = httpx.patch(f"{base}/accounts/{victim}", json=minor, headers=headers)
        # The gate still refuses a minor's date, but files nothing for anyone.
        assert refused.status_code == 403
    for missing in ("acct-nobody", "x" * 300):
        refused = httpx.patch(f"{base}/accounts/{missing}", json=minor, headers=other)
        assert refused.status_code in (400, 403)
    assert httpx.get(f"{base}/admin/flags", headers=AS_ADMIN).json() == []
    assert _rows(data_dir / "flags.db", "SELECT COUNT(*) FROM flags") == [(0,)]


def test_the_app_takes_profile_updates_only_from_the_holder(base: str) -> None:
    victim, holder = _signup(base, "victim@example.com")
    _, other = _signup(base, "other@example.com")
    change = {"country": "FR"}
    anonymous = httpx.patch(f"{base}/accounts/{victim}", json=change)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert (
        httpx.patch(f"{base}/accounts/{victim}", json=change, headers=other).status_code
        == 404
    )
    allowed = httpx.patch(f"{base}/accounts/{victim}", json=change, headers=holder)
    assert allowed.status_code == 200
    assert httpx.get(f"{base}/accounts/{victim}").json()["country"] == "FR"


def test_the_account_token_is_kept_only_as_a_hash(base: str, data_dir: Path) -> None:
    _, holder = _signup(base, "holder@example.com")
    token = holder["Authorization"].removeprefix("Bearer ")
    for path in data_dir.glob("accounts.db*"):
        assert token.encode() not in path.read_bytes()
