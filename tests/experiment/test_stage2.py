import json

import numpy as np
import pytest
from sklearn import metrics as skm

from fakes import fake_size
from mia_repro.base.cache import load_npz
from mia_repro.experiment.stages.stage1 import Stage1Error
from mia_repro.experiment.stages.stage2 import run_stage2
from mia_repro.experiment.stages import stage2 as stage2_mod


pytestmark = pytest.mark.slow  # each test fits Stage II's SVMs on fake outputs of two sizes (seconds each)


@pytest.fixture
def stage2_run(tiny_config, monkeypatch):
    fakes = {n: fake_size(n, n_shadows=2, seed=n, leak=2.5) for n in (150, 200)}
    cfg = tiny_config.__class__(**{**tiny_config.__dict__, "sizes": (150, 200), "max_records": None})
    monkeypatch.setattr(stage2_mod, "load_stage1", lambda c: fakes)
    summary = run_stage2(cfg, log=lambda *_: None)
    return cfg, summary


def test_summary_follows_the_contract(stage2_run):
    cfg, summary = stage2_run
    on_disk = json.loads((cfg.output_dir / "summary.json").read_text())
    assert on_disk["sizes"].keys() == summary["sizes"].keys() == {"150", "200"}
    for key in ("profile", "backend", "seed", "epochs", "n_shadows", "versions"):
        assert key in on_disk
    block = on_disk["sizes"]["150"]
    assert set(block["target"]) >= {"train_acc", "test_acc"}
    assert set(block["shadows"]) >= {"train_acc_mean", "test_acc_mean"}
    attack = block["attack"]
    for key in ("precision", "recall", "accuracy", "auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr", "advantage_at_decision",
                "advantage_max", "auc_raw_pooled", "auc_mean_per_class"):
        assert isinstance(attack[key], float)
    lo, hi = attack["tpr_at_0.1pct_fpr_ci95"]
    assert lo <= attack["tpr_at_0.1pct_fpr"] <= hi and attack["n_nonmembers"] == 150
    for key in ("precision", "recall", "accuracy", "auc", "C", "gamma"):
        assert len(attack["per_class"][key]) == 10
    assert "baseline" in block and block["baseline"]["threshold"] <= 0  # log p_y
    assert not list(cfg.output_dir.glob("*.png"))  # the stage computes; reporting draws
    from mia_repro.reporting import figures

    figures.stage2(cfg, on_disk)
    for name in ("fig_per_class_precision.png", "fig_precision_recall_vs_size.png", "fig_roc.png", "fig_target_accuracy.png"):
        assert (cfg.output_dir / name).stat().st_size > 10_000


def test_summary_numbers_recompute_from_score_files(stage2_run):
    cfg, summary = stage2_run
    for n, block in summary["sizes"].items():
        s = load_npz(cfg.output_dir / f"attack_scores_{n}.npz")
        assert s["member"].dtype == bool and set(np.unique(s["pred"])) <= {0, 1}
        assert len(s["member"]) == 2 * int(n)
        m, p = s["member"], s["pred"]
        a = block["attack"]
        assert a["precision"] == pytest.approx(skm.precision_score(m, p))
        assert a["recall"] == pytest.approx(skm.recall_score(m, p))
        assert a["accuracy"] == pytest.approx(skm.accuracy_score(m, p))
        assert a["auc"] == pytest.approx(skm.roc_auc_score(m, s["score"]))
        assert a["auc_raw_pooled"] == pytest.approx(skm.roc_auc_score(m, s["decision_value"]))
        # the published thresholds give the published decisions: one per class, and the baseline's one
        np.testing.assert_array_equal(p, s["score"] >= s["threshold"])
        np.testing.assert_array_equal(s["threshold"], np.asarray(a["threshold"])[s["true_class"]])
        assert a["threshold_kind"] == "per-class" and len(a["threshold"]) == 10
        np.testing.assert_array_equal(s["baseline_pred"], s["baseline_score"] >= block["baseline"]["threshold"])
        np.testing.assert_array_equal(s["baseline_threshold"], block["baseline"]["threshold"])
        assert a["boundary_disagreements"] == int(((s["decision_value"] > 0) != p).sum())
        for c in range(10):
            sel = s["true_class"] == c
            assert a["per_class"]["precision"][c] == pytest.approx(skm.precision_score(m[sel], p[sel], zero_division=0))
        assert a["precision"] > 0.5  # leaky fake outputs


