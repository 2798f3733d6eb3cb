"""The package's layers (its docstring): no module imports from a layer below it in that list, at module
level or inside a function; checked on the import statements themselves (an ``ast`` walk)."""
import ast
import re
from pathlib import Path

import pytest

import mia_repro

PACKAGE = Path(mia_repro.__file__).parent

#: the layers, lowest first: a module's layer is its folder under mia_repro (the package's docstring lists them)
LAYERS = {name: i for i, names in enumerate([
    ("base",), ("attacks",), ("views",), ("evaluation",), ("privacy",), ("data",), ("models", "training"),
    ("experiment",), ("reporting",), ("tools",),
]) for name in names}
#: the modules at the package's root: its entry point (on top) and nothing else
ROOT_MODULES = {"__main__": LAYERS["tools"]}


def unit_of(module: str) -> str:
    """``mia_repro.experiment.stages.stage1`` -> ``experiment``: the folder right under mia_repro."""
    return module.split(".")[1]


def layer_of(module: str) -> int:
    unit = unit_of(module)
    return ROOT_MODULES[unit] if unit in ROOT_MODULES else LAYERS[unit]


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name != "mia_repro.__init__":  # the package's public names come from every layer
            out.append((name.removesuffix(".__init__"), path))
    return out


def is_module(dotted: str) -> bool:
    """A module or package of this package (``mia_repro.tools.cli``), by its file."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


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
            if base == "mia_repro" or base.startswith("mia_repro."):
                # from P import x: the module P.x where x is one, else P (whose name x is)
                subs = [f"{base}.{a.name}" for a in node.names if is_module(f"{base}.{a.name}")]
                if subs:
                    found += [(node.lineno, m) for m in subs]
                if base != "mia_repro" and len(subs) < len(node.names):
                    found.append((node.lineno, base))
    return found


def test_every_module_lies_in_a_layer_folder():
    """No loose module at the root but the entry point: a new module goes in the folder of its layer."""
    assert sorted({unit_of(m) for m, _ in modules()} - set(LAYERS) - set(ROOT_MODULES)) == []
    assert sorted(p.stem for p in PACKAGE.glob("*.py")) == sorted(["__init__", *ROOT_MODULES])


def test_nothing_imports_upward():
    upward = []
    for module, path in modules():
        own = layer_of(module)
        for line, target in imports(path, module):
            if layer_of(target) > own:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {unit_of(module)} (layer {own}) imports "
                              f"{target} (layer {layer_of(target)})")
    assert upward == []


def test_the_layers_are_the_packages_docstring():
    """The package's docstring lists the layer folders in the order this test enforces."""
    listed = re.findall(r"^\d+\. ((?:``\w+/``(?: and )?)+)", mia_repro.__doc__, re.M)
    assert [tuple(re.findall(r"``(\w+)/``", item)) for item in listed] == [
        tuple(n for n, i in LAYERS.items() if i == layer) for layer in range(max(LAYERS.values()) + 1)]


def test_no_import_circle():
    """No module reaches itself through the imports of others (the config, the profiles and the layout were one
    such circle); a circle inside one module's package ``__init__`` re-exports is not one (none exist)."""
    graph = {m: {t for _, t in imports(p, m) if t != m} for m, p in modules()}
    known = set(graph)

    def resolve(t):  # "mia_repro.attacks.lira" or a name imported from a package
        while t not in known and "." in t:
            t = t.rsplit(".", 1)[0]
        return t
    graph = {m: {resolve(t) for t in ts} & known for m, ts in graph.items()}
    circles, state = [], {}

    def visit(m, trail):
        state[m] = "open"
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                circles.append(" -> ".join(trail[trail.index(t):] + [t]))
            elif t not in state:
                visit(t, trail + [t])
        state[m] = "done"
    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert circles == []


@pytest.mark.parametrize("source, expected", [
    ("from mia_repro.reporting.plots import roc\n", ["mia_repro.reporting.plots"]),
    ("def f():\n    from mia_repro.experiment import stage1\n", ["mia_repro.experiment"]),
    ("from ..reporting import figures\n", ["mia_repro.reporting.figures"]),
    ("from mia_repro.attacks import AttackerView, lira\n", ["mia_repro.attacks.lira", "mia_repro.attacks"]),
    ("from mia_repro import tools\n", ["mia_repro.tools"]),
    ("import mia_repro.tools.bench as b\n", ["mia_repro.tools.bench"]),
])
def test_the_walk_finds_imports_of_every_form(tmp_path, source, expected):
    """The checker itself: module level, inside a function, relative, ``from mia_repro import``, ``import``."""
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert [t for _, t in imports(path, "mia_repro.attacks.probe")] == expected
