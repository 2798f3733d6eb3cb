"""Canaries for the one-run audit: white-box gradient canaries and black-box mislabelled records.

White-box gradient canaries (Steinke, Nasr and Jagielski, NeurIPS 2023, §7's
white-box setting: "Dirac" canaries).

Canary ``i`` is a training example whose gradient is ``MAGNITUDE · e_{j_i}``: one coordinate ``j_i`` of the
flattened trainable parameters (distinct coordinates, drawn uniformly by a seeded generator).  Each canary is
included in the run independently with probability 1/2 (drawn once, before training: the audit's
``S_i``); at every step an included canary is sampled like every member (probability q), its gradient
clipped to norm C like every example's and added to the clipped sum **before** the noise.  The auditor sees
what DP-SGD releases at every step (the noisy update, times the public expected batch size: the noisy sum
for a trainer that divides by that constant) and scores canary ``i`` from its coordinate ``j_i``, ``o_t`` at
step t, in two ways (float64 (m,) each, larger = more likely included), both post-processings of the
private outputs, so the (ε, δ) of the run covers them and :func:`mia_repro.privacy.one_run.one_run_audit`
bounds ε from either:

* ``score``: the sum over steps, Σ_t o_t (their paper's score);
* ``lr_score``: the sum over steps of the log-likelihood ratio of "included" against "excluded" under the
  mechanism the accountant assumes, the canary sampled with probability q and N(0, (σC)²) noise,

      Σ_t log(1 − q + q · exp((c o_t − c²/2) / (σC)²)),   c = C the claimed clip norm,

  the Neyman–Pearson test of each step (a step the canary was not sampled in adds almost nothing, where
  the sum adds its noise); not defined at σ = 0 (None there).

``MAGNITUDE`` exceeds any clip norm in use, so clipping decides what a canary contributes (C), and a
trainer that forgets to clip (``DPConfig.broken = "no_clipping"``) shows it.

Black-box canaries (their §7 black-box setting, with natural images): :func:`blackbox_canaries` draws ``m``
records outside the job's own, gives each a seeded wrong label and includes each in the training set with
probability 1/2; after training each is scored by the final model's log-probability of its wrong label
(float64, larger = more likely included).  They are part of the training set, but the accountant's q and
steps come from the public size (the members alone): how many canaries were drawn in is the audit's secret.
"""
from __future__ import annotations

import math

import numpy as np

from mia_repro.privacy.one_run import likelihood_ratio_step

MAGNITUDE = 10.0


def draw(total: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(coordinates int64 (m,), included bool (m,))`` of ``m`` canaries over ``total`` parameters: distinct
    coordinates and each canary's inclusion (probability 1/2), from ``seed`` alone (so the audit's cap is
    known before training)."""
    if not 0 < m <= total:
        raise ValueError(f"{m} canaries: need 1..{total} (one parameter each)")
    rng = np.random.default_rng([int(seed), 17])
    coordinates = rng.choice(total, size=m, replace=False).astype(np.int64)
    return coordinates, rng.random(m) < 0.5


class WhiteBoxCanaries:
    """``m`` Dirac canaries over variables of the given ``shapes``; ``clip_norm`` the run's C (None: no
    clipping); ``seed`` draws the coordinates, the inclusion and the per-step sampling.  ``claimed_clip``,
    ``claimed_noise_std`` (σC) and ``sampling_rate``: the mechanism the accountant was told, which the
    likelihood-ratio score assumes (no ``lr_score`` when the noise is 0 or not given)."""

    def __init__(self, shapes: list[tuple[int, ...]], m: int, clip_norm: float | None, seed: int,
                 claimed_clip: float | None = None, claimed_noise_std: float = 0.0, sampling_rate: float = 0.0):
        sizes = [int(np.prod(s)) for s in shapes]
        total = sum(sizes)
        self.coordinates, self.included = draw(total, m, seed)
        self._sample = np.random.default_rng([int(seed), 19])
        starts = np.cumsum([0] + sizes)
        self._var = np.searchsorted(starts, self.coordinates, side="right") - 1
        self._pos = self.coordinates - starts[self._var]
        self.magnitude = MAGNITUDE if clip_norm is None or not math.isfinite(clip_norm) else min(MAGNITUDE, clip_norm)
        self.score = np.zeros(m, np.float64)
        self._lr = None  # one step's log-likelihood ratio, when defined
        if claimed_noise_std > 0 and 0 < sampling_rate < 1:
            self._lr = likelihood_ratio_step(self.magnitude if claimed_clip is None else claimed_clip,
                                             claimed_noise_std, sampling_rate)
        self.lr_score = None if self._lr is None else np.zeros(m, np.float64)
        self.steps = 0
        self.sampled = 0
        self.last_hits = 0

    def add(self, sums: list[np.ndarray], sampling_rate: float) -> list[np.ndarray]:
        """``sums`` (the clipped per-variable sums) with this step's sampled included canaries added."""
        hit = self.included & (self._sample.random(len(self.included)) < sampling_rate)
        self.last_hits = int(hit.sum())  # this step's canaries in the batch (a realized batch size counts them)
        self.sampled += self.last_hits
        out = [np.array(s, np.float64, copy=True) for s in sums]
        for v in np.unique(self._var[hit]):
            sel = hit & (self._var == v)
            out[v].reshape(-1)[self._pos[sel]] += self.magnitude
        return out

    def observe(self, released: list[np.ndarray]) -> None:
        """Score this step's release (the noisy sum, or the noisy update times the expected batch size) at
        every canary's coordinate: its value joins ``score``, its log-likelihood ratio ``lr_score``."""
        self.steps += 1
        o = np.empty(len(self.score), np.float64)
        for v in np.unique(self._var):
            sel = self._var == v
            o[sel] = np.asarray(released[v], np.float64).reshape(-1)[self._pos[sel]]
        self.score += o
        if self._lr is not None:
            self.lr_score += self._lr(o)

    def record(self) -> dict:
        """What the model's file keeps for the audit (JSON-able): coordinates, inclusion, both scores
        (``lr_score`` None where not defined), magnitude."""
        return {"coordinates": self.coordinates.tolist(), "included": self.included.tolist(),
                "score": self.score.tolist(),
                "lr_score": None if self.lr_score is None else self.lr_score.tolist(),
                "magnitude": float(self.magnitude), "steps": self.steps, "sampled": self.sampled}


def blackbox_canaries(n_records: int, own: np.ndarray, y: np.ndarray, m: int, num_classes: int, seed: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indices int64 (m,), wrong labels int32 (m,), included bool (m,))``: ``m`` records of
    ``range(n_records)`` outside ``own`` (seeded), each label moved by a seeded 1..num_classes-1, each
    included with probability 1/2."""
    rng = np.random.default_rng([int(seed), 29])
    free = np.setdiff1d(np.arange(n_records), own)
    if m > len(free):
        raise ValueError(f"{m} black-box canaries: only {len(free)} records outside the job's own")
    idx = np.sort(rng.choice(free, size=m, replace=False)).astype(np.int64)
    wrong = ((np.asarray(y)[idx] + rng.integers(1, num_classes, size=m)) % num_classes).astype(np.int32)
    return idx, wrong, rng.random(m) < 0.5
