"""The package's imports run one way (docs/architecture.md), and none is made for its side effect."""

from __future__ import annotations

import ast
from pathlib import Path

import coprod_sim.names

PACKAGE = Path(coprod_sim.names.__file__).resolve().parent
ROOT = PACKAGE.parent

LAYERS: tuple[tuple[str, ...], ...] = (
    ("names", "stats"),
    ("params",),
    ("town",),
    ("rules",),
    ("month",),
    ("outcomes",),
    ("model", "agents"),
    ("run",),
    ("scenario",),
    ("sweep",),
    ("analysis", "report", "validation", "viz", "docgen"),
    ("cli",),
)
"""Bottom to top, as in docs/architecture.md and the developers' guide. A unit may import its
own layer's units and the layers below; never a layer above."""

RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """``coprod_sim.month.kernel`` -> ``month``; ``coprod_sim.run`` -> ``run``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(path: Path) -> list[tuple[int, str, list[str], bool]]:
    """(line, module, names, at top level) of each import of the package in ``path``, skipping
    ``if TYPE_CHECKING:`` blocks (annotations only, never executed)."""
    tree = ast.parse(path.read_text(), str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "coprod_sim":
            found.append((node.lineno, node.module, [a.name for a in node.names], id(node) in top))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "coprod_sim":
                    found.append((node.lineno, a.name, [], id(node) in top))
    return found


def targets(module: str, names: list[str]) -> list[str]:
    """The modules an import statement reaches: ``from coprod_sim import params`` -> params."""
    if module != "coprod_sim":
        return [module]
    return [f"coprod_sim.{n}" if (PACKAGE / n).exists() or (PACKAGE / f"{n}.py").exists()
            else "coprod_sim" for n in names] or ["coprod_sim"]


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_unit_of_the_package_has_a_layer():
    units = {unit_of(module_name(p)) for p in sources()} - {"__init__"}
    assert units <= set(RANK), f"give these a layer in LAYERS and docs/architecture.md: {units - set(RANK)}"


def test_no_layer_imports_a_layer_above_it():
    problems = []
    for path in sources():
        here = unit_of(module_name(path))
        if here == "__init__":
            continue
        for line, module, names, _ in package_imports(path):
            for target in targets(module, names):
                there = unit_of(target)
                if there != "__init__" and RANK[there] > RANK[here]:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: {here} imports {target}"
                                    f" ({there} is above {here})")
    assert problems == []


def test_the_package_init_imports_nothing_of_the_package_at_import():
    """Importing any module runs coprod_sim/__init__.py first: it must stay light."""
    top = [f"line {line}: {module}" for line, module, _, at_top in
           package_imports(PACKAGE / "__init__.py") if at_top]
    assert top == []


def test_no_import_is_made_only_for_its_side_effect():
    """No bare ``import coprod_sim...`` whose name goes unused and no ``# noqa: F401`` on a
    package import: a module asks for what it needs by name (the parameter tree is whole on
    import of params; rules register themselves when the registry is asked)."""
    problems = []
    for path in sources():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
            n.value.id for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
        exported = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                exported = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
        for line, _module, names, _ in package_imports(path):
            text = lines[line - 1]
            if "noqa" in text and "F401" in text:
                problems.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()}")
            if not names:  # import coprod_sim.x [as y]
                node = next(n for n in ast.walk(tree) if isinstance(n, ast.Import) and n.lineno == line)
                bound = {(a.asname or a.name.split(".")[0]) for a in node.names}
                if not bound & (used | exported):
                    problems.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()} (unused)")
    assert problems == []
