"""The benchmarks of the attacks (no training): the own-model API on numpy arrays in a fresh interpreter, with
and without the Keras pipeline loaded (``--numpy-path``), and the pool attacks on a cached pool: seconds per
attack and stage (``--pool``).  :mod:`mia_repro.tools.bench` runs them."""
from __future__ import annotations

import json
import platform
import time

import numpy as np


#: The own-model API on numpy arrays in a fresh interpreter: view_from_arrays, run_attacks (every attack the
#: arrays serve) and the ROC figure; prints one JSON line with the seconds and whether Keras / TensorFlow were
#: loaded.  ``{preload}`` runs first (the bench's second case imports the Keras pipeline there).
NUMPY_PATH = """
import json, os, sys, tempfile, time
t0 = time.perf_counter()
{preload}
import numpy as np
from mia_repro.views import view_from_arrays
from mia_repro.evaluation import run_attacks
rng = np.random.default_rng(0)
n, c, k, p = 400, 10, 4, 300
def logits(m):
    return rng.normal(size=(m, c)) * 3
y = rng.integers(0, c, n)
member = np.arange(n) < n // 2
view = view_from_arrays(y, [rng.integers(0, c, 200) for _ in range(k)], [np.arange(200) < 100 for _ in range(k)],
                        target_logits=logits(n), shadow_logits=[logits(200) for _ in range(k)],
                        reference_logits=np.stack([logits(n) for _ in range(k)]),
                        population_labels=rng.integers(0, c, p), population_member=rng.random((k, p)) < 0.5,
                        population_logits=np.stack([logits(p) for _ in range(k)]), target_population_logits=logits(p))
from mia_repro.attacks import ATTACKS
names = [a for a in ATTACKS if not ATTACKS[a].needs_augmentations]
res = run_attacks(view, member, names, bootstrap=20)
from mia_repro.reporting.plots import results_roc
results_roc(res, os.path.join(tempfile.mkdtemp(), "roc.png"))
print(json.dumps({{"seconds": time.perf_counter() - t0, "attacks": len(res.results),
                  "keras": "keras" in sys.modules, "tensorflow": "tensorflow" in sys.modules}}))
"""


def run_numpy_path(preload: str = "") -> dict:
    """:data:`NUMPY_PATH` in a fresh interpreter (after ``preload``); its JSON line as a dict."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", NUMPY_PATH.format(preload=preload)], capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"the numpy path failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_numpy_path_bench(rounds: int = 2) -> dict:
    """The numpy path as it is, and after importing the Keras pipeline (``mia_repro.experiment.stages.stage1``: what
    ``run_attacks`` imported while it lived beside the stages), alternating, each in a fresh interpreter."""
    runs = {"numpy_only": [], "with_keras_pipeline": []}
    for _ in range(rounds):
        runs["numpy_only"].append(run_numpy_path())
        runs["with_keras_pipeline"].append(run_numpy_path("import mia_repro.experiment.stages.stage1"))
    r = {"machine": platform.processor() or platform.machine(), "rounds": rounds}
    for name, rs in runs.items():
        r[f"{name}_seconds"] = float(np.median([x["seconds"] for x in rs]))
        r[f"{name}_keras_loaded"] = any(x["keras"] or x["tensorflow"] for x in rs)
    r["ratio_with_keras_over_numpy_only"] = r["with_keras_pipeline_seconds"] / r["numpy_only_seconds"]
    return r


def run_pool_bench(profile: str, target: int = 0) -> dict:
    """The pool attacks on the cached pool of ``profile`` (nothing trained): per attack of
    :data:`~mia_repro.experiment.stages.pool_attacks.POOL_ATTACKS` (the SVM aside: it is fit once per run) the
    seconds of fit + score on one leave-one-out target, and of the attacker's scores behind its thresholds;
    the FDR calls' p-values; and the ratio of each attack's time to ``lira_online_global``'s."""
    from sklearn.base import clone

    from mia_repro.attacks import new_attack
    from mia_repro.experiment.stages.pool import load_pool
    from mia_repro.experiment.stages.pool_attacks import POOL_ATTACKS
    from mia_repro.experiment.profiles import get_config
    from mia_repro.evaluation.pool import attacker_scores, out_pvalues
    from mia_repro.training import machine_info

    cfg = get_config(profile)
    t0 = time.perf_counter()
    pool = load_pool(cfg)
    out = {"profile": profile, "models": pool.n_models, "records": len(pool), "load_seconds": time.perf_counter() - t0,
           "device_name": machine_info().get("device_name"), "attacks": {}}
    view = pool.view(target, sim_targets=cfg.pool.sim_targets, seed=cfg.seed)
    for name in POOL_ATTACKS:
        if name == "shokri_svm":
            continue
        attack = clone(new_attack(name, cfg.attack, cfg.seed))
        start = time.perf_counter()
        attack.fit(view)
        attack.decision_function(view)
        fit_score = time.perf_counter() - start
        start = time.perf_counter()
        attacker_scores(attack, pool, view, target)
        out["attacks"][name] = {"fit_score_seconds": fit_score, "attacker_scores_seconds": time.perf_counter() - start}
    start = time.perf_counter()
    out_pvalues(view)
    out["pvalues_seconds"] = time.perf_counter() - start
    base = out["attacks"]["lira_online_global"]["fit_score_seconds"]
    for r in out["attacks"].values():
        r["ratio_to_lira_online_global"] = r["fit_score_seconds"] / base
    return out


__all__ = ["NUMPY_PATH", "run_numpy_path", "run_numpy_path_bench", "run_pool_bench"]
