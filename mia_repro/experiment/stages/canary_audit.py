"""The canary audit stage: one-run ε lower bounds (Steinke, Nasr, Jagielski, NeurIPS 2023) for DP-SGD
targets, beside the accountant's ε, what the estimators could show at best, and the natural-record bound,
and the same audit on broken DP-SGD.

For ``cfg.audit`` (:class:`~mia_repro.experiment.config.AuditConfig`) at size n, the plan trains on the
Shokri target's members, through the executor and the per-model cache like every model
(:func:`~mia_repro.experiment.trained.train_or_load_many`), each model with its own seed
(:func:`audit_seed`: initialisation, batches, canaries and noise; independent audits, not one at several
noise scales):

* one DP-SGD model per target ε, and one with σ = 0 (clipping, no noise: ε = ∞, the non-private reference);
* one per broken trainer (``no_noise``: no noise while the accountant is told σ; ``no_clipping``;
  ``realized_batch``: the noisy sum divided by the realized batch size), each claiming ``broken_epsilon``;

each with ``canaries`` white-box gradient canaries and ``blackbox_canaries`` mislabelled records
(:mod:`mia_repro.training.canaries`), each included with probability 1/2; q and the steps come from the
public size n, never from the secret number of canaries drawn in.  Per model it reports:

* ``one_run`` (white-box, the sum score), ``lr`` (white-box, the likelihood-ratio score) and ``blackbox``:
  :func:`mia_repro.privacy.one_run.one_run_audit` on each score (the choice of k+ / k− Bonferroni-corrected),
  valid ``confidence`` lower bounds;
* ``gdp`` / ``lr_gdp``: the f-DP (Gaussian) one-run estimate of each white-box score
  (:func:`mia_repro.privacy.one_run_gdp.one_run_gdp_audit`): a valid μ bound and the ε it implies at δ if the
  trainer's curve is Gaussian, beside the accountant's μ by the central limit theorem (``clt_mu``);
* the ceiling: the caps of the row's canaries (every guess right, :func:`mia_repro.privacy.ceiling.caps`) and
  what each estimator shows on the ideal mechanism at the row's σ, q and steps (median and 10–90% band,
  :func:`mia_repro.privacy.ceiling.ideal_ceiling`, cached in the store);
* ``natural``: :func:`mia_repro.privacy.audit.epsilon_lower_bound` of the loss attack (−cross-entropy from float64
  logits) on the n members and n non-members (threshold chosen on a seeded half, bound on the other half);
* ``exceeds_claim``: whether any bound of :data:`FLAG_BOUNDS`, each at confidence 1 − (1 − confidence) /
  their number (``flag_confidence``, ``flag_bounds``), exceeds the accountant's ε: wrong for a correct
  trainer with probability at most 1 − confidence.

Writes ``audit.json`` (one row per model, :data:`ROW_KEYS`) and ``audit_scores.npz`` (per model
``<label>__included`` / ``<label>__canary_score`` / ``<label>__lr_score`` (σ > 0), ``<label>__bb_included`` /
``<label>__bb_score`` and ``<label>__member`` / ``<label>__loss_score``), from which every published bound
recomputes.  The committed reproductions use ``noise_seed = "model"`` (:data:`NOISE_SEED_NOTE`).
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from scipy.special import log_softmax

from mia_repro.experiment.lock import exclusive
from mia_repro.privacy.audit import epsilon_lower_bound
from mia_repro.base.cache import save_json, save_npz
from mia_repro.base.errors import MiaReproError
from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.keys import to_dict
from mia_repro.experiment.outputs import ModelOutputs
from mia_repro.experiment.plan import TrainRequest, execution, size_jobs, size_splits
from mia_repro.experiment.provenance import run_meta, versions
from mia_repro.experiment.trained import ModelStore, train_or_load_many
from mia_repro.models.config import DPConfig
from mia_repro.training.jobs import TrainJob
from mia_repro.privacy.one_run import one_run_audit

ROW_KEYS = ("label", "trainer", "seed", "noise_seed", "claimed_epsilon", "epsilon_pld", "delta", "noise_multiplier",
            "sampling_rate", "steps", "clip_norm", "public_size", "canaries", "canaries_included", "train_acc",
            "test_acc", "one_run_epsilon_lower_bound", "one_run_k_plus", "one_run_k_minus", "one_run_guesses",
            "one_run_correct", "one_run_hypotheses", "lr_epsilon_lower_bound", "lr_guesses", "lr_correct",
            "gdp_mu_lower_bound", "gdp_epsilon_estimate", "lr_gdp_mu_lower_bound", "lr_gdp_epsilon_estimate",
            "clt_mu", "epsilon_cap", "gdp_mu_cap", "gdp_epsilon_cap", "ceiling", "blackbox_canaries",
            "blackbox_epsilon_lower_bound", "blackbox_correct", "blackbox_guesses", "natural_epsilon_lower_bound",
            "natural_threshold", "natural_direction", "flag_confidence", "flag_bounds", "exceeds_claim")


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


def audit_seed(seed: int, size: int, index: int) -> int:
    """The training seed of the ``index``-th audit model (:func:`audit_settings` order): its own, so that each
    model has its own initialisation, batches, canaries and (with ``noise_seed = "model"``) noise stream,
    derived from the config's ``seed`` (public: see :data:`NOISE_SEED_NOTE`)."""
    return int(np.random.default_rng([int(seed), int(size), int(index), 43]).integers(2**31 - 1))


