"""LiRA, offline and online (Carlini et al., IEEE S&P 2022, "Membership Inference Attacks From First Principles").

Algorithm 1, offline variant (Sec. VI-C): the statistic is the logit-scaled
confidence ``phi = log p_y - log(1 - p_y)`` (Sec. IV-B; computed from logits,
:func:`~mia_repro.attacks.signals.logit_confidence`).  For each record, a
Gaussian ``N(mu_out, sigma_out^2)`` is fitted to the OUT reference models'
``phi`` and the target's ``phi`` is tested one-sidedly: the p-value of "x is
not a member" is ``1 - Phi((phi - mu_out) / sigma_out)``.  The score reported
is the standardized statistic ``(phi - mu_out) / sigma_out``, which ranks
records exactly as the p-value does (larger = member).

**The variance** (``variance``, Sec. VI-A "fixed variance"): ``"per_record"`` -- each record's own
``sigma_out`` from its OUT references (Alg. 1 as written; a record with fewer than two uses the global
one); ``"global"`` -- one ``sigma_out`` for all records, the pooled spread of the references around their
per-record means, the variant the paper recommends with few reference models; ``"auto"`` -- per-record
where the records have, in the median, at least :data:`AUTO_PER_RECORD_MIN` references on that side (the
paper's 64 models, each record IN for half of them), global below.  A per-record variance from fewer than
:data:`RELIABLE_PER_RECORD_MIN` values is noise: :meth:`LiRAOffline.regime_warning` says so, and
``run_attacks`` and the reports repeat it.  With one reference per record the spread has no degree of
freedom: sigma is then 1, and the score is the plain difference ``phi - mu_out`` (offline) or, online, a
linear function of ``phi - (mu_in + mu_out) / 2`` -- a reference-calibrated confidence, not a Gaussian
test.  A record with no OUT reference (a pool with few references) takes ``mu_out`` as the mean over every
OUT entry (:func:`~mia_repro.attacks.reference.side_mean`), never 0.  No augmented queries are used (the
paper's query augmentation is not reproduced).

**Online** (Alg. 1 in full, Sec. IV-C): with reference models trained *with* the record (IN) as well as
without it (OUT) -- a reference pool (:mod:`mia_repro.views.pool`), never Shokri's shadows -- a Gaussian
``N(mu_in, sigma_in^2)`` is fitted to the IN references' ``phi`` and one to the OUT references', and the
score is the log-likelihood ratio ``log N(phi; mu_in, sigma_in^2) - log N(phi; mu_out, sigma_out^2)``
(larger = member).  ``variance`` as offline, for each side.  With few references some records have no IN
(or no OUT) reference at all: their missing mean is the other mean shifted by the mean IN - OUT gap of
``phi`` over every reference entry (each reference model's records are half IN, half OUT, so the gap is
defined from one model on); the paper trains enough models for this never to happen and says nothing of
it.

**Comparing with TF Privacy.**  TF Privacy's ``compute_score_lira``
(``tensorflow_privacy ... advanced_mia``) scores a *two-sided* density ratio
and estimates the OUT Gaussian with the median and a ddof-0 standard
deviation; this module implements the paper's *one-sided* test of Alg. 1 with
the mean and a ddof-1 standard deviation.  On this package's targets the
two-sided score is 0.08-0.11 AUC lower; with the one-sided test both agree to
within 0.005 AUC.  A reader comparing numbers with TF Privacy's should expect
that gap, not a bug.
"""
from __future__ import annotations

import numpy as np

from sklearn.utils._param_validation import StrOptions

from mia_repro.attacks.view import AttackInputError
from mia_repro.attacks.params import check_params
from mia_repro.attacks.registry import register
from mia_repro.attacks.reference import ReferenceAttack, ReferenceProblem, masked_mean_std, side_mean, target_problem


VARIANCES = ("per_record", "global", "auto")
#: "auto" uses per-record variances from this many references per record and side (the median) on
AUTO_PER_RECORD_MIN = 32
#: below this many values per record, a per-record variance is known to be unreliable (the warning)
RELIABLE_PER_RECORD_MIN = 16


def pooled_std(values: np.ndarray, mask: np.ndarray, mean: np.ndarray) -> float:
    """One standard deviation of ``values`` (R, N) around their per-record ``mean`` (N,) over ``mask``; 1.0
    where no degree of freedom is left (every record has at most one entry: the score is then a difference,
    see the module docstring)."""
    w = np.asarray(mask, dtype=np.float64)
    dof = w.sum() - np.count_nonzero(w.sum(axis=0))
    if dof < 1:
        return 1.0
    return float(np.sqrt((((values - mean) ** 2) * w).sum() / dof))


def use_per_record(variance: str, count: np.ndarray) -> bool:
    """Whether rule ``variance`` takes per-record variances for a side with ``count`` (N,) entries per record."""
    return variance == "per_record" or (variance == "auto" and float(np.median(count)) >= AUTO_PER_RECORD_MIN)


def side_sigma(values: np.ndarray, mask: np.ndarray, mean: np.ndarray, variance: str) -> np.ndarray:
    """Per record (N,) the standard deviation rule ``variance`` gives one side (entries ``mask`` (R, N)) of
    ``values`` around its per-record ``mean``: per-record (ddof 1; the pooled one below two entries) or the
    pooled one (:func:`pooled_std`) for all."""
    _, sd, count = masked_mean_std(values, mask)
    pooled = pooled_std(values, mask, mean)
    if use_per_record(variance, count):
        return np.where(count >= 2, sd, pooled)
    return np.full(values.shape[1], pooled)


