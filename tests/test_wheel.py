"""The built wheel, installed where no checkout is near: it carries the
tables, the licence and the QA catalogue, and `agegate demo` and `agegate qa`
work from it (an editable install would hide a missing folder)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import agegate, sys
from pathlib import Path
assert Path(agegate.__file__).parent == Path(sys.argv[1]) / "agegate", agegate.__file__
rules = agegate.load_rules()
assert len(rules.countries) == 249, len(rules.countries)
assert rules.majority_age("CA-BC") == 19
from agegate import phone
assert phone.jurisdictions("+1 205 234 5678", None) == ("US-AL",)
print("ok")
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(dist),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (built,) = dist.glob("agegate-*.whl")
    return built


def test_the_wheel_ships_the_tables(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "agegate/jurisdictions/CA.txt" in names
        assert "agegate/jurisdictions/aliases.txt" in names
        assert "agegate/py.typed" in names
        assert "agegate/data/nanp_area_codes.txt" in names
        archive.extractall(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The unpacked wheel comes first on the path, ahead of the checkout.
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "site")],
        cwd=elsewhere,
        env={
            "PYTHONPATH": str(tmp_path / "site"),
            "PATH": "/usr/bin:/bin",
            "AGEGATE_CACHE_DIR": str(tmp_path / "cache"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_wheel_ships_the_licence_and_the_qa_catalogue(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        licence = archive.read("agegate-0.1.0.dist-info/licenses/LICENSE").decode()
        metadata = archive.read("agegate-0.1.0.dist-info/METADATA").decode()
    assert "Apache License" in licence
    assert "Version 2.0, January 2004" in licence
    assert "Copyright 2026 The agegate authors" in licence
    assert "License-Expression: Apache-2.0" in metadata
    shipped = {p.relative_to(ROOT).as_posix() for p in _catalogue_files()}
    assert shipped <= names
    assert "agegate/qa/catalogue/bodies/oversized-signup.json" in names


def _catalogue_files() -> list[Path]:
    folder = ROOT / "agegate" / "qa" / "catalogue"
    return [p for p in folder.rglob("*") if p.is_file()]


def _fresh_venv(where: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed; its dependencies are the running
    interpreter's (a path file), so no network is needed, while agegate
    itself comes from the wheel only: the checkout is never on the path."""
    venv.create(where, with_pip=True, symlinks=True)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = sysconfig.get_path("purelib")
    Path(site, "zz_test_dependencies.pth").write_text(deps + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
    )
    return where / "bin"


def _read_banner(demo: subprocess.Popen[str]) -> tuple[str, str]:
    """The demo's base URL and admin token, from the banner it prints."""
    assert demo.stdout is not None
    lines: list[str] = []
    while not any("--var adminToken=" in line for line in lines):
        line = demo.stdout.readline()
        assert line, "".join(lines) + (demo.stderr.read() if demo.stderr else "")
        lines.append(line)
    text = "".join(lines)
    base = re.search(r"running at (http://127\.0\.0\.1:\d+)/", text)
    token = re.search(r"agegate qa --base-url \S+ --var adminToken=(\S+)", text)
    assert base is not None
    assert token is not None, text
    return base.group(1), token.group(1)


def _wait_until_up(demo: subprocess.Popen[str], base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert demo.poll() is None, demo.stderr.read() if demo.stderr else ""
        assert time.monotonic() < deadline, "the demo did not start"
        time.sleep(0.2)


def test_demo_and_qa_from_the_wheel_outside_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    bin_dir = _fresh_venv(tmp_path / "venv", wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(tmp_path),
        "HOME": str(elsewhere),
        # The start-up cache would be ~/.cache/agegate: kept out of `elsewhere`.
        "AGEGATE_CACHE_DIR": str(tmp_path / "cache"),
    }
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import agegate; print(agegate.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(tmp_path / "venv")), where
    demo = subprocess.Popen(
        ["agegate", "demo", "--port", "0"],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base, token = _read_banner(demo)
        _wait_until_up(demo, base)
        # The command the banner prints, as a user runs it after pip install.
        qa = subprocess.run(
            ["agegate", "qa", "--base-url", base, "--var", f"adminToken={token}"],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            _, err = demo.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            _, err = demo.communicate()
    assert qa.returncode == 0, qa.stdout + qa.stderr
    assert " 0 failed" in qa.stdout
    assert "32-profile-update-adult-allowed.http" in qa.stdout
    assert "removed" in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("agegate-demo-")]
    assert os.listdir(elsewhere) == []