#: what the report says of the committed audit's noise seeds
NOISE_SEED_NOTE = ("Each audit model has its own seed (its initialisation, batches, canaries and noise), derived "
                   "from the config's seed. With noise_seed = \"model\" that noise seed is public: anyone with the "
                   "config can regenerate the noise and subtract it, so the (ε, δ) guarantee holds only against an "
                   "adversary who does not know the seed; the audit, which does not use the seed, still measures "
                   "the mechanism as trained. For a guarantee against everyone, run with secret noise (fresh "
                   "operating-system entropy, recorded nowhere, so the run does not reproduce bit for bit): a "
                   "config file with [audit] noise_seed = \"secret\" passed as --config.")


def audit_jobs(cfg: ExperimentConfig) -> list[TrainJob]:
    """One job per audit model: the Shokri target's members and non-members of ``cfg.audit.size``, named
    ``audit_<label>_target``, each with its own :func:`audit_seed`."""
    size = cfg.audit.size
    target = size_jobs(size_splits(cfg, size), cfg.seed, 0)[0]
    return [dataclasses.replace(target, name=f"audit_{label}_target", seed=audit_seed(cfg.seed, size, i))
            for i, (label, _) in enumerate(audit_settings(cfg))]


def _requests(cfg: ExperimentConfig) -> tuple[list[str], list[TrainRequest]]:
    size = cfg.audit.size
    labels, requests = [], []
    for (label, dp), job in zip(audit_settings(cfg), audit_jobs(cfg)):
        labels.append(label)
        requests.append(TrainRequest(size, (job,), dataclasses.replace(cfg.model, dp=dp), f"audit {label} "))
    return labels, requests


def _loss_score(out: ModelOutputs) -> np.ndarray:
    """−cross-entropy of each record's true class, float64 (2n,) from the float64 logits."""
    lp = log_softmax(np.asarray(out.logits, np.float64), axis=1)
    return lp[np.arange(len(out.true_class)), out.true_class]


#: how far the ε of a σ calibrated to a target ε may lie from the target (the calibration's tolerance is 1e-4)
CALIBRATION_TOLERANCE = 1e-2


def _model_file(path) -> str:
    """"its model file <path>" for a message (the path left out when not known)."""
    return "its model file" + ("" if path is None else f" {path}")


