"""The canary audit stage (one-run audit of DP-SGD with white-box canaries) at a tiny size: correct DP-SGD
stays below its claim, broken DP-SGD is caught, every bound recomputes from the published files."""
import dataclasses
import json

import numpy as np
import pytest

from mia_repro.privacy.audit import epsilon_lower_bound
from mia_repro.base.errors import ConfigError
from mia_repro.experiment.stages.canary_audit import ROW_KEYS, audit_settings, run_audit
from mia_repro.experiment.config import AuditConfig
from mia_repro.privacy.ceiling import steinke_cap
from mia_repro.privacy.one_run import one_run_audit
from mia_repro.privacy.one_run_gdp import one_run_gdp_audit


pytestmark = pytest.mark.training  # the module fixture trains the audit models


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    import conftest

    cfg = conftest.tiny_config_in(tmp_path_factory.mktemp("audit"))
    cfg = dataclasses.replace(cfg, n_shadows=1, sizes=(60,), mitigation=dataclasses.replace(cfg.mitigation, sizes=(), aware_sizes=(), aware_shadows=1),
                              model=dataclasses.replace(cfg.model, epochs=5),
                              audit=AuditConfig(size=60, epsilons=(1.0,), canaries=60, blackbox_canaries=60, broken_epsilon=0.5,
                                                noise_seed="model"))
    return cfg, run_audit(cfg, log=quiet)


def test_broken_trainers_are_caught_and_correct_dp_sgd_is_not(audited):
    cfg, rows = audited
    by = {r["label"]: r for r in rows}
    assert list(by) == ["dp_eps1", "no_dp_sigma0", "broken_no_noise_claims_eps0.5", "broken_no_clipping_claims_eps0.5",
                        "broken_realized_batch_claims_eps0.5"]
    assert all(tuple(r) == ROW_KEYS for r in rows)
    ok = by["dp_eps1"]
    assert ok["claimed_epsilon"] == pytest.approx(1.0, abs=0.01) and not ok["exceeds_claim"]
    assert ok["one_run_epsilon_lower_bound"] < ok["claimed_epsilon"] and ok["lr_epsilon_lower_bound"] < 1.0
    for label in ("broken_no_noise_claims_eps0.5", "broken_no_clipping_claims_eps0.5", "broken_realized_batch_claims_eps0.5"):
        b = by[label]
        assert b["claimed_epsilon"] == pytest.approx(0.5, abs=0.005)  # the accountant was told sigma and C
        assert b["noise_multiplier"] > ok["noise_multiplier"] and b["clip_norm"] == 1.0
        assert b["sampling_rate"] == ok["sampling_rate"] and b["steps"] == ok["steps"]
    for label in ("broken_no_noise_claims_eps0.5", "broken_no_clipping_claims_eps0.5"):
        b = by[label]
        assert max(b["one_run_epsilon_lower_bound"], b["lr_epsilon_lower_bound"]) > b["claimed_epsilon"]
        # the flag's own bounds: each at the family's confidence, so never above the bound at 95%
        assert b["flag_confidence"] == pytest.approx(1 - 0.05 / 4)
        assert b["flag_bounds"]["white-box sum"] <= b["one_run_epsilon_lower_bound"]
    # without noise every canary guess is right: caught even at the family's confidence with 60 canaries
    assert by["broken_no_noise_claims_eps0.5"]["exceeds_claim"]
    sigma0 = by["no_dp_sigma0"]
    assert sigma0["claimed_epsilon"] is None and sigma0["noise_multiplier"] == 0.0 and not sigma0["exceeds_claim"]
    assert sigma0["lr_epsilon_lower_bound"] is None and sigma0["ceiling"]["lr"] is None
    assert sigma0["flag_confidence"] == pytest.approx(1 - 0.05 / 3)  # no likelihood ratio at σ = 0


