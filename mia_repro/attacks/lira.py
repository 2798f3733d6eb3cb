"""LiRA, offline and online (Carlini et al., IEEE S&P 2022, "Membership Inference Attacks From First Principles").

Algorithm 1, offline variant (Sec. VI-C): the statistic is the logit-scaled
confidence ``phi = log p_y - log(1 - p_y)`` (Sec. IV-B; computed from logits,
:func:`~mia_repro.attacks.base.logit_confidence`).  For each record, a
Gaussian ``N(mu_out, sigma_out^2)`` is fitted to the OUT reference models'
``phi`` and the target's ``phi`` is tested one-sidedly: the p-value of "x is
not a member" is ``1 - Phi((phi - mu_out) / sigma_out)``.  The score reported
is the standardized statistic ``(phi - mu_out) / sigma_out``, which ranks
records exactly as the p-value does (larger = member).

``global_variance=True`` is the variant the paper recommends with few
reference models (Sec. VI-A, "fixed variance"): one ``sigma_out`` for all
records, the pooled spread of the references around their per-record means.
With a per-record variance, records that have fewer than two OUT references
(possible in the simulation) use the global one.  No augmented queries are
used (the paper's query augmentation is not reproduced).

**Online** (Alg. 1 in full, Sec. IV-C): with reference models trained *with* the record (IN) as well as
without it (OUT) -- a reference pool (:mod:`mia_repro.reference_pool`), never Shokri's shadows -- a Gaussian
``N(mu_in, sigma_in^2)`` is fitted to the IN references' ``phi`` and one to the OUT references', and the
score is the log-likelihood ratio ``log N(phi; mu_in, sigma_in^2) - log N(phi; mu_out, sigma_out^2)``
(larger = member).  ``global_variance=True``: one ``sigma_in`` and one ``sigma_out`` for all records (the
pooled spreads around the per-record means), the variant the paper recommends with few models.  With a
per-record variance, a record with fewer than two IN (OUT) references uses the global one.  With few
references some records have no IN (or no OUT) reference at all: their missing mean is the other mean
shifted by the mean IN - OUT gap of ``phi`` over every reference entry (each reference model's records
are half IN, half OUT, so the gap is defined from one model on); the paper trains enough models for this
never to happen and says nothing of it.

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

from mia_repro.attacks.base import AttackInputError
from mia_repro.attacks.reference import ReferenceAttack, ReferenceProblem, masked_mean_std


def pooled_std(values: np.ndarray, mask: np.ndarray, mean: np.ndarray) -> float:
    """One standard deviation of ``values`` (R, N) around their per-record ``mean`` (N,) over ``mask``."""
    w = np.asarray(mask, dtype=np.float64)
    dof = max(w.sum() - np.count_nonzero(w.sum(axis=0)), 1)
    return float(np.sqrt((((values - mean) ** 2) * w).sum() / dof))


class LiRAOffline(ReferenceAttack):
    """``global_variance``: one ``sigma_out`` for every record (see the module docstring)."""

    name = "lira_offline"
    label = "LiRA offline (one-sided)"
    paper = "Carlini et al., S&P 2022, Alg. 1 offline (per-record Gaussian of OUT logit-scaled confidences, one-sided)"

    def __init__(self, global_variance: bool = False):
        self.global_variance = global_variance

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        phi_ref = p.ref_phi
        mu, sigma, count = masked_mean_std(phi_ref, p.ref_out)
        sigma_all = pooled_std(phi_ref, p.ref_out, mu)
        if self.global_variance:
            sigma = np.full_like(mu, sigma_all)
        else:
            sigma = np.where(count >= 2, sigma, sigma_all)
        return (p.phi - mu) / np.maximum(sigma, 1e-8)


class LiRAOfflineGlobal(LiRAOffline):
    name = "lira_offline_global"
    label = "LiRA offline (one-sided, global var.)"
    paper = "Carlini et al., S&P 2022, Alg. 1 offline with a global (fixed) variance"

    def __init__(self, global_variance: bool = True):
        self.global_variance = global_variance


def gaussian_logpdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """float64 log density of ``N(mu, sigma^2)`` at ``x`` (broadcast)."""
    sigma = np.maximum(sigma, 1e-8)
    return -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)


def in_out_gaussians(phi_ref: np.ndarray, ref_in: np.ndarray, global_variance: bool):
    """Per record ``(mu_in, sigma_in, mu_out, sigma_out)`` (N,) each, from the references' ``phi`` (R, N) and
    ``ref_in`` bool (R, N), with the fallbacks of the module docstring.  :class:`AttackInputError` when no
    reference entry is IN or none is OUT."""
    ref_in = np.asarray(ref_in, bool)
    if not ref_in.any() or ref_in.all():
        raise AttackInputError("online LiRA: the references hold no IN entry or no OUT entry for these records")
    mu_in, sd_in, n_in = masked_mean_std(phi_ref, ref_in)
    mu_out, sd_out, n_out = masked_mean_std(phi_ref, ~ref_in)
    gap = phi_ref[ref_in].mean() - phi_ref[~ref_in].mean()
    mu_in = np.where(n_in > 0, mu_in, mu_out + gap)
    mu_out = np.where(n_out > 0, mu_out, mu_in - gap)
    g_in = pooled_std(phi_ref, ref_in & (n_in > 0), mu_in)
    g_out = pooled_std(phi_ref, ~ref_in & (n_out > 0), mu_out)
    if global_variance:
        sd_in, sd_out = np.full_like(mu_in, g_in), np.full_like(mu_out, g_out)
    else:
        sd_in, sd_out = np.where(n_in >= 2, sd_in, g_in), np.where(n_out >= 2, sd_out, g_out)
    return mu_in, sd_in, mu_out, sd_out


class LiRAOnline(ReferenceAttack):
    """``global_variance``: one ``sigma_in`` and one ``sigma_out`` for every record (module docstring)."""

    name = "lira_online"
    label = "LiRA online (per-record var.)"
    paper = ("Carlini et al., S&P 2022, Alg. 1 online (per-record IN and OUT Gaussians of logit-scaled "
             "confidences, likelihood ratio)")
    needs_in_references = True

    def __init__(self, global_variance: bool = False):
        self.global_variance = global_variance

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        mu_in, sd_in, mu_out, sd_out = in_out_gaussians(p.ref_phi, ~p.ref_out, self.global_variance)
        return gaussian_logpdf(p.phi, mu_in, sd_in) - gaussian_logpdf(p.phi, mu_out, sd_out)


class LiRAOnlineGlobal(LiRAOnline):
    name = "lira_online_global"
    label = "LiRA online (global var.)"
    paper = "Carlini et al., S&P 2022, Alg. 1 online with a global (fixed) variance"

    def __init__(self, global_variance: bool = True):
        self.global_variance = global_variance
