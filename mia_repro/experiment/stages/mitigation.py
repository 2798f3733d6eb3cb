"""Mitigation stage: regularized and DP-SGD targets and output-side defenses, two attacker scenarios.

For each size in ``cfg.mitigation.sizes`` and each defense setting:

* **unaware** — the Stage II attack (SVMs fit on *unregularized* shadows, or
  on raw shadow outputs) attacks the defended target, as the seed
  reproduction did;
* **aware** — the attacker knows the defense: shadows are trained with the
  same regularization (or their outputs pass through the same output-side
  defense) and new attack models are fit.

L2 / dropout / DP-SGD targets (and aware shadows) go through the cached training path
of Stage I.  Each setting's cache entry is its per-record score file (:func:`_check_scores`: membership,
the target's correctness, every attack's scores, decisions and bootstrap intervals per scenario, a DP
target's schedule) and its rows; the rows are re-derived from the score file (:func:`derive_rows`) on
every run, and a cached row that is not what its score file gives is reported and recomputed, so no
edited row is published.  Writes ``results/<profile>/mitigation.json`` (SVM attack; one
record per (defense, strength, size, scenario) with exactly the keys of
:func:`record_keys`: :data:`RECORD_KEYS`, plus :data:`DP_KEYS` for a DP-SGD
target — its schedule, both ε from the accountant and the audit's lower bound on ε),
``mitigation_meta.json`` (provenance, settings, the same records for the
threshold baseline, every compared attack per setting), and for each DP-SGD target
``dp_scores/dp_<ε>_<size>.npz``: a byte copy of its setting's score file (``<scenario>__<attack>``: the
per-record scores the audit chose from), so that every published bound recomputes from files.
"""
from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
from mia_repro.experiment.lock import exclusive
from mia_repro.base.progress import progress

from mia_repro.attacks import AttackerView, ConfidenceThreshold, ShokriSVM
from mia_repro.base.cache import copy_file, load_json, save_json
from mia_repro.models.config import DPConfig
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.keys import to_dict
from mia_repro.experiment.keys import config_key
from mia_repro.views.defenses import output_defense
from mia_repro.experiment.outputs import SizeOutputs
from mia_repro.experiment.stages.stage1 import Stage1Error, load_stage1
from mia_repro.experiment.plan import TrainRequest, execution, load_data, size_jobs, size_splits
from mia_repro.experiment.store import Part, load_entry, save_entry
from mia_repro.experiment.trained import train_or_load, train_or_load_many
from mia_repro.evaluation.results import jsonable
from mia_repro.evaluation.metrics import first_difference
from mia_repro.experiment.stages.mitigation_rows import (
    SCHEDULE_INPUTS, SVM, THRESHOLD, TRAINING_DEFENSES, compared_attacks, compared_names, compares_attacks, derive_rows,
    has_aware_attacker, judge, record_keys, scenarios_for, score_name,
)
from mia_repro.experiment.stages.stage2 import load_attack
from mia_repro.experiment.provenance import run_meta, versions


MITIGATION_VERSION = 6  # 6: every setting keeps a per-record score file its rows are derived from;


#                         4: one estimator contract (the SVM's decision is its calibrated score >= its class threshold);
#                         5: the SVMs score by calibrated log-odds;
#                          2: the comparison's attacks (LiRA, RMIA, ...) on the L2 / dropout / undefended targets;
#                         3: scores from float64 logits (threshold on log p_y, RMIA's tie-break and gamma search),
#                            the global loss threshold and the fixed-hyperparameter SVM among the compared attacks
DP_AUDIT_VERSION = 2  # in a DP setting's key beside MITIGATION_VERSION; 2: valid bounds (select on one half of


def settings(cfg: ExperimentConfig) -> list[tuple[str, float]]:
    """Every (defense, strength) of the sweep, the undefended ("none", 0) first."""
    m = cfg.mitigation
    out = [("none", 0.0)]
    out += [("l2", s) for s in m.l2_strengths if s > 0]
    out += [("dropout", s) for s in m.dropout_rates if s > 0]
    out += [("topk", k) for k in m.topk]
    out += [("rounding", d) for d in m.rounding_decimals]
    out += [("temperature", t) for t in m.temperatures]
    out += [("dp", e) for e in m.dp_epsilons]
    return out