def test_each_audit_model_is_its_own_run_with_a_public_schedule(audited):
    """Every model its own training seed (so its own batches, canaries and noise), and q and the steps from the
    public size (the 60 members: batch 16 of 60, 5 epochs of ceil(60 / 16) = 4 steps), whatever the number of
    black-box canaries drawn in."""
    from mia_repro.experiment.stages.canary_audit import audit_jobs, audit_seed

    cfg, rows = audited
    seeds = [r["seed"] for r in rows]
    assert len(set(seeds)) == len(rows) and seeds == [j.seed for j in audit_jobs(cfg)]
    assert seeds == [audit_seed(cfg.seed, 60, i) for i in range(len(rows))]
    assert all(r["noise_seed"] == "model" and r["public_size"] == 60 for r in rows)
    assert all(r["sampling_rate"] == 16 / 60 and r["steps"] == 20 for r in rows)
    with np.load(cfg.layout.audit_scores) as z:
        coords = [z[f"{r['label']}__included"] for r in rows]
    assert len({c.tobytes() for c in coords}) == len(rows)  # each model its own canaries
    files = sorted(f.name for f in cfg.layout.stage1_root.rglob("audit_*_target-*.npz") if "weights" not in f.parts)
    assert [f.split("-")[0] for f in files] == sorted(f"audit_{r['label']}_target" for r in rows)


def test_every_bound_recomputes_from_the_published_files(audited):
    cfg, rows = audited
    doc = json.loads(cfg.layout.audit.read_text())
    assert doc["rows"] == json.loads(json.dumps(rows)) and doc["audit"]["canaries"] == 60
    with np.load(cfg.layout.audit_scores) as z:
        arrays = {k: z[k] for k in z.files}
    for r in rows:
        inc, score = arrays[f"{r['label']}__included"], arrays[f"{r['label']}__canary_score"]
        assert inc.dtype == bool and inc.shape == (60,) and int(inc.sum()) == r["canaries_included"]
        one = one_run_audit(inc, score, r["delta"], 0.95)
        assert one["epsilon_lower_bound"] == r["one_run_epsilon_lower_bound"]
        assert (one["correct"], one["guesses"]) == (r["one_run_correct"], r["one_run_guesses"])
        gdp = one_run_gdp_audit(inc, score, r["delta"], 0.95)
        assert (gdp["mu_lower_bound"], gdp["epsilon_estimate"]) == (r["gdp_mu_lower_bound"], r["gdp_epsilon_estimate"])
        if r["noise_multiplier"] > 0:
            lr = arrays[f"{r['label']}__lr_score"]
            assert one_run_audit(inc, lr, r["delta"], 0.95)["epsilon_lower_bound"] == r["lr_epsilon_lower_bound"]
            assert one_run_gdp_audit(inc, lr, r["delta"], 0.95)["mu_lower_bound"] == r["lr_gdp_mu_lower_bound"]
        else:
            assert f"{r['label']}__lr_score" not in arrays
        assert r["epsilon_cap"] == steinke_cap(60, r["delta"], 0.95, int(inc.sum()))
        if r["claimed_epsilon"] is not None:
            family = r["flag_confidence"]
            flag = {"white-box sum": one_run_audit(inc, score, r["delta"], family)["epsilon_lower_bound"],
                    "white-box likelihood ratio": one_run_audit(inc, lr, r["delta"], family)["epsilon_lower_bound"],
                    "black-box": one_run_audit(arrays[f"{r['label']}__bb_included"], arrays[f"{r['label']}__bb_score"],
                                               r["delta"], family)["epsilon_lower_bound"],
                    "natural records": epsilon_lower_bound(arrays[f"{r['label']}__member"],
                                                           arrays[f"{r['label']}__loss_score"], r["delta"], family,
                                                           seed=cfg.seed)["epsilon_lower_bound"]}
            assert flag == r["flag_bounds"] and r["exceeds_claim"] == (max(flag.values()) > r["claimed_epsilon"])
        bb_inc, bb_score = arrays[f"{r['label']}__bb_included"], arrays[f"{r['label']}__bb_score"]
        assert bb_inc.shape == bb_score.shape == (60,) and r["blackbox_canaries"] == 60
        black = one_run_audit(bb_inc, bb_score, r["delta"], 0.95)
        assert (black["epsilon_lower_bound"], black["correct"], black["guesses"]) == (
            r["blackbox_epsilon_lower_bound"], r["blackbox_correct"], r["blackbox_guesses"])
        nat = epsilon_lower_bound(arrays[f"{r['label']}__member"], arrays[f"{r['label']}__loss_score"], r["delta"],
                                  seed=cfg.seed)
        assert nat["epsilon_lower_bound"] == r["natural_epsilon_lower_bound"]


