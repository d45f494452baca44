"""The shape of the code, as design.md draws it: imports point one way (leads → mappings →
connectors), no product module imports another that imports it back, and the sandbox and the
product never import each other. Read from the source (every import, also inside functions), so a
lazy import cannot hide a cycle."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_APPS = ("connectors", "mappings", "leads")
# Which app may import which (an app may always import itself).
ALLOWED = {"connectors": set(), "mappings": {"connectors"}, "leads": {"mappings", "connectors"}}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(*packages):
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield _module_name(path), path


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules `path` imports, resolved to the modules that exist."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


@pytest.fixture(scope="module")
def graph():
    sources = dict(_sources(*PRODUCT_APPS, "sandbox", "leadsync_project"))
    modules = set(sources)
    return {name: _imports(path, modules) - {name} for name, path in sources.items()}


def _app(module: str) -> str:
    return module.split(".", 1)[0]


def test_apps_import_one_way_only(graph):
    wrong = sorted(f"{module} imports {target}" for module, targets in graph.items() if _app(module) in ALLOWED
                   for target in targets
                   if _app(target) in ALLOWED and _app(target) != _app(module)
                   and _app(target) not in ALLOWED[_app(module)])
    assert wrong == []


def test_the_sandbox_and_the_product_never_import_each_other(graph):
    crossing = sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                      if {_app(module), _app(target)} & {"sandbox"} and _app(module) != _app(target)
                      and {_app(module), _app(target)} & set(PRODUCT_APPS))
    assert crossing == []


def test_no_product_module_imports_itself_back(graph):
    product = {m: {t for t in targets if _app(t) in PRODUCT_APPS} for m, targets in graph.items()
               if _app(m) in PRODUCT_APPS}
    cycles = []

    def visit(module, path, on_path, done):
        on_path.add(module)
        for target in sorted(product.get(module, ())):
            if target in on_path:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in done:
                visit(target, path + [target], on_path, done)
        on_path.discard(module)
        done.add(module)

    done = set()
    for module in sorted(product):
        if module not in done:
            visit(module, [module], set(), done)
    assert cycles == []
