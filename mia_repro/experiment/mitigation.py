"""Mitigation stage: regularized and DP-SGD targets and output-side defenses, two attacker scenarios.

For each size in ``cfg.mitigation.sizes`` and each defense setting:

* **unaware** — the Stage II attack (SVMs fit on *unregularized* shadows, or
  on raw shadow outputs) attacks the defended target, as the seed
  reproduction did;
* **aware** — the attacker knows the defense: shadows are trained with the
  same regularization (or their outputs pass through the same output-side
  defense) and new attack models are fit.

L2 / dropout / DP-SGD targets (and aware shadows) go through the cached training path
of Stage I.  Writes ``results/<profile>/mitigation.json`` (SVM attack; one
record per (defense, strength, size, scenario) with exactly the keys of
:func:`record_keys`: :data:`RECORD_KEYS`, plus :data:`DP_KEYS` for a DP-SGD
target — its schedule, both ε and the audit's lower bound on ε),
``mitigation_meta.json`` (provenance, settings, the same records for the
threshold baseline, every compared attack per setting), and for each DP-SGD target
``dp_scores/dp_<ε>_<size>.npz``: ``member`` and, per scenario, the per-record scores of every attack
the audit chose from (``<scenario>__<attack>``, :func:`dp_score_arrays`), so that every published bound
recomputes from files.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
from mia_repro.progress import progress

from mia_repro.attacks import ATTACKS, AttackerView, ConfidenceThreshold, ShokriSVM, new_attack
from mia_repro.cache import copy_file, load_json, save_json
from mia_repro.models.config import DPConfig
from mia_repro.experiment.config import ExperimentConfig, to_dict
from mia_repro.experiment.keys import config_key
from mia_repro.audit import epsilon_lower_bound
from mia_repro.defenses import output_defense
from mia_repro.experiment.outputs import ModelOutputs, SizeOutputs
from mia_repro.experiment.stage1 import Stage1Error, load_stage1
from mia_repro.experiment.plan import TrainRequest, execution, load_data, size_jobs, size_splits
from mia_repro.experiment.store import Part, load_entry, save_entry
from mia_repro.experiment.trained import train_or_load, train_or_load_many
from mia_repro.evaluation import evaluate_attack, evaluate_view
from mia_repro.experiment.stage2 import load_attack
from mia_repro.experiment.provenance import run_meta, versions

RECORD_KEYS = ("defense", "strength", "size", "scenario", "target_train_acc", "target_test_acc",
               "precision", "recall", "auc", "tpr_at_0.1pct_fpr", "tpr_at_0.1pct_fpr_ci95", "tpr_at_1pct_fpr",
               "tpr_at_1pct_fpr_ci95", "advantage_at_decision", "advantage_max", "n_nonmembers")
TRAINING_DEFENSES = ("l2", "dropout", "dp")
#: the fields of a DP model's recorded schedule (:class:`mia_repro.privacy.Schedule`) that its rows copy
SCHEDULE_KEYS = ("epsilon", "epsilon_pld", "delta", "noise_multiplier", "sampling_rate", "steps", "clip_norm")
#: what a DP row adds to :data:`RECORD_KEYS`: the schedule and both ε of the target (:mod:`mia_repro.privacy`),
#: and the audit (:func:`mia_repro.audit.epsilon_lower_bound`): a valid 95% lower bound on ε, the attack, threshold
#: and direction chosen on a seeded half of the target's records, the bound computed on the other half
DP_KEYS = SCHEDULE_KEYS + ("epsilon_lower_bound", "epsilon_lower_bound_attack", "epsilon_lower_bound_threshold",
                           "epsilon_lower_bound_direction")
MITIGATION_VERSION = 5  # 4: one estimator contract (the SVM's decision is its calibrated score >= its class threshold);
#                         5: the SVMs score by calibrated log-odds;
#                          2: the comparison's attacks (LiRA, RMIA, ...) on the L2 / dropout / undefended targets;
#                         3: scores from float64 logits (threshold on log p_y, RMIA's tie-break and gamma search),
#                            the global loss threshold and the fixed-hyperparameter SVM among the compared attacks
DP_AUDIT_VERSION = 2  # in a DP setting's key beside MITIGATION_VERSION; 2: valid bounds (select on one half of
#                       the records, bound on the other) and the per-record score files
COMPARED_METRICS = ("auc", "tpr_at_1pct_fpr", "tpr_at_1pct_fpr_ci95", "tpr_at_0.1pct_fpr", "tpr_at_0.1pct_fpr_ci95",
                    "precision", "recall", "advantage_max", "n_nonmembers", "ties")


def _compared(defense: str) -> bool:
    """Whether the comparison's attacks run on a setting: they read logits, which an output-side defense hides."""
    return defense == "none" or defense in TRAINING_DEFENSES