def test_second_run_uses_the_cache(stage2_run, monkeypatch):
    cfg, summary = stage2_run

    def boom(*a, **k):
        raise AssertionError("attack refit although cached")

    monkeypatch.setattr(stage2_mod, "attack_size", boom)
    again = run_stage2(cfg, log=lambda *_: None)
    assert again["sizes"] == json.loads(json.dumps(summary["sizes"]))


def test_stage2_without_stage1_is_a_clear_error(tiny_config):
    with pytest.raises(Stage1Error, match="python -m mia_repro stage1 --profile test"):
        run_stage2(tiny_config)


def test_reused_folder_never_pairs_a_summary_with_other_scores(tiny_config, monkeypatch):
    """Stage I outputs A, then B, then A again in one folder: summary.json always matches the scores beside it."""
    cfg = tiny_config.__class__(**{**tiny_config.__dict__, "sizes": (150,), "max_records": None})
    runs = {"A": {150: fake_size(150, n_shadows=2, seed=1, leak=2.5)}, "B": {150: fake_size(150, n_shadows=2, seed=2, leak=1.0)}}
    aucs = []
    for which in ("A", "B", "A"):
        monkeypatch.setattr(stage2_mod, "load_stage1", lambda c, w=which: runs[w])
        summary = run_stage2(cfg, log=lambda *_: None)
        s = load_npz(cfg.output_dir / "attack_scores_150.npz")
        on_disk = json.loads((cfg.output_dir / "summary.json").read_text())["sizes"]["150"]["attack"]["auc"]
        assert on_disk == summary["sizes"]["150"]["attack"]["auc"] == pytest.approx(skm.roc_auc_score(s["member"], s["score"]))
        aucs.append(on_disk)
    assert aucs[0] == aucs[2] != aucs[1]


def test_damaged_stage2_cache_is_refit(stage2_run):
    cfg, summary = stage2_run
    for marker in (cfg.output_dir / "stage2").glob("*.json"):
        marker.write_text("{not json")
    lines = []
    again = run_stage2(cfg, log=lines.append)
    # per size: the block (damaged) reported and refit; the SVMs are fitted anew, never read for the scores
    assert sum("cache entry not usable" in line and "refitting" in line for line in lines) == 2
    assert not any(".svms.npz" in line for line in lines)
    assert again["sizes"]["150"]["attack"]["auc"] == summary["sizes"]["150"]["attack"]["auc"]


def test_summary_names_the_machine_that_trained_stage1_not_the_one_running_stage2(tiny_config):
    import dataclasses

    from mia_repro.training import machine_info

    gpu = {"backend": "jax", "device": "gpu", "device_name": "NVIDIA H100 80GB HBM3", "keras": "3.15.1"}
    so = fake_size(30, n_shadows=2)
    so = dataclasses.replace(so, target=dataclasses.replace(so.target, trained_on=gpu, trainer="stacked"),
                             shadows=[dataclasses.replace(m, trained_on=gpu, trainer="stacked") for m in so.shadows])
    s = stage2_mod.build_summary(tiny_config, {30: {"ran_on": machine_info()}}, {30: so})
    assert (s["backend"], s["device"], s["device_name"]) == ("jax", "gpu", "NVIDIA H100 80GB HBM3")
    assert s["trainer"] == {"name": "stacked", "reason": "as recorded in the Stage I model files"}
    assert s["stage1_trained_on"]["30"] == [{**gpu, "trainer": "stacked", "models": 3}]
    assert s["stage2_ran_on"] == machine_info()  # the machine the cached block says fitted it
    other = {"backend": "tensorflow", "device": "cpu", "device_name": "another CPU (2 cores)", "keras": "3.15.1"}
    s = stage2_mod.build_summary(tiny_config, {30: {"ran_on": other}}, {30: so})
    assert s["stage2_ran_on"] == other  # a rerun from the cache elsewhere publishes the same
    from mia_repro.experiment.provenance import NOT_RECORDED

    assert stage2_mod.build_summary(tiny_config, {30: {}}, {30: so})["stage2_ran_on"] == NOT_RECORDED


def test_an_edited_summary_with_a_recomputed_digest_is_refit_not_published(stage2_run):
    """A cached Stage II block's AUC set to 0.99, its sidecar recomputed: re-derived from the score file before
    publishing, it is reported and the entry recomputed; summary.json has the AUC the scores give."""
    from mia_repro.base.cache import seal

    cfg, summary = stage2_run
    so = stage2_mod.load_stage1(cfg)[150]
    part = stage2_mod._entry(cfg, so)["block"]
    block = json.loads(part.path.read_text())
    block["attack"]["auc"] = 0.99
    part.path.write_text(json.dumps(block))
    seal(part.path, part.key)
    lines = []
    again = run_stage2(cfg, log=lines.append)
    assert any("its auc 0.99 is not what its scores give" in line and line.endswith("refitting") for line in lines)
    assert again["sizes"]["150"]["attack"]["auc"] == summary["sizes"]["150"]["attack"]["auc"] != 0.99


