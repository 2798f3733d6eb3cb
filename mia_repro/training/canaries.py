"""Canaries for the one-run audit: white-box gradient canaries and black-box mislabelled records.

White-box gradient canaries (Steinke, Nasr and Jagielski, NeurIPS 2023, §7's
white-box setting: "Dirac" canaries).

Canary ``i`` is a training example whose gradient is ``MAGNITUDE · e_{j_i}``: one coordinate ``j_i`` of the
flattened trainable parameters (distinct coordinates, drawn uniformly by a seeded generator).  Each canary is
included in the run independently with probability 1/2 (drawn once, before training: the audit's
``S_i``); at every step an included canary is sampled like every member (probability q), its gradient
clipped to norm C like every example's and added to the clipped sum **before** the noise.  The auditor sees
what DP-SGD releases at every step (the noisy sum) and scores canary ``i`` by the sum over steps of the
noisy sum's coordinate ``j_i`` (float64 (m,), larger = more likely included): a post-processing of the
private outputs, so the (ε, δ) of the run covers it and :func:`mia_repro.one_run_audit.one_run_audit`
bounds ε from it.

``MAGNITUDE`` exceeds any clip norm in use, so clipping decides what a canary contributes (C), and a
trainer that forgets to clip (``DPConfig.broken = "no_clipping"``) shows it.

Black-box canaries (their §7 black-box setting, with natural images): :func:`blackbox_canaries` draws ``m``
records outside the job's own, gives each a seeded wrong label and includes each in the training set with
probability 1/2; after training each is scored by the final model's log-probability of its wrong label
(float64, larger = more likely included).  They are part of the training set: the accountant's q is
computed on the members plus the included canaries.
"""
from __future__ import annotations

import math

import numpy as np

MAGNITUDE = 10.0


class WhiteBoxCanaries:
    """``m`` Dirac canaries over variables of the given ``shapes``; ``clip_norm`` the run's C (None: no
    clipping); ``seed`` draws the coordinates, the inclusion and the per-step sampling."""

    def __init__(self, shapes: list[tuple[int, ...]], m: int, clip_norm: float | None, seed: int):
        sizes = [int(np.prod(s)) for s in shapes]
        total = sum(sizes)
        if not 0 < m <= total:
            raise ValueError(f"{m} canaries: need 1..{total} (one parameter each)")
        rng = np.random.default_rng([int(seed), 17])
        self.coordinates = rng.choice(total, size=m, replace=False).astype(np.int64)
        self.included = rng.random(m) < 0.5
        self._sample = np.random.default_rng([int(seed), 19])
        starts = np.cumsum([0] + sizes)
        self._var = np.searchsorted(starts, self.coordinates, side="right") - 1
        self._pos = self.coordinates - starts[self._var]
        self.magnitude = MAGNITUDE if clip_norm is None or not math.isfinite(clip_norm) else min(MAGNITUDE, clip_norm)
        self.score = np.zeros(m, np.float64)
        self.steps = 0
        self.sampled = 0

    def add(self, sums: list[np.ndarray], sampling_rate: float) -> list[np.ndarray]:
        """``sums`` (the clipped per-variable sums) with this step's sampled included canaries added."""
        hit = self.included & (self._sample.random(len(self.included)) < sampling_rate)
        self.sampled += int(hit.sum())
        out = [np.array(s, np.float64, copy=True) for s in sums]
        for v in np.unique(self._var[hit]):
            sel = hit & (self._var == v)
            out[v].reshape(-1)[self._pos[sel]] += self.magnitude
        return out

    def observe(self, noisy: list[np.ndarray]) -> None:
        """Add this step's released (noisy) sum at every canary's coordinate to its score."""
        self.steps += 1
        for v in np.unique(self._var):
            sel = self._var == v
            self.score[sel] += np.asarray(noisy[v], np.float64).reshape(-1)[self._pos[sel]]

    def record(self) -> dict:
        """What the model's file keeps for the audit (JSON-able): coordinates, inclusion, scores, magnitude."""
        return {"coordinates": self.coordinates.tolist(), "included": self.included.tolist(),
                "score": self.score.tolist(), "magnitude": float(self.magnitude), "steps": self.steps,
                "sampled": self.sampled}


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