def test_black_box_canaries_are_outside_the_target_records_and_mislabelled(audited):
    """The black-box canaries of every model: 60 records outside the target's 120, each with a label other than
    its own; the included ones joined the training set (the accountant's q is on the members alone: the count
    drawn in is secret)."""
    from mia_repro.experiment.plan import load_data, size_jobs, size_splits
    from mia_repro.experiment.outputs import ModelOutputs

    cfg, rows = audited
    _, y = load_data(cfg)
    job = size_jobs(size_splits(cfg, 60), cfg.seed, 0)[0]
    files = [f for f in cfg.layout.stage1_root.rglob("audit_*_target-*.npz") if "weights" not in f.parts]
    assert len(files) == len(rows)
    for f in files:
        t = json.loads(str(np.load(f)["trained_on"]))
        bb = t["blackbox_canaries"]
        idx, labels, inc = np.array(bb["indices"]), np.array(bb["labels"]), np.array(bb["included"])
        assert len(idx) == 60 and not np.intersect1d(idx, job.eval_indices).size
        assert (labels != y[idx]).all()
        assert inc.any() and t["dp"]["sampling_rate"] == 16 / 60


def test_a_rerun_trains_nothing_and_gives_the_same_rows(audited):
    cfg, rows = audited
    files = sorted(cfg.layout.stage1_root.rglob("*.npz"))
    stamps = {f: f.stat().st_mtime_ns for f in files}
    lines = []
    again = run_audit(cfg, log=lines.append)
    assert again == rows and sorted(cfg.layout.stage1_root.rglob("*.npz")) == files
    # every model file used as it is: the σ = 0 model's ε = ∞ is its complete DP record, not a damaged one
    assert not any("not usable" in line for line in lines), lines
    assert not any("simulating" in line for line in lines), lines  # every ceiling from the store
    assert {f: f.stat().st_mtime_ns for f in files} == stamps


def test_the_white_box_canaries_score_what_dp_sgd_released(audited):
    """Without noise (the broken no_noise trainer) an included canary's score is C times the steps that sampled
    it plus the data's gradient at its coordinate: every included canary that was sampled scores above every
    canary left out, up to the data's share."""
    cfg, _ = audited
    with np.load(cfg.layout.audit_scores) as z:
        inc, score = z["broken_no_noise_claims_eps0.5__included"], z["broken_no_noise_claims_eps0.5__canary_score"]
    assert np.median(score[inc]) > 1.0 > np.abs(np.median(score[~inc]))


def test_bad_audit_settings_are_named():
    with pytest.raises(ConfigError, match="audit.canaries: expected an integer in 1..size"):
        AuditConfig(size=100, canaries=101)
    with pytest.raises(ConfigError, match="audit.confidence"):
        AuditConfig(confidence=1.0)
    with pytest.raises(ConfigError, match="audit.broken"):
        AuditConfig(broken=("no_accounting",))
    with pytest.raises(ConfigError, match="audit.noise_seed"):
        AuditConfig(noise_seed="public")
    from mia_repro.models.config import DPConfig

    with pytest.raises(ConfigError, match="dp.clip_norm: expected a positive finite number"):
        DPConfig(noise_multiplier=0.0, clip_norm=float("inf"))
    with pytest.raises(ConfigError, match="dp.broken: a broken trainer exists to test the audit"):
        DPConfig(target_epsilon=1.0, broken="no_noise")
    labels = [label for label, _ in audit_settings(__import__("mia_repro.experiment.profiles", fromlist=["x"]).get_config("quick"))]
    assert labels == ["dp_eps1", "dp_eps2", "dp_eps4", "dp_eps8", "no_dp_sigma0", "broken_no_noise_claims_eps2",
                      "broken_no_clipping_claims_eps2", "broken_realized_batch_claims_eps2"]
    with pytest.raises(ConfigError, match="audit.ceiling_trials"):
        AuditConfig(ceiling_trials=5)


