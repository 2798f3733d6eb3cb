"""Judging attacks on a reference pool: leave-one-out targets, power against the number of references,
per-record reproducibility across targets, and precision at membership priors.

* **Leave-one-out** (Carlini et al., S&P 2022, Sec. VI): each of T pool models in turn is the target,
  the other M - 1 its references (:meth:`~mia_repro.views.pool.ReferencePool.view`); every metric is
  reported as mean and spread over the T targets.
* **Thresholds on the references.**  For a false-positive rate ``alpha`` the attacker sets its threshold
  on its own labelled data (:func:`attacker_scores`: the simulation on the references for a reference
  attack, the references' own records for an attack on shadows) with
  :func:`~mia_repro.attacks.thresholds.fpr_threshold`; the target's labels only judge the calls.
* **Reproducibility** (:func:`reproducibility`; the question of Jebreel et al., PoPETs 2026): per record,
  the share of the targets that had it as a member which flag it (IN-flag rate), and the same among the
  targets that did not (OUT-flag rate); the Jaccard overlap of two targets' flagged sets; the share of
  records flagged by at least 90% of the targets that trained on them.
* **Precision at priors** (:func:`precision_at_priors`; Jayaraman et al., PETS 2021): with members a share
  ``pi`` of the queried records, a "member" call is right with probability
  ``PPV = pi TPR / (pi TPR + (1 - pi) FPR)``, from the TPR and FPR that the threshold chosen on the
  references gives on the targets (pooled over them), beside the oracle that sets its threshold on the
  target's own labels at the same FPR.  Interval: the 2.5% and 97.5% quantiles of the PPV over a seeded
  two-way bootstrap (2,000 draws) that resamples the targets and, independently, the records: the targets
  share their records, so their T x N calls are not T x N independent trials.
* **Members at a false-discovery rate** (:func:`out_pvalues`, :func:`fdr_members`): per record the p-value of
  "not a member" from the OUT references (the target's logit-scaled confidence against the Gaussian of the
  OUT references' ones, with the global variance and the uncertainty of the record's mean), then
  Benjamini-Hochberg over the records: the records called are members at FDR <= q if the p-values are valid.
  :func:`fdr_check` measures the realized FDR of those calls on the pool's known membership.

numpy, scikit-learn and the attacks only.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
from scipy.stats import false_discovery_control, norm
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from mia_repro.attacks.view import AttackerView
from mia_repro.attacks.base import MembershipAttack
from mia_repro.attacks.thresholds import fpr_threshold
from mia_repro.attacks.lira import pooled_std
from mia_repro.attacks.reference import ReferenceAttack, ReferenceProblem, side_mean, simulate, target_problem
from mia_repro.evaluation.results import AttackResult
from mia_repro.evaluation.evaluate import evaluate_attack
from mia_repro.evaluation.metrics import Metric, tpr_at_fpr
from mia_repro.views.mistakes import OwnInputError
from mia_repro.views.pool import PoolInputError, ReferencePool


def check_priors(priors) -> tuple[float, ...]:
    """``priors`` as a tuple of floats in (0, 1); :class:`PoolInputError` otherwise."""
    out = tuple(priors)
    if not out or not all(isinstance(p, (int, float, np.floating)) and not isinstance(p, bool) and 0 < p < 1
                          for p in out):
        raise PoolInputError(f"priors: membership priors in (0, 1) (0.01 for 1%), got {priors!r}")
    return tuple(float(p) for p in out)


def attacker_scores(attack: MembershipAttack, pool: ReferencePool, view, target: int,
                    exclude: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """``(score, member)`` of a fitted ``attack`` on the attacker's labelled data: the simulation of the view
    for a reference attack; for an attack on shadows, the records of the view's simulated targets (less
    ``exclude``, e.g. the models an SVM was fit on) scored as if each were the target."""
    if isinstance(attack, ReferenceAttack):
        return simulate(view, attack.problem_score)
    sim = view.simulation
    chosen = range(len(sim.models)) if sim.targets is None else sim.targets
    models = [sim.models[j] for j in chosen if sim.models[j] not in set(exclude)]
    models = models or [m for m in sim.models if m not in set(exclude)]
    scores, members = [], []
    for m in models:
        helper = [o for o in range(pool.n_models) if o not in (m, target)][:2]
        scores.append(attack.decision_function(pool.view(m, references=helper)))
        members.append(pool.member[m])
    return np.concatenate(scores), np.concatenate(members)


def flags_at(attack: MembershipAttack, pool: ReferencePool, view, target: int, score: np.ndarray,
             fpr_levels: Sequence[float], exclude: Sequence[int] = ()) -> dict[float, tuple[float, np.ndarray]]:
    """``{alpha: (threshold, flags bool (N,))}``: the threshold set on the attacker's data for each rate and
    the target records it flags."""
    ref_score, ref_member = attacker_scores(attack, pool, view, target, exclude)
    out = {}
    for alpha in fpr_levels:
        t = fpr_threshold(ref_member, ref_score, alpha)
        out[float(alpha)] = (t, score >= t)
    return out


def leave_one_out(pool: ReferencePool, attacks: dict[str, MembershipAttack], targets: Sequence[int],
                  sim_targets: int | None, fpr_levels: Sequence[float], seed: int = 0, bootstrap: int = 200,
                  fitted: dict[str, tuple[MembershipAttack, Sequence[int]]] | None = None, log=print) -> dict:
    """Each of ``targets`` in turn attacked by every attack (a fresh clone fit on its view).  ``fitted``:
    attacks fit once elsewhere, ``{name: (attack, its shadow models)}`` (the SVMs on models never a
    target), scored on a view whose references are those models.  Returns ``{name: [per target:
    {"result": AttackResult, "flags": {alpha: (threshold, flags)}}]}``."""
    out: dict[str, list] = {name: [] for name in [*attacks, *(fitted or {})]}
    for t in targets:
        view = pool.view(t, sim_targets=sim_targets, seed=seed)
        for name, proto in attacks.items():
            attack = clone(proto)
            r = evaluate_attack(attack, view, pool.member[t], seed, bootstrap)
            out[name].append({"result": r, "flags": flags_at(attack, pool, view, t, r.scores["score"], fpr_levels)})
        for name, (attack, shadows) in (fitted or {}).items():
            v = pool.view(t, references=shadows, simulation=[i for i in range(pool.n_models) if i != t],
                          sim_targets=sim_targets, seed=seed)
            r = evaluate_attack(attack, v, pool.member[t], seed, bootstrap, fit=False)
            out[name].append({"result": r, "flags": flags_at(attack, pool, v, t, r.scores["score"], fpr_levels,
                                                             exclude=shadows)})
        log(f"    target {pool.names[t]}: " + ", ".join(
            f"{n} {out[n][-1]['result'].metrics.tpr(0.001):.3f}" for n in out) + " (TPR@0.1%FPR)")
    return out


def power_curve(pool: ReferencePool, attacks: dict[str, MembershipAttack], targets: Sequence[int],
                counts: Sequence[int], sim_targets: int | None, seed: int = 0, log=print,
                regimes: dict | None = None) -> dict:
    """AUC and TPR at 0.1% / 1% FPR of each attack with ``R`` references for ``R`` in ``counts``: per target
    a seeded subset of R of the other models serves as the references; the attacker's simulation runs on
    all of them with R references per simulated target, so its choices are made at the same R.  Returns
    ``{name: {R: {"auc": [per target], "tpr_at_0.1pct_fpr": [...], "tpr_at_1pct_fpr": [...]}}}``; ``regimes``
    (a dict, filled): ``{name: {R: whether the attack warned of its regime there}}``."""
    out = {name: {} for name in attacks}
    regimes = {} if regimes is None else regimes
    for r_count in counts:
        for name in attacks:
            out[name][int(r_count)] = {Metric.AUC: [], Metric.TPR_AT_0_1PCT_FPR: [], Metric.TPR_AT_1PCT_FPR: []}
        for t in targets:
            others = [i for i in range(pool.n_models) if i != t]
            if r_count > len(others):
                raise PoolInputError(f"reference_counts: {r_count} references, but only {len(others)} other models")
            pick = np.random.default_rng([seed, t, r_count, 5]).choice(len(others), r_count, replace=False)
            refs = [others[i] for i in np.sort(pick)]
            view = pool.view(t, references=refs, simulation=others, n_sim_references=r_count,
                             sim_targets=sim_targets, seed=seed)
            member = pool.member[t]
            for name, proto in attacks.items():
                attack = clone(proto).fit(view)
                score = attack.decision_function(view)
                warned = bool(getattr(attack, "info_", {}).get("warning"))
                regimes.setdefault(name, {})[int(r_count)] = regimes.get(name, {}).get(int(r_count), False) or warned
                row = out[name][int(r_count)]
                row["auc"].append(float(roc_auc_score(member, score)))
                row[Metric.TPR_AT_0_1PCT_FPR].append(tpr_at_fpr(member, score, 0.001))
                row[Metric.TPR_AT_1PCT_FPR].append(tpr_at_fpr(member, score, 0.01))
        log(f"    {r_count:3d} references: " + ", ".join(
            f"{n} {np.mean(out[n][int(r_count)][Metric.TPR_AT_0_1PCT_FPR]):.3f}" for n in attacks) + " (TPR@0.1%FPR)")
    return out


def reproducibility(flags: np.ndarray, member: np.ndarray) -> dict:
    """How stable the calls on one record are from target to target.

    ``flags`` bool (T, N): which records each target's attack flags; ``member`` bool (T, N): which each
    target trained on.  Returns per record ``in_rate`` / ``out_rate`` float64 (N,) (NaN where a record was
    never IN / OUT) and ``n_in`` int64 (N,); ``jaccard_all`` (mean over target pairs of the overlap of
    their flagged sets), ``jaccard_members`` (the same over the records both trained on), and
    ``share_reliable``: of the records IN for at least two targets, the share flagged by at least 90% of
    them (``n_eligible`` records).
    """
    flags, member = np.asarray(flags, bool), np.asarray(member, bool)
    if flags.shape != member.shape or flags.ndim != 2:
        raise PoolInputError(f"flags and member: one (T, N) shape, got {flags.shape} and {member.shape}")
    n_in = member.sum(axis=0)
    n_out = (~member).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        in_rate = np.where(n_in > 0, (flags & member).sum(axis=0) / n_in, np.nan)
        out_rate = np.where(n_out > 0, (flags & ~member).sum(axis=0) / n_out, np.nan)

    def jaccard(a: np.ndarray, b: np.ndarray) -> float:
        union = (a | b).sum()
        return float((a & b).sum() / union) if union else float("nan")

    pairs = list(itertools.combinations(range(len(flags)), 2))
    j_all = [jaccard(flags[i], flags[k]) for i, k in pairs]
    j_mem = [jaccard(flags[i] & member[i] & member[k], flags[k] & member[i] & member[k]) for i, k in pairs]
    eligible = n_in >= 2
    reliable = eligible & (in_rate >= 0.9)
    return {"in_rate": in_rate, "out_rate": out_rate, "n_in": n_in.astype(np.int64),
            "jaccard_all": _mean_defined(j_all), "jaccard_members": _mean_defined(j_mem),
            "share_reliable": float(reliable.sum() / eligible.sum()) if eligible.any() else float("nan"),
            "n_eligible": int(eligible.sum())}


def _mean_defined(values) -> float:
    """The mean of the values that are not NaN (NaN when none is: no target pair flagged anything)."""
    v = np.asarray(values, np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else float("nan")


def ppv(prior: float, tpr: float, fpr: float) -> float:
    """Precision of a "member" call when members are a share ``prior`` of the queried records."""
    den = prior * tpr + (1 - prior) * fpr
    return float(prior * tpr / den) if den > 0 else float("nan")


def two_way_bootstrap(flags: np.ndarray, member: np.ndarray, seed: int, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """``(tpr (draws,), fpr (draws,))`` of the calls ``flags`` bool (T, N) against ``member`` bool (T, N) pooled
    over targets and records, each draw resampling the T targets and the N records (with replacement,
    independently): the multinomial counts weight the cells."""
    t, n = flags.shape
    rng = np.random.default_rng([seed, 71])
    w_t = rng.multinomial(t, np.full(t, 1 / t), size=draws).astype(np.float64)  # (draws, T)
    w_n = rng.multinomial(n, np.full(n, 1 / n), size=draws).astype(np.float64)  # (draws, N)

    def count(cells: np.ndarray) -> np.ndarray:
        return np.einsum("dt,tn,dn->d", w_t, cells.astype(np.float64), w_n)

    pos, neg = count(member), count(~member)
    with np.errstate(invalid="ignore", divide="ignore"):
        return count(flags & member) / pos, count(flags & ~member) / neg


def precision_at_priors(flags: np.ndarray, member: np.ndarray, oracle_tpr: Sequence[float], alpha: float,
                        priors: Sequence[float], seed: int = 0, draws: int = 2000) -> dict:
    """PPV at each prior of the calls ``flags`` bool (T, N) against ``member`` bool (T, N), pooled over the
    T targets, with its interval (module docstring: a bootstrap over targets and records), beside the
    oracle's (``oracle_tpr``: per target the TPR at FPR ``alpha`` with a threshold set on its own labels).
    Returns ``{"tpr", "fpr", "tp", "fp", "members", "nonmembers", "oracle_tpr", "interval", "priors": {pi:
    {"ppv", "ci95", "oracle_ppv"}}}``."""
    priors = check_priors(priors)
    flags, member = np.asarray(flags, bool), np.asarray(member, bool)
    tp, fp = int((flags & member).sum()), int((flags & ~member).sum())
    pos, neg = int(member.sum()), int((~member).sum())
    tpr, fpr = tp / pos, fp / neg
    tpr_s, fpr_s = two_way_bootstrap(flags, member, seed, draws)
    o_tpr = float(np.mean(oracle_tpr))
    out = {}
    for pi in priors:
        with np.errstate(invalid="ignore", divide="ignore"):
            s = pi * tpr_s / (pi * tpr_s + (1 - pi) * fpr_s)
        s = s[~np.isnan(s)]  # a draw with no call at all has no precision
        ci = [float(np.quantile(s, 0.025)), float(np.quantile(s, 0.975))] if len(s) else [float("nan")] * 2
        out[pi] = {"ppv": ppv(pi, tpr, fpr), "ci95": ci, "oracle_ppv": ppv(pi, o_tpr, alpha)}
    return {"tpr": tpr, "fpr": fpr, "tp": tp, "fp": fp, "members": pos, "nonmembers": neg, "oracle_tpr": o_tpr,
            "interval": f"2.5%-97.5% quantiles of {draws} bootstrap draws over targets and records", "priors": out}


def out_z(problem: ReferenceProblem) -> np.ndarray:
    """float64 (N,): per record the standardized distance of the target's logit-scaled confidence ``phi``
    above the Gaussian of the OUT references' ones, ``(phi - mu) / (sigma sqrt(1 + 1/c))`` with ``mu`` the
    record's mean over its ``c`` OUT references, ``sigma`` the global OUT spread
    (:func:`~mia_repro.attacks.lira.pooled_std`) and the ``1/c`` for the error of ``mu``; a record with no OUT
    reference is measured against every OUT entry (their mean and spread)."""
    phi_ref, out = problem.ref_phi, np.asarray(problem.ref_out, bool)
    mu, count = side_mean(phi_ref, out)
    sigma = pooled_std(phi_ref, out, mu)
    sd = np.where(count > 0, sigma * np.sqrt(1 + 1 / np.maximum(count, 1)), phi_ref[out].std(ddof=1))
    return (problem.phi - mu) / np.maximum(sd, 1e-12)


def out_pvalues(view, calibrated: bool = True) -> np.ndarray:
    """float64 (N,): per target record the one-sided p-value of "the target did not train on it".

    The statistic is :func:`out_z`.  ``calibrated`` (the default): its p-value against the statistics of
    the attacker's simulation (reference models as targets, :func:`~mia_repro.attacks.reference.
    simulated_problems`) on the records they did not train on, ``(1 + #{null >= z}) / (1 + n_null)`` --
    valid when the target is exchangeable with the reference models, whatever the shape of the tails.
    Otherwise the Gaussian tail ``P(Z >= z)``, which the Gaussian's light tails can make too small (too many
    false calls) on models whose confidences are heavy-tailed.
    """
    z = out_z(target_problem(view))
    if not calibrated:
        return norm.sf(z)
    from mia_repro.attacks.reference import simulated_problems

    null = np.sort(np.concatenate([out_z(p)[~m] for p, m in simulated_problems(view)]))
    above = len(null) - np.searchsorted(null, z, side="left")
    return (1.0 + above) / (1.0 + len(null))


def fdr_members(pvalues: np.ndarray, q: float) -> np.ndarray:
    """bool (N,): the records Benjamini-Hochberg calls members at false-discovery rate ``q`` in (0, 1) from
    their p-values of "not a member" (:func:`out_pvalues`); valid while those p-values are."""
    p = np.asarray(pvalues, np.float64)
    if p.ndim != 1 or not len(p) or np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise PoolInputError(f"pvalues: a non-empty 1-D array of p-values in [0, 1], got shape {p.shape}")
    if not (isinstance(q, (int, float, np.floating)) and not isinstance(q, bool) and 0 < q < 1):
        raise PoolInputError(f"q: a false-discovery rate in (0, 1) (0.05 for 5%), got {q!r}")
    return false_discovery_control(p, method="bh") <= q


def fdr_check(pool: ReferencePool, targets: Sequence[int], qs: Sequence[float] = (0.01, 0.05, 0.1),
              sim_targets: int | None = None, seed: int = 0, calibrated: bool = True) -> dict:
    """The FDR calls on each leave-one-out target (every other model a reference; the simulation of
    ``sim_targets`` of them calibrates the p-values, :func:`out_pvalues`), judged on its known membership:
    per ``q`` the calls, the false ones and the realized FDR per target, and over all targets (false calls
    / calls).  ``{"q=<q>": {"q", "calls": [...], "false": [...], "fdr": [...], "fdr_pooled", "max_fdr",
    "tpr": [...]}}``."""
    out = {f"q={q:g}": {"calls": [], "false": [], "fdr": [], "tpr": []} for q in qs}
    for t in targets:
        pv = out_pvalues(pool.view(t, sim_targets=sim_targets, seed=seed), calibrated)
        member = pool.member[t]
        for q in qs:
            called = fdr_members(pv, q)
            row = out[f"q={q:g}"]
            k, false = int(called.sum()), int((called & ~member).sum())
            row["calls"].append(k)
            row["false"].append(false)
            row["fdr"].append(false / k if k else 0.0)
            row["tpr"].append(float((called & member).sum() / member.sum()))
    for q, row in zip(qs, out.values()):
        row["q"] = float(q)
        row["fdr_pooled"] = float(sum(row["false"]) / max(sum(row["calls"]), 1))
        row["max_fdr"] = float(max(row["fdr"]))
    return out


def summarize(values: Sequence[float]) -> dict:
    """``{"mean", "std", "min", "max", "values"}`` of per-target values (std with ddof 1; 0 for one value)."""
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "min": float(v.min()),
            "max": float(v.max()), "values": [float(x) for x in v]}


def pvalues(view: AttackerView, calibrated: bool = True) -> np.ndarray:
    """float64 (N,): per target record the p-value of "the target did not train on it", from its OUT
    references (:func:`mia_repro.evaluation.pool.out_pvalues`: the target's logit-scaled confidence against
    the OUT Gaussian, calibrated on the attacker's simulation).  Needs a view with references."""
    if not isinstance(view, AttackerView) or not view.has_references:
        raise OwnInputError("view: an AttackerView with reference models (view_from_pool, or view_from_arrays with "
                            "reference_logits=...)")
    return out_pvalues(view, calibrated)


def members_at_fdr(view: AttackerView, q: float = 0.05, record_ids=None, calibrated: bool = True) -> np.ndarray:
    """The ids (``record_ids`` (N,); None: positions 0..N-1) of the target records called members at a
    false-discovery rate ``q``: Benjamini-Hochberg over :func:`pvalues`.  "These k records are members at
    FDR <= q" holds in expectation while the p-values are valid (the target trained like its references);
    :func:`mia_repro.evaluation.pool.fdr_check` measures the realized FDR on a pool of known membership."""
    p = pvalues(view, calibrated)
    ids = np.arange(len(p)) if record_ids is None else np.asarray(record_ids)
    if ids.shape != p.shape:
        raise OwnInputError(f"record_ids: one id per target record ({len(p)}), got shape {ids.shape}")
    try:
        return ids[fdr_members(p, q)]
    except PoolInputError as exc:
        raise OwnInputError(str(exc)) from None


__all__ = ["AttackResult", "attacker_scores", "check_priors", "fdr_check", "fdr_members", "flags_at", "leave_one_out",
           "members_at_fdr", "out_pvalues", "out_z", "power_curve", "ppv", "precision_at_priors", "pvalues", "reproducibility", "summarize",
           "two_way_bootstrap"]