def _forge_svms(path, edit):
    """The probe's forgery of a fitted-SVM file: its arrays edited by ``edit``, its digest sidecar recomputed."""
    from mia_repro.base.cache import load_npz, save_npz, sidecar

    key = json.loads(sidecar(path).read_text())["key"]
    arrays = load_npz(path)
    edit(arrays)
    save_npz(path, key=key, **arrays)


def _forge_dual(arrays):
    arrays["c0_dual"] = arrays["c0_dual"] * -3.0


def _forge_platt(arrays):
    meta = json.loads(str(arrays["meta"]))
    for c in meta["classes"]:
        c["platt"] = [5.0, 1.0] if c["platt"] else c["platt"]
    arrays["meta"] = np.array(json.dumps(meta))


@pytest.mark.parametrize("edit", [_forge_dual, _forge_platt], ids=["coefficients", "calibration"])
def test_forged_svms_with_a_recomputed_digest_change_no_published_number(stage2_run, edit):
    """The probe: a fitted-SVM file's coefficients (or its calibration) forged, its digest recomputed, and the
    Stage II entry removed so that the stage recomputes it.  Stage II fits its SVMs anew and never scores a
    kept file: summary.json is what it was."""
    cfg, summary = stage2_run
    before = (cfg.output_dir / "summary.json").read_text()
    for path in (cfg.output_dir / "stage2").glob("*.svms.npz"):
        _forge_svms(path, edit)
    for marker in (cfg.output_dir / "stage2").glob("n*-*.json"):
        marker.unlink()
    run_stage2(cfg, log=lambda *_: None)
    after = json.loads((cfg.output_dir / "summary.json").read_text())
    mine = json.loads(before)
    for n in ("150", "200"):  # every number but the fit's seconds
        for part in ("attack", "baseline", "target", "shadows"):
            a, b = dict(after["sizes"][n][part]), dict(mine["sizes"][n][part])
            a.pop("seconds", None), b.pop("seconds", None)
            assert a == b


@pytest.mark.parametrize("edit", [_forge_dual, _forge_platt], ids=["coefficients", "calibration"])
def test_the_mitigation_stage_refits_forged_svms_that_do_not_give_stage2s_scores(stage2_run, edit):
    """load_attack (the mitigation stage's unaware attacker) uses a kept SVM file only if it gives back Stage
    II's verified scores and decisions on the target; a forged one is reported by path and refit."""
    cfg, _ = stage2_run
    so = stage2_mod.load_stage1(cfg)[150]
    path = stage2_mod._svms(cfg, so)["svms"].path
    honest = stage2_mod.load_attack(cfg, so, log=lambda *_: None)
    _forge_svms(path, edit)
    lines = []
    svm = stage2_mod.load_attack(cfg, so, log=lines.append)
    assert any(str(path) in line and "not Stage II's" in line and "refitting" in line for line in lines), lines
    _, published, _ = stage2_mod.size_entry(cfg, so, log=lambda *_: None)
    from mia_repro.attacks import AttackerView

    np.testing.assert_array_equal(svm.score(AttackerView.from_stage1(so)), published["score"])
    np.testing.assert_array_equal(honest.score(AttackerView.from_stage1(so)), published["score"])
    quiet = []
    stage2_mod.load_attack(cfg, so, log=quiet.append)  # the refit was kept: used as it is now
    assert quiet == []


def test_an_svm_file_with_no_classes_is_named_and_refit(stage2_run):
    cfg, _ = stage2_run
    so = stage2_mod.load_stage1(cfg)[150]
    path = stage2_mod._svms(cfg, so)["svms"].path

    def empty(arrays):
        for k in [k for k in arrays if k != "meta"]:
            del arrays[k]
        arrays["meta"] = np.array(json.dumps({"classes": [], "trained_on": []}))

    _forge_svms(path, empty)
    lines = []
    svm = stage2_mod.load_attack(cfg, so, log=lines.append)
    assert any(str(path) in line and "0 classes' SVMs in it, expected 10" in line and "refitting" in line
               for line in lines), lines
    assert len(svm.svms_.classes) == 10
