"""The committed reference results (results/quick/, results/paper/) are reproducible by the committed code,
and the README's headline shows them as they are."""
import dataclasses
import json
import shutil

import pytest

from mia_repro.base.paths import PROJECT_ROOT
from mia_repro.experiment.profiles import get_config

QUICK = PROJECT_ROOT / "results" / "quick"
PAPER = PROJECT_ROOT / "results" / "paper"
ALL_SIZES = {"2500", "5000", "10000", "15000"}  # both committed profiles hold every size


@pytest.fixture(scope="module")
def committed():
    if not (QUICK / "summary.json").exists():
        pytest.skip("no committed results/quick/summary.json")
    return json.loads((QUICK / "summary.json").read_text())


def test_summary_names_its_provenance(committed):
    assert committed["profile"] == "quick" and committed["seed"] == get_config("quick").seed
    assert committed["epochs"] == get_config("quick").model.epochs
    assert committed["backend"] and committed["versions"] and committed["n_shadows"] == 10
    assert set(committed["sizes"]) == ALL_SIZES
    for n in committed["sizes"]:
        assert (QUICK / f"attack_scores_{n}.npz").exists()
    for fig in ("fig_per_class_precision.png", "fig_roc.png", "fig_privacy_utility.png"):
        assert (QUICK / fig).exists()


@pytest.mark.slow
def test_stage2_recomputed_from_committed_stage1_matches(committed, tmp_path):
    """Refit the n=2500 attack from the committed Stage I cache (no Stage II cache) and compare."""
    from mia_repro.experiment.stages.stage2 import run_stage2

    shutil.copytree(QUICK / "stage1" / "n2500", tmp_path / "stage1" / "n2500",
                    ignore=shutil.ignore_patterns("weights"))
    cfg = dataclasses.replace(get_config("quick"), sizes=(2500,), results_dir=str(tmp_path))
    again = run_stage2(cfg, log=lambda *_: None)["sizes"]["2500"]
    ref = committed["sizes"]["2500"]
    for block in ("attack", "baseline"):
        for key in ("precision", "recall", "accuracy", "auc", "tpr_at_0.1pct_fpr", "advantage_max"):
            assert again[block][key] == pytest.approx(ref[block][key], abs=1e-9), (block, key)
    assert again["attack"]["auc_raw_pooled"] == pytest.approx(ref["attack"]["auc_raw_pooled"], abs=1e-9)
    assert again["target"] == ref["target"]


@pytest.mark.parametrize("folder", [QUICK, PAPER], ids=["quick", "paper"])
def test_committed_attack_comparison_recomputes_from_its_score_files(folder):
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from mia_repro.attacks import ATTACKS
    from mia_repro.evaluation.metrics import tpr_at_fpr

    path = folder / "attacks.json"
    if not path.exists():
        pytest.skip(f"no committed {path}")
    result = json.loads(path.read_text())
    assert set(result["sizes"]) == ALL_SIZES
    for n, blocks in result["sizes"].items():
        assert set(blocks) == set(ATTACKS)
        for name, b in blocks.items():
            with np.load(folder / "attack_scores" / f"{name}_{n}.npz") as s:
                assert b["auc"] == pytest.approx(roc_auc_score(s["member"], s["score"]), abs=1e-12)
                for key, level in (("tpr_at_1pct_fpr", 0.01), ("tpr_at_0.1pct_fpr", 0.001)):
                    assert b[key] == pytest.approx(tpr_at_fpr(s["member"], s["score"], level), abs=1e-12)