@pytest.mark.parametrize("field, value, says", [
    ("epsilon", 50.0, "epsilon 50.0 (the accountant gives"),
    ("noise_multiplier", 0.2, "not the target ε "),
    ("steps", 1, "q "),
])
def test_an_edited_dp_record_with_a_recomputed_digest_is_refused_naming_the_file(audited, tmp_path, field, value,
                                                                                  says):
    """The probe: an audit model's file claims ε 50 beside its σ (or another σ, or other steps), its digest
    recomputed.  ε is re-derived by the accountant from σ, q and steps, and those from the configuration:
    one error naming the file, nothing published."""
    import shutil

    from mia_repro.base.cache import load_npz, save_npz, sidecar
    from mia_repro.experiment.stages.canary_audit import AuditError

    cfg, _ = audited
    shutil.copytree(cfg.output_dir, tmp_path / "r")
    cfg = dataclasses.replace(cfg, results_dir=str(tmp_path / "r"))
    before = cfg.layout.audit.read_text()
    path = next(f for f in cfg.layout.stage1_root.rglob("audit_*_target-*.npz")
                if "weights" not in f.parts and json.loads(str(np.load(f)["trained_on"])).get("dp", {}).get(
                    "noise_multiplier", 0) > 0 and "canaries" in json.loads(str(np.load(f)["trained_on"])))
    arrays = load_npz(path)
    record = json.loads(str(arrays["trained_on"]))
    record["dp"][field] = value
    arrays["trained_on"] = np.array(json.dumps(record))
    save_npz(path, key=json.loads(sidecar(path).read_text())["key"], **arrays)
    with pytest.raises(AuditError, match="the DP record of its model file") as err:
        run_audit(cfg, log=quiet)
    assert str(path) in str(err.value) and says in str(err.value)
    assert cfg.layout.audit.read_text() == before


def test_nan_canary_scores_name_the_model_the_file_and_the_fix(audited, tmp_path):
    import shutil

    from mia_repro.base.cache import load_npz, save_npz, sidecar
    from mia_repro.experiment.stages.canary_audit import AuditError

    cfg, _ = audited
    shutil.copytree(cfg.output_dir, tmp_path / "r")
    cfg = dataclasses.replace(cfg, results_dir=str(tmp_path / "r"))
    path = next(f for f in cfg.layout.stage1_root.rglob("audit_*_target-*.npz")
                if "weights" not in f.parts and "canaries" in json.loads(str(np.load(f)["trained_on"])))
    arrays = load_npz(path)
    record = json.loads(str(arrays["trained_on"]))
    record["canaries"]["score"][3] = float("nan")
    arrays["trained_on"] = np.array(json.dumps(record))
    save_npz(path, key=json.loads(sidecar(path).read_text())["key"], **arrays)
    with pytest.raises(AuditError, match=r"1 of its 60 white-box canary scores are NaN or infinite in its model file "
                                         r".*delete the file and rerun `python -m mia_repro audit") as err:
        run_audit(cfg, log=quiet)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("edit, says", [
    (lambda rec: rec.update(lr_score=rec["lr_score"][:-1]), "59 likelihood-ratio scores for 60 canaries"),
    (lambda rec: rec.update(lr_score=None), "has no likelihood-ratio score at σ = "),
])
def test_a_damaged_likelihood_ratio_record_names_the_file_and_the_fix(audited, tmp_path, edit, says):
    import shutil

    from mia_repro.base.cache import load_npz, save_npz, sidecar
    from mia_repro.experiment.stages.canary_audit import AuditError

    cfg, _ = audited
    shutil.copytree(cfg.output_dir, tmp_path / "r")
    cfg = dataclasses.replace(cfg, results_dir=str(tmp_path / "r"))
    before = cfg.layout.audit.read_text()
    path = next(f for f in cfg.layout.stage1_root.rglob("audit_dp_eps1_target-*.npz") if "weights" not in f.parts)
    arrays = load_npz(path)
    record = json.loads(str(arrays["trained_on"]))
    edit(record["canaries"])
    arrays["trained_on"] = np.array(json.dumps(record))
    save_npz(path, key=json.loads(sidecar(path).read_text())["key"], **arrays)
    with pytest.raises(AuditError, match="rerun `python -m mia_repro audit") as err:
        run_audit(cfg, log=quiet)
    assert str(path) in str(err.value) and says in str(err.value)
    assert cfg.layout.audit.read_text() == before  # nothing published
