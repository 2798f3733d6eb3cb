"""A mitigation setting's rows, derived from its per-record score file alone: per scenario (the unaware and
the aware attacker) the SVM's and the threshold baseline's records (:func:`record_keys`), the compared attacks
where they run, and for a DP-SGD target its schedule, both ε from the accountant and the audit's bounds
(:func:`dp_audit`).  :mod:`mia_repro.experiment.stages.mitigation` trains, scores and caches; what it
publishes is :func:`derive_rows` of the score file, never a cached row as such."""
from __future__ import annotations

import numpy as np

from mia_repro.attacks import ATTACKS, AttackerView, ShokriSVM, new_attack
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.privacy.audit import epsilon_lower_bound
from mia_repro.evaluation.evaluate import evaluate_attack, evaluate_view
from mia_repro.evaluation.metrics import Metric, point_metrics, score_ties


RECORD_KEYS = ("defense", "strength", "size", "scenario", "target_train_acc", "target_test_acc",
               Metric.PRECISION, Metric.RECALL, Metric.AUC, Metric.TPR_AT_0_1PCT_FPR, Metric.TPR_AT_0_1PCT_FPR.ci95, Metric.TPR_AT_1PCT_FPR,
               Metric.TPR_AT_1PCT_FPR.ci95, Metric.ADVANTAGE_AT_DECISION, Metric.ADVANTAGE_MAX, "n_nonmembers")


TRAINING_DEFENSES = ("l2", "dropout", "dp")


#: the fields of a DP model's recorded schedule (:class:`mia_repro.privacy.accounting.Schedule`) that its rows copy
SCHEDULE_KEYS = ("epsilon", "epsilon_pld", "delta", "noise_multiplier", "sampling_rate", "steps", "clip_norm")


#: what a DP row adds to :data:`RECORD_KEYS`: the schedule and both ε of the target (:mod:`mia_repro.privacy.accounting`),
#: and the audit (:func:`mia_repro.privacy.audit.epsilon_lower_bound`): a valid 95% lower bound on ε, the attack, threshold
#: and direction chosen on a seeded half of the target's records, the bound computed on the other half
DP_KEYS = SCHEDULE_KEYS + ("epsilon_lower_bound", "epsilon_lower_bound_attack", "epsilon_lower_bound_threshold",
                           "epsilon_lower_bound_direction")


#                       the records, bound on the other) and the per-record score files
COMPARED_METRICS = (Metric.AUC, Metric.TPR_AT_1PCT_FPR, Metric.TPR_AT_1PCT_FPR.ci95, Metric.TPR_AT_0_1PCT_FPR, Metric.TPR_AT_0_1PCT_FPR.ci95,
                    Metric.PRECISION, Metric.RECALL, Metric.ADVANTAGE_MAX, "n_nonmembers", "ties")


def compares_attacks(defense: str) -> bool:
    """Whether the comparison's attacks run on a setting: they read logits, which an output-side defense hides."""
    return defense == "none" or defense in TRAINING_DEFENSES


#: the names of a row's two attacks in a score file
SVM = ShokriSVM.name


THRESHOLD = "confidence_threshold_baseline"


#: the schedule's inputs as a DP setting's score file holds them (``schedule``, float64, this order)
SCHEDULE_INPUTS = ("noise_multiplier", "sampling_rate", "steps", "delta", "clip_norm")


def compared_names() -> list[str]:
    """The comparison's attacks run on a setting: every attack of :data:`ATTACKS` but the tuned SVM (the
    rows' own ``svm``), in that order."""
    return [name for name in ATTACKS if name != SVM]


def _arrays(result) -> dict[str, np.ndarray]:
    """What a setting's score file keeps of one attack's evaluation: ``score`` float64 (N,), ``pred`` int64
    (N,) and ``ci95`` float64 (2, 2): the bootstrap intervals of the TPR at 1% and 0.1% FPR (NaN: none)."""
    m = result.metrics
    ci = [m.get(f"{k}_ci95") or [np.nan, np.nan] for k in (Metric.TPR_AT_1PCT_FPR, Metric.TPR_AT_0_1PCT_FPR)]
    return {"score": np.asarray(result.scores["score"], np.float64),
            "pred": np.asarray(result.scores["pred"], np.int64), "ci95": np.asarray(ci, np.float64)}


def compared_attacks(cfg: ExperimentConfig, view: AttackerView, member: np.ndarray) -> dict[str, dict]:
    """Every attack of :func:`compared_names` fit on ``view`` (its shadows the attacker's reference models),
    scored on its target and judged against ``member``: per attack its :func:`_arrays` (bootstrap seeded
    with ``cfg.seed``)."""
    attacks = {name: new_attack(name, cfg.attack, cfg.seed) for name in compared_names()}
    results = evaluate_view(attacks, view, member, cfg.seed, log=lambda *_: None)
    return {name: _arrays(r) for name, r in results.items()}


