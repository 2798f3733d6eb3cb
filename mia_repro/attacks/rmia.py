"""RMIA, offline and online (Zarifzadeh, Liu, Chang, Shokri, ICML 2024, "Low-Cost High-Power Membership Inference Attacks").

Sec. 3, Eqs. (2)-(4): the likelihood ratio of x against a population record z,

    LR(x, z) = [Pr(x | theta) / Pr(x)] / [Pr(z | theta) / Pr(z)],

with ``Pr(x | theta) = p_y(x)`` the target's softmax probability of the true
class (float64, from the logits), and ``Score_MIA(x) = Pr_z( LR(x, z) >= gamma )``
over the population sample.  Offline (Sec. 4 / App. B.2.2), ``Pr(x)`` is
estimated from OUT reference models only and corrected with the scaling
parameter ``a``:

    Pr(x) = 1/2 * ((1 + a) * mean_OUT Pr(x | theta_ref) + (1 - a)).

**Choosing ``a`` and ``gamma``.**  As the paper does for ``a``, both are chosen
by simulating the attack with reference models as targets: here, on the
population simulation (each shadow as target, the others as references), the
pair on ``a_grid`` x ``gamma_grid`` with the largest simulated AUC (ties: the
earlier grid entry, so gamma = 1 wins a tie).  What the paper says of gamma:
Eq. (4) makes it the threshold on the pairwise likelihood ratio (gamma >= 1)
and leaves it a parameter; ML Privacy Meter's reference code uses gamma = 1.
TPR at low FPR depends on it, hence the search; ``attacks.json`` records the
chosen pair and every simulated AUC (``info``).

**Ties.**  The fraction of population records takes only P + 1 values, and on
overfit targets thousands of records dominate every z (and tie at score 1.0).  They are broken by
the record's mean likelihood ratio over the population, ``mean_z LR(x, z) =
[p_y(x) / Pr(x)] * mean_z [Pr(z) / p_y(z)]``, which orders records as
``log(p_y(x) / Pr(x))`` does: the score is

    fraction + (1/2 + arctan(log(p_y(x) / Pr(x))) / pi) / (P + 1),

the added term lying in (0, 1/(P+1)), below one step of the fraction, so it
never reorders records whose fractions differ.

**Online** (Sec. 4, "Online"): with reference models trained with x (IN) as well as without it, ``Pr(x)``
is the average of ``Pr(x | theta_ref)`` over all of them, no ``a`` needed; here the mean of the IN
references' average and the OUT references' average (the paper's references are half IN, half OUT for
every x; a seeded random half of a pool gives each record only about half, and the balanced mean keeps
the paper's weighting), or the average of the side there is where a record has references of one side
only.  ``Pr(z)`` for a population record is the average over the references that did not train on it.
``gamma`` is chosen on the simulation as offline.

Population records are the Stage I population sample (shadow pool, never
target data); they may be members of some shadows, whose OUT-ness is known and
respected.  The decision threshold on the score is chosen on the simulation
like every reference attack's.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from mia_repro.attacks.base import AttackInputError, balanced_threshold
from mia_repro.attacks.reference import ReferenceAttack, ReferenceProblem, masked_mean_std, simulated_problems, simulate


def marginal(p_ref: np.ndarray, out: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Offline ``Pr(x)`` (N,) from reference probabilities (R, N) over OUT entries, and which records had any."""
    mean, _, count = masked_mean_std(p_ref, out)
    return 0.5 * ((1 + a) * mean + (1 - a)), count > 0


def online_marginal(p_ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Online ``Pr(x)`` (N,) from reference probabilities (R, N): the mean of the IN and the OUT references'
    averages, or one side's average where a record has references of that side only."""
    m_in, _, n_in = masked_mean_std(p_ref, ~out)
    m_out, _, n_out = masked_mean_std(p_ref, out)
    return np.where((n_in > 0) & (n_out > 0), 0.5 * (m_in + m_out), np.where(n_in > 0, m_in, m_out))


def rmia_scores(p: ReferenceProblem, a: float | None, gammas) -> dict[float, np.ndarray]:
    """``{gamma: float64 (N,)}``: the fraction of population records z with ``LR(x, z) >= gamma``, plus the
    tie-break of the module docstring, for each of ``gammas`` (the shared likelihood ratios computed once).
    ``a`` None: online (``Pr(x)`` over IN and OUT references, :func:`online_marginal`)."""
    p_ref = np.exp(-p.ref_loss)
    pz, has_ref = marginal(np.exp(-p.pop_ref_loss), p.pop_ref_out, 0.0 if a is None else a)
    if a is None:  # online: Pr(z) is the plain average over the references that did not train on z
        pz = masked_mean_std(np.exp(-p.pop_ref_loss), p.pop_ref_out)[0]
        px = online_marginal(p_ref, p.ref_out)
    else:
        px, _ = marginal(p_ref, p.ref_out, a)
    with np.errstate(divide="ignore"):  # Pr = 0 (a = 1, every reference at p = 0): ratio +inf, ranked first
        log_ratio_x = -p.loss - np.log(px)
        log_ratio_z = np.sort(-p.pop_loss[has_ref] - np.log(pz[has_ref]))
    n_pop = len(log_ratio_z)
    tie_break = (0.5 + np.arctan(log_ratio_x) / np.pi) / (n_pop + 1)
    return {g: np.searchsorted(log_ratio_z, log_ratio_x - np.log(g), side="right") / max(n_pop, 1) + tie_break
            for g in gammas}


def rmia_score(p: ReferenceProblem, a: float | None, gamma: float) -> np.ndarray:
    """float64 (N,): :func:`rmia_scores` at one ``gamma``."""
    return rmia_scores(p, a, (gamma,))[gamma]


def check_rmia_params(name: str, **params) -> None:
    """:class:`AttackInputError` naming attack ``name`` unless ``a`` (and every ``a_grid`` entry) lies in
    [0, 1] and ``gamma`` (and every ``gamma_grid`` entry) is >= 1, the grids non-empty (those given)."""
    def number_in(v, low, high) -> bool:
        return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) and low <= v <= high

    bounds = {"a": (0, 1), "gamma": (1, np.inf), "a_grid": (0, 1), "gamma_grid": (1, np.inf)}
    for what, value in params.items():
        low, high = bounds[what]
        if what.endswith("_grid"):
            if not len(value) or not all(number_in(v, low, high) for v in value):
                raise AttackInputError(f"{name}: {what} must be a non-empty sequence of numbers in "
                                       f"[{low}, {high}], got {value!r}")
        elif not number_in(value, low, high):
            raise AttackInputError(f"{name}: {what} must be a number in [{low}, {high}], got {value!r}")


