"""What start-up would rebuild on every run, built once and kept in a file.

Parsing the bundled tables and checking every code against pycountry costs
more than a whole `agegate check`; so does building the review's phone
automata from phonenumbers' patterns. Each is built on first use and kept
in the cache directory (`$AGEGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/agegate`,
else `~/.cache/agegate`; an empty `AGEGATE_CACHE_DIR` turns the cache off),
under a key of everything it was built from:

* the tables: the name, size and time of every table file (`files_of`;
  reading and hashing them all, as `tables_version` does, would cost a
  short command more than loading the entry) and the installed pycountry,
  whose codes they are checked against;
* the phone automata: the installed phonenumbers;
* both: this format's number and the source files of the code that builds
  and holds them (a changed class reads an old pickle wrongly).

An entry whose key differs is rebuilt and replaced; one that cannot be
read (truncated, corrupt, of another type) is ignored and rebuilt; a cache
that cannot be written (a read-only home) is no error, the run just builds
again next time. A file is written to a temporary name and renamed, so a
reader sees a whole entry or none. An entry is a pickle: it is written
private (0600, in a directory made 0700) and loaded only when the user
alone could have written it and its directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

# Raise when what an entry holds changes shape.
FORMAT = 1
_MAGIC = b"agegate-cache\n"
T = TypeVar("T")


def cache_directory() -> Path | None:
    """Where entries live; None when the cache is turned off."""
    chosen = os.environ.get("AGEGATE_CACHE_DIR")
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "agegate"


def installed(package: str) -> str:
    """What identifies an installed package without importing it: its
    distribution's folder name (it holds the version) and the size and time
    of its `__init__` (a reinstall in place rewrites it)."""
    spec = importlib.util.find_spec(package)
    origin = spec.origin if spec is not None else None
    if origin is None:
        return f"{package}:absent"
    here = Path(origin).parent
    found = sorted(
        entry.name
        for entry in here.parent.glob(f"{package}-*.dist-info")
        if entry.is_dir()
    )
    stat = os.stat(origin)
    return f"{package}:{','.join(found)}:{stat.st_size}:{stat.st_mtime_ns}"


def files_of(folder: Path | Traversable) -> str:
    """The name, size and time of every table file (`*.txt`) in `folder`, in
    name order; for tables inside a zip, their digest (`tables_version`)."""
    if not isinstance(folder, Path):
        from .tables_version import tables_version

        return tables_version(folder)
    with os.scandir(folder) as entries:
        found = sorted(
            (entry.name, entry.stat())
            for entry in entries
            if entry.name.endswith(".txt")
        )
    return ";".join(f"{name}:{stat.st_size}:{stat.st_mtime_ns}" for name, stat in found)


def source_of(*modules: str) -> str:
    """The size and time of this package's own modules (`codes`, ...)."""
    here = Path(__file__).parent
    parts = []
    for name in modules:
        stat = os.stat(here.joinpath(*name.split(".")).with_suffix(".py"))
        parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)


def cached(name: str, key: str, kind: type[T], build: Callable[[], T]) -> T:
    """The entry `name` built under `key`, from the cache if it holds one,
    else built now and kept."""
    folder = cache_directory()
    if folder is None:
        return build()
    full_key = f"{FORMAT}\0{key}"
    digest = hashlib.sha256(full_key.encode()).hexdigest()[:16]
    path = folder / f"{name}-{digest}.pickle"
    found = _load(path, full_key, kind)
    if found is not None:
        return found
    value = build()
    _store(folder, path, full_key, value)
    return value


def _private(path: Path) -> bool:
    """Whether only this user could have written `path`: theirs, and no
    one else may write it or its directory (an entry is a pickle)."""
    if not hasattr(os, "getuid"):  # pragma: no cover - not POSIX
        return True
    for entry in (path.parent, path):
        stat = os.stat(entry)
        if stat.st_uid != os.getuid() or stat.st_mode & 0o022:
            return False
    return True


def _load(path: Path, key: str, kind: type[T]) -> T | None:
    try:
        data = path.read_bytes()
        if not _private(path):
            return None
    except OSError:
        return None
    if not data.startswith(_MAGIC):
        return None
    try:
        # Written by this user into a directory only they can write.
        stored_key, value = pickle.loads(data[len(_MAGIC) :])  # noqa: S301
    except Exception:  # a damaged entry is rebuilt, whatever pickle says
        return None
    if stored_key != key or not isinstance(value, kind):
        return None
    return value


def _store(folder: Path, path: Path, key: str, value: Any) -> None:
    """Write the entry under a temporary name, then rename it into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{id(value)}")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = _MAGIC + pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