def compared_attacks(cfg: ExperimentConfig, view: AttackerView, member: np.ndarray, delta: float | None = None) -> dict:
    """Every attack of the comparison stage but the tuned Shokri SVM (the rows' own ``svm``) on ``view``'s
    target, its shadows the attacker's reference models, judged against ``member``; per attack the metrics
    of :data:`COMPARED_METRICS`, and with ``delta`` (a DP target) this attack's own valid audit bound
    ``epsilon_lower_bound`` and the threshold it chose (:func:`mia_repro.audit.epsilon_lower_bound`, seeded
    with ``cfg.seed``) and, under ``"_scores"``, its per-record scores (float64 (N,))."""
    attacks = {name: new_attack(name, cfg.attack, cfg.seed) for name in ATTACKS if name != ShokriSVM.name}
    results = evaluate_view(attacks, view, member, cfg.seed, log=lambda *_: None)
    out = {name: {k: r.metrics.get(k) if k != "ties" else r.ties for k in COMPARED_METRICS}
           for name, r in results.items()}
    if delta is not None:
        for name, r in results.items():
            bound = epsilon_lower_bound(r.scores["member"], r.scores["score"], delta, seed=cfg.seed)
            out[name].update(epsilon_lower_bound=bound["epsilon_lower_bound"],
                             epsilon_lower_bound_threshold=bound["threshold"],
                             _scores=np.asarray(r.scores["score"], np.float64))
    return out


def _record(defense, strength, size, scenario, target: ModelOutputs, view: AttackerView, attack) -> dict:
    """One result row for the fitted ``attack`` (SVM or threshold baseline) on ``view``'s target (the
    defended one, through its output defense if any); a DP target's row also holds ``_scores``, this
    attack's per-record scores (audited with the others by :func:`dp_audit`)."""
    result = evaluate_attack(attack, view, target.member, seed=0, fit=False)
    m = result.metrics
    correct = view.target_records().features.argmax(axis=1) == target.true_class
    row = {"defense": defense, "strength": float(strength), "size": int(size), "scenario": scenario,
           "target_train_acc": float(correct[target.member].mean()),
           "target_test_acc": float(correct[~target.member].mean())}
    row.update({k: m.get(k) for k in RECORD_KEYS if k not in row})
    if defense == "dp":
        row["_scores"] = np.asarray(result.scores["score"], np.float64)
    return row


def dp_score_arrays(svm_row: dict, threshold_row: dict, compared: dict) -> dict[str, np.ndarray]:
    """The per-record scores one DP scenario's audit chooses from, popped from its rows: ``{attack: float64
    (N,)}`` for the SVM (``shokri_svm``), the threshold baseline (``confidence_threshold_baseline``) and every
    compared attack, in the target's record order."""
    scores = {"shokri_svm": svm_row.pop("_scores"), "confidence_threshold_baseline": threshold_row.pop("_scores")}
    scores.update({name: m.pop("_scores") for name, m in compared.items()})
    return scores


def dp_audit(cfg: ExperimentConfig, member: np.ndarray, dp: dict, scores: dict[str, np.ndarray]) -> dict:
    """The :data:`DP_KEYS` of one DP scenario: the target's schedule ``dp`` (both ε) and the valid audit bound
    over every attack in ``scores`` (:func:`mia_repro.audit.epsilon_lower_bound`: attack, threshold and
    direction selected on a seeded half of the records, the bound on the other half; ``member`` bool (N,))."""
    bound = epsilon_lower_bound(member, scores, dp["delta"], seed=cfg.seed)
    return {**{k: dp[k] for k in SCHEDULE_KEYS}, "epsilon_lower_bound": bound["epsilon_lower_bound"],
            "epsilon_lower_bound_attack": bound["attack"], "epsilon_lower_bound_threshold": bound["threshold"],
            "epsilon_lower_bound_direction": bound["direction"]}


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