@pytest.mark.parametrize("folder", [QUICK, PAPER], ids=["quick", "paper"])
def test_committed_results_record_ties_choices_edges_and_the_fixed_svm(folder):
    """What issues 22 and 25 ask the committed results to show: every attack's ties, RMIA's chosen a and gamma with
    the grid's simulated AUCs, the per-class and global thresholds named as such, the CV one step beyond every
    edge optimum of the tuned SVM, and the fixed SVM with its sensitivity table at every size."""
    from mia_repro.attacks import ATTACKS

    path = folder / "attacks.json"
    if not path.exists():
        pytest.skip(f"no committed {path}")
    result, summary = json.loads(path.read_text()), json.loads((folder / "summary.json").read_text())
    sens = json.loads((folder / "svm_sensitivity.json").read_text())
    assert set(sens["sizes"]) == ALL_SIZES
    for n, blocks in result["sizes"].items():
        for name, b in blocks.items():
            assert b["label"] == ATTACKS[name].label and {"tied_records", "mixed_records"} <= set(b["ties"])
        rmia = blocks["rmia_offline"]["info"]
        assert {"gamma=1", "gamma=2"} <= set(rmia["simulated_auc"])
        assert rmia["simulated_auc"][f"gamma={rmia['gamma']:g}"][f"a={rmia['a']:g}"] == max(
            v for g in rmia["simulated_auc"].values() for v in g.values())
        assert "per-class" in blocks["loss_threshold"]["label"] and "global" in blocks["loss_threshold_global"]["label"]
        fixed = blocks["shokri_svm_fixed"]
        default = next(r for r in sens["sizes"][n] if [r["C"], r["gamma"]] == sens["default"])
        assert default["auc"] == pytest.approx(fixed["auc"], abs=1e-12)
        per_class = summary["sizes"][n]["attack"]["per_class"]
        for edge, beyond in zip(per_class["edge_hit"], per_class["cv_beyond_edge"]):
            assert (beyond is not None) == edge
            if beyond:
                assert beyond["points"] and beyond["plateaued"] == (beyond["gain"] < beyond["standard_error"])


def _committed(folder):
    if not (folder / "summary.json").exists():
        pytest.skip(f"no committed {folder / 'summary.json'}")
    return json.loads((folder / "summary.json").read_text())


def test_paper_results_name_the_machine_that_trained_every_model():
    paper = _committed(PAPER)
    assert paper["profile"] == "paper" and paper["epochs"] == 100
    assert set(paper["sizes"]) == set(paper["stage1_trained_on"]) == ALL_SIZES
    for n, rows in paper["stage1_trained_on"].items():
        assert sum(r["models"] for r in rows) == 11, n
        assert all(r["backend"] != "not recorded" and r["device_name"] for r in rows), n
    assert paper["backend"] and paper["device_name"] and paper["trainer"]["name"] and paper["stage2_ran_on"]


@pytest.mark.slow
def test_paper_stage2_recomputed_from_committed_stage1_matches(tmp_path):
    """Refit the smallest committed paper size's attack from its Stage I cache, into an empty results folder."""
    from mia_repro.experiment.stages.stage2 import run_stage2

    paper = _committed(PAPER)
    n = min(int(k) for k in paper["sizes"])
    cfg = dataclasses.replace(get_config("paper"), sizes=(n,), stage1_dir=str(PAPER / "stage1"), results_dir=str(tmp_path))
    again = run_stage2(cfg, log=lambda *_: None)["sizes"][str(n)]
    ref = paper["sizes"][str(n)]
    for key in ("precision", "recall", "auc", "tpr_at_0.1pct_fpr", "advantage_max"):
        assert again["attack"][key] == pytest.approx(ref["attack"][key], abs=1e-9), key
    assert again["attack"]["per_class"]["C"] == ref["attack"]["per_class"]["C"]
    assert again["target"] == ref["target"]


