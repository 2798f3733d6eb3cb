"""The attacks on the reference pool: leave-one-out over ``n_targets`` pool models, the power curve over the
number of references, per-record reproducibility, precision at membership priors and the members called at a
false-discovery rate (:mod:`mia_repro.evaluation.pool`), written to ``pool.json`` and one score file per attack
and target.

The attacks (:data:`POOL_ATTACKS`): LiRA online and offline with a global variance (the rule for pools of
fewer than 64 references: ``variance="auto"`` picks it there) and, beside them, with per-record variances;
RMIA online and offline with the signal's temperature chosen on the attacker's simulation and with the
paper's signal; the calibrated loss, the global loss threshold and Shokri's per-class SVMs with
``svm_shadows`` reference models as shadows (fit once, on pool models that are never a target).  The power
curve runs the LiRAs and RMIAs (:data:`CURVE_ATTACKS`).  The score file also holds, per target, the
records' p-values of "not a member" (``pvalue/<target>``) and the record ids (``pool_indices``, dataset
indices), so that per-record risk is read by record.  Cached in the store, keyed by the pool's content, the
config and the version.
"""
from __future__ import annotations

import time

import numpy as np

from mia_repro.experiment.lock import exclusive
from mia_repro.attacks import registry
from mia_repro.attacks import new_attack
from mia_repro.base.cache import copy_file, save_json
from mia_repro.evaluation.evaluate import BOOTSTRAP
from mia_repro.evaluation.results import SCORE_ARRAYS, jsonable
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.keys import to_dict
from mia_repro.experiment.keys import config_key
from mia_repro.experiment.stages.pool import load_pool, pool_plan
from mia_repro.experiment.provenance import NOT_RECORDED, versions
from mia_repro.experiment.store import Part, get_or_compute
from mia_repro.evaluation.metrics import FPR_LEVELS, Metric
from mia_repro.evaluation.pool import (
    fdr_check, fdr_members, leave_one_out, out_pvalues, power_curve, precision_at_priors, reproducibility, summarize
)
from mia_repro.views.pool import ReferencePool
from mia_repro.training import machine_info

POOL_VERSION = 2  # 2: no zero fallback for a missing side, sigma 1 without degrees of freedom, tuned RMIA, the
#                   two-way bootstrap of the PPV intervals, the FDR calls and p-values
#: the attacks, the recommended variant of each family before the one beside it
POOL_ATTACKS = registry.names("pool")
#: the attacks of the power curve
CURVE_ATTACKS = registry.names("curve")
#: the false-discovery rates of the FDR calls
FDR_LEVELS = (0.01, 0.05, 0.1)
METRICS = (Metric.AUC, Metric.TPR_AT_1PCT_FPR, Metric.TPR_AT_0_1PCT_FPR, Metric.PRECISION, Metric.RECALL)


def fingerprint(pool: ReferencePool) -> str:
    """A short hash of the pool's outputs and masks (the attacks' cache is keyed by it)."""
    import hashlib

    h = hashlib.sha256()
    for arr in (pool.logits, pool.member, pool.true_class, pool.pop_logits, pool.pop_true_class):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:12]