def _evaluate_setting(cfg, size, defense, strength, base, unaware, data, verbose, labels
                      ) -> list[tuple[str, dict, dict, dict | None]]:
    """Rows ``(scenario, svm_row, threshold_row, compared)`` for one defense setting at one size.

    ``unaware`` = ``(svm, threshold)``: the attacks fit on the plain shadows (Stage II's).  ``compared``:
    :func:`compared_attacks` for L2 / dropout / DP / no defense (with the scenario's shadows as reference
    models; ``labels`` are the pooled classes), None for output-side defenses, whose attacker sees only the
    post-processed probabilities, not the logits these attacks read.
    """
    compare = _compared(defense)
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
    delta = target.dp["delta"] if defense == "dp" else None
    rows = [("unaware", _record(defense, strength, size, "unaware", target, view, unaware_svm),
             _record(defense, strength, size, "unaware", target, view, unaware_threshold),
             compared_attacks(cfg, view, target.member, delta) if compare else None)]
    if _aware(cfg, size, defense):
        rows.append(_aware_row(cfg, size, defense, strength, target, view, base, splits, data, verbose,
                               labels, unaware, rows[0][3], delta))
    if defense == "dp":
        for _, svm_row, threshold_row, compared in rows:
            scores = dp_score_arrays(svm_row, threshold_row, compared)
            dp = dp_audit(cfg, target.member, target.dp, scores)
            svm_row.update(dp)
            threshold_row.update(dp)
            svm_row["_scores"] = {"member": target.member, **scores}  # into the setting's score file (run_mitigation)
    return rows


def _aware_row(cfg, size, defense, strength, target, unaware_view, base, splits, data, verbose, labels, unaware,
               unaware_compared, delta) -> tuple[str, dict, dict, dict | None]:
    """The aware attacker's ``(scenario, svm_row, threshold_row, compared)`` for one setting: shadows trained
    with the target's training defense (or the Stage I shadows' outputs passed through its output-side
    defense, as ``unaware_view`` shows the target's); for no defense, the unaware attacker's own rows."""
    unaware_svm, unaware_threshold = unaware
    view = unaware_view
    if defense == "none":
        svm, threshold = unaware_svm, unaware_threshold
    else:
        if defense in TRAINING_DEFENSES:
            jobs = size_jobs(splits, cfg.seed, cfg.mitigation.aware_shadows)[1:]
            shadows = train_or_load(cfg, size, jobs, _model_cfg(cfg, defense, strength), data=data, verbose=verbose,
                                    desc=f"{defense}={strength} shadows n={size}")
        else:
            shadows = base.shadows[: cfg.mitigation.aware_shadows]
        view = AttackerView.from_stage1(SizeOutputs(size, target, list(shadows)),
                                        labels if _compared(defense) else None,
                                        output_defense=unaware_view.output_defense)
        svm = ShokriSVM(cfg.attack, cfg.seed).fit(view)
        threshold = ConfidenceThreshold().fit(view)
    return ("aware", _record(defense, strength, size, "aware", target, view, svm),
            _record(defense, strength, size, "aware", target, view, threshold),
            (unaware_compared if defense == "none" else compared_attacks(cfg, view, target.member, delta))
            if _compared(defense) else None)


def _aware(cfg: ExperimentConfig, size: int, defense: str) -> bool:
    """Whether the aware attacker is evaluated for ``defense`` at ``size`` (always for output-side ones)."""
    m = cfg.mitigation
    if defense == "dp":
        return m.dp_aware and size in m.aware_sizes
    return defense == "none" or defense not in TRAINING_DEFENSES or (
        size in m.aware_sizes and defense in m.aware_defenses)


def training_requests(cfg: ExperimentConfig, todo: list[tuple[int, str, float]]) -> list[TrainRequest]:
    """The models that the settings ``todo`` ((size, defense, strength) triples) train: each L2 /
    dropout setting's target, and its aware shadows where the aware attacker is evaluated."""
    requests = []
    for size, defense, strength in todo:
        if defense not in TRAINING_DEFENSES:
            continue
        splits = size_splits(cfg, size)
        n_aware = cfg.mitigation.aware_shadows if _aware(cfg, size, defense) else 0
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


def record_keys(defense: str) -> tuple[str, ...]:
    """The keys of a row of ``defense``, in order: :data:`RECORD_KEYS`, and :data:`DP_KEYS` for "dp"."""
    return RECORD_KEYS + DP_KEYS if defense == "dp" else RECORD_KEYS


