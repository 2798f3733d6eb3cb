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

**The signal** (``temperature_grid``): ``Pr(x | theta)`` is the true-class probability of the softmax at a
temperature T (the logits divided by T; T = 1 is the paper's).  On overfit models ``p_y`` saturates (members
at 0.9998), the ratio tops out near 2 and RMIA loses its power; a larger T keeps the members apart.  The
grid ``(1.0,)`` (the default) is the paper's signal; with a longer grid T is chosen on the simulation with
``a`` and ``gamma`` (ties: the earlier entry, so T = 1), and ``info`` says whether it lies on the grid's
edge.  ``rmia_offline_tuned`` / ``rmia_online_tuned`` are RMIA with T searched on :data:`TEMPERATURES`.

**Missing references.**  With few reference models a record may have no OUT (or, online, no IN) reference:
that side's average is then the average of the side over every record
(:func:`~mia_repro.attacks.reference.side_mean`), never 0 (an empty average of 0 would make ``Pr(x)``
tiny and rank such records first).

**Online** (Sec. 4, "Online"): with reference models trained with x (IN) as well as without it, ``Pr(x)``
is the average of ``Pr(x | theta_ref)`` over all of them, no ``a`` needed; here the mean of the IN
references' average and the OUT references' average (the paper's references are half IN, half OUT for
every x; a seeded random half of a pool gives each record only about half, and the balanced mean keeps
the paper's weighting); a side a record has no reference of is the side's average over every record.  ``Pr(z)`` for a population record is the average over the references that did not train on it.
``gamma`` is chosen on the simulation as offline.

Population records are the Stage I population sample (shadow pool, never
target data); they may be members of some shadows, whose OUT-ness is known and
respected.  The decision threshold on the score is chosen on the simulation
like every reference attack's.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from mia_repro.attacks.view import AttackInputError
from mia_repro.attacks.thresholds import balanced_threshold
from mia_repro.attacks.params import Grid, Number
from mia_repro.attacks.registry import register
from mia_repro.attacks.reference import ReferenceAttack, ReferenceProblem, side_mean, simulated_problems, simulate

#: the temperatures the tuned RMIA variants search (1 is the paper's signal)
TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 16.0)


