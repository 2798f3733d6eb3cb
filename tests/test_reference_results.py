"""The committed reference results (results/quick/) are reproducible by the committed code."""
import dataclasses
import json
import shutil

import pytest

from mia_repro.config import PROJECT_ROOT, get_config

QUICK = PROJECT_ROOT / "results" / "quick"


@pytest.fixture(scope="module")
def committed():
    if not (QUICK / "summary.json").exists():
        pytest.skip("no committed results/quick/summary.json")
    return json.loads((QUICK / "summary.json").read_text())


def test_summary_names_its_provenance(committed):
    assert committed["profile"] == "quick" and committed["seed"] == get_config("quick").seed
    assert committed["epochs"] == get_config("quick").model.epochs
    assert committed["backend"] and committed["versions"] and committed["n_shadows"] == 10
    assert set(committed["sizes"]) == {"2500", "5000", "10000", "15000"}
    for n in committed["sizes"]:
        assert (QUICK / f"attack_scores_{n}.npz").exists()
    for fig in ("fig_per_class_precision.png", "fig_roc.png", "fig_privacy_utility.png"):
        assert (QUICK / fig).exists()


def test_stage2_recomputed_from_committed_stage1_matches(committed, tmp_path):
    """Refit the n=2500 attack from the committed Stage I cache (no Stage II cache) and compare."""
    from mia_repro.stage2 import run_stage2

    shutil.copytree(QUICK / "stage1" / "n2500", tmp_path / "stage1" / "n2500",
                    ignore=shutil.ignore_patterns("weights"))
    cfg = dataclasses.replace(get_config("quick"), sizes=(2500,), results_dir=str(tmp_path))
    again = run_stage2(cfg, log=lambda *_: None, figures=False)["sizes"]["2500"]
    ref = committed["sizes"]["2500"]
    for block in ("attack", "baseline"):
        for key in ("precision", "recall", "accuracy", "auc"):
            assert again[block][key] == pytest.approx(ref[block][key], abs=0.01), (block, key)
    assert again["target"] == ref["target"]
