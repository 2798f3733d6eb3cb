"""The comparison stage end to end on the tiny config: every attack, every size, every number recomputable."""
import json

import numpy as np
import pytest
from sklearn import metrics as skm

from mia_repro.experiment.stages import compare as compare_mod
from mia_repro.attacks import ATTACKS
from mia_repro.experiment.stages.compare import run_compare
from mia_repro.evaluation.metrics import tpr_at_fpr
from mia_repro.experiment.stages.stage2 import run_stage2


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def compared(tiny_run, tmp_path_factory):
    import conftest

    cfg = conftest.copy_of_tiny_run(tiny_run, tmp_path_factory.mktemp("cmp"))
    return cfg, run_compare(cfg, log=quiet)  # the session's comparison, read back from its files


def test_attacks_json_has_every_attack_at_every_size(compared):
    cfg, result = compared
    on_disk = json.loads((cfg.output_dir / "attacks.json").read_text())
    assert on_disk["sizes"].keys() == {"30", "40"}
    for key in ("profile", "backend", "device", "trainer", "seed", "epochs", "versions", "bootstrap_resamples"):
        assert key in on_disk
    for n, blocks in on_disk["sizes"].items():
        assert set(blocks) == set(ATTACKS)
        for name, b in blocks.items():
            for key in ("auc", "balanced_accuracy", "precision", "recall", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr",
                        "tpr_at_0pct_fpr", "n_nonmembers", "tpr_at_0.1pct_fpr_ci95", "paper", "threshold"):
                assert key in b, (n, name, key)
            assert b["n_nonmembers"] == int(n)
    assert not (cfg.output_dir / "fig_attacks_roc.png").exists()  # the stage computes; reporting draws
    from mia_repro.reporting import figures

    figures.compare(cfg, result)
    for name in ("fig_attacks_roc.png", "fig_attacks_tpr_vs_size.png"):
        assert (cfg.output_dir / name).stat().st_size > 10_000


def test_every_number_recomputes_from_its_score_file(compared):
    cfg, result = compared
    for n, blocks in result["sizes"].items():
        for name, b in blocks.items():
            with np.load(cfg.output_dir / "attack_scores" / f"{name}_{n}.npz") as s:
                m, score, pred = s["member"], s["score"], s["pred"]
            assert len(m) == 2 * int(n) and m.sum() == int(n)
            assert b["auc"] == pytest.approx(skm.roc_auc_score(m, score))
            assert b["precision"] == pytest.approx(skm.precision_score(m, pred, zero_division=0))
            assert b["recall"] == pytest.approx(skm.recall_score(m, pred))
            assert b["tpr_at_1pct_fpr"] == pytest.approx(tpr_at_fpr(m, score, 0.01))


def test_blocks_name_the_variant_count_ties_and_record_rmias_choice(compared):
    cfg, result = compared
    for n, blocks in result["sizes"].items():
        for name, b in blocks.items():
            assert b["label"] == ATTACKS[name].label and b["label"]
            with np.load(cfg.output_dir / "attack_scores" / f"{name}_{n}.npz") as s:
                _, counts = np.unique(s["score"], return_counts=True)
            assert b["ties"]["tied_records"] == int(counts[counts > 1].sum())
            assert len(b["per_class"]["precision"]) == 10
        rmia = blocks["rmia_offline"]["info"]
        assert rmia["gamma"] in (1.0, 2.0, 4.0) and 0 <= rmia["a"] <= 1
        assert rmia["simulated_auc"][f"gamma={rmia['gamma']:g}"][f"a={rmia['a']:g}"] == max(
            v for g in rmia["simulated_auc"].values() for v in g.values())
    assert "per-class" in result["sizes"]["30"]["loss_threshold"]["label"]


def test_sensitivity_table_has_every_pair_and_its_default_is_the_fixed_svm(compared):
    from mia_repro.experiment.stages.svm_sensitivity import PAIRS

    cfg, result = compared
    sens = json.loads((cfg.output_dir / "svm_sensitivity.json").read_text())
    assert sens["default"] == [cfg.attack.fixed_C, cfg.attack.fixed_gamma]
    for n, rows in sens["sizes"].items():
        assert [(r["C"], r["gamma"]) for r in rows] == list(PAIRS)
        default = next(r for r in rows if [r["C"], r["gamma"]] == sens["default"])
        fixed = result["sizes"][n]["shokri_svm_fixed"]
        for key in ("precision", "recall", "auc", "tpr_at_1pct_fpr"):
            assert default[key] == pytest.approx(fixed[key]), key
        assert default["median_class_precision"] == pytest.approx(np.nanmedian(fixed["per_class"]["precision"]))


def test_second_run_is_cached(compared, monkeypatch):
    cfg, result = compared

    def boom(*a, **k):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(compare_mod, "compare_size", boom)
    again = run_compare(cfg, log=quiet)
    assert again["sizes"] == json.loads(json.dumps(result["sizes"]))


