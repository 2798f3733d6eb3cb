"""Old import paths: a moved module is the new module under its old name, with a warning naming the new one;
a split module answers each old name from its new home; ``python -m`` of an old path runs the new one."""
import importlib
import subprocess
import sys
import warnings

import pytest

from mia_repro.base.moved import MOVED, SPLIT


def _import_fresh(name: str):
    sys.modules.pop(name, None)
    parent, _, leaf = name.rpartition(".")
    if hasattr(sys.modules.get(parent), leaf):
        delattr(sys.modules[parent], leaf)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(name)
    moved = [w for w in caught if issubclass(w.category, FutureWarning)]
    return module, [str(w.message) for w in moved]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_path_is_the_new_module_and_says_where_it_went(old):
    module, messages = _import_fresh(old)
    assert module is importlib.import_module(MOVED[old])
    assert messages == [f"{old} is now {MOVED[old]}: import it from there (the old name will go)"]


def test_the_warning_of_an_old_import_points_at_the_import_statement():
    sys.modules.pop("mia_repro.paths", None)
    if hasattr(sys.modules["mia_repro"], "paths"):
        delattr(sys.modules["mia_repro"], "paths")
    with pytest.warns(FutureWarning, match="mia_repro.paths is now mia_repro.base.paths") as caught:
        import mia_repro.paths  # noqa: F401
    assert caught[0].filename == __file__


def test_a_monkeypatch_through_the_old_path_is_seen_by_the_new(monkeypatch):
    from mia_repro.evaluation import metrics

    old, _ = _import_fresh("mia_repro.metrics")
    monkeypatch.setattr(old, "FPR_LEVELS", {"x": 0.5})
    assert metrics.FPR_LEVELS == {"x": 0.5}


def test_a_split_module_answers_each_old_name_from_its_new_module():
    own, _ = _import_fresh("mia_repro.own")
    for name, home in SPLIT["mia_repro.own"].items():
        with pytest.warns(FutureWarning, match=f"mia_repro.own.{name} is now {home}.{name}"):
            assert getattr(own, name) is getattr(importlib.import_module(home), name)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        own.nothing


@pytest.mark.parametrize("module, name, home", [
    ("mia_repro.attacks.base", "fpr_threshold", "mia_repro.attacks.thresholds"),
    ("mia_repro.attacks.base", "log_softmax", "mia_repro.attacks.signals"),
    ("mia_repro.reporting.plots", "stage1_figures", "mia_repro.reporting.stage1_plots"),
    ("mia_repro.reporting.plots", "DP_FIGURES", "mia_repro.reporting.mitigation_plots"),
    ("mia_repro.reporting.tables", "attacks_table", "mia_repro.reporting.compare_tables"),
    ("mia_repro.reporting.tables", "markdown_dp", "mia_repro.reporting.mitigation_tables"),
])
def test_a_name_that_left_its_module_is_found_there_with_a_warning(module, name, home):
    with pytest.warns(FutureWarning, match=f"{module}.{name} is now {home}.{name}") as caught:
        found = getattr(importlib.import_module(module), name)
    assert caught[0].filename == __file__  # the warning points at the line that used the name
    assert found is getattr(importlib.import_module(home), name)
    with pytest.raises(AttributeError):
        getattr(importlib.import_module(module), "nothing_of_that_name")


def test_the_package_namespaces_answer_the_old_modules_names():
    """``mia_repro.evaluation`` and ``mia_repro.privacy`` were modules; as packages they still answer their names."""
    from mia_repro.evaluation import evaluate, results
    from mia_repro.privacy import accounting

    assert importlib.import_module("mia_repro.evaluation").run_attacks is evaluate.run_attacks
    assert importlib.import_module("mia_repro.evaluation").AttackResults is results.AttackResults
    assert importlib.import_module("mia_repro.privacy").epsilon_pld is accounting.epsilon_pld
    with pytest.raises(AttributeError):
        importlib.import_module("mia_repro.privacy").nothing


def test_python_m_of_an_old_path_runs_the_new_module():
    done = subprocess.run([sys.executable, "-m", "mia_repro.migrate", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m mia_repro.tools.migrate")
    assert "mia_repro.migrate is now mia_repro.tools.migrate: run python -m mia_repro.tools.migrate" in done.stderr