class RMIAOffline(ReferenceAttack):
    """Parameters: ``a`` / ``gamma`` (used as given when ``tune`` is False), the grids searched when ``tune``
    is True.  Learned: ``a_``, ``gamma_`` (the pair used), ``threshold_``, ``info_`` (with ``tune``, every
    simulated AUC)."""

    name = "rmia_offline"
    label = "RMIA offline"
    paper = "Zarifzadeh et al., ICML 2024, Eqs. 2-4 offline (Pr(x) = ((1+a) mean_OUT + 1 - a) / 2)"

    def __init__(self, a: float = 0.3, gamma: float = 1.0,
                 a_grid: tuple = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
                 gamma_grid: tuple = (1.0, 2.0, 4.0), tune: bool = True):
        self.a = a
        self.gamma = gamma
        self.a_grid = a_grid
        self.gamma_grid = gamma_grid
        self.tune = tune

    def fit(self, view) -> "RMIAOffline":
        check_rmia_params(self.name, a=self.a, gamma=self.gamma, a_grid=self.a_grid, gamma_grid=self.gamma_grid)
        info = {}
        a, gamma = float(self.a), float(self.gamma)
        if self.tune:
            problems = simulated_problems(view)
            member = np.concatenate([m for _, m in problems])
            aucs: dict[tuple[float, float], float] = {}
            for a in self.a_grid:
                per_problem = [rmia_scores(p, a, self.gamma_grid) for p, _ in problems]
                for g in self.gamma_grid:
                    aucs[(a, g)] = float(roc_auc_score(member, np.concatenate([s[g] for s in per_problem])))
            order = [(a, g) for g in self.gamma_grid for a in self.a_grid]  # gamma-major: an AUC tie keeps gamma 1
            a, gamma = max(order, key=lambda k: aucs[k])
            info = {"simulated_auc": {f"gamma={g:g}": {f"a={a:g}": aucs[(a, g)] for a in self.a_grid}
                                      for g in self.gamma_grid}}
        self.a_, self.gamma_ = a, gamma
        score, member = simulate(view, self.problem_score)
        self.threshold_ = balanced_threshold(member, score)
        self.info_ = {**info, "a": self.a_, "gamma": self.gamma_, "simulated_records": int(len(member))}
        return self

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        return rmia_score(p, self.a_, self.gamma_)


class RMIAOnline(ReferenceAttack):
    """Parameters: ``gamma`` (used as given when ``tune`` is False), ``gamma_grid`` searched on the simulation
    when ``tune`` is True.  Learned: ``gamma_``, ``threshold_``, ``info_``."""

    name = "rmia_online"
    label = "RMIA online"
    paper = "Zarifzadeh et al., ICML 2024, Eqs. 2-4 online (Pr(x) the average over IN and OUT references)"
    needs_in_references = True

    def __init__(self, gamma: float = 1.0, gamma_grid: tuple = (1.0, 2.0, 4.0), tune: bool = True):
        self.gamma = gamma
        self.gamma_grid = gamma_grid
        self.tune = tune

    def fit(self, view) -> "RMIAOnline":
        check_rmia_params(self.name, gamma=self.gamma, gamma_grid=self.gamma_grid)
        gamma, info = float(self.gamma), {}
        if self.tune:
            problems = simulated_problems(view)
            member = np.concatenate([m for _, m in problems])
            per_problem = [rmia_scores(p, None, self.gamma_grid) for p, _ in problems]
            aucs = {g: float(roc_auc_score(member, np.concatenate([s[g] for s in per_problem]))) for g in self.gamma_grid}
            gamma = max(self.gamma_grid, key=lambda g: aucs[g])  # a tie keeps the earlier entry
            info = {"simulated_auc": {f"gamma={g:g}": aucs[g] for g in self.gamma_grid}}
        self.gamma_ = gamma
        score, member = simulate(view, self.problem_score)
        self.threshold_ = balanced_threshold(member, score)
        self.info_ = {**info, "gamma": self.gamma_, "simulated_records": int(len(member))}
        return self

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        return rmia_score(p, None, self.gamma_)
