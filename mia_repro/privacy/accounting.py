"""Privacy accounting of DP-SGD with Google's ``dp-accounting`` (no accountant of our own).

A DP-SGD run is one event: ``steps`` compositions of the Poisson-subsampled Gaussian mechanism,
``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), steps)``.  Its ε at δ comes from
the RDP accountant (the usual headline, Mironov et al. 2019) and, beside it, the PLD accountant (tighter).
Given a target ε, :func:`calibrate` solves for the noise multiplier σ with
``dp_accounting.calibrate_dp_mechanism`` on the RDP accountant.  :class:`Schedule` records what anyone
needs to recompute ε (``σ, q, steps, δ``), and :func:`schedule_for` builds it from a model config.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass


def _dpa():
    try:
        import dp_accounting
        from dp_accounting import pld, rdp
    except ImportError as exc:  # pragma: no cover - a listed requirement
        raise ImportError("DP-SGD needs the dp-accounting package: pip install -r requirements.txt") from exc
    import logging

    # the RDP accountant logs "_compute_log_a_frac failed to converge ... Excluding this order" for some
    # orders at large q: an excluded order can only raise the reported ε (a valid, looser bound), not a fault
    logging.getLogger("absl").setLevel(logging.ERROR)
    return dp_accounting, rdp, pld


def dp_event(noise_multiplier: float, sampling_rate: float, steps: int):
    """The ``dp_accounting`` event of ``steps`` Poisson-subsampled Gaussian steps."""
    dpa, _, _ = _dpa()
    return dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(sampling_rate, dpa.GaussianDpEvent(noise_multiplier)),
                                   int(steps))


@functools.lru_cache(maxsize=1024)  # a pure function of its numbers: the models of one setting ask for the same
def _epsilon(accountant: str, noise_multiplier: float, sampling_rate: float, steps: int, delta: float) -> float:
    if noise_multiplier <= 0:
        return math.inf
    _, rdp, pld = _dpa()
    acc = rdp.RdpAccountant() if accountant == "rdp" else pld.PLDAccountant()
    acc.compose(dp_event(noise_multiplier, sampling_rate, steps))
    return float(acc.get_epsilon(delta))


def epsilon_rdp(noise_multiplier: float, sampling_rate: float, steps: int, delta: float) -> float:
    """ε at ``delta`` of the RDP accountant (``rdp.RdpAccountant``); inf for no noise."""
    return _epsilon("rdp", noise_multiplier, sampling_rate, steps, delta)


def epsilon_pld(noise_multiplier: float, sampling_rate: float, steps: int, delta: float) -> float:
    """ε at ``delta`` of the privacy-loss-distribution accountant (``pld.PLDAccountant``); inf for no noise."""
    return _epsilon("pld", noise_multiplier, sampling_rate, steps, delta)


@functools.lru_cache(maxsize=256)
def calibrate(target_epsilon: float, sampling_rate: float, steps: int, delta: float) -> float:
    """The smallest noise multiplier σ whose RDP ε at ``delta`` is at most ``target_epsilon``
    (``dp_accounting.calibrate_dp_mechanism``, bisection to 1e-4 in σ)."""
    dpa, rdp, _ = _dpa()
    sigma = dpa.calibrate_dp_mechanism(rdp.RdpAccountant, lambda s: dp_event(s, sampling_rate, steps),
                                       float(target_epsilon), float(delta),
                                       dpa.LowerEndpointAndGuess(1e-3, 1.0), tol=1e-4)
    return float(sigma)


@dataclass(frozen=True)
class Schedule:
    """What DP-SGD did and what it guarantees: noise multiplier σ, sampling rate q, steps, clip norm C, δ,
    and ε from the RDP and the PLD accountant."""

    noise_multiplier: float
    sampling_rate: float
    steps: int
    clip_norm: float
    delta: float
    epsilon: float
    epsilon_pld: float

    def to_dict(self) -> dict:
        return asdict(self)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Steps of one epoch: ``ceil(n / batch_size)``, as Keras counts them (expected batch ``q n = batch_size``)."""
    return int(math.ceil(n / batch_size))


def schedule_for(dp, n: int, batch_size: int, epochs: int) -> Schedule:
    """The :class:`Schedule` of DP-SGD (``dp``: a :class:`~mia_repro.models.config.DPConfig`) on ``n`` members:
    q = batch_size / n, steps = epochs * ceil(n / batch_size); σ given or calibrated to ``dp.target_epsilon``."""
    if not dp.delta < 1 / n:
        from mia_repro.base.errors import ConfigError
        from mia_repro.base.validation import delta_problem

        raise ConfigError(f"dp.delta: {delta_problem(n)}, got {dp.delta!r}")
    q = batch_size / n
    steps = epochs * steps_per_epoch(n, batch_size)
    sigma = dp.noise_multiplier if dp.noise_multiplier is not None else calibrate(dp.target_epsilon, q, steps, dp.delta)
    return Schedule(float(sigma), q, steps, float(dp.clip_norm), float(dp.delta),
                    epsilon_rdp(sigma, q, steps, dp.delta), epsilon_pld(sigma, q, steps, dp.delta))
