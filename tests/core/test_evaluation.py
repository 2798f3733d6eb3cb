"""mia_repro.evaluation.evaluate: one evaluation for every stage, typed results that round-trip, a core without Keras."""
import json

import numpy as np
import pytest

from fakes import fake_stage1
from mia_repro.attacks import AttackerView, ConfidenceThreshold, LossThreshold, ShokriSVM
from mia_repro.attacks.config import AttackConfig
from mia_repro.evaluation.results import SCORE_ARRAYS, AttackResults
from mia_repro.evaluation.evaluate import evaluate_attack, run_attacks
from mia_repro.evaluation.metrics import AttackMetrics, TPRAtFPR, attack_metrics

FAST_SVM = AttackConfig(C_grid=(1.0,), gamma_grid=(1.0,), cv_folds=2, cv_samples=80, fit_samples=120, n_jobs=1)


@pytest.fixture(scope="module")
def case():
    so, labels = fake_stage1(n=60, n_shadows=3, pool=600, population=120, seed=4)
    return so, AttackerView.from_stage1(so, labels)


def test_the_result_of_a_per_class_attack_publishes_one_threshold_per_class_that_gives_its_decisions(case):
    so, view = case
    r = evaluate_attack(ShokriSVM(FAST_SVM, seed=1), view, so.target.member, bootstrap=10)
    s = r.scores
    assert tuple(s) == SCORE_ARRAYS and r.threshold_kind == "per-class" and len(r.threshold) == 10
    np.testing.assert_array_equal(s["threshold"], np.asarray(r.threshold)[s["true_class"]])
    np.testing.assert_array_equal(s["pred"], (s["score"] >= s["threshold"]).astype(int))
    block = r.block()
    assert block["threshold"] == r.threshold and block["params"]["seed"] == 1 and block["params"]["cfg"]["cv_folds"] == 2
    m = attack_metrics(s["member"], s["score"], s["pred"], bootstrap=10, seed=0)
    assert {k: block[k] for k in m.to_dict()} == m.to_dict()  # the block's metrics are the metrics of its arrays
    json.dumps(block)  # JSON as it is


def test_a_global_attack_publishes_one_number(case):
    so, view = case
    r = evaluate_attack(ConfidenceThreshold(), view, so.target.member, bootstrap=0)
    assert r.threshold_kind == "global" and isinstance(r.threshold, float)
    np.testing.assert_array_equal(r.scores["threshold"], np.full(len(view), r.threshold))
    np.testing.assert_array_equal(r.scores["pred"], r.scores["score"] >= r.threshold)


def test_metrics_are_one_typed_record_whose_dict_is_the_json_layout():
    member = np.r_[np.ones(4, bool), np.zeros(6, bool)]
    score = np.arange(10.0)[::-1]
    pred = (score >= 6).astype(int)
    m = attack_metrics(member, score, pred, bootstrap=5, seed=0, threshold=6.0)
    assert isinstance(m, AttackMetrics) and m.threshold == 6.0
    assert (m.precision, m.recall, m.auc, m.n_members, m.n_nonmembers) == (1.0, 1.0, 1.0, 4, 6)
    assert isinstance(m.tpr_at["tpr_at_1pct_fpr"], TPRAtFPR) and m.tpr(0.01) == 1.0 and m.tpr(0.0) == 1.0
    assert m.tpr_at["tpr_at_1pct_fpr"].fp_allowed == 0 and m.tpr_at["tpr_at_1pct_fpr"].ci95 == (1.0, 1.0)
    d = m.to_dict()
    assert list(d) == ["precision", "recall", "accuracy", "balanced_accuracy", "auc", "tpr_at_1pct_fpr",
                       "tpr_at_0.1pct_fpr", "tpr_at_0pct_fpr", "advantage_at_decision", "advantage_max",
                       "n_members", "n_nonmembers", "fp_allowed", "tpr_at_1pct_fpr_ci95", "tpr_at_0.1pct_fpr_ci95",
                       "tpr_at_0pct_fpr_ci95"]
    assert m["auc"] == 1.0 and {**m} == d and "auc" in m and m.get("nothing", 3) == 3
    with pytest.raises(ValueError, match="fpr_level: one of"):
        m.tpr(0.05)


def test_attack_results_save_and_load_through_json_and_npz_without_pickle(case, tmp_path):
    so, view = case
    res = run_attacks(view, so.target.member, [LossThreshold(), "rmia_offline"], bootstrap=10)
    js, npz = res.save(tmp_path / "mine")
    assert (js.name, npz.name) == ("mine.json", "mine.npz")
    with np.load(npz, allow_pickle=False) as z:  # plain arrays: loads without pickle
        assert sorted(z.files) == sorted(f"{a}/{k}" for a in ("loss_threshold", "rmia_offline") for k in SCORE_ARRAYS)
    back = AttackResults.load(tmp_path / "mine.json")
    assert list(back.results) == list(res.results)
    for name in res.results:
        assert back[name].block() == json.loads(json.dumps(res[name].block()))
        for k in SCORE_ARRAYS:
            np.testing.assert_array_equal(back[name].scores[k], res[name].scores[k])
    assert back.summary().equals(res.summary())
    frame = res.to_frame()
    assert list(frame.index) == ["loss_threshold", "rmia_offline"]
    assert {"auc", "tpr_at_0.1pct_fpr", "tpr_at_0.1pct_fpr_ci95_lo", "threshold_kind", "seconds"} <= set(frame.columns)
    assert frame.loc["loss_threshold", "auc"] == res["loss_threshold"].metrics.auc
    assert "AttackResults(2 attacks" in repr(res) and "AttackResult(loss_threshold" in repr(res["loss_threshold"])


@pytest.mark.slow
def test_the_numpy_path_imports_neither_keras_nor_tensorflow():
    """view_from_arrays + run_attacks (every attack the arrays serve) + reporting.plots.results_roc in a fresh interpreter."""
    from mia_repro.tools.bench_attacks import run_numpy_path

    out = run_numpy_path()
    assert out["attacks"] == 11 and out["keras"] is False and out["tensorflow"] is False
    # the same code with the pipeline imported first does load them: the check above can fail
    assert run_numpy_path("import mia_repro.experiment.stages.stage1")["keras"] is True
