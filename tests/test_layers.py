"""The layers of the package hold: the core loads no web framework, imports
point one way, and no module leans on another library's private names.

The import checks read the source with `ast`, so they see every import:
top-level, inside functions and under TYPE_CHECKING alike.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "agegate"

# The subpackages around the core; every top-level module is core.
DOORS = ("asgi", "review", "apps", "qa", "cli", "flags", "spark", "removal")
MAY_IMPORT = {
    "core": {"core"},
    "flags": {"core", "flags"},
    "asgi": {"core", "flags", "asgi"},
    "review": {"core", "flags", "review"},
    "apps": {"core", "flags", "asgi", "apps"},
    "qa": {"core", "qa"},
    "spark": {"core", "flags", "review", "spark"},
    "removal": {"core", "flags", "removal"},
    "cli": {"core", *DOORS},
}
# (importing module, imported module): why the arrow is allowed.
ALLOWED_ARROWS = {
    ("agegate", "agegate.asgi.middleware"): (
        "`agegate.AgeGateMiddleware` is public API; __init__ loads it lazily "
        "(module __getattr__) and names it under TYPE_CHECKING only"
    ),
}

WEB_STACK = ("starlette", "anyio", "multipart", "python_multipart", "uvicorn")
WATCHED = ("starlette", "python_multipart", "multipart", "phonenumbers")
# (module, private name used): why. The fast phone validator (numbering.py)
# mirrors phonenumbers' matching logic but reads only its public metadata
# (PhoneMetadata, COUNTRY_CODE_TO_REGION_CODE), so it needs no entry here.
ALLOWED_PRIVATE: dict[tuple[str, str], str] = {}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in DOORS else "core"


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not _is_package(path):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> Iterator[tuple[str, ast.AST]]:
    """Every module name an import statement reaches, with its node."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            yield target, node
            # `from . import x` and `from .. import x` may name submodules.
            for alias in node.names:
                yield f"{target}.{alias.name}", node


def test_core_imports_no_web_stack() -> None:
    code = (
        "import json, sys\n"
        "import agegate, agegate.screen, agegate.rules, agegate.policy\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    web = [
        name
        for name in loaded
        if any(name == top or name.startswith(f"{top}.") for top in WEB_STACK)
    ]
    assert web == []


