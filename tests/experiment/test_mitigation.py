import dataclasses
import json
import shutil

import numpy as np

import pytest

from mia_repro.experiment.stages import mitigation as mit
from mia_repro.experiment.stages.mitigation_rows import DP_KEYS, RECORD_KEYS, record_keys
from mia_repro.experiment.stages.mitigation import run_mitigation, settings
from mia_repro.experiment.stages.stage1 import Stage1Error


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def swept(tiny_run, tmp_path_factory):
    """Stage I, Stage II and the mitigation sweep on the tiny config (the session's run, copied; read only)."""
    import conftest

    cfg = conftest.copy_of_tiny_run(tiny_run, tmp_path_factory.mktemp("mit"))
    return cfg, run_mitigation(cfg, log=quiet)  # the session's sweep, read back from its files


@pytest.fixture
def mitigated(swept, tmp_path):
    """The module's sweep in a private copy of its results folder, for tests that rerun or damage it."""
    cfg, rows = swept
    shutil.copytree(cfg.output_dir, tmp_path / "results")
    return dataclasses.replace(cfg, results_dir=str(tmp_path / "results")), rows


def test_mitigation_records_have_exactly_the_contract_keys(swept):
    cfg, rows = swept
    on_disk = json.loads((cfg.output_dir / "mitigation.json").read_text())
    assert on_disk == json.loads(json.dumps(rows))
    assert all(tuple(r) == (RECORD_KEYS + DP_KEYS if r["defense"] == "dp" else RECORD_KEYS) for r in on_disk)
    assert record_keys("l2") == RECORD_KEYS
    seen = {(r["defense"], r["strength"], r["scenario"]) for r in on_disk}
    for defense, strength in settings(cfg):
        assert (defense, float(strength), "unaware") in seen
        assert (defense, float(strength), "aware") in seen  # size 30 is in aware_sizes
    assert {r["defense"] for r in on_disk} == {"none", "l2", "dropout", "topk", "rounding", "temperature", "dp"}
    meta = json.loads((cfg.output_dir / "mitigation_meta.json").read_text())
    assert meta["profile"] == "test" and len(meta["threshold_baseline"]) == len(on_disk)
    assert not (cfg.output_dir / "fig_privacy_utility.png").exists()  # the stage computes; reporting draws
    from mia_repro.reporting import figures
    from mia_repro.reporting import mitigation_plots

    figures.mitigation(cfg)
    for name in (*mitigation_plots.MITIGATION_FIGURES, *mitigation_plots.DP_FIGURES):
        assert (cfg.output_dir / name).stat().st_size > 10_000


def test_unaware_undefended_row_equals_stage2(swept):
    cfg, rows = swept
    summary = json.loads((cfg.output_dir / "summary.json").read_text())
    none = [r for r in rows if r["defense"] == "none" and r["scenario"] == "unaware"][0]
    assert none["auc"] == pytest.approx(summary["sizes"]["30"]["attack"]["auc"])
    assert none["target_test_acc"] == pytest.approx(summary["sizes"]["30"]["target"]["test_acc"])


def test_regularized_models_are_trained_and_cached(mitigated, monkeypatch):
    cfg, _ = mitigated
    files = {p.name.split("-")[0] for p in (cfg.output_dir / "stage1" / "n30").glob("*.npz")}
    assert files == {"target", "shadow_00", "shadow_01"}
    n_models = len(list((cfg.output_dir / "stage1" / "n30").glob("*.npz")))
    assert n_models == 4 * 3  # plain + l2 + dropout + dp, each target and 2 aware shadows

    def boom(*a, **k):
        raise AssertionError("a cached setting was evaluated again")

    monkeypatch.setattr(mit, "_evaluate_setting", boom)
    again = run_mitigation(cfg, log=quiet)
    assert len(list((cfg.output_dir / "stage1" / "n30").glob("*.npz"))) == n_models
    assert again == json.loads((cfg.output_dir / "mitigation.json").read_text())


