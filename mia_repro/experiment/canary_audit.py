"""The canary audit stage: one-run ε lower bounds (Steinke, Nasr, Jagielski, NeurIPS 2023) for DP-SGD
targets, beside the accountant's ε and the natural-record bound, and the same audit on broken DP-SGD.

For ``cfg.audit`` (:class:`~mia_repro.experiment.config.AuditConfig`) at size n, the plan trains on the
Shokri target's members, through the executor and the per-model cache like every model
(:func:`~mia_repro.experiment.trained.train_or_load_many`):

* one DP-SGD model per target ε, and one with σ = 0 (clipping, no noise: ε = ∞, the non-private reference);
* one per broken trainer (``no_noise``: no noise while the accountant is told σ; ``no_clipping``), each
  claiming ``broken_epsilon``;

each with ``canaries`` white-box gradient canaries and ``blackbox_canaries`` mislabelled records
(:mod:`mia_repro.training.canaries`), each included with probability 1/2.  Per model it reports:

* ``one_run`` (white-box) and ``blackbox``: :func:`mia_repro.one_run_audit.one_run_audit` on each kind of
  canary's scores (the choice of k+ / k− Bonferroni-corrected), valid ``confidence`` lower bounds;
* ``natural``: :func:`mia_repro.audit.epsilon_lower_bound` of the loss attack (−cross-entropy from float64
  logits) on the n members and n non-members (threshold chosen on a seeded half, bound on the other half).

Writes ``audit.json`` (one row per model, :data:`ROW_KEYS`) and ``audit_scores.npz`` (per model
``<label>__included`` / ``<label>__canary_score``, ``<label>__bb_included`` / ``<label>__bb_score`` and
``<label>__member`` / ``<label>__loss_score``), from
which every published bound recomputes.  The committed reproductions use ``noise_seed = "model"``.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from scipy.special import log_softmax

from mia_repro.experiment.lock import exclusive
from mia_repro.audit import epsilon_lower_bound
from mia_repro.cache import save_json, save_npz
from mia_repro.errors import MiaReproError
from mia_repro.experiment.config import ExperimentConfig, to_dict
from mia_repro.experiment.outputs import ModelOutputs
from mia_repro.experiment.plan import TrainRequest, execution, size_jobs, size_splits
from mia_repro.experiment.provenance import run_meta, versions
from mia_repro.experiment.trained import ModelStore, train_or_load_many
from mia_repro.models.config import DPConfig
from mia_repro.one_run_audit import one_run_audit

ROW_KEYS = ("label", "trainer", "claimed_epsilon", "epsilon_pld", "delta", "noise_multiplier",
            "sampling_rate", "steps", "clip_norm", "canaries", "canaries_included", "train_acc", "test_acc",
            "one_run_epsilon_lower_bound", "one_run_k_plus", "one_run_k_minus", "one_run_guesses", "one_run_correct",
            "one_run_hypotheses", "blackbox_canaries", "blackbox_epsilon_lower_bound", "blackbox_correct",
            "blackbox_guesses", "natural_epsilon_lower_bound", "natural_threshold", "natural_direction",
            "exceeds_claim")


class AuditError(MiaReproError, RuntimeError):
    """An audit model's file lacks what the audit needs."""


def audit_settings(cfg: ExperimentConfig) -> list[tuple[str, DPConfig]]:
    """``(label, DPConfig)`` of every model of the audit, in order: the target ε values, σ = 0, the broken ones."""
    a, m = cfg.audit, cfg.mitigation
    common = dict(clip_norm=m.dp_clip_norm, delta=m.dp_delta, optimizer=m.dp_optimizer, noise_seed=a.noise_seed,
                  canaries=a.canaries, blackbox_canaries=a.blackbox_canaries)
    out = [(f"dp_eps{e:g}", DPConfig(target_epsilon=float(e), **common)) for e in a.epsilons]
    out.append(("no_dp_sigma0", DPConfig(noise_multiplier=0.0, **common)))
    out += [(f"broken_{b}_claims_eps{a.broken_epsilon:g}",
             DPConfig(target_epsilon=float(a.broken_epsilon), broken=b, **common)) for b in a.broken]
    return out


def _requests(cfg: ExperimentConfig) -> tuple[list[str], list[TrainRequest]]:
    size = cfg.audit.size
    job = size_jobs(size_splits(cfg, size), cfg.seed, 0)[0]
    labels, requests = [], []
    for label, dp in audit_settings(cfg):
        labels.append(label)
        requests.append(TrainRequest(size, (job,), dataclasses.replace(cfg.model, dp=dp), f"audit {label} "))
    return labels, requests


def _loss_score(out: ModelOutputs) -> np.ndarray:
    """−cross-entropy of each record's true class, float64 (2n,) from the float64 logits."""
    lp = log_softmax(np.asarray(out.logits, np.float64), axis=1)
    return lp[np.arange(len(out.true_class)), out.true_class]