def marginal(p_ref: np.ndarray, out: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Offline ``Pr(x)`` (N,) from reference probabilities (R, N) over OUT entries (a record without any: the
    OUT average over every record), and which records had any."""
    mean, count = side_mean(p_ref, out)
    return 0.5 * ((1 + a) * mean + (1 - a)), count > 0


def online_marginal(p_ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Online ``Pr(x)`` (N,) from reference probabilities (R, N): the mean of the IN and the OUT references'
    averages, a side a record has no reference of taking that side's average over every record."""
    return 0.5 * (side_mean(p_ref, ~out)[0] + side_mean(p_ref, out)[0])


def _side_means(p: ReferenceProblem, temperature: float) -> dict:
    """The references' averages RMIA needs at ``temperature``, computed once per problem and temperature
    (the grid search over ``a`` and ``gamma`` reuses them): the log signal of the target on x and on z, the
    OUT and IN averages on x, the OUT average on z and which z have an OUT reference."""
    cache = p.__dict__.setdefault("_rmia_means", {})
    key = (temperature, np.asarray(p.ref_out, bool).tobytes(), np.asarray(p.pop_ref_out, bool).tobytes())
    if key not in cache:  # keyed by the masks too: a problem whose masks were changed is recomputed
        log_x, log_ref, log_pop, log_pop_ref = p.true_log_probs(temperature)
        p_ref, p_pop_ref = np.exp(log_ref), np.exp(log_pop_ref)
        out_x, _ = side_mean(p_ref, p.ref_out)
        in_x = side_mean(p_ref, ~p.ref_out)[0] if (~np.asarray(p.ref_out, bool)).any() else None
        out_z, n_z = side_mean(p_pop_ref, p.pop_ref_out)
        cache[key] = {"log_x": log_x, "log_z": log_pop, "out_x": out_x, "in_x": in_x, "out_z": out_z,
                      "has_ref": n_z > 0}
    return cache[key]


def rmia_scores(p: ReferenceProblem, a: float | None, gammas, temperature: float = 1.0) -> dict[float, np.ndarray]:
    """``{gamma: float64 (N,)}``: the fraction of population records z with ``LR(x, z) >= gamma``, plus the
    tie-break of the module docstring, for each of ``gammas`` (the shared likelihood ratios computed once),
    with the signal at ``temperature``.  ``a`` None: online (``Pr(x)`` over IN and OUT references,
    :func:`online_marginal`)."""
    m = _side_means(p, temperature)
    has_ref = m["has_ref"]
    if a is None:  # online: Pr(z) is the plain average over the references that did not train on z
        if m["in_x"] is None:
            raise AttackInputError("online RMIA: the references hold no IN entry for these records")
        pz = m["out_z"]
        px = 0.5 * (m["in_x"] + m["out_x"])
    else:
        pz = 0.5 * ((1 + a) * m["out_z"] + (1 - a))
        px = 0.5 * ((1 + a) * m["out_x"] + (1 - a))
    with np.errstate(divide="ignore"):  # Pr = 0 (a = 1, every reference at p = 0): ratio +inf, ranked first
        log_ratio_x = m["log_x"] - np.log(px)
        log_ratio_z = np.sort(m["log_z"][has_ref] - np.log(pz[has_ref]))
    n_pop = len(log_ratio_z)
    tie_break = (0.5 + np.arctan(log_ratio_x) / np.pi) / (n_pop + 1)
    return {g: np.searchsorted(log_ratio_z, log_ratio_x - np.log(g), side="right") / max(n_pop, 1) + tie_break
            for g in gammas}


def rmia_score(p: ReferenceProblem, a: float | None, gamma: float) -> np.ndarray:
    """float64 (N,): :func:`rmia_scores` at one ``gamma``."""
    return rmia_scores(p, a, (gamma,))[gamma]


#: RMIA's parameters (:mod:`~mia_repro.attacks.params`): ``a`` in [0, 1], ``gamma`` >= 1, temperatures > 0
RMIA_PARAMETERS = {"a": [Number(0, 1)], "gamma": [Number(1, None, "left")], "a_grid": [Grid(0, 1)],
                   "gamma_grid": [Grid(1, None, "left")], "tune": ["boolean"],
                   "temperature_grid": [Grid(0, None, "neither")]}


def _edge(grid, chosen) -> bool:
    """Whether ``chosen`` is the largest entry of a grid of several (the search may want one step beyond)."""
    return len(grid) > 1 and chosen == max(grid)


@register("rmia_offline",
          label="RMIA offline",
          paper="Zarifzadeh et al., ICML 2024, Eqs. 2-4 offline (Pr(x) = ((1+a) mean_OUT + 1 - a) / 2)",
          sets={"compare": None, "pool": 8, "curve": 8, "dp": None})
@register("rmia_offline_tuned",
          params={"temperature_grid": TEMPERATURES},
          label="RMIA offline (signal temperature chosen)",
          paper="Zarifzadeh et al., ICML 2024, Eqs. 2-4 offline, Pr(x|theta) the softmax at a temperature chosen on "
                "the attacker's simulation",
          sets={"pool": 7, "curve": 6})
class RMIAOffline(ReferenceAttack):
    """Parameters: ``a`` / ``gamma`` (used as given when ``tune`` is False), the grids searched when ``tune``
    is True, ``temperature_grid`` the signal's temperatures (module docstring; the first is used when
    ``tune`` is False).  Learned: ``a_``, ``gamma_``, ``temperature_`` (the choice used), ``threshold_``,
    ``info_`` (with ``tune``, every simulated AUC)."""

    _parameter_constraints = RMIA_PARAMETERS

    def __init__(self, a: float = 0.3, gamma: float = 1.0,
                 a_grid: tuple = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
                 gamma_grid: tuple = (1.0, 2.0, 4.0), tune: bool = True, temperature_grid: tuple = (1.0,)):
        self.a = a
        self.gamma = gamma
        self.a_grid = a_grid
        self.gamma_grid = gamma_grid
        self.tune = tune
        self.temperature_grid = temperature_grid

    def fit(self, view) -> "RMIAOffline":
        info = {}
        a, gamma, temp = float(self.a), float(self.gamma), float(self.temperature_grid[0])
        temps = tuple(float(t) for t in self.temperature_grid)
        if self.tune:
            problems = simulated_problems(view)
            member = np.concatenate([m for _, m in problems])
            aucs: dict[tuple[float, float, float], float] = {}
            for t in temps:
                for a in self.a_grid:
                    per_problem = [rmia_scores(p, a, self.gamma_grid, t) for p, _ in problems]
                    for g in self.gamma_grid:
                        aucs[(t, a, g)] = float(roc_auc_score(member, np.concatenate([s[g] for s in per_problem])))
            # temperature-major, then gamma-major: an AUC tie keeps T = 1 and gamma = 1
            order = [(t, a, g) for t in temps for g in self.gamma_grid for a in self.a_grid]
            temp, a, gamma = max(order, key=lambda k: aucs[k])

            def table(t):
                return {f"gamma={g:g}": {f"a={a:g}": aucs[(t, a, g)] for a in self.a_grid} for g in self.gamma_grid}

            if temps == (1.0,):
                info = {"simulated_auc": table(1.0)}
            else:
                info = {"simulated_auc": {f"T={t:g}": table(t) for t in temps},
                        "temperature_on_grid_edge": _edge(temps, temp)}
        self.a_, self.gamma_, self.temperature_ = a, gamma, temp
        score, member = simulate(view, self.problem_score)
        self.threshold_ = balanced_threshold(member, score)
        self.info_ = {**info, "a": self.a_, "gamma": self.gamma_, "simulated_records": int(len(member))}
        if temps != (1.0,):
            self.info_["temperature"] = self.temperature_
        return self

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        return rmia_scores(p, self.a_, (self.gamma_,), self.temperature_)[self.gamma_]


@register("rmia_online",
          label="RMIA online",
          paper="Zarifzadeh et al., ICML 2024, Eqs. 2-4 online (Pr(x) the average over IN and OUT references)",
          sets={"online": None, "pool": 6, "curve": 7})
@register("rmia_online_tuned",
          params={"temperature_grid": TEMPERATURES},
          label="RMIA online (signal temperature chosen)",
          paper="Zarifzadeh et al., ICML 2024, Eqs. 2-4 online, Pr(x|theta) the softmax at a temperature chosen on "
                "the attacker's simulation",
          sets={"online": None, "pool": 5, "curve": 5})
class RMIAOnline(ReferenceAttack):
    """Parameters: ``gamma`` (used as given when ``tune`` is False), ``gamma_grid`` and ``temperature_grid``
    searched on the simulation when ``tune`` is True.  Learned: ``gamma_``, ``temperature_``, ``threshold_``,
    ``info_``."""

    needs_in_references = True
    records_independent = False  # a record without an IN reference takes the IN side's average over every record
    _parameter_constraints = RMIA_PARAMETERS

    def __init__(self, gamma: float = 1.0, gamma_grid: tuple = (1.0, 2.0, 4.0), tune: bool = True,
                 temperature_grid: tuple = (1.0,)):
        self.gamma = gamma
        self.gamma_grid = gamma_grid
        self.tune = tune
        self.temperature_grid = temperature_grid

    def fit(self, view) -> "RMIAOnline":
        temps = tuple(float(t) for t in self.temperature_grid)
        gamma, temp, info = float(self.gamma), temps[0], {}
        if self.tune:
            problems = simulated_problems(view)
            member = np.concatenate([m for _, m in problems])
            aucs = {}
            for t in temps:
                per_problem = [rmia_scores(p, None, self.gamma_grid, t) for p, _ in problems]
                for g in self.gamma_grid:
                    aucs[(t, g)] = float(roc_auc_score(member, np.concatenate([s[g] for s in per_problem])))
            temp, gamma = max([(t, g) for t in temps for g in self.gamma_grid], key=lambda k: aucs[k])  # ties: earlier
            if temps == (1.0,):
                info = {"simulated_auc": {f"gamma={g:g}": aucs[(1.0, g)] for g in self.gamma_grid}}
            else:
                info = {"simulated_auc": {f"T={t:g}": {f"gamma={g:g}": aucs[(t, g)] for g in self.gamma_grid}
                                          for t in temps},
                        "temperature_on_grid_edge": _edge(temps, temp)}
        self.gamma_, self.temperature_ = gamma, temp
        score, member = simulate(view, self.problem_score)
        self.threshold_ = balanced_threshold(member, score)
        self.info_ = {**info, "gamma": self.gamma_, "simulated_records": int(len(member))}
        if temps != (1.0,):
            self.info_["temperature"] = self.temperature_
        return self

    def problem_score(self, p: ReferenceProblem) -> np.ndarray:
        return rmia_scores(p, None, (self.gamma_,), self.temperature_)[self.gamma_]