def test_mitigation_size_must_be_a_profile_size(tiny_config):
    cfg = tiny_config.__class__(**{**tiny_config.__dict__, "sizes": (40,)})
    with pytest.raises(Stage1Error, match="not among"):
        run_mitigation(cfg, log=quiet)


def test_damaged_mitigation_cache_entry_is_recomputed(mitigated):
    cfg, rows = mitigated
    damaged = sorted((cfg.output_dir / "mitigation").glob("*.json"))[0]
    damaged.write_text("[{")
    lines = []
    again = run_mitigation(cfg, log=lines.append)
    assert any(str(damaged) in line and "recomputing" in line for line in lines)
    assert again == json.loads(json.dumps(rows))


def test_todays_attacks_run_on_the_trained_defenses_with_each_scenarios_reference_models(swept):
    from mia_repro.attacks import ATTACKS

    cfg, rows = swept
    meta = json.loads((cfg.output_dir / "mitigation_meta.json").read_text())
    compared = meta["attack_comparison"]
    names = set(ATTACKS) - {"shokri_svm"}
    by = {(r["defense"], r["strength"], r["scenario"], r["attack"]): r for r in compared}
    # L2 / dropout / undefended, both attackers, every attack but the SVM; no output-side defense
    want = {(d, float(s), sc, a) for d, s in settings(cfg) if d in ("none", "l2", "dropout", "dp")
            for sc in ("unaware", "aware") for a in names}
    assert set(by) == want and len(compared) == len(want)
    for r in compared:
        assert 0 <= r["auc"] <= 1 and 0 <= r["tpr_at_0.1pct_fpr"] <= 1 and r["n_nonmembers"] == 30
    # undefended: the aware attacker is the unaware one; defended: other reference models, other scores
    def metrics(key):
        return {k: v for k, v in by[key].items() if k != "scenario"}

    for a in names:
        assert metrics(("none", 0.0, "aware", a)) == metrics(("none", 0.0, "unaware", a))
    assert any(metrics(("l2", 1e-3, "aware", a)) != metrics(("l2", 1e-3, "unaware", a))
               for a in ("lira_offline", "rmia_offline"))


def test_the_trained_defense_tables_show_both_attackers(swept):
    from mia_repro.reporting import mitigation_tables

    cfg, rows = swept
    meta = json.loads((cfg.output_dir / "mitigation_meta.json").read_text())
    table = mitigation_tables.mitigation_attacks_table(meta)
    assert list(table[["defense", "strength"]].itertuples(index=False, name=None)) == [
        ("none", "0"), ("l2", "0.001"), ("dropout", "0.5"), ("dp", "8")]
    assert {"lira_offline TPR@0.1% (aware)", "rmia_offline AUC (unaware)"} <= set(table.columns)
    md = mitigation_tables.markdown_mitigation_attacks(rows, meta).splitlines()
    assert len(md) == 2 + 4 and md[3].startswith("| 30 | l2 | 0.001 | ")
    l2 = {r["scenario"]: r for r in rows if r["defense"] == "l2"}
    assert f"{l2['aware']['auc']:.3f} / {l2['unaware']['auc']:.3f}" in md[3]