def _evaluate_setting(cfg, size, defense, strength, base, unaware, data, verbose, labels) -> dict[str, np.ndarray]:
    """One defense setting at one size, evaluated: its score file (:func:`_check_scores`), from which
    :func:`derive_rows` gives its rows.

    ``unaware`` = ``(svm, threshold)``: the attacks fit on the plain shadows (Stage II's).  The compared
    attacks (:func:`compared_attacks`) run for L2 / dropout / DP / no defense (with the scenario's shadows as
    reference models; ``labels`` are the pooled classes), not for output-side defenses, whose attacker sees
    only the post-processed probabilities, not the logits these attacks read.
    """
    compare = compares_attacks(defense)
    unaware_svm, unaware_threshold = unaware
    splits = size_splits(cfg, size)
    transform = None
    target = base.target
    if defense in TRAINING_DEFENSES:  # trained beforehand by run_mitigation (one executor pass): loaded here
        target = train_or_load(cfg, size, size_jobs(splits, cfg.seed, 0), _model_cfg(cfg, defense, strength),
                               data=data, verbose=verbose, desc=f"{defense}={strength} target n={size}")[0]
    elif defense != "none":
        transform = output_defense(defense, strength)
    view = AttackerView.from_stage1(SizeOutputs(size, target, list(base.shadows)), labels if compare else None,
                                    output_defense=transform)
    judged = {"unaware": {SVM: judge(unaware_svm, view, target.member),
                          THRESHOLD: judge(unaware_threshold, view, target.member),
                          **(compared_attacks(cfg, view, target.member) if compare else {})}}
    if has_aware_attacker(cfg, size, defense):
        judged["aware"] = judged["unaware"] if defense == "none" else _aware_arrays(
            cfg, size, defense, strength, target, view, base, splits, data, verbose, labels)
    arrays = {"member": np.asarray(target.member, bool),
              "correct": view.target_records().features.argmax(axis=1) == target.true_class}
    for scenario, by_attack in judged.items():
        for attack, a in by_attack.items():
            arrays.update({score_name(scenario, attack, what): v for what, v in a.items()})
    if defense == "dp":
        arrays["schedule"] = np.asarray([target.dp[k] for k in SCHEDULE_INPUTS], np.float64)
    return arrays


def _aware_arrays(cfg, size, defense, strength, target, unaware_view, base, splits, data, verbose, labels
                  ) -> dict[str, dict]:
    """The aware attacker's :func:`_arrays` per attack for one defended setting: shadows trained with the
    target's training defense (or the Stage I shadows' outputs passed through its output-side defense, as
    ``unaware_view`` shows the target's), the SVM and the baseline fit on them, the compared attacks with
    them as references."""
    if defense in TRAINING_DEFENSES:
        jobs = size_jobs(splits, cfg.seed, cfg.mitigation.aware_shadows)[1:]
        shadows = train_or_load(cfg, size, jobs, _model_cfg(cfg, defense, strength), data=data, verbose=verbose,
                                desc=f"{defense}={strength} shadows n={size}")
    else:
        shadows = base.shadows[: cfg.mitigation.aware_shadows]
    view = AttackerView.from_stage1(SizeOutputs(size, target, list(shadows)), labels if compares_attacks(defense) else None,
                                    output_defense=unaware_view.output_defense)
    return {SVM: judge(ShokriSVM(cfg.attack, cfg.seed).fit(view), view, target.member),
            THRESHOLD: judge(ConfidenceThreshold().fit(view), view, target.member),
            **(compared_attacks(cfg, view, target.member) if compares_attacks(defense) else {})}


def training_requests(cfg: ExperimentConfig, todo: list[tuple[int, str, float]]) -> list[TrainRequest]:
    """The models that the settings ``todo`` ((size, defense, strength) triples) train: each L2 /
    dropout setting's target, and its aware shadows where the aware attacker is evaluated."""
    requests = []
    for size, defense, strength in todo:
        if defense not in TRAINING_DEFENSES:
            continue
        splits = size_splits(cfg, size)
        n_aware = cfg.mitigation.aware_shadows if has_aware_attacker(cfg, size, defense) else 0
        jobs = size_jobs(splits, cfg.seed, n_aware)
        requests.append(TrainRequest(size, tuple(jobs), _model_cfg(cfg, defense, strength), f"{defense}={strength:g} "))
    return requests


def _model_cfg(cfg: ExperimentConfig, defense: str, strength: float):
    """The model config of a training defense: L2 or dropout at ``strength``, or DP-SGD at target ε ``strength``."""
    if defense == "dp":
        m = cfg.mitigation
        return dataclasses.replace(cfg.model, dp=DPConfig(target_epsilon=float(strength), clip_norm=m.dp_clip_norm,
                                                          delta=m.dp_delta, optimizer=m.dp_optimizer,
                                                          noise_seed=m.dp_noise_seed))
    return dataclasses.replace(cfg.model, **{defense: float(strength)})


