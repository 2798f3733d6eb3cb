"""The reference-pool stage: its plan, its models through the per-model cache, its attacks and what it
writes; bad choices refused before any training."""
import dataclasses

import numpy as np
import pytest

from mia_repro.base.cache import load_json, load_npz
from mia_repro.base.errors import ConfigError
from mia_repro.experiment.config import PoolConfig
from mia_repro.experiment.stages.pool import PoolError, load_pool, pool_plan, train_pool
from mia_repro.experiment.stages.pool_attacks import CURVE_ATTACKS, POOL_ATTACKS, run_pool_attacks


def test_the_plan_gives_every_model_a_seeded_half_and_keeps_models_when_more_are_added(tiny_config):
    split, jobs, expects = pool_plan(tiny_config)
    assert len(split.records) == 80 and len(split.population) == 40
    assert not set(split.records) & set(split.population)
    for j in jobs:
        assert len(j.members) == 40 and np.array_equal(np.sort(j.eval_indices), split.records)
    assert len({tuple(j.members) for j in jobs}) == len(jobs)
    more = dataclasses.replace(tiny_config, pool=dataclasses.replace(tiny_config.pool, n_models=6))
    _, jobs6, _ = pool_plan(more)
    assert all(np.array_equal(a.members, b.members) and a.seed == b.seed for a, b in zip(jobs, jobs6))


@pytest.mark.parametrize("change, match", [
    (dict(n_models=1), "pool.n_models: expected an integer >= 2"),
    (dict(n_targets=5), r"pool.n_targets: expected an integer in 1..n_models \(4\)"),
    (dict(n_targets=4), "pool.n_targets: at most n_models - 1"),
    (dict(priors=(0.5, 1.0)), r"pool.priors: expected a non-empty tuple of membership priors in \(0, 1\)"),
    (dict(fpr_levels=(1,)), "pool.fpr_levels"),
    (dict(reference_counts=(0,)), "pool.reference_counts"),
])
def test_a_bad_pool_config_is_one_named_error(change, match):
    with pytest.raises(ConfigError, match=match):
        PoolConfig(**{**dict(size=40, n_models=4, n_targets=2), **change})


def test_a_pool_larger_than_the_data_is_refused_when_the_config_is_made(tiny_config):
    with pytest.raises(ConfigError, match="pool.size: the pool's 2n records and its population sample"):
        dataclasses.replace(tiny_config, pool=dataclasses.replace(tiny_config.pool, size=120))


@pytest.mark.training
def test_the_pool_trains_caches_resumes_and_its_attacks_write_what_they_publish(tiny_config):
    with pytest.raises(PoolError, match="is not trained"):
        load_pool(tiny_config)
    lines = []
    pool = train_pool(tiny_config, log=lines.append)
    assert pool.logits.shape == (4, 80, 10) and pool.member.sum(axis=1).tolist() == [40] * 4
    assert any("trained 4, completed 0, cached 0" in line for line in lines)
    again = []
    np.testing.assert_array_equal(train_pool(tiny_config, log=again.append).logits, pool.logits)
    assert any("trained 0, completed 0, cached 4" in line for line in again)
    doc = run_pool_attacks(tiny_config, pool, log=lambda *_: None)
    assert set(doc["attacks"]) == set(POOL_ATTACKS) and set(doc["curve"]) == set(CURVE_ATTACKS)
    assert list(doc["curve"]["lira_online"]) == ["1", "2", "3"]
    assert doc["strongest"] in POOL_ATTACKS and set(doc["fdr"]) == {"calibrated", "gaussian"}
    assert all(isinstance(w, str) for w in doc["warnings"])
    scores = load_npz(tiny_config.layout.pool_scores)
    for name in POOL_ATTACKS:
        block = doc["attacks"][name]
        assert len(block["per_target"]) == 2
        for t, row in zip(("pool_000", "pool_001"), block["per_target"]):
            s = {k: scores[f"{name}/{t}/{k}"] for k in ("member", "score", "pred", "threshold")}
            np.testing.assert_array_equal(s["pred"], s["score"] >= s["threshold"])  # published decisions
            from sklearn.metrics import roc_auc_score
            assert roc_auc_score(s["member"], s["score"]) == pytest.approx(row["auc"])
    assert load_json(tiny_config.layout.pool_doc)["training"]["models"] == 4
    assert len(doc["worth_at_1pct"]) == len(POOL_ATTACKS)
    # a cached per-target AUC edited and its sidecar recomputed: re-derived from the scores, reported, recomputed
    import json

    from mia_repro.base.cache import seal
    from mia_repro.experiment.stages import pool_attacks

    part = pool_attacks._entry(tiny_config, pool_attacks.fingerprint(pool))["doc"]
    cached = json.loads(part.path.read_text())
    cached["attacks"]["lira_online"]["per_target"][0]["auc"] = 0.99
    part.path.write_text(json.dumps(cached))
    seal(part.path, part.key)
    lines = []
    again = run_pool_attacks(tiny_config, pool, log=lines.append)
    assert any("lira_online on pool_000: its auc 0.99 is not what its scores give" in line for line in lines)
    assert again["attacks"]["lira_online"]["per_target"][0]["auc"] == doc["attacks"]["lira_online"]["per_target"][0]["auc"]

    # an edited FDR call count with its sidecar recomputed: re-derived from the p-values, reported, recomputed
    cached = json.loads(part.path.read_text())
    cached["fdr"]["calibrated"]["q=0.1"]["calls"][0] += 7
    part.path.write_text(json.dumps(cached))
    seal(part.path, part.key)
    lines = []
    third = run_pool_attacks(tiny_config, pool, log=lines.append)
    assert any("fdr q=0.1 on pool_000:" in line and "its p-values give" in line for line in lines), lines
    assert third["fdr"] == doc["fdr"]
    # what the reports and figures read of it: every table and figure draws from these files
    from mia_repro.reporting import pool_plots, pool_tables

    text = pool_tables.markdown_pool(doc)
    assert "| references |" in text and "realized FDR" in text and "`lira_online_global`" in text
    risk = pool_tables.record_risk(scores, doc["strongest"])
    assert risk.index.name == "record id" and set(risk.index) == set(scores["pool_indices"])
    assert risk["mean score IN"].is_monotonic_decreasing or risk["mean score IN"].isna().any()
    assert pool_tables.fdr_table(doc).index.tolist() == [0.01, 0.05, 0.1]
    images = np.zeros((len(pool), 32, 32, 3), np.uint8)
    figs = pool_plots.pool_figures(doc, scores, images, [str(c) for c in range(10)], tiny_config.output_dir)
    assert {"fig_pool_power_curve.png", "fig_pool_flag_rates.png", "fig_pool_gallery.png"} <= set(figs)