def judge(attack, view: AttackerView, member: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`_arrays` of the fitted ``attack`` (SVM or threshold baseline) on ``view``'s target (bootstrap seed 0)."""
    return _arrays(evaluate_attack(attack, view, member, seed=0, fit=False))


def score_name(scenario: str, attack: str, what: str = "score") -> str:
    """The name of one array in a setting's score file: ``<scenario>__<attack>`` for the score (the DP audit's
    layout), ``<scenario>__<attack>__pred`` / ``__ci95`` for the decisions and intervals."""
    return f"{scenario}__{attack}" + ("" if what == "score" else f"__{what}")


def _metrics(arrays: dict, scenario: str, attack: str) -> dict:
    """One attack's numbers in one scenario, re-derived from a score file: :func:`~mia_repro.evaluation.metrics.point_metrics`
    of its scores and decisions, its intervals as kept (None where NaN) and the ties in its scores."""
    member = arrays["member"]
    score = arrays[score_name(scenario, attack)]
    m = point_metrics(member, score, arrays[score_name(scenario, attack, "pred")])
    for key, ci in zip((Metric.TPR_AT_1PCT_FPR, Metric.TPR_AT_0_1PCT_FPR), arrays[score_name(scenario, attack, "ci95")]):
        m[f"{key}_ci95"] = None if np.isnan(ci).any() else [float(ci[0]), float(ci[1])]
    m["ties"] = score_ties(member, score)
    return m


def _schedule(arrays: dict) -> dict:
    """A DP target's schedule from its score file's ``schedule``, both ε re-derived by the accountant."""
    from mia_repro.privacy.accounting import epsilon_pld, epsilon_rdp

    sched = dict(zip(SCHEDULE_INPUTS, (float(v) for v in arrays["schedule"])))
    sched["steps"] = int(sched["steps"])
    args = (sched["noise_multiplier"], sched["sampling_rate"], sched["steps"], sched["delta"])
    return {**sched, "epsilon": epsilon_rdp(*args), "epsilon_pld": epsilon_pld(*args)}


def derive_rows(cfg: ExperimentConfig, size: int, defense: str, strength: float, arrays: dict) -> list[dict]:
    """A setting's rows from its score file alone: per scenario the SVM's and the threshold baseline's
    records (:func:`record_keys`), the compared attacks (:data:`COMPARED_METRICS`) where they run, and for
    a DP target the schedule with both ε from the accountant and the audit's bounds (:func:`dp_audit`, and
    each compared attack's own).  What is published is this, never the cached JSON as such."""
    member, correct = arrays["member"], arrays["correct"]
    accuracy = {"target_train_acc": float(correct[member].mean()), "target_test_acc": float(correct[~member].mean())}
    dp = _schedule(arrays) if defense == "dp" else None
    rows = []
    for scenario in scenarios_for(cfg, size, defense):
        def record(attack: str) -> dict:
            row = {"defense": defense, "strength": float(strength), "size": int(size), "scenario": scenario,
                   **accuracy}
            m = _metrics(arrays, scenario, attack)
            row.update({k: m[k] for k in RECORD_KEYS if k not in row})
            return row

        svm, threshold = record(SVM), record(THRESHOLD)
        compared = None
        if compares_attacks(defense):
            compared = {}
            for name in compared_names():
                m = _metrics(arrays, scenario, name)
                compared[name] = {k: m[k] for k in COMPARED_METRICS}
                if dp is not None:
                    bound = epsilon_lower_bound(member, arrays[score_name(scenario, name)], dp["delta"], seed=cfg.seed)
                    compared[name].update(epsilon_lower_bound=bound["epsilon_lower_bound"],
                                          epsilon_lower_bound_threshold=bound["threshold"])
        if dp is not None:
            names = [SVM, THRESHOLD, *(compared_names() if compared is not None else [])]
            audit = dp_audit(cfg, member, dp, {name: arrays[score_name(scenario, name)] for name in names})
            svm.update(audit)
            threshold.update(audit)
        rows.append({"scenario": scenario, "svm": svm, "threshold": threshold, "attacks": compared})
    return rows


def dp_audit(cfg: ExperimentConfig, member: np.ndarray, dp: dict, scores: dict[str, np.ndarray]) -> dict:
    """The :data:`DP_KEYS` of one DP scenario: the target's schedule ``dp`` (both ε) and the valid audit bound
    over every attack in ``scores`` (:func:`mia_repro.privacy.audit.epsilon_lower_bound`: attack, threshold and
    direction selected on a seeded half of the records, the bound on the other half; ``member`` bool (N,))."""
    bound = epsilon_lower_bound(member, scores, dp["delta"], seed=cfg.seed)
    return {**{k: dp[k] for k in SCHEDULE_KEYS}, "epsilon_lower_bound": bound["epsilon_lower_bound"],
            "epsilon_lower_bound_attack": bound["attack"], "epsilon_lower_bound_threshold": bound["threshold"],
            "epsilon_lower_bound_direction": bound["direction"]}


def scenarios_for(cfg: ExperimentConfig, size: int, defense: str) -> list[str]:
    """The attacker scenarios evaluated for ``defense`` at ``size``: unaware, and aware where :func:`has_aware_attacker`."""
    return ["unaware", "aware"] if has_aware_attacker(cfg, size, defense) else ["unaware"]


def has_aware_attacker(cfg: ExperimentConfig, size: int, defense: str) -> bool:
    """Whether the aware attacker is evaluated for ``defense`` at ``size`` (always for output-side ones)."""
    m = cfg.mitigation
    if defense == "dp":
        return m.dp_aware and size in m.aware_sizes
    return defense == "none" or defense not in TRAINING_DEFENSES or (
        size in m.aware_sizes and defense in m.aware_defenses)


def record_keys(defense: str) -> tuple[str, ...]:
    """The keys of a row of ``defense``, in order: :data:`RECORD_KEYS`, and :data:`DP_KEYS` for "dp"."""
    return RECORD_KEYS + DP_KEYS if defense == "dp" else RECORD_KEYS


__all__ = ["COMPARED_METRICS", "DP_KEYS", "RECORD_KEYS", "SCHEDULE_INPUTS", "SCHEDULE_KEYS", "SVM", "THRESHOLD", "TRAINING_DEFENSES", "compared_attacks",
           "compared_names", "compares_attacks", "derive_rows", "dp_audit", "has_aware_attacker", "judge", "record_keys",
           "scenarios_for", "score_name"]