def _check_rows(cfg: ExperimentConfig, size: int, defense: str, strength: float):
    """What a setting's cached rows must be: one per scenario of the setting, each with an SVM and a
    threshold record of :data:`RECORD_KEYS` for this very setting, and the compared attacks where they run."""
    scenarios = ["unaware", "aware"] if _aware(cfg, size, defense) else ["unaware"]
    compared = _compared(defense)

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
    """One setting's cache entry: its rows (and a DP setting's per-record scores before them); the key hashes
    everything they depend on."""
    key = config_key(MITIGATION_VERSION, *([DP_AUDIT_VERSION] if defense == "dp" else []), cfg.model, cfg.attack, cfg.mitigation.aware_sizes, cfg.mitigation.aware_defenses,
                     cfg.mitigation.aware_shadows, cfg.seed, cfg.n_shadows, cfg.n_records, size, defense, strength,
                     fingerprint, cfg.outputs,
                     *([_model_cfg(cfg, defense, strength), cfg.mitigation.dp_aware] if defense == "dp" else []))
    rows = Part(cfg.layout.mitigation_setting(size, defense, strength, key), key, "json",
                _check_rows(cfg, size, defense, strength))
    if defense != "dp":
        return {"rows": rows}
    scores = Part(rows.path.with_suffix(".npz"), key, "npz", _check_scores(cfg, size, defense))
    return {"scores": scores, "rows": rows}


def _check_scores(cfg: ExperimentConfig, size: int, defense: str):
    """What a DP setting's score file must hold: ``member`` (bool, one entry per target record: 2 x size) and
    for each scenario the SVM's, the threshold baseline's and every compared attack's finite float64 scores."""
    scenarios = ["unaware", "aware"] if _aware(cfg, size, defense) else ["unaware"]
    attacks = {ShokriSVM.name, "confidence_threshold_baseline"} | {a for a in ATTACKS if a != ShokriSVM.name}

    def check(arrays) -> None:
        member = arrays["member"]
        if member.dtype != bool or member.shape != (2 * size,):
            raise ValueError(f"member: expected bool ({2 * size},), got {member.dtype} {member.shape}")
        want = {f"{s}__{a}" for s in scenarios for a in attacks}
        if set(arrays) - {"member"} != want:
            raise ValueError("scores of other scenarios or attacks")
        for name in want:
            a = arrays[name]
            if a.dtype != np.float64 or a.shape != member.shape or not np.isfinite(a).all():
                raise ValueError(f"{name}: expected finite float64 {member.shape}")
    return check


def check_dp_rows(cfg: ExperimentConfig, entry: dict) -> None:
    """ValueError unless a DP setting's rows are what their parts give: both ε re-derived by the accountant
    from the recorded schedule (σ, q, steps, δ), and the audit's bound re-derived from the setting's score
    file (:func:`dp_audit`)."""
    from mia_repro.privacy import epsilon_pld, epsilon_rdp

    arrays = entry["scores"]
    for r in entry["rows"]:
        svm = r["svm"]
        sched = (svm["noise_multiplier"], svm["sampling_rate"], svm["steps"], svm["delta"])
        if svm["epsilon"] != epsilon_rdp(*sched) or svm["epsilon_pld"] != epsilon_pld(*sched):
            raise ValueError(f"{r['scenario']}: its ε {svm['epsilon']!r} / {svm['epsilon_pld']!r} are not what the "
                             f"accountant gives for its schedule")
        prefix = r["scenario"] + "__"
        scores = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        audit = dp_audit(cfg, arrays["member"], {k: svm[k] for k in SCHEDULE_KEYS}, scores)
        for part in ("svm", "threshold"):
            if any(r[part][k] != audit[k] for k in DP_KEYS):
                raise ValueError(f"{r['scenario']}: its {part} row's audit is not what its scores give")


def _consistent_rows(cfg: ExperimentConfig, entry: dict | None, parts: dict, log) -> list | None:
    """A loaded setting's rows, or None (recompute) when a DP setting's rows disagree with their parts."""
    if entry is None:
        return None
    if "scores" in parts:
        try:
            check_dp_rows(cfg, entry)
        except ValueError as exc:
            log(f"  cache entry not usable: {parts['rows'].path}: {exc}; recomputing")
            return None
    return entry["rows"]


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
    cached = {k: _consistent_rows(cfg, load_entry(parts, log), parts, log) for k, parts in entries.items()}
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
            if rows is None:  # computed and saved (checked first: what a later run will demand of it)
                if unaware is None:
                    unaware = (load_attack(cfg, stage1[size], log=log),
                               ConfidenceThreshold().fit(AttackerView.from_stage1(stage1[size])))
                rows = [{"scenario": s, "svm": a, "threshold": b, "attacks": c} for s, a, b, c in
                        _evaluate_setting(cfg, size, defense, strength, stage1[size], unaware, data, verbose, labels)]
                values = {"rows": rows}
                if "scores" in parts:
                    values["scores"] = {"member": rows[0]["svm"]["_scores"]["member"]}
                    for r in rows:
                        values["scores"].update({f"{r['scenario']}__{k}": v for k, v in r["svm"].pop("_scores").items()
                                                 if k != "member"})
                save_entry(parts, values)
            if "scores" in parts:
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