class _LiRA(ReferenceAttack):
    """What both LiRAs share: the ``variance`` rule, checked in ``fit``, and the warning of its regime."""

    _parameter_constraints = {"variance": [StrOptions(set(VARIANCES))]}

    def fit(self, view) -> "_LiRA":
        super().fit(view)
        count = self._side_counts(target_problem(view))
        self.info_.update(variance=self.variance, per_record_variance=bool(use_per_record(self.variance, count)),
                          references_per_record_median=float(np.median(count)))
        if warning := self.regime_warning(view):
            self.info_["warning"] = warning
        return self

    @property
    def records_independent(self) -> bool:
        """Per-record variances only: a global variance is pooled over the target's records, and online a
        record without an IN (or OUT) reference takes that side's average over every record."""
        return self.variance == "per_record" and not self.needs_in_references

    def _side_counts(self, p: ReferenceProblem) -> np.ndarray:
        """(N,) the per-record number of references on the side(s) the variance is estimated from (the
        smaller side, online)."""
        raise NotImplementedError  # pragma: no cover - interface

    def regime_warning(self, view) -> str | None:
        """A sentence when this attack runs where it is known to be unreliable (per-record variances from
        fewer than :data:`RELIABLE_PER_RECORD_MIN` references per record), else None."""
        check_params(self)
        count = self._side_counts(target_problem(view))
        median = float(np.median(count))
        if use_per_record(self.variance, count) and median < RELIABLE_PER_RECORD_MIN:
            return (f"{self.name}: per-record variances from {median:g} references per record (median), fewer "
                    f"than {RELIABLE_PER_RECORD_MIN}: unreliable (Carlini et al. 2022, Sec. VI-A); use "
                    f"variance='global' (or 'auto') with few references")
        return None


@register("lira_offline",
          label="LiRA offline (one-sided)",
          long_label="LiRA offline (one-sided, per-record var.)",
          paper="Carlini et al., S&P 2022, Alg. 1 offline (per-record Gaussian of OUT logit-scaled confidences, "
                "one-sided)",
          sets={"compare": None, "pool": 4, "curve": 4, "dp": None})
@register("lira_offline_global",
          params={"variance": "global"},
          label="LiRA offline (one-sided, global var.)",
          paper="Carlini et al., S&P 2022, Alg. 1 offline with a global (fixed) variance",
          sets={"compare": None, "pool": 3, "curve": 3})
class LiRAOffline(_LiRA):
    """``variance``: ``"per_record"``, ``"global"`` or ``"auto"`` (see the module docstring)."""

    def __init__(self, variance: str = "per_record"):
        self.variance = variance

    def _side_counts(self, p: ReferenceProblem) -> np.ndarray:
        return np.asarray(p.ref_out, np.float64).sum(axis=0)

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        mu, _ = side_mean(p.ref_phi, p.ref_out)
        return (p.phi - mu) / np.maximum(side_sigma(p.ref_phi, p.ref_out, mu, self.variance), 1e-8)


def gaussian_logpdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """float64 log density of ``N(mu, sigma^2)`` at ``x`` (broadcast)."""
    sigma = np.maximum(sigma, 1e-8)
    return -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)


def in_out_gaussians(phi_ref: np.ndarray, ref_in: np.ndarray, variance: str):
    """Per record ``(mu_in, sigma_in, mu_out, sigma_out)`` (N,) each, from the references' ``phi`` (R, N) and
    ``ref_in`` bool (R, N), with the variance rule ``variance`` and the fallbacks of the module docstring.
    :class:`AttackInputError` when no reference entry is IN or none is OUT."""
    ref_in = np.asarray(ref_in, bool)
    if not ref_in.any() or ref_in.all():
        raise AttackInputError("online LiRA: the references hold no IN entry or no OUT entry for these records")
    mu_in, _, n_in = masked_mean_std(phi_ref, ref_in)
    mu_out, _, n_out = masked_mean_std(phi_ref, ~ref_in)
    gap = phi_ref[ref_in].mean() - phi_ref[~ref_in].mean()
    mu_in = np.where(n_in > 0, mu_in, mu_out + gap)
    mu_out = np.where(n_out > 0, mu_out, mu_in - gap)
    return mu_in, side_sigma(phi_ref, ref_in, mu_in, variance), mu_out, side_sigma(phi_ref, ~ref_in, mu_out, variance)


@register("lira_online",
          label="LiRA online (per-record var.)",
          paper="Carlini et al., S&P 2022, Alg. 1 online (per-record IN and OUT Gaussians of logit-scaled "
                "confidences, likelihood ratio)",
          sets={"online": None, "pool": 2, "curve": 2})
@register("lira_online_global",
          params={"variance": "global"},
          label="LiRA online (global var.)",
          paper="Carlini et al., S&P 2022, Alg. 1 online with a global (fixed) variance",
          sets={"online": None, "pool": 1, "curve": 1})
class LiRAOnline(_LiRA):
    """``variance``: ``"per_record"``, ``"global"`` or ``"auto"``, for each side (module docstring)."""

    needs_in_references = True

    def __init__(self, variance: str = "per_record"):
        self.variance = variance

    def _side_counts(self, p: ReferenceProblem) -> np.ndarray:
        out = np.asarray(p.ref_out, np.float64).sum(axis=0)
        return np.minimum(out, len(p.ref_out) - out)

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        mu_in, sd_in, mu_out, sd_out = in_out_gaussians(p.ref_phi, ~p.ref_out, self.variance)
        return gaussian_logpdf(p.phi, mu_in, sd_in) - gaussian_logpdf(p.phi, mu_out, sd_out)