def test_dp_rows_record_the_schedule_both_epsilons_and_the_audit(swept):
    from mia_repro.privacy.audit import epsilon_lower_bound
    from mia_repro.privacy.accounting import epsilon_pld, epsilon_rdp

    cfg, rows = swept
    meta = json.loads((cfg.output_dir / "mitigation_meta.json").read_text())
    dp = [r for r in rows if r["defense"] == "dp"]
    assert [(r["strength"], r["scenario"]) for r in dp] == [(8.0, "unaware"), (8.0, "aware")]
    for r in dp:
        # what the row records recomputes with dp-accounting
        sched = (r["noise_multiplier"], r["sampling_rate"], r["steps"], r["delta"])
        assert r["epsilon"] == epsilon_rdp(*sched) and r["epsilon_pld"] == epsilon_pld(*sched)
        assert r["epsilon"] == pytest.approx(8.0, abs=0.01) and r["clip_norm"] == 1.0 and r["delta"] == 1e-5
        assert r["sampling_rate"] == 16 / 30 and r["steps"] == 2  # batch 16 of 30 members, 1 epoch
        # the audit: one valid bound over the SVM, the baseline and every compared attack, recomputed from
        # the published per-record scores (selection on one half, the bound on the other)
        compared = [c for c in meta["attack_comparison"] if c["defense"] == "dp" and c["scenario"] == r["scenario"]]
        thr = [t for t in meta["threshold_baseline"] if t["defense"] == "dp" and t["scenario"] == r["scenario"]][0]
        assert thr["epsilon_lower_bound"] == r["epsilon_lower_bound"]
        assert all("_scores" not in c for c in compared) and "_scores" not in r
        with np.load(cfg.layout.dp_scores(30, 8.0)) as z:
            arrays = {k: z[k] for k in z.files}
        prefix = r["scenario"] + "__"
        scores = {k[len(prefix):]: v for k, v in arrays.items()
                  if k.startswith(prefix) and not k.endswith(("__pred", "__ci95"))}
        assert dict(zip(mit.SCHEDULE_INPUTS, arrays["schedule"])) == {k: r[k] for k in mit.SCHEDULE_INPUTS}
        assert set(scores) == {"shokri_svm", "confidence_threshold_baseline"} | {c["attack"] for c in compared}
        again = epsilon_lower_bound(arrays["member"], scores, r["delta"], seed=cfg.seed)
        assert again["epsilon_lower_bound"] == r["epsilon_lower_bound"]
        assert (again["attack"], again["threshold"], again["direction"]) == (
            r["epsilon_lower_bound_attack"], r["epsilon_lower_bound_threshold"], r["epsilon_lower_bound_direction"])
        for c in compared:  # each attack's own valid bound
            assert c["epsilon_lower_bound"] == epsilon_lower_bound(arrays["member"], scores[c["attack"]], r["delta"],
                                                                   seed=cfg.seed)["epsilon_lower_bound"]
        assert 0 <= r["epsilon_lower_bound"] < r["epsilon"]  # 30 members cannot prove much
    # the unaware attacker's reference models are the plain shadows, the aware one's the DP shadows
    files = sorted((cfg.output_dir / "stage1" / "n30").glob("*.npz"))
    dp_files = [f for f in files if "dp-sgd" in str(np.load(f, allow_pickle=False)["trainer"])]
    assert len(dp_files) == 3
    recorded = json.loads(str(np.load(dp_files[0])["trained_on"]))["dp"]
    assert recorded["epsilon"] == dp[0]["epsilon"] and recorded["noise_multiplier"] == dp[0]["noise_multiplier"]


def test_dp_without_the_aware_attacker_still_records_schedule_and_audit(mitigated):
    """dp_aware off (as at quick's n = 5,000, outside aware_sizes): one unaware row per target epsilon, with
    every DP key; the DP target is the cached one (nothing retrained)."""
    cfg, _ = mitigated
    cfg = dataclasses.replace(cfg, mitigation=dataclasses.replace(cfg.mitigation, dp_aware=False))
    before = len(list((cfg.output_dir / "stage1" / "n30").glob("*.npz")))
    rows = run_mitigation(cfg, log=quiet)
    dp = [r for r in rows if r["defense"] == "dp"]
    assert [r["scenario"] for r in dp] == ["unaware"] and tuple(dp[0]) == RECORD_KEYS + DP_KEYS
    assert "_scores" not in dp[0] and dp[0]["epsilon"] == pytest.approx(8.0, abs=0.01)
    assert len(list((cfg.output_dir / "stage1" / "n30").glob("*.npz"))) == before


def _forge(cfg, size, defense, strength, edit):
    """The probe's forgery: a setting's cached rows edited by ``edit`` and their digest sidecar recomputed."""
    from mia_repro.base.cache import seal
    from mia_repro.experiment.stages.stage1 import load_stage1

    part = mit._setting_entry(cfg, size, defense, strength, load_stage1(cfg)[size].fingerprint())["rows"]
    cached = json.loads(part.path.read_text())
    edit(cached)
    part.path.write_text(json.dumps(cached))
    seal(part.path, part.key)
    return part.path


