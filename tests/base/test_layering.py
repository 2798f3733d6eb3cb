"""The package's layers (its docstring): no module imports from a layer below it in that list, at module
level or inside a function; checked on the import statements themselves (an ``ast`` walk)."""
import ast
from pathlib import Path

import pytest

import mia_repro

PACKAGE = Path(mia_repro.__file__).parent

#: layer of every module or sub-package (first dotted part under mia_repro), top of the list = lowest
LAYERS = {
    "errors": 0, "environment": 0, "validation": 0, "paths": 0, "cache": 0, "quiet": 0, "determinism": 0, "progress": 0,
    "attacks": 1, "metrics": 1, "evaluation": 1, "audit": 1, "privacy": 1, "defenses": 1, "reference_pool": 1,
    "pool_evaluation": 1, "one_run_audit": 1, "one_run_gdp": 1, "audit_ceiling": 1, "mistakes": 1,
    "data": 2,
    "models": 3, "training": 3, "own": 3, "own_dp": 3,
    "experiment": 4,
    "reporting": 5,
    "cli": 6, "reproduce": 6, "bench": 6, "migrate": 6, "__main__": 6,
}


def unit_of(module: str) -> str:
    """``mia_repro.experiment.stage1`` -> ``experiment``."""
    return module.split(".")[1]


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name != "mia_repro.__init__":  # the package's public names come from every layer
            out.append((name.removesuffix(".__init__"), path))
    return out


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every ``mia_repro`` module ``path`` imports (absolute, or relative resolved against ``module``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("mia_repro.")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base == "mia_repro":  # from mia_repro import x: x is the module
                found += [(node.lineno, f"mia_repro.{a.name}") for a in node.names]
            elif base.startswith("mia_repro."):
                found.append((node.lineno, base))
    return found


def test_every_module_has_a_layer():
    assert sorted({unit_of(m) for m, _ in modules()} - set(LAYERS)) == []


def test_nothing_imports_upward():
    upward = []
    for module, path in modules():
        own = LAYERS[unit_of(module)]
        for line, target in imports(path, module):
            if LAYERS[unit_of(target)] > own:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {unit_of(module)} (layer {own}) imports "
                              f"{target} (layer {LAYERS[unit_of(target)]})")
    assert upward == []


@pytest.mark.parametrize("source, expected", [
    ("from mia_repro.reporting.plots import roc\n", ["mia_repro.reporting.plots"]),
    ("def f():\n    from mia_repro.experiment import stage1\n", ["mia_repro.experiment"]),
    ("from ..reporting import plots\n", ["mia_repro.reporting"]),
    ("from mia_repro import cli\n", ["mia_repro.cli"]),
    ("import mia_repro.bench as b\n", ["mia_repro.bench"]),
])
def test_the_walk_finds_imports_of_every_form(tmp_path, source, expected):
    """The checker itself: module level, inside a function, relative, ``from mia_repro import``, ``import``."""
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert [t for _, t in imports(path, "mia_repro.attacks.probe")] == expected