#: how far the ε of a σ calibrated to a target ε may lie from the target (the calibration's tolerance is 1e-4)
CALIBRATION_TOLERANCE = 1e-2


def checked_schedule(cfg: ExperimentConfig, label: str, dp_cfg: DPConfig, out: ModelOutputs, path=None) -> dict:
    """The model's DP schedule re-derived: q and steps from the training set (its members and included
    black-box canaries), the batch size and epochs; σ the configured one, or one whose RDP ε meets the
    target ε (to :data:`CALIBRATION_TOLERANCE`); δ and C the configured ones; both ε from the accountant
    for (σ, q, steps, δ).  :class:`AuditError` naming the model file when its record says otherwise (an
    edited file, or another run's): what is published is the accountant's ε, never the file's."""
    from mia_repro.privacy import epsilon_pld, epsilon_rdp, steps_per_epoch

    dp = out.dp
    bb = out.trained_on.get("blackbox_canaries", {})
    n = int(out.member.sum()) + int(np.sum(np.asarray(bb.get("included", []), bool)))
    batch, epochs = cfg.model.batch_size, cfg.model.epochs
    sigma, q, steps = float(dp["noise_multiplier"]), float(dp["sampling_rate"]), int(dp["steps"])
    eps = epsilon_rdp(sigma, q, steps, float(dp["delta"]))
    eps_pld = epsilon_pld(sigma, q, steps, float(dp["delta"]))
    target = dp_cfg.target_epsilon
    wrong = []
    if not math.isclose(q, batch / n, rel_tol=1e-12) or steps != epochs * steps_per_epoch(n, batch):
        wrong.append(f"q {q!r} and steps {steps} (its {n} training records, batch {batch} and {epochs} epochs "
                     f"give {batch / n!r} and {epochs * steps_per_epoch(n, batch)})")
    if float(dp["delta"]) != dp_cfg.delta or float(dp["clip_norm"]) != dp_cfg.clip_norm:
        wrong.append(f"δ {dp['delta']!r} / C {dp['clip_norm']!r} (configured {dp_cfg.delta!r} / {dp_cfg.clip_norm!r})")
    if dp_cfg.noise_multiplier is not None and sigma != dp_cfg.noise_multiplier:
        wrong.append(f"σ {sigma!r} (configured {dp_cfg.noise_multiplier!r})")
    if target is not None and not abs(eps - target) <= CALIBRATION_TOLERANCE * target:
        wrong.append(f"σ {sigma!r}, whose ε is {eps:.4g}, not the target ε {target:g}")
    for name, mine in (("epsilon", eps), ("epsilon_pld", eps_pld)):
        if not (float(dp[name]) == mine or math.isclose(float(dp[name]), mine, rel_tol=1e-9)):
            wrong.append(f"{name} {float(dp[name])!r} (the accountant gives {mine!r} for its σ, q and steps)")
    if wrong:
        raise AuditError(f"{label}: the DP record of its model file{'' if path is None else f' {path}'} is not its "
                         f"run's: {'; '.join(wrong)}; the file was edited or is another run's: delete it and rerun "
                         f"`python -m mia_repro audit --profile {cfg.profile}`")
    return {**dp, "epsilon": eps, "epsilon_pld": eps_pld}