def test_the_gate_loads_no_columnar_stack() -> None:
    # pyarrow costs a gate worker about 56 MiB; only reviews and PostgreSQL
    # stores need it.
    code = (
        "import json, sys\n"
        "import agegate.asgi.middleware, agegate.apps.report, agegate.flags.store\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert [name for name in loaded if name.split(".")[0] == "pyarrow"] == []


def test_middleware_still_loads_from_the_package() -> None:
    code = (
        "import sys, agegate\n"
        "assert 'starlette' not in sys.modules\n"
        "agegate.AgeGateMiddleware\n"
        "assert 'starlette' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _allowed(module: str, target: str) -> bool:
    return any(
        module == source and (target == allowed or target.startswith(f"{allowed}."))
        for source, allowed in ALLOWED_ARROWS
    )


def _arrow_violations() -> list[str]:
    found: set[str] = set()
    for module, path in _modules():
        layer = _layer(module)
        for target, node in _imports(module, path):
            if target != "agegate" and not target.startswith("agegate."):
                continue
            if _allowed(module, target):
                continue
            if _layer(target) not in MAY_IMPORT[layer]:
                line = getattr(node, "lineno", 0)
                found.add(f"{path.relative_to(PACKAGE.parent)}:{line}: {target}")
    return sorted(found)


def test_imports_point_from_the_doors_to_the_core() -> None:
    assert _arrow_violations() == []


def test_allowed_arrows_are_still_needed() -> None:
    seen = {
        (module, target)
        for module, path in _modules()
        for target, _ in _imports(module, path)
    }
    assert set(ALLOWED_ARROWS) <= seen


def _watched(name: str) -> bool:
    return any(name == top or name.startswith(f"{top}.") for top in WATCHED)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class _PrivateUse(ast.NodeVisitor):
    """Private names of the watched libraries one module uses."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self.aliases: set[str] = set()  # local names bound to a watched module
        self.imported: set[str] = set()  # local names imported from one

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _watched(alias.name):
                self._check_module(node, alias.name)
                self.aliases.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not _watched(node.module or ""):
            return
        self._check_module(node, node.module or "")
        for alias in node.names:
            if _private(alias.name):
                self.found.append((node.lineno, f"{node.module}.{alias.name}"))
            self.imported.add(alias.asname or alias.name)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if (
            isinstance(node.value, ast.Name)
            and node.value.id in self.aliases
            and _private(node.attr)
        ):
            self.found.append((node.lineno, f"{node.value.id}.{node.attr}"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        # getattr(module, "_name") reaches a private name as surely.
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr"}
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in self.aliases
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            self.found.append((node.lineno, f"{node.args[0].id}.{node.args[1].value}"))
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        # A subclass of a library class reading an inherited private attribute
        # (self._x that the subclass never sets) depends on its internals.
        bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
        if bases & self.imported:
            own = _own_names(node)
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == "self"
                    and _private(sub.attr)
                    and sub.attr not in own
                ):
                    self.found.append((sub.lineno, f"{node.name}: self.{sub.attr}"))
        self.generic_visit(node)

    def _check_module(self, node: ast.stmt, name: str) -> None:
        if any(_private(part) for part in name.split(".")):
            self.found.append((node.lineno, name))


def _own_names(node: ast.ClassDef) -> set[str]:
    """Attributes a class defines itself: methods, class names, self.x = ..."""
    own: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
            own.add(sub.name)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            own.add(sub.id)
        elif (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.ctx, ast.Store)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == "self"
        ):
            own.add(sub.attr)
    return own


def _private_uses() -> list[str]:
    found: list[str] = []
    for module, path in _modules():
        visitor = _PrivateUse()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        for line, name in visitor.found:
            if (module, name) not in ALLOWED_PRIVATE:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name}")
    return sorted(found)


def test_no_private_names_of_other_libraries() -> None:
    assert _private_uses() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from starlette.requests import _private", ["starlette.requests._private"]),
        ("import starlette._utils", ["starlette._utils"]),
        ("import phonenumbers\nphonenumbers._helper(1)", ["phonenumbers._helper"]),
        ("import phonenumbers as p\ngetattr(p, '_x')", ["p._x"]),
        (
            "from starlette.formparsers import MultiPartParser\n"
            "class P(MultiPartParser):\n"
            "    def on_headers_finished(self):\n"
            "        return self._current_part\n",
            ["P: self._current_part"],
        ),
        (
            "from starlette.formparsers import MultiPartParser\n"
            "class P(MultiPartParser):\n"
            "    def __init__(self):\n"
            "        self._mine = 1\n"
            "    def read(self):\n"
            "        return self._mine\n",
            [],
        ),
        ("from phonenumbers import PhoneMetadata, __version__", []),
    ],
)
def test_private_use_detector(source: str, expected: list[str]) -> None:
    visitor = _PrivateUse()
    visitor.visit(ast.parse(source))
    assert [name for _, name in visitor.found] == expected


def test_arrow_resolution_of_relative_imports() -> None:
    path = PACKAGE / "asgi" / "body.py"
    node = ast.parse("from ..reasons import Refusal").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _resolve("agegate.asgi.body", path, node) == "agegate.reasons"
    package = PACKAGE / "asgi" / "__init__.py"
    node = ast.parse("from .middleware import X").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _resolve("agegate.asgi", package, node) == "agegate.asgi.middleware"


def _import_graph(prefix: str) -> dict[str, set[str]]:
    """Module -> the modules under `prefix` it imports (lazy imports too)."""
    names = {module for module, _ in _modules() if module.startswith(prefix)}
    graph: dict[str, set[str]] = {name: set() for name in names}
    for module, path in _modules():
        if module in names:
            graph[module] |= {t for t, _ in _imports(module, path) if t in names}
            graph[module].discard(module)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of the graph, or []."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


# (module, module): an import cycle still to be taken apart, and why it holds.
ALLOWED_CYCLES = {
    ("agegate.review.jsondoc", "agegate.review.readers"): (
        "`readers.read` hands JSON documents to `jsondoc`, which builds on the "
        "readers' rows and streams (imported inside `read`)"
    ),
}


def test_the_review_package_has_no_import_cycle() -> None:
    # The packages' own __init__ modules are left out: importing a
    # submodule runs them first anyway.
    graph = _import_graph("agegate.review.")
    for first, second in ALLOWED_CYCLES:
        graph[second].discard(first)
    assert _cycle(graph) == []


def test_allowed_cycles_are_still_there() -> None:
    graph = _import_graph("agegate.review.")
    for first, second in ALLOWED_CYCLES:
        assert second in graph[first]
        assert first in graph[second]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
