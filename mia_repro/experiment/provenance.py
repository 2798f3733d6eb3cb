"""Provenance: what every published result says of how it was made (profile, sizes, epochs, shadows, seed,
and the machine and library versions that trained the models and ran the stage)."""
from __future__ import annotations

import json
import platform
from collections import Counter

import numpy as np

from mia_repro.experiment.config import ExperimentConfig
from mia_repro.experiment.outputs import SizeOutputs
from mia_repro.training import backend_info, choose_trainer


def run_meta(cfg: ExperimentConfig, sizes=None) -> dict:
    """Provenance of a result: profile, sizes (str), epochs, n_shadows, backend, device, trainer, seed."""
    return {"profile": cfg.profile, "sizes": [str(s) for s in (cfg.sizes if sizes is None else sizes)],
            "epochs": cfg.model.epochs, "n_shadows": cfg.n_shadows, **backend_info(),
            "trainer": choose_trainer(cfg.trainer)[0], "seed": cfg.seed}


def versions() -> dict[str, str]:
    """Library versions that a result depends on."""
    from mia_repro.base.quiet import keras
    import sklearn

    out = {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__, "scikit-learn": sklearn.__version__}
    backend = keras.backend.backend()
    try:
        mod = __import__(backend)
        out[backend] = mod.__version__
    except (ImportError, AttributeError):  # pragma: no cover - backend without __version__
        pass
    return out


def trained_on_table(stage1: dict[int, SizeOutputs]) -> dict[str, list[dict]]:
    """Per size (str), every distinct machine that trained its models, from their files: dicts of
    ``trainer``, ``backend``, ``device``, ``device_name``, ``keras`` and ``models`` (how many);
    ``{"trainer", "backend": "not recorded"}`` for files written before the machine was kept."""
    table = {}
    for size, so in sorted(stage1.items()):
        counts = Counter(json.dumps({"trainer": m.trainer, **(m.trained_on or {"backend": "not recorded"})},
                                    sort_keys=True) for m in [so.target, *so.shadows])
        table[str(size)] = [{**json.loads(k), "models": c} for k, c in counts.items()]
    return table


def stage1_meta(cfg: ExperimentConfig, stage1: dict[int, SizeOutputs]) -> dict:
    """:func:`run_meta` for results computed from ``stage1``: ``backend``, ``device``,
    ``device_name`` and ``trainer`` name the machine that *trained* the models (from their files;
    "mixed: a, b" when they differ; this process's values where no file records them), and
    ``stage1_trained_on`` gives :func:`trained_on_table`."""
    meta = run_meta(cfg, sorted(stage1))
    table = trained_on_table(stage1)
    for key in ("backend", "device", "device_name", "trainer"):
        values = sorted({r[key] for rows in table.values() for r in rows if key in r} - {"not recorded"})
        if values:
            meta[key] = values[0] if len(values) == 1 else "mixed: " + ", ".join(values)
    meta["stage1_trained_on"] = table
    return meta


#: what a result records as the machine that computed it when its cache entry predates that record
NOT_RECORDED = "not recorded (computed before its cache entry kept the machine)"


def computed_on(records) -> dict | list | str:
    """The machine(s) that computed a published result, from the ``ran_on`` each cache entry recorded when it
    was computed (so a rerun from the caches on another machine publishes the same): one dict, a list of the
    distinct ones, or :data:`NOT_RECORDED` when no entry has it."""
    seen = []
    for r in records:
        if r is not None and r not in seen:
            seen.append(r)
    return NOT_RECORDED if not seen else seen[0] if len(seen) == 1 else seen