def checked_schedule(cfg: ExperimentConfig, label: str, dp_cfg: DPConfig, out: ModelOutputs, path=None) -> dict:
    """The model's DP schedule re-derived: q and steps from the public size (its members; the black-box
    canaries drawn in are the audit's secret), the batch size and epochs; σ the configured one, or one whose RDP ε meets the
    target ε (to :data:`CALIBRATION_TOLERANCE`); δ and C the configured ones; both ε from the accountant
    for (σ, q, steps, δ).  :class:`AuditError` naming the model file when its record says otherwise (an
    edited file, or another run's): what is published is the accountant's ε, never the file's."""
    from mia_repro.privacy.accounting import epsilon_pld, epsilon_rdp, steps_per_epoch

    dp = out.dp
    n = int(out.member.sum())
    batch, epochs = cfg.model.batch_size, cfg.model.epochs
    sigma, q, steps = float(dp["noise_multiplier"]), float(dp["sampling_rate"]), int(dp["steps"])
    eps = epsilon_rdp(sigma, q, steps, float(dp["delta"]))
    eps_pld = epsilon_pld(sigma, q, steps, float(dp["delta"]))
    target = dp_cfg.target_epsilon
    wrong = []
    if not math.isclose(q, batch / n, rel_tol=1e-12) or steps != epochs * steps_per_epoch(n, batch):
        wrong.append(f"q {q!r} and steps {steps} (its {n} members, batch {batch} and {epochs} epochs "
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
        raise AuditError(f"{label}: the DP record of {_model_file(path)} is not its "
                         f"run's: {'; '.join(wrong)}; the file was edited or is another run's: delete it and rerun "
                         f"`python -m mia_repro audit --profile {cfg.profile}`")
    return {**dp, "epsilon": eps, "epsilon_pld": eps_pld}


#: the bounds the "exceeds the claim" flag tests, each at confidence 1 − (1 − confidence) / their number
FLAG_BOUNDS = ("white-box sum", "white-box likelihood ratio", "black-box", "natural records")


def _score_arrays(label: str, dp_cfg: DPConfig, rec: dict, bb: dict, path, profile: str) -> dict:
    """The canary arrays of one model's record, checked: ``included``, ``score``, ``lr_score`` (None where
    the record has none: σ = 0), ``bb_included``, ``bb_score``."""
    arrays = {"included": np.asarray(rec["included"], bool), "score": np.asarray(rec["score"], np.float64),
              "lr_score": None if rec.get("lr_score") is None else np.asarray(rec["lr_score"], np.float64),
              "bb_included": np.asarray(bb.get("included", []), bool),
              "bb_score": np.asarray(bb.get("score", []), np.float64)}
    where = _model_file(path)
    if arrays["lr_score"] is not None and len(arrays["lr_score"]) != dp_cfg.canaries:
        raise AuditError(f"{label}: {where} holds {len(arrays['lr_score'])} likelihood-ratio scores for "
                         f"{dp_cfg.canaries} canaries: delete the file and rerun `python -m mia_repro audit --profile "
                         f"{profile}`")
    for kind, values in (("white-box canary", arrays["score"]), ("likelihood-ratio", arrays["lr_score"]),
                         ("black-box canary", arrays["bb_score"])):
        bad = 0 if values is None else int((~np.isfinite(values)).sum())
        if bad:
            raise AuditError(f"{label}: {bad} of its {len(values)} {kind} scores are NaN or infinite in {where} (a "
                             f"damaged file, or training that diverged): delete the file and rerun `python -m "
                             f"mia_repro audit --profile {profile}`")
    return arrays


#: bump when the simulation or the estimators it runs change
CEILING_VERSION = 1


def ceiling_for(cfg: ExperimentConfig, dp: dict, m: int, log=print) -> dict:
    """:func:`mia_repro.privacy.ceiling.ideal_ceiling` of the schedule ``dp`` (σ, q, steps, δ as the accountant
    was told) at ``m`` canaries, cached in the store (``audit/ceiling-<key>.json``, keyed by all it depends on)."""
    from mia_repro.privacy.ceiling import ideal_ceiling
    from mia_repro.experiment.keys import config_key
    from mia_repro.experiment.store import Part, get_or_compute

    a = cfg.audit
    args = dict(m=int(m), noise_multiplier=float(dp["noise_multiplier"]), sampling_rate=float(dp["sampling_rate"]),
                steps=int(dp["steps"]), delta=float(dp["delta"]), confidence=float(a.confidence),
                trials=int(a.ceiling_trials), seed=int(cfg.seed))
    key = config_key("audit-ceiling", CEILING_VERSION, sorted(args.items()))

    def check(doc) -> None:
        if not isinstance(doc, dict) or any(doc.get(k) != v for k, v in args.items()):
            raise ValueError(f"a ceiling of {args} expected")

    def compute() -> dict:
        log(f"  simulating the ideal mechanism: σ {args['noise_multiplier']:.4g}, q {args['sampling_rate']:.4g}, "
            f"{args['steps']} steps, {m} canaries, {a.ceiling_trials} runs")
        return {"ceiling": ideal_ceiling(**args)}

    return get_or_compute({"ceiling": Part(cfg.layout.audit_ceiling(key), key, "json", check)}, compute, log)[0]["ceiling"]


def audit_row(cfg: ExperimentConfig, label: str, dp_cfg: DPConfig, out: ModelOutputs, path=None, seed=None,
              log=print) -> tuple[dict, dict]:
    """One model's row (:data:`ROW_KEYS`) and its per-record arrays; the schedule :func:`checked_schedule`'s,
    every bound computed from the arrays written to ``audit_scores.npz``; ``seed`` the model's training seed."""
    from mia_repro.privacy.ceiling import caps
    from mia_repro.privacy.one_run_gdp import clt_mu, one_run_gdp_audit

    rec, bb = out.trained_on.get("canaries"), out.trained_on.get("blackbox_canaries", {})
    dp = out.dp
    if (not isinstance(rec, dict) or len(rec.get("score", ())) != dp_cfg.canaries or dp is None
            or len(bb.get("score", ())) != dp_cfg.blackbox_canaries):
        raise AuditError(f"{label}: the model's file holds no canary record of {dp_cfg.canaries} canaries; delete it "
                         f"and rerun `python -m mia_repro audit --profile {cfg.profile}`")
    dp = checked_schedule(cfg, label, dp_cfg, out, path)
    arr = _score_arrays(label, dp_cfg, rec, bb, path, cfg.profile)
    if (arr["lr_score"] is None) != (float(dp["noise_multiplier"]) == 0):
        raise AuditError(f"{label}: {_model_file(path)} has "
                         f"{'no' if arr['lr_score'] is None else 'a'} likelihood-ratio score at σ = "
                         f"{dp['noise_multiplier']!r}; delete it and rerun `python -m mia_repro audit --profile "
                         f"{cfg.profile}`")
    included, score, lr = arr["included"], arr["score"], arr["lr_score"]
    conf, delta = cfg.audit.confidence, float(dp["delta"])
    one = one_run_audit(included, score, delta, conf)
    lr_one = None if lr is None else one_run_audit(included, lr, delta, conf)
    gdp = one_run_gdp_audit(included, score, delta, conf)
    lr_gdp = None if lr is None else one_run_gdp_audit(included, lr, delta, conf)
    bb_inc, bb_score = arr["bb_included"], arr["bb_score"]
    black = (one_run_audit(bb_inc, bb_score, delta, conf) if len(bb_score) >= 2
             else {"epsilon_lower_bound": 0.0, "correct": 0, "guesses": 0})
    loss = _loss_score(out)
    natural = epsilon_lower_bound(out.member, loss, delta, confidence=conf, seed=cfg.seed)
    claimed = float(dp["epsilon"])
    # the flag: every bound at the family's share of 1 − confidence (Bonferroni), so it is wrong at most 1 − conf
    tested = {"white-box sum": (included, score), "white-box likelihood ratio": (included, lr),
              "black-box": (bb_inc, bb_score)}
    tested = {k: v for k, v in tested.items() if v[1] is not None and len(v[1]) >= 2}
    family = 1 - (1 - conf) / (len(tested) + 1)
    flag = {k: one_run_audit(i, sc, delta, family)["epsilon_lower_bound"] for k, (i, sc) in tested.items()}
    flag["natural records"] = epsilon_lower_bound(out.member, loss, delta, confidence=family,
                                                  seed=cfg.seed)["epsilon_lower_bound"]
    ceiling = ceiling_for(cfg, dp, len(score), log)
    cap = caps(len(score), delta, conf, int(included.sum()))
    sigma = float(dp["noise_multiplier"])
    row = {"label": label, "trainer": dp_cfg.broken or "dp-sgd", "seed": seed,
           "noise_seed": dp_cfg.noise_seed if isinstance(dp_cfg.noise_seed, str) else int(dp_cfg.noise_seed),
           "claimed_epsilon": claimed, "epsilon_pld": float(dp["epsilon_pld"]), "delta": dp["delta"],
           "noise_multiplier": dp["noise_multiplier"], "sampling_rate": dp["sampling_rate"], "steps": dp["steps"],
           "clip_norm": dp["clip_norm"], "public_size": int(out.member.sum()), "canaries": int(len(score)),
           "canaries_included": int(included.sum()), "train_acc": out.train_acc, "test_acc": out.test_acc,
           "one_run_epsilon_lower_bound": one["epsilon_lower_bound"], "one_run_k_plus": one["k_plus"],
           "one_run_k_minus": one["k_minus"], "one_run_guesses": one["guesses"], "one_run_correct": one["correct"],
           "one_run_hypotheses": one["hypotheses"],
           "lr_epsilon_lower_bound": None if lr_one is None else lr_one["epsilon_lower_bound"],
           "lr_guesses": None if lr_one is None else lr_one["guesses"],
           "lr_correct": None if lr_one is None else lr_one["correct"],
           "gdp_mu_lower_bound": gdp["mu_lower_bound"], "gdp_epsilon_estimate": gdp["epsilon_estimate"],
           "lr_gdp_mu_lower_bound": None if lr_gdp is None else lr_gdp["mu_lower_bound"],
           "lr_gdp_epsilon_estimate": None if lr_gdp is None else lr_gdp["epsilon_estimate"],
           "clt_mu": None if sigma == 0 else clt_mu(sigma, float(dp["sampling_rate"]), int(dp["steps"])),
           **cap, "ceiling": ceiling,
           "blackbox_canaries": int(len(bb_score)),
           "blackbox_epsilon_lower_bound": black["epsilon_lower_bound"], "blackbox_correct": black["correct"],
           "blackbox_guesses": black["guesses"], "natural_epsilon_lower_bound": natural["epsilon_lower_bound"],
           "natural_threshold": natural["threshold"], "natural_direction": natural["direction"],
           "flag_confidence": family, "flag_bounds": flag,
           "exceeds_claim": bool(max(flag.values()) > claimed)}
    if math.isinf(claimed):  # JSON has no infinity: σ = 0 claims nothing
        row["claimed_epsilon"] = row["epsilon_pld"] = None
        row["exceeds_claim"] = False
    arrays = {f"{label}__included": included, f"{label}__canary_score": score, f"{label}__bb_included": bb_inc,
              f"{label}__bb_score": bb_score, f"{label}__member": out.member,
              f"{label}__loss_score": loss, **({} if lr is None else {f"{label}__lr_score": lr})}
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
        job = request.jobs[0]
        row, arr = audit_row(cfg, label, dp_cfg, out, store.path(job, request.size, request.model_cfg), job.seed, log)
        rows.append(row)
        arrays.update(arr)
        claim = "ε = ∞" if row["claimed_epsilon"] is None else f"claimed ε {row['claimed_epsilon']:.2f}"
        lr = row["lr_epsilon_lower_bound"]
        ideal = row["ceiling"]["sum"]["epsilon"]["median"]
        log(f"  {label}: {claim}; one-run bound {row['one_run_epsilon_lower_bound']:.3f} "
            f"({row['one_run_correct']}/{row['one_run_guesses']} guesses right; an ideal run: median {ideal:.3f}, "
            f"cap {row['epsilon_cap']:.3f}), likelihood ratio {'—' if lr is None else f'{lr:.3f}'}, black-box "
            f"{row['blackbox_epsilon_lower_bound']:.3f}, natural-record bound "
            f"{row['natural_epsilon_lower_bound']:.3f}" + ("  EXCEEDS THE CLAIM" if row["exceeds_claim"] else ""))
    layout = cfg.layout
    save_npz(layout.audit_scores, **arrays)
    save_json(layout.audit, {**run_meta(cfg, (a.size,)), "versions": versions(), "audit": to_dict(a),
                             "wall_seconds_this_run": time.perf_counter() - start, "rows": rows})
    log(f"Canary audit done in {time.perf_counter() - start:.0f}s -> {layout.audit}")
    return rows
