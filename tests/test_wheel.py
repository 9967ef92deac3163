"""The built wheel carries the tables: an editable install would hide a missing folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

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


@pytest.mark.slow
def test_the_wheel_ships_the_tables(tmp_path: Path) -> None:
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
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("agegate-*.whl")
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
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