def evaluate_pool(cfg: ExperimentConfig, pool: ReferencePool, log=print) -> tuple[dict, dict]:
    """``(document, score arrays)``: every number of ``pool.json`` and ``{"<attack>/<target>/<array>": ...}``."""
    rp = cfg.pool
    targets = list(range(rp.n_targets))
    svm_models = list(range(rp.n_models - rp.svm_shadows, rp.n_models))
    svm = new_attack("shokri_svm", cfg.attack, cfg.seed)
    log(f"  Shokri's SVMs on {len(svm_models)} pool models as shadows ({pool.names[svm_models[0]]}.."
        f"{pool.names[svm_models[-1]]}), fit once")
    svm.fit(pool.view(targets[0], references=svm_models))  # learns from the shadows' own records only
    attacks = {name: new_attack(name, cfg.attack, cfg.seed) for name in POOL_ATTACKS if name != "shokri_svm"}
    log(f"  leave-one-out over {len(targets)} targets, {rp.n_models - 1} references each")
    loo = leave_one_out(pool, attacks, targets, rp.sim_targets, rp.fpr_levels, cfg.seed, BOOTSTRAP,
                        fitted={"shokri_svm": (svm, svm_models)}, log=log)
    log(f"  power curve over {list(rp.curve_counts)} references")
    curve_regimes: dict = {}
    curve = power_curve(pool, {n: new_attack(n) for n in CURVE_ATTACKS}, targets, rp.curve_counts, rp.sim_targets,
                        cfg.seed, log=log, regimes=curve_regimes)
    member = pool.member[targets]
    arrays, attacks_doc = {}, {}
    for name, rows in loo.items():
        res = [r["result"] for r in rows]
        block = {"label": getattr(attacks.get(name), "long_label", "") or res[0].label, "paper": res[0].paper, "params": res[0].params,
                 "per_target": [{"target": pool.names[t], **{k: _metric(r, k) for k in METRICS},
                                 "threshold": r.threshold, "info": r.info} for t, r in zip(targets, res)],
                 **{k: summarize([_metric(r, k) for r in res]) for k in METRICS}}
        block["reproducibility"], block["precision"] = {}, {}
        for alpha in rp.fpr_levels:
            flags = np.stack([r["flags"][alpha][1] for r in rows])
            rep = reproducibility(flags, member)
            key = f"fpr={alpha:g}"
            block["reproducibility"][key] = {k: v for k, v in rep.items() if not isinstance(v, np.ndarray)}
            block["reproducibility"][key]["thresholds"] = [float(r["flags"][alpha][0]) for r in rows]
            block["reproducibility"][key]["realized_fpr"] = summarize(
                [float(f[~m].mean()) for f, m in zip(flags, member)])
            arrays[f"{name}/in_rate@{key}"] = rep["in_rate"]
            arrays[f"{name}/out_rate@{key}"] = rep["out_rate"]
            oracle = [r.metrics.tpr(alpha) if alpha in (0.01, 0.001) else np.nan for r in res]
            block["precision"][key] = jsonable(precision_at_priors(flags, member, oracle, alpha, rp.priors, cfg.seed))
        for t, r in zip(targets, res):
            for k in SCORE_ARRAYS:
                arrays[f"{name}/{pool.names[t]}/{k}"] = r.scores[k]
        attacks_doc[name] = block
    arrays["n_in"] = member.sum(axis=0).astype(np.int64)
    arrays["pool_indices"] = np.asarray(pool.indices if pool.indices is not None else np.arange(len(pool)))
    arrays["true_class"] = pool.true_class
    log(f"  members at a false-discovery rate: BH over per-record p-values, q in {list(FDR_LEVELS)}")
    fdr = {"calibrated": fdr_check(pool, targets, FDR_LEVELS, rp.sim_targets, cfg.seed, calibrated=True),
           "gaussian": fdr_check(pool, targets, FDR_LEVELS, rp.sim_targets, cfg.seed, calibrated=False)}
    for t in targets:
        arrays[f"pvalue/{pool.names[t]}"] = out_pvalues(pool.view(t, sim_targets=rp.sim_targets, seed=cfg.seed))
    doc = {"attacks": attacks_doc,
           "curve": {name: {str(r): {k: summarize(v) for k, v in row.items()} for r, row in by_r.items()}
                     for name, by_r in curve.items()},
           "warnings": regime_warnings(attacks_doc, curve_regimes),
           "fdr": fdr, "strongest": strongest(attacks_doc),
           "worth_at_1pct": worth_lines(attacks_doc, rp)}
    return jsonable(doc), arrays


def strongest(attacks_doc: dict) -> str:
    """The attack with the largest mean TPR at 0.1% FPR over the targets (the gallery's and the flag rates')."""
    return max(attacks_doc, key=lambda n: attacks_doc[n][Metric.TPR_AT_0_1PCT_FPR]["mean"])


def regime_warnings(attacks_doc: dict, curve_regimes: dict) -> list[str]:
    """One line per attack that ran where it is known to be unreliable (its ``info_["warning"]``): on the
    leave-one-out targets, and at each reference count of the power curve."""
    lines = []
    for name, block in attacks_doc.items():
        warned = {t["info"].get("warning") for t in block["per_target"]} - {None}
        lines += [f"leave-one-out: {w}" for w in sorted(warned)]
    for name, by_r in curve_regimes.items():
        counts = [r for r, w in by_r.items() if w]
        if counts:
            lines.append(f"power curve: {name} at {', '.join(map(str, counts))} references: per-record variances "
                         f"from fewer than 16 references per record (unreliable; the global variance is the rule "
                         f"there)")
    return lines


def _metric(r, key: str) -> float:
    m = r.metrics
    if key in FPR_LEVELS:
        return float(m.tpr(FPR_LEVELS[key]))
    return float(getattr(m, key))


def worth_lines(attacks_doc: dict, rp) -> list[str]:
    """One line per attack: what a "member" call is worth when 1% of the queried records are members."""
    alpha = min(rp.fpr_levels, key=lambda a: abs(a - 0.001))
    key = f"fpr={alpha:g}"
    lines = []
    for name, block in attacks_doc.items():
        p = block["precision"][key]
        pi = min(p["priors"], key=lambda k: abs(float(k) - 0.01))
        at = p["priors"][pi]
        lines.append(f"{name}: at a {float(pi):.0%} membership prior and a threshold set on the references for "
                     f"{alpha:.1%} FPR, a 'member' call is right {at['ppv']:.1%} of the time "
                     f"(95% interval {at['ci95'][0]:.1%}-{at['ci95'][1]:.1%}; oracle threshold {at['oracle_ppv']:.1%}); "
                     f"it calls {p['tpr']:.1%} of members and {p['fpr']:.2%} of non-members")
    return lines