def _check_rows(cfg: ExperimentConfig, size: int, defense: str, strength: float):
    """What a setting's cached rows must be: one per scenario of the setting, each with an SVM and a
    threshold record of :func:`record_keys` for this very setting, and the compared attacks where they run
    (that they are what the score file gives is :func:`_consistent_rows`' check)."""
    scenarios = scenarios_for(cfg, size, defense)
    compared = compares_attacks(defense)

    def check(rows) -> None:
        if not isinstance(rows, list) or [r.get("scenario") for r in rows] != scenarios:
            raise ValueError(f"expected one row per scenario {scenarios}")
        for r in rows:
            for part in ("svm", "threshold"):
                rec = r[part]
                if tuple(rec) != record_keys(defense) or (rec["defense"], rec["strength"], rec["size"], rec["scenario"]) != (
                        defense, float(strength), size, r["scenario"]):
                    raise ValueError(f"{part} record of another setting or incomplete")
            if compared != isinstance(r["attacks"], dict) or (compared and not r["attacks"]):
                raise ValueError("compared attacks missing" if compared else "unexpected compared attacks")
    return check


def _setting_entry(cfg: ExperimentConfig, size: int, defense: str, strength: float, fingerprint: str
                   ) -> dict[str, Part]:
    """One setting's cache entry: its per-record score file, then its rows (the marker); the key hashes
    everything they depend on."""
    key = config_key(MITIGATION_VERSION, *([DP_AUDIT_VERSION] if defense == "dp" else []), cfg.model, cfg.attack, cfg.mitigation.aware_sizes, cfg.mitigation.aware_defenses,
                     cfg.mitigation.aware_shadows, cfg.seed, cfg.n_shadows, cfg.n_records, size, defense, strength,
                     fingerprint, cfg.outputs,
                     *([_model_cfg(cfg, defense, strength), cfg.mitigation.dp_aware] if defense == "dp" else []))
    rows = Part(cfg.layout.mitigation_setting(size, defense, strength, key), key, "json",
                _check_rows(cfg, size, defense, strength))
    scores = Part(rows.path.with_suffix(".npz"), key, "npz", _check_scores(cfg, size, defense))
    return {"scores": scores, "rows": rows}


def _check_scores(cfg: ExperimentConfig, size: int, defense: str):
    """What a setting's score file must hold: ``member`` and ``correct`` (bool, one entry per target record:
    2 x size; ``correct``: the defended target's top class is the true one), for each scenario and attack
    (the SVM, the threshold baseline and, where they run, the compared ones) its finite float64 scores
    (``<scenario>__<attack>``), int64 0/1 decisions (``__pred``) and float64 (2, 2) intervals (``__ci95``);
    for a DP target ``schedule`` (:data:`SCHEDULE_INPUTS`, finite)."""
    attacks = [SVM, THRESHOLD, *(compared_names() if compares_attacks(defense) else [])]
    names = {score_name(s, a, w) for s in scenarios_for(cfg, size, defense) for a in attacks for w in ("score", "pred", "ci95")}
    names |= {"member", "correct"} | ({"schedule"} if defense == "dp" else set())

    def check(arrays) -> None:
        if set(arrays) != names:
            raise ValueError(f"arrays {sorted(set(arrays) ^ names)} missing or unexpected")
        member = arrays["member"]
        for flag in ("member", "correct"):
            if arrays[flag].dtype != bool or arrays[flag].shape != (2 * size,):
                raise ValueError(f"{flag}: expected bool ({2 * size},), got {arrays[flag].dtype} {arrays[flag].shape}")
        for s in scenarios_for(cfg, size, defense):
            for a in attacks:
                score, pred, ci = (arrays[score_name(s, a, w)] for w in ("score", "pred", "ci95"))
                if score.dtype != np.float64 or score.shape != member.shape or not np.isfinite(score).all():
                    raise ValueError(f"{score_name(s, a)}: expected finite float64 {member.shape}")
                if pred.dtype != np.int64 or pred.shape != member.shape or not np.isin(pred, (0, 1)).all():
                    raise ValueError(f"{score_name(s, a, 'pred')}: expected int64 0/1 {member.shape}")
                if ci.dtype != np.float64 or ci.shape != (2, 2):
                    raise ValueError(f"{score_name(s, a, 'ci95')}: expected float64 (2, 2)")
        if defense == "dp" and (arrays["schedule"].shape != (len(SCHEDULE_INPUTS),)
                                or not np.isfinite(arrays["schedule"]).all()):
            raise ValueError(f"schedule: expected finite {SCHEDULE_INPUTS}")
    return check


def _consistent_rows(cfg: ExperimentConfig, key: tuple, entry: dict | None, parts: dict, log) -> list | None:
    """A loaded setting's rows as :func:`derive_rows` gives them from its score file, or None (recompute,
    logged naming the file) when the cached rows are not that: every published row is re-derived."""
    if entry is None:
        return None
    size, defense, strength = key
    derived = json.loads(json.dumps(derive_rows(cfg, size, defense, strength, entry["scores"]), default=jsonable))
    where = first_difference(entry["rows"], derived, "rows")
    if where is not None:
        log(f"  cache entry not usable: {parts['rows'].path}: {where} is not what its score file gives; recomputing")
        return None
    return derived


