"""The start-up cache: built once, loaded after, rebuilt when what it was
built from changes or when it cannot be read, never written outside its
directory, and giving the answers a fresh build gives."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from agegate import codes, rules_cache
from agegate.rules import Kind, Rules, bundled_directory

_LOAD = (
    "import sys, agegate.rules as r\n"
    "rules = r.load_rules()\n"
    "print(rules.rule('US-AL', r.Kind.MAJORITY, __import__('datetime').date.today()).age,"
    " 'pycountry' in sys.modules)\n"
)


def _run(cache: Path | str, code: str = _LOAD) -> str:
    env = {**os.environ, "AGEGATE_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("AGEGATE_CACHE_DIR", str(folder))
    return folder


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("tables-*.pickle"))


def test_the_first_run_builds_and_the_next_loads_without_pycountry(cache: Path) -> None:
    assert _run(cache) == "19 True"
    [entry] = _entries(cache)
    assert entry.stat().st_mode & 0o077 == 0
    assert cache.stat().st_mode & 0o077 == 0
    # Loaded: the codes come from the cache's snapshot of pycountry.
    assert _run(cache) == "19 False"
    assert _entries(cache) == [entry]


def test_a_corrupt_entry_is_ignored_and_rebuilt(cache: Path) -> None:
    _run(cache)
    [entry] = _entries(cache)
    for damage in (b"", b"agegate-cache\n\x80\x05garbage", entry.read_bytes()[:-40]):
        entry.write_bytes(damage)
        assert _run(cache) == "19 True"
        assert _entries(cache) == [entry]
        assert _run(cache) == "19 False"


def test_an_entry_of_another_key_or_type_is_rebuilt(cache: Path) -> None:
    built = rules_cache.cached("probe", "one", list, lambda: [1])
    assert built == [1]
    [entry] = sorted(cache.glob("probe-*.pickle"))
    # The same file name holding another key (or another type) is not used.
    entry.write_bytes(b"agegate-cache\n" + pickle.dumps(("other", [2])))
    assert rules_cache.cached("probe", "one", list, lambda: [3]) == [3]
    entry.write_bytes(b"agegate-cache\n" + pickle.dumps(("1\0one", {"not": "a list"})))
    assert rules_cache.cached("probe", "one", list, lambda: [4]) == [4]
    assert rules_cache.cached("probe", "one", list, lambda: [5]) == [4]


def test_a_new_key_is_a_new_entry(cache: Path) -> None:
    assert rules_cache.cached("probe", "tables v1", list, lambda: [1]) == [1]
    assert rules_cache.cached("probe", "tables v2", list, lambda: [2]) == [2]
    assert rules_cache.cached("probe", "tables v1", list, lambda: [3]) == [1]
    assert len(list(cache.glob("probe-*.pickle"))) == 2


def test_the_key_follows_the_tables_and_the_installed_packages(
    tmp_path: Path,
) -> None:
    # A changed table file changes the tables' version and the entry's key
    # (its files' names, sizes and times).
    from agegate.tables_version import tables_version

    copy = tmp_path / "tables"
    copy.mkdir()
    for entry in bundled_directory().iterdir():
        if entry.name.endswith(".txt"):
            (copy / entry.name).write_bytes(entry.read_bytes())
    before, listed = tables_version(copy), rules_cache.files_of(copy)
    assert listed.count(".txt:") == len(list(copy.glob("*.txt")))
    (copy / "FR.txt").write_bytes((copy / "FR.txt").read_bytes() + b"\n# changed\n")
    assert tables_version(copy) != before
    changed = rules_cache.files_of(copy)
    assert changed != listed
    # Rewritten with the same bytes, a file's time still changes the key.
    os.utime(copy / "DE.txt", ns=(1, 1))
    assert rules_cache.files_of(copy) != changed
    for package in ("phonenumbers", "pycountry"):
        identity = rules_cache.installed(package)
        assert identity.startswith(f"{package}:{package}-")
        assert ".dist-info" in identity
    assert (
        rules_cache.installed("no_such_package_here") == "no_such_package_here:absent"
    )


def test_a_file_someone_else_could_write_is_not_loaded(cache: Path) -> None:
    rules_cache.cached("probe", "k", list, lambda: [1])
    [entry] = sorted(cache.glob("probe-*.pickle"))
    entry.chmod(0o666)
    assert rules_cache.cached("probe", "k", list, lambda: [2]) == [2]
    assert entry.stat().st_mode & 0o077 == 0  # replaced by a private one
    cache.chmod(0o777)
    assert rules_cache.cached("probe", "k", list, lambda: [3]) == [3]
    cache.chmod(0o700)


def test_an_unwritable_cache_is_no_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    assert _run(blocked / "cache") == "19 True"
    assert _run(blocked / "cache") == "19 True"


def test_an_empty_cache_dir_turns_the_cache_off(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "AGEGATE_CACHE_DIR": "", "HOME": str(home)}
    env.pop("XDG_CACHE_HOME", None)
    subprocess.run([sys.executable, "-c", _LOAD], env=env, check=True)
    assert list(home.rglob("*")) == []


def test_the_default_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AGEGATE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert rules_cache.cache_directory() == tmp_path / "xdg" / "agegate"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert rules_cache.cache_directory() == tmp_path / "home" / ".cache" / "agegate"


def test_the_suite_keeps_its_cache_out_of_home() -> None:
    folder = rules_cache.cache_directory()
    assert folder is not None
    assert not str(folder).startswith(os.path.expanduser("~") + os.sep)


def test_cached_rules_answer_as_freshly_built_ones(cache: Path) -> None:
    fresh = Rules.from_directory(bundled_directory())
    _run(cache)
    [entry] = _entries(cache)
    _, bundle = pickle.loads(entry.read_bytes()[len(b"agegate-cache\n") :])
    loaded: Rules = bundle.rules
    assert loaded.countries == fresh.countries
    assert loaded.aliases == fresh.aliases
    assert list(loaded.all()) == list(fresh.all())
    on = date(2026, 1, 1)
    for code in sorted(fresh.countries):
        for kind in Kind:
            assert loaded.rule(code, kind, on) == fresh.rule(code, kind, on)


def test_the_snapshot_answers_as_pycountry() -> None:
    snapshot = codes.take_snapshot()
    probes = ["US", "us", "FR", "XX", "US-CA", "us-ca", "GB-ENG", "GB-LND", "FR-75C",
              "CN-BJ", "ZZ-ZZ", "DE-BY", "IN-DL"]  # fmt: skip
    three = ["USA", "fra", "SUN", "YUG", "ZZZ", "CSK", "DDR"]
    before = codes._snapshot
    try:
        answers = {}
        for use in (None, snapshot):
            codes._snapshot = use
            for cached in (codes._is_country, codes._is_subdivision, codes._parent_of,
                           codes._successors):  # fmt: skip
                cached.cache_clear()
            answers[use is None] = (
                [codes.is_known(p) for p in probes],
                [codes.parent_of(p) for p in probes],
                [codes.country_for_alpha_3(t) for t in three],
                [codes.successors(t) for t in three],
            )
        assert answers[True] == answers[False]
    finally:
        codes._snapshot = before
        for cached in (codes._is_country, codes._is_subdivision, codes._parent_of,
                       codes._successors):  # fmt: skip
            cached.cache_clear()


def test_a_cached_start_is_quicker(cache: Path) -> None:
    _run(cache)  # built
    started = time.perf_counter()
    _run(cache, "import agegate.rules as r; r.load_rules()")
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    _run("", "import agegate.rules as r; r.load_rules()")
    built = time.perf_counter() - started
    # A noisy machine: only the direction is asserted.
    assert loaded < built


def test_cached_phone_automata_are_the_ones_built(cache: Path) -> None:
    code = (
        "from agegate.review import phones\n"
        "every = phones._every_automaton()\n"
        "print(len(every), sum(phones._automaton(c) is None for c in every))\n"
    )
    assert _run(cache, code) == _run(cache, code)
    [entry] = sorted(cache.glob("phone-automata-*.pickle"))
    _, every = pickle.loads(entry.read_bytes()[len(b"agegate-cache\n") :])
    from agegate.review import phones

    for number in (1, 33, 44, 49, 81, 86, 91, 7, 590, 979):
        built = phones._built(number)
        found = pickle.loads(every[number])
        assert (found is None) == (built is None)
        if built is not None:
            assert found.table == built.table
            assert found.states == built.states
            assert found.accepts == built.accepts