def test_the_readme_is_a_users_guide_whose_headline_is_the_committed_results():
    """At most 250 lines; the sections in order; no word of how the work was organised; the headline table is
    what the report generator writes from the committed JSON, and every link and image it names exists."""
    import re

    from mia_repro.reporting.report import headline_table

    readme = (PROJECT_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    sections = re.findall(r"^## (.+)$", readme, re.M)
    assert sections == ["Install and the two commands", "Use it from your own notebook", "Reproduce the paper",
                        "Attacks and defenses", "Results", "Testing", "How to cite"]
    for word in ("session", "issue", "sprint", "ticket", "this turn", "we did", "previous code", "before the tests"):
        assert word not in readme.lower(), word
    if (PAPER / "summary.json").exists():
        assert headline_table(PROJECT_ROOT / "results") in readme
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in target:
            assert (PROJECT_ROOT / target).exists(), target


def test_paper_mitigation_ran_the_issues_grid_with_both_attackers():
    """n = 2,500, 100 epochs: L2 1e-3 / 5e-3 / 1e-2 and dropout 0.25 / 0.5, each with the unaware attacker and the
    aware one (10 shadows trained with the defense), today's attacks on each, and the output-side defenses."""
    path = PAPER / "mitigation.json"
    if not path.exists():
        pytest.skip(f"no committed {path}")
    records = json.loads(path.read_text())
    meta = json.loads((PAPER / "mitigation_meta.json").read_text())
    assert meta["profile"] == "paper" and meta["epochs"] == 100 and meta["mitigation"]["aware_shadows"] == 10
    seen = {(r["defense"], r["strength"], r["size"], r["scenario"]) for r in records}
    for defense, strength in [("l2", 1e-3), ("l2", 5e-3), ("l2", 1e-2), ("dropout", 0.25), ("dropout", 0.5), ("none", 0.0)]:
        for scenario in ("unaware", "aware"):
            assert (defense, strength, 2500, scenario) in seen
            for attack in ("lira_offline", "rmia_offline"):
                assert any(r["defense"] == defense and r["strength"] == strength and r["scenario"] == scenario
                           and r["attack"] == attack for r in meta["attack_comparison"])
    assert {r["defense"] for r in records} == {"none", "l2", "dropout", "topk", "rounding", "temperature"}
    assert get_config("paper").mitigation.sizes == (2500,)  # the profile says what ran


@pytest.mark.slow
def test_committed_dp_rows_recompute_with_dp_accounting_and_carry_the_audit():
    """Every DP row of the committed quick sweep: both ε recompute from the recorded schedule with
    dp-accounting, the RDP ε meets its target within 0.01, the audit's bound is a number below the guarantee
    and names its attack; one row per target ε, size and scenario."""
    import numpy as np

    from mia_repro.privacy.audit import epsilon_lower_bound
    from mia_repro.privacy.accounting import epsilon_pld, epsilon_rdp

    records = json.loads((QUICK / "mitigation.json").read_text())
    meta = json.loads((QUICK / "mitigation_meta.json").read_text())
    dp = [r for r in records if r["defense"] == "dp"]
    assert {(r["size"], r["strength"], r["scenario"]) for r in dp} == (
        {(n, e, "unaware") for n in (2500, 5000) for e in (1.0, 2.0, 4.0, 8.0)} | {(2500, e, "aware") for e in (1.0, 2.0, 4.0, 8.0)})
    for r in dp:
        sched = (r["noise_multiplier"], r["sampling_rate"], r["steps"], r["delta"])
        assert r["epsilon"] == pytest.approx(epsilon_rdp(*sched), rel=1e-9)
        assert r["epsilon_pld"] == pytest.approx(epsilon_pld(*sched), rel=1e-9)
        assert r["strength"] - 0.01 <= r["epsilon"] <= r["strength"] and r["epsilon_pld"] < r["epsilon"]
        assert r["sampling_rate"] == 32 / r["size"] and r["steps"] == 10 * -(-r["size"] // 32) and r["clip_norm"] == 1.0
        assert 0 <= r["epsilon_lower_bound"] < r["epsilon"]
        assert (r["epsilon_lower_bound_attack"] is None) == (r["epsilon_lower_bound"] == 0)
        # the bound recomputes from the published per-record scores (valid: selected on one half)
        with np.load(QUICK / "dp_scores" / f"dp_{r['strength']:g}_{r['size']}.npz") as z:
            prefix = r["scenario"] + "__"
            scores = {k[len(prefix):]: z[k] for k in z.files
                      if k.startswith(prefix) and not k.endswith(("__pred", "__ci95"))}
            member = z["member"]
        again = epsilon_lower_bound(member, scores, r["delta"], seed=meta["seed"])
        assert (again["epsilon_lower_bound"], again["attack"], again["threshold"]) == (
            r["epsilon_lower_bound"], r["epsilon_lower_bound_attack"], r["epsilon_lower_bound_threshold"])


@pytest.mark.parametrize("folder", [QUICK, PAPER], ids=["quick", "paper"])
def test_every_published_threshold_gives_the_published_decisions_from_the_published_scores(folder):
    """In every committed score file ``pred == (score >= threshold)``, and the threshold the JSON publishes
    (one number, or one per class indexed by the record's true class) is the file's threshold."""
    import numpy as np

    from mia_repro.attacks import ATTACKS

    if not (folder / "attacks.json").exists():
        pytest.skip(f"no committed {folder / 'attacks.json'}")
    summary = json.loads((folder / "summary.json").read_text())
    result = json.loads((folder / "attacks.json").read_text())

    def check(s, prefix, published, what):
        score, pred, thr = s[f"{prefix}score"], s[f"{prefix}pred"], s[f"{prefix}threshold"]
        np.testing.assert_array_equal(pred, (score >= thr).astype(pred.dtype), err_msg=what)
        t = np.asarray(published, np.float64)
        np.testing.assert_array_equal(thr, t if t.ndim == 0 else t[s["true_class"]], err_msg=what)
        return int(pred.sum())

    for n, blocks in result["sizes"].items():
        for name in ATTACKS:
            with np.load(folder / "attack_scores" / f"{name}_{n}.npz") as s:
                called = check(s, "", blocks[name]["threshold"], f"{name} n={n}")
                assert called == round(blocks[name]["recall"] * blocks[name]["n_members"]
                                       + (1 - 2 * blocks[name]["balanced_accuracy"] + blocks[name]["recall"])
                                       * blocks[name]["n_nonmembers"]), (name, n)  # TPR·P + FPR·N records called
    for n, block in summary["sizes"].items():
        with np.load(folder / f"attack_scores_{n}.npz") as s:
            check(s, "", block["attack"]["threshold"], f"summary SVM n={n}")
            check(s, "baseline_", block["baseline"]["threshold"], f"summary baseline n={n}")
        # the SVM is evaluated once: attacks.json's shokri_svm block is summary.json's
        for key in ("threshold", "auc", "tpr_at_0.1pct_fpr", "precision", "recall", "per_class"):
            want = block["attack"][key] if key != "per_class" else {
                k: block["attack"]["per_class"][k] for k in result["sizes"][n]["shokri_svm"]["per_class"]}
            assert result["sizes"][n]["shokri_svm"][key] == want, (n, key)


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_stage1_on_the_committed_caches_trains_0_models(profile, monkeypatch):
    """`stage1 --profile quick|paper` on a fresh clone: every committed model file loads by its key and
    content (11+ hours of paper training), none is trained or completed, and no file is rewritten."""
    from mia_repro.experiment import trained
    from mia_repro.experiment.stages.stage1 import run_stage1
    from mia_repro.models.queries import QuerySpec

    cfg = get_config(profile)
    if not cfg.layout.stage1_root.exists():
        pytest.skip(f"no committed {cfg.layout.stage1_root}")

    def never(*a, **k):
        raise AssertionError("a committed model was trained or completed")

    monkeypatch.setattr(trained, "run_units", never)
    monkeypatch.setattr(QuerySpec, "ask", never)
    files = sorted(cfg.layout.stage1_root.rglob("*.npz"))
    before = {p: p.stat().st_mtime_ns for p in files}
    lines = []
    out = run_stage1(cfg, log=lines.append)
    assert sorted(out) == sorted(cfg.sizes) and all(len(o.shadows) == cfg.n_shadows for o in out.values())
    assert sum("nothing trained" in line for line in lines) == len(cfg.sizes), lines
    assert not any("not usable" in line or "trained " in line for line in lines), lines
    assert {p: p.stat().st_mtime_ns for p in files} == before