@exclusive
def run_mitigation(cfg: ExperimentConfig, verbose: int = 0, log=print) -> list[dict]:
    """Run the whole mitigation sweep (cached per setting); returns the SVM records."""
    start = time.perf_counter()
    missing = [s for s in cfg.mitigation.sizes if s not in cfg.sizes]
    if missing:
        raise Stage1Error(f"mitigation sizes {missing} are not among the profile's sizes {list(cfg.sizes)}")
    stage1 = load_stage1(cfg)
    grid = settings(cfg)
    log(f"Mitigation [{cfg.profile}]: sizes {list(cfg.mitigation.sizes)}, {len(grid)} settings, "
        f"aware retraining at sizes {list(cfg.mitigation.aware_sizes)} for "
        f"{list(cfg.mitigation.aware_defenses) + (['dp'] if cfg.mitigation.dp_aware and cfg.mitigation.dp_epsilons else [])} "
        f"with {cfg.mitigation.aware_shadows} shadows")
    svm_rows, thr_rows, compared_rows = [], [], []
    entries = {(size, d, s): _setting_entry(cfg, size, d, s, stage1[size].fingerprint())
               for size in cfg.mitigation.sizes for d, s in grid}
    cached = {k: _consistent_rows(cfg, k, load_entry(parts, log), parts, log) for k, parts in entries.items()}
    requests = training_requests(cfg, [k for k, rows in cached.items() if rows is None])
    data = None  # every worker (and this process, if it must) loads CIFAR-10 itself
    if requests:  # every model the missing settings need, in one pass of the executor, cached per model
        train_or_load_many(cfg, requests, data=data, verbose=verbose, log=log,
                           desc=f"mitigation models ({execution(cfg).describe()})")
    labels = load_data(cfg)[1] if any(rows is None for rows in cached.values()) else None
    for size in cfg.mitigation.sizes:
        # the unaware attacker (Stage II's fitted SVMs and the baseline), loaded only if a setting must be computed
        unaware = None
        for defense, strength in progress(grid, desc=f"mitigation n={size}", unit="setting"):
            rows = cached[(size, defense, strength)]
            parts = entries[(size, defense, strength)]
            if rows is None:  # evaluated; the rows derived from the score file, both saved (each checked first)
                if unaware is None:
                    unaware = (load_attack(cfg, stage1[size], log=log),
                               ConfidenceThreshold().fit(AttackerView.from_stage1(stage1[size])))
                arrays = _evaluate_setting(cfg, size, defense, strength, stage1[size], unaware, data, verbose, labels)
                rows = json.loads(json.dumps(derive_rows(cfg, size, defense, strength, arrays), default=jsonable))
                save_entry(parts, {"scores": arrays, "rows": rows})
            if defense == "dp":
                copy_file(parts["scores"].path, cfg.layout.dp_scores(size, strength))
            for r in rows:
                svm_rows.append(r["svm"])
                thr_rows.append(r["threshold"])
                for name, m in (r["attacks"] or {}).items():
                    compared_rows.append({"defense": defense, "strength": float(strength), "size": int(size),
                                          "scenario": r["scenario"], "attack": name, **m})
        log(f"  n={size}: done ({time.perf_counter() - start:.0f}s so far)")
    save_json(cfg.layout.mitigation, svm_rows)
    meta = {
        **run_meta(cfg, cfg.mitigation.sizes), "versions": versions(),
        "attack": "per-class RBF SVM (mitigation.json); threshold_baseline: true-class confidence threshold",
        "wall_seconds_this_run": time.perf_counter() - start,  # cached settings cost ~0 s: not the full sweep
        "mitigation": to_dict(cfg.mitigation),
        "threshold_baseline": thr_rows,
        "attack_comparison": compared_rows,
        "attack_comparison_note": ("every attack of the comparison stage but the SVM, on the L2 / dropout / undefended "
                                   "targets; reference models: the Stage I shadows (unaware), the defended shadows "
                                   "(aware). Not run for output-side defenses: their attacker sees no logits."),
    }
    save_json(cfg.layout.mitigation_meta, meta)
    log(f"Mitigation done in {time.perf_counter() - start:.0f}s -> {cfg.layout.mitigation}")
    return svm_rows


def load_mitigation(cfg: ExperimentConfig) -> tuple[list[dict], dict]:
    """``(records, meta)`` from ``mitigation.json`` and ``mitigation_meta.json``."""
    layout = cfg.layout
    if not layout.mitigation.exists():
        raise Stage1Error(f"no mitigation results in {layout.output_dir}; "
                          f"run `python -m mia_repro mitigation --profile {cfg.profile}`")
    return load_json(layout.mitigation), load_json(layout.mitigation_meta)