def test_an_edited_summary_with_a_recomputed_digest_is_not_published(compared, tmp_path):
    """The probe's forgery: a cached block's AUC set to 0.99 and its sidecar recomputed for the right key. The
    block is re-derived from its score file before publishing: the entry is reported and recomputed, and
    attacks.json carries the AUC the scores give."""
    import dataclasses
    import shutil

    from mia_repro.base.cache import seal
    from mia_repro.experiment.stages.compare import BLOCKS, _entry
    from mia_repro.experiment.stages.stage1 import load_stage1

    cfg, result = compared
    shutil.copytree(cfg.output_dir, tmp_path / "results")
    cfg = dataclasses.replace(cfg, results_dir=str(tmp_path / "results"))
    so = load_stage1(cfg)[30]
    part = _entry(cfg, so)[BLOCKS]
    blocks = json.loads(part.path.read_text())
    blocks["lira_offline"]["auc"] = 0.99
    part.path.write_text(json.dumps(blocks))
    seal(part.path, part.key)
    lines = []
    again = run_compare(cfg, log=lines.append, sensitivity=False)
    assert any("lira_offline: its auc 0.99 is not what its scores give" in line and line.endswith("recomputing")
               for line in lines)
    assert again["sizes"]["30"]["lira_offline"]["auc"] == result["sizes"]["30"]["lira_offline"]["auc"] != 0.99


@pytest.mark.training
def test_seeds_share_stage1_and_report_the_spread(trained_config):
    import dataclasses

    from mia_repro.experiment.stages.seeds import run_seeds

    cfg = dataclasses.replace(trained_config, sizes=(30,))  # the profile's own seed trained, as a main run leaves it
    before = set((cfg.output_dir / "stage1" / "n30").glob("*.npz"))
    result = run_seeds(cfg, [0, 1], log=quiet)
    after = set((cfg.output_dir / "stage1" / "n30").glob("*.npz"))
    assert before < after and len(after - before) == 3  # seed 0 reused, seed 1's three models added
    on_disk = json.loads((cfg.output_dir / "seeds" / "seeds.json").read_text())
    assert on_disk["seeds"] == [0, 1] and "seed" not in on_disk
    sp = on_disk["sizes"]["30"]["target_test_acc"]
    assert len(sp["values"]) == 2 and sp["min"] <= sp["mean"] <= sp["max"]
    assert set(on_disk["sizes"]["30"]["attacks"]) == set(ATTACKS)
    for s in (0, 1):
        summary = json.loads((cfg.output_dir / "seeds" / f"seed{s}" / "summary.json").read_text())
        assert summary["seed"] == s
    assert result["sizes"]["30"]["svm"]["auc"]["values"][0] == pytest.approx(
        json.loads((cfg.output_dir / "seeds" / "seed0" / "summary.json").read_text())["sizes"]["30"]["attack"]["auc"])
    with pytest.raises(ValueError, match="at least two different seeds"):
        run_seeds(cfg, [1, 1], log=quiet)
    # the spread joins the main run's tables in reporting; the stages' own files never read seeds.json
    from mia_repro.reporting import compare_tables, tables
    from mia_repro.reporting.spread import spread_for

    summary, main = run_stage2(cfg, log=quiet), run_compare(cfg, log=quiet)
    assert "seed_spread" not in summary and "seed_spread" not in main
    sp = spread_for(cfg, "summary")
    assert sp["seeds"] == [0, 1]
    assert sp["sizes"]["30"]["svm"]["auc"]["values"][0] == pytest.approx(summary["sizes"]["30"]["attack"]["auc"])
    assert set(spread_for(cfg, "attacks")["sizes"]["30"]) == set(ATTACKS)
    svm_row = tables.attack_table(summary, sp).iloc[0]
    assert svm_row["AUC sd (2 seeds)"] == pytest.approx(sp["sizes"]["30"]["svm"]["auc"]["std"])
    rows = compare_tables.attacks_table(main, spread_for(cfg, "attacks")).set_index("attack")
    assert rows.loc["lira_offline", "TPR@0.1%FPR sd (2 seeds)"] == pytest.approx(
        spread_for(cfg, "attacks")["sizes"]["30"]["lira_offline"]["tpr_at_0.1pct_fpr"]["std"])
    assert "AUC sd (2 seeds)" not in compare_tables.attacks_table(main).columns


def test_a_chosen_subset_of_attacks_is_compared_and_published_alone(compared, tmp_path):
    """`--attacks` (ExperimentConfig.attacks): only those attacks are fit, cached, published and copied out; the
    blocks equal the full comparison's (same fit, same seed); the fixed SVM's table is skipped without it."""
    import dataclasses

    cfg, full = compared
    sub = dataclasses.replace(cfg, attacks=("lira_offline", "loss_threshold"), results_dir=str(tmp_path / "sub"),
                              stage1_dir=str(cfg.layout.stage1_root))
    assert sub.compared_attacks == ("loss_threshold", "lira_offline")  # ATTACKS' order
    result = run_compare(sub, log=quiet)
    for n, blocks in result["sizes"].items():
        assert list(blocks) == ["loss_threshold", "lira_offline"]
        for name, b in blocks.items():
            assert b["auc"] == full["sizes"][n][name]["auc"]
            assert b["threshold"] == full["sizes"][n][name]["threshold"]
    published = sorted(p.name for p in (tmp_path / "sub" / "attack_scores").iterdir())
    assert published == sorted(f"{a}_{n}.npz" for a in ("lira_offline", "loss_threshold") for n in result["sizes"])
    assert not (tmp_path / "sub" / "svm_sensitivity.json").exists()
    with pytest.raises(ValueError, match="attacks: expected distinct names"):
        dataclasses.replace(cfg, attacks=("lira_offline", "lira_offline"))