def audit_row(cfg: ExperimentConfig, label: str, dp_cfg: DPConfig, out: ModelOutputs, path=None
              ) -> tuple[dict, dict]:
    """One model's row (:data:`ROW_KEYS`) and its per-record arrays; the schedule :func:`checked_schedule`'s,
    every bound computed from the arrays written to ``audit_scores.npz``."""
    rec, bb = out.trained_on.get("canaries"), out.trained_on.get("blackbox_canaries", {})
    dp = out.dp
    if (not isinstance(rec, dict) or len(rec.get("score", ())) != dp_cfg.canaries or dp is None
            or len(bb.get("score", ())) != dp_cfg.blackbox_canaries):
        raise AuditError(f"{label}: the model's file holds no canary record of {dp_cfg.canaries} canaries; delete it "
                         f"and rerun `python -m mia_repro audit --profile {cfg.profile}`")
    dp = checked_schedule(cfg, label, dp_cfg, out, path)
    for kind, values in (("white-box canary", rec["score"]), ("black-box canary", bb.get("score", []))):
        bad = int((~np.isfinite(np.asarray(values, np.float64))).sum())
        if bad:
            raise AuditError(f"{label}: {bad} of its {len(values)} {kind} scores are NaN or infinite in its model "
                             f"file{'' if path is None else f' {path}'} (a damaged file, or training that "
                             f"diverged): delete the file and rerun `python -m mia_repro audit --profile "
                             f"{cfg.profile}`")
    included = np.asarray(rec["included"], bool)
    score = np.asarray(rec["score"], np.float64)
    conf = cfg.audit.confidence
    one = one_run_audit(included, score, dp["delta"], conf)
    bb_inc, bb_score = np.asarray(bb.get("included", []), bool), np.asarray(bb.get("score", []), np.float64)
    black = (one_run_audit(bb_inc, bb_score, dp["delta"], conf) if len(bb_score) >= 2
             else {"epsilon_lower_bound": 0.0, "correct": 0, "guesses": 0})
    loss = _loss_score(out)
    natural = epsilon_lower_bound(out.member, loss, dp["delta"], confidence=conf, seed=cfg.seed)
    claimed = float(dp["epsilon"])
    row = {"label": label, "trainer": dp_cfg.broken or "dp-sgd", "claimed_epsilon": claimed,
           "epsilon_pld": float(dp["epsilon_pld"]), "delta": dp["delta"],
           "noise_multiplier": dp["noise_multiplier"], "sampling_rate": dp["sampling_rate"], "steps": dp["steps"],
           "clip_norm": dp["clip_norm"], "canaries": int(len(score)), "canaries_included": int(included.sum()),
           "train_acc": out.train_acc, "test_acc": out.test_acc,
           "one_run_epsilon_lower_bound": one["epsilon_lower_bound"], "one_run_k_plus": one["k_plus"],
           "one_run_k_minus": one["k_minus"], "one_run_guesses": one["guesses"], "one_run_correct": one["correct"],
           "one_run_hypotheses": one["hypotheses"], "blackbox_canaries": int(len(bb_score)),
           "blackbox_epsilon_lower_bound": black["epsilon_lower_bound"], "blackbox_correct": black["correct"],
           "blackbox_guesses": black["guesses"], "natural_epsilon_lower_bound": natural["epsilon_lower_bound"],
           "natural_threshold": natural["threshold"], "natural_direction": natural["direction"],
           "exceeds_claim": bool(max(one["epsilon_lower_bound"], black["epsilon_lower_bound"],
                                     natural["epsilon_lower_bound"]) > claimed)}
    if math.isinf(claimed):  # JSON has no infinity: σ = 0 claims nothing
        row["claimed_epsilon"] = row["epsilon_pld"] = None
        row["exceeds_claim"] = False
    arrays = {f"{label}__included": included, f"{label}__canary_score": score, f"{label}__bb_included": bb_inc,
              f"{label}__bb_score": bb_score, f"{label}__member": out.member,
              f"{label}__loss_score": loss}
    return row, arrays


@exclusive
def run_audit(cfg: ExperimentConfig, verbose: int = 0, data=None, log=print) -> list[dict]:
    """Train (or load) the audit's models, audit each, write ``audit.json`` and ``audit_scores.npz``."""
    start = time.perf_counter()
    a = cfg.audit
    labels, requests = _requests(cfg)
    free = cfg.n_records - 2 * a.size
    if a.blackbox_canaries > free:
        raise AuditError(f"audit.blackbox_canaries: {a.blackbox_canaries} canaries need as many records outside the "
                         f"target's {2 * a.size}; the data has {free}")
    log(f"Canary audit [{cfg.profile}]: n={a.size}, {a.canaries} white-box canaries per model, {len(labels)} models "
        f"(target ε {list(a.epsilons)}, σ = 0, broken {list(a.broken)} claiming ε = {a.broken_epsilon:g}); "
        f"{execution(cfg).describe()}")
    outs = train_or_load_many(cfg, requests, data=data, verbose=verbose, log=log,
                              desc=f"audit models ({execution(cfg).describe()})")
    rows, arrays = [], {}
    store = ModelStore(cfg)
    for (label, dp_cfg), (out,), request in zip(audit_settings(cfg), outs, requests):
        row, arr = audit_row(cfg, label, dp_cfg, out, store.path(request.jobs[0], request.size, request.model_cfg))
        rows.append(row)
        arrays.update(arr)
        claim = "ε = ∞" if row["claimed_epsilon"] is None else f"claimed ε {row['claimed_epsilon']:.2f}"
        log(f"  {label}: {claim}; one-run bound {row['one_run_epsilon_lower_bound']:.3f} "
            f"({row['one_run_correct']}/{row['one_run_guesses']} guesses right), black-box "
            f"{row['blackbox_epsilon_lower_bound']:.3f}, natural-record bound "
            f"{row['natural_epsilon_lower_bound']:.3f}" + ("  EXCEEDS THE CLAIM" if row["exceeds_claim"] else ""))
    layout = cfg.layout
    save_npz(layout.audit_scores, **arrays)
    save_json(layout.audit, {**run_meta(cfg, (a.size,)), "versions": versions(), "audit": to_dict(a),
                             "wall_seconds_this_run": time.perf_counter() - start, "rows": rows})
    log(f"Canary audit done in {time.perf_counter() - start:.0f}s -> {layout.audit}")
    return rows