def test_an_edited_dp_row_with_a_recomputed_digest_is_not_published(mitigated):
    """A cached DP row's ε set from 8 to 0.1 beside its σ, the sidecar recomputed. Its ε is re-derived by the
    accountant from the schedule in the setting's score file before publishing: reported, recomputed."""
    cfg, rows = mitigated
    path = _forge(cfg, 30, "dp", 8.0, lambda c: c[0]["svm"].update(epsilon=0.1))
    lines = []
    again = run_mitigation(cfg, log=lines.append)
    assert any(str(path) in line and "rows[0].svm.epsilon is not what its score file gives" in line
               for line in lines), "\n".join(lines)
    dp = [r for r in again if r["defense"] == "dp"]
    assert dp[0]["epsilon"] == pytest.approx(8.0, abs=0.01) and dp == [r for r in rows if r["defense"] == "dp"]


@pytest.mark.parametrize("defense, strength, part, key", [
    ("l2", 1e-3, "svm", "auc"), ("dropout", 0.5, "threshold", "precision"), ("topk", 1, "svm", "auc"),
    ("rounding", 1, "svm", "tpr_at_0.1pct_fpr_ci95"), ("temperature", 5.0, "threshold", "target_test_acc"),
    ("none", 0.0, "attacks", "auc")])
def test_a_forged_non_dp_row_with_a_recomputed_digest_is_not_published(mitigated, defense, strength, part, key):
    """The probe's forgery of a non-DP setting (L2, dropout, output defenses, none): a row's AUC (or another
    number) set to 0.99, its digest recomputed.  Re-derived from the setting's score file: the log names the
    file and the number, the setting is recomputed, and what is published is what the sweep gave before."""
    cfg, rows = mitigated
    _, meta = mit.load_mitigation(cfg)

    def edit(cached):
        target = cached[0][part] if part != "attacks" else cached[0]["attacks"]["lira_offline"]
        target[key] = [0.9, 0.99] if key.endswith("ci95") else 0.99

    path = _forge(cfg, 30, defense, strength, edit)
    lines = []
    again = run_mitigation(cfg, log=lines.append)
    name = "attacks.lira_offline" if part == "attacks" else part
    assert any(str(path) in line and f"rows[0].{name}.{key}" in line and "is not what its score file gives" in line
               and "recomputing" in line for line in lines), "\n".join(lines)
    assert again == json.loads(json.dumps(rows))
    assert mit.load_mitigation(cfg)[1]["attack_comparison"] == meta["attack_comparison"]


def test_every_published_row_is_what_its_score_file_gives(swept):
    """mitigation.json and the meta's baseline and compared rows are :func:`derive_rows` of each setting's
    score file; the score file holds every scenario's scores, decisions and intervals."""
    from mia_repro.experiment.stages.stage1 import load_stage1

    cfg, rows = swept
    _, meta = mit.load_mitigation(cfg)
    fingerprint = load_stage1(cfg)[30].fingerprint()
    for defense, strength in settings(cfg):
        parts = mit._setting_entry(cfg, 30, defense, strength, fingerprint)
        derived = mit.derive_rows(cfg, 30, defense, strength, parts["scores"].load())
        mine = [r for r in rows if (r["defense"], r["strength"]) == (defense, float(strength))]
        assert json.loads(json.dumps(mine)) == json.loads(json.dumps([d["svm"] for d in derived]))
        base = [r for r in meta["threshold_baseline"] if (r["defense"], r["strength"]) == (defense, float(strength))]
        assert json.loads(json.dumps(base)) == json.loads(json.dumps([d["threshold"] for d in derived]))
        for d in derived:
            for name, m in (d["attacks"] or {}).items():
                row = [c for c in meta["attack_comparison"] if (c["defense"], c["strength"], c["scenario"], c["attack"])
                       == (defense, float(strength), d["scenario"], name)]
                assert len(row) == 1 and json.loads(json.dumps(m)) == {
                    k: v for k, v in row[0].items() if k not in ("defense", "strength", "size", "scenario", "attack")}