def _entry(cfg: ExperimentConfig, fp: str) -> dict[str, Part]:
    key = config_key(POOL_VERSION, cfg.pool, cfg.attack, cfg.model, cfg.seed, BOOTSTRAP, POOL_ATTACKS, CURVE_ATTACKS,
                     FDR_LEVELS, fp)
    layout = cfg.layout
    return {"scores": Part(layout.pool_entry(key, "npz"), f"{key}/scores", "npz"),
            "doc": Part(layout.pool_entry(key, "json"), key, "json", _check_doc)}


def _check_doc(doc) -> None:
    if not isinstance(doc, dict) or set(doc.get("attacks", {})) != set(POOL_ATTACKS) or "curve" not in doc:
        raise ValueError("not every pool attack's block is there")
    if set(doc["curve"]) != set(CURVE_ATTACKS) or not {"fdr", "warnings", "strongest"} <= set(doc):
        raise ValueError("the power curve, the FDR calls or the warnings are not all there")


def _consistent(entry: dict) -> None:
    """Every attack's per-target AUC, TPRs, precision, recall and threshold re-derived from the score file
    (:func:`mia_repro.evaluation.metrics.check_published`) before ``pool.json`` is written."""
    from mia_repro.evaluation.metrics import check_published

    s = entry["scores"]
    member = {}
    for name, block in entry["doc"]["attacks"].items():
        for t in block["per_target"]:
            arrays = {k: s[f"{name}/{t['target']}/{k}"] for k in ("member", "score", "pred", "true_class")}
            try:
                check_published(t, arrays)
            except ValueError as exc:
                raise ValueError(f"{name} on {t['target']}: {exc}") from None
            member[t["target"]] = arrays["member"].astype(bool)
    for level, row in entry["doc"]["fdr"]["calibrated"].items():  # the FDR calls from the p-values
        for i, target in enumerate(member):
            called = fdr_members(s[f"pvalue/{target}"], row["q"])
            got = (int(called.sum()), int((called & ~member[target]).sum()))
            if got != (row["calls"][i], row["false"][i]):
                raise ValueError(f"fdr {level} on {target}: {row['calls'][i]} calls ({row['false'][i]} false) published, "
                                 f"its p-values give {got[0]} ({got[1]})")


@exclusive
def run_pool_attacks(cfg: ExperimentConfig, pool: ReferencePool | None = None, log=print) -> dict:
    """Run (or load from the cache) the attacks on the pool; write ``pool.json`` and ``pool_scores.npz``."""
    start = time.perf_counter()
    pool = load_pool(cfg) if pool is None else pool
    rp = cfg.pool
    log(f"Reference-pool attacks [{cfg.profile}]: {rp.n_models} models, {rp.n_targets} targets, "
        f"{len(POOL_ATTACKS)} attacks, power curve {list(rp.curve_counts)}")
    parts = _entry(cfg, fingerprint(pool))
    def compute() -> dict:
        doc, scores = evaluate_pool(cfg, pool, log)
        return {"doc": {**doc, "ran_on": machine_info()}, "scores": scores}

    entry, cached = get_or_compute(parts, compute, log, check=_consistent)
    copy_file(parts["scores"].path, cfg.layout.pool_scores)
    split, jobs, _ = pool_plan(cfg)
    doc = {"profile": cfg.profile, "pool": to_dict(rp), "model": to_dict(cfg.model), "seed": cfg.seed,
           "records": {"pool": int(len(split.records)), "population": int(len(split.population)),
                       "in_per_record": summarize(pool.member.sum(axis=0))},
           "training": training_record(cfg), "ran_on": NOT_RECORDED, "versions": versions(),
           "positive_class": "member", "bootstrap_resamples": BOOTSTRAP,
           "wall_seconds_this_run": time.perf_counter() - start, **entry["doc"]}
    save_json(cfg.layout.pool_doc, doc)
    log(f"Reference-pool attacks {'cached' if cached else 'done'} in {time.perf_counter() - start:.0f}s -> "
        f"{cfg.layout.pool_doc}")
    return doc


def training_record(cfg: ExperimentConfig) -> dict:
    """What the pool's model files record of their training: seconds (total, mean), trainer, threads, machine."""
    from mia_repro.experiment.outputs import ModelOutputs
    from mia_repro.experiment.trained import ModelStore

    store = ModelStore(cfg)
    _, jobs, expects = pool_plan(cfg)
    outs = [ModelOutputs.load(store.path(j, cfg.pool.size, cfg.model), j.name, e,
                              key=store.key(j, cfg.pool.size, cfg.model)) for j, e in zip(jobs, expects)]
    secs = [o.seconds for o in outs]
    on = outs[0].trained_on
    return {"models": len(outs), "seconds_total": float(np.sum(secs)), "seconds_per_model": summarize(secs),
            "train_acc": summarize([o.train_acc for o in outs]), "test_acc": summarize([o.test_acc for o in outs]),
            "threads_per_model": on.get("threads_per_model"), "device_name": on.get("device_name"), "backend": on.get("backend"),
            "device": on.get("device"), "epochs": cfg.model.epochs}
