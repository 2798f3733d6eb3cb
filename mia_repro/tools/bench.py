"""Benchmark: train the same K models one at a time and stacked, in one run.

    python -m mia_repro.tools.bench --workers 1 2 --threads-per-model 1 2 --k 4 --n 2500 --epochs 2   # the executor
    python -m mia_repro.tools.bench --k 11 --n 15000 --batch-size 32 --epochs 2
    python -m mia_repro.tools.bench --determinism --k 2 --n 2500 --epochs 2   # cost of deterministic kernels
    python -m mia_repro.tools.bench --steps-per-execution 1 32 128 --k 1 --n 5000 --epochs 2   # sequential trainer
    python -m mia_repro.tools.bench --dp --batch-size 32   # one DP-SGD step vs one ordinary step
    python -m mia_repro.tools.bench --numpy-path   # the own-model API on numpy arrays, with and without Keras loaded
    python -m mia_repro.tools.bench --pool paper   # the pool attacks on the cached pool: seconds per attack and stage

(the last two: :mod:`mia_repro.tools.bench_attacks`)

Prints the backend and device, seconds per model-epoch of each trainer
(wall time of the whole training, model building and compilation included,
divided by K x epochs) and their ratio.  Uses the real CIFAR-10 when it is
found, otherwise random images of the same shape (it says which).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time

import numpy as np

from mia_repro.models.config import ModelConfig
from mia_repro.tools.bench_attacks import run_numpy_path_bench, run_pool_bench


def _data(n_needed: int, seed: int):
    from mia_repro.data.cifar10 import DatasetNotFoundError, load_cifar10

    try:
        x, y = load_cifar10(download=False)
        return x, y, "CIFAR-10"
    except DatasetNotFoundError:
        rng = np.random.default_rng(seed)
        n = max(n_needed, 1000)
        return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n), "random images"


def _setup(k: int, n: int, batch_size: int, epochs: int, seed: int):
    """``(x, y, data source, K jobs of n members and n non-members, ModelConfig)`` shared by both benchmarks."""
    from mia_repro.training import TrainJob

    x, y, source = _data(4 * n, seed)
    rng = np.random.default_rng(seed)
    jobs = []
    for i in range(k):
        idx = rng.choice(len(x), 2 * n, replace=False)
        jobs.append(TrainJob(f"m{i:02d}", idx[:n], idx[n:], seed + i))
    return x, y, source, jobs, dataclasses.replace(ModelConfig(), epochs=epochs, batch_size=batch_size)


def run_bench(k: int, n: int, batch_size: int, epochs: int, seed: int = 0, which=("sequential", "stacked")) -> dict:
    """Time both trainers on the same K jobs; returns a dict of the measurements."""
    from mia_repro.base.quiet import keras

    from mia_repro.training.stacked import train_stacked
    from mia_repro.training import backend_info, train_sequential

    x, y, source, jobs, cfg = _setup(k, n, batch_size, epochs, seed)
    out = {**backend_info(), "keras": keras.__version__, "python": platform.python_version(), "data": source,
           "k": k, "n": n, "batch_size": batch_size, "epochs": epochs}
    trainers = {"sequential": train_sequential, "stacked": train_stacked}
    for name in which:
        start = time.perf_counter()
        res = trainers[name](jobs, cfg, x, y)
        secs = time.perf_counter() - start
        out[f"{name}_seconds"] = secs
        out[f"{name}_s_per_model_epoch"] = secs / (k * epochs)
        out[f"{name}_final_train_acc_mean"] = float(np.mean([r.history["accuracy"][-1] for r in res]))
    if len(which) == 2:
        out["speedup_stacked_over_sequential"] = out["sequential_s_per_model_epoch"] / out["stacked_s_per_model_epoch"]
    return out


def run_determinism_bench(k: int, n: int, batch_size: int, epochs: int, seed: int = 0) -> dict:
    """Time the sequential trainer on the same K jobs with deterministic kernels off, then on (one process)."""
    from mia_repro.base.determinism import set_deterministic
    from mia_repro.training import backend_info, train_sequential

    x, y, source, jobs, cfg = _setup(k, n, batch_size, epochs, seed)
    out = {**backend_info(), "data": source, "k": k, "n": n, "batch_size": batch_size, "epochs": epochs}
    train_sequential(jobs[:1], dataclasses.replace(cfg, epochs=1), x, y)  # warm-up: first-use costs hit neither side
    for mode in (False, True):
        out[f"switch_{mode}"] = set_deterministic(mode)
        start = time.perf_counter()
        train_sequential(jobs, cfg, x, y)
        out[f"{'deterministic' if mode else 'default'}_s_per_model_epoch"] = (time.perf_counter() - start) / (k * epochs)
    out["ratio_deterministic_over_default"] = out["deterministic_s_per_model_epoch"] / out["default_s_per_model_epoch"]
    return out


def run_spe_bench(values, k: int, n: int, batch_size: int, epochs: int, seed: int = 0) -> dict:
    """Time the sequential trainer on the same K jobs with each ``steps_per_execution`` in ``values``
    (one process, deterministic kernels as Stage I uses them).  The values are timed twice, in order and
    then in reverse, so that a drift of the machine's speed during the run does not favour one of them;
    each value's figure is the mean of its two runs.  Also checks that every value gives the same
    weights as the first (it should: the steps are the same, only the calls into the backend differ)."""
    from mia_repro.base.determinism import set_deterministic
    from mia_repro.training import backend_info, train_sequential

    x, y, source, jobs, cfg = _setup(k, n, batch_size, epochs, seed)
    out = {**backend_info(), "data": source, "k": k, "n": n, "batch_size": batch_size, "epochs": epochs,
           "determinism": set_deterministic(True), "values": list(values)}
    train_sequential(jobs[:1], dataclasses.replace(cfg, epochs=1), x, y, steps_per_execution=values[0])  # warm-up
    times: dict[int, list[float]] = {v: [] for v in values}
    weights = {}
    for v in [*values, *reversed(values)]:
        start = time.perf_counter()
        res = train_sequential(jobs, cfg, x, y, steps_per_execution=v)
        times[v].append(time.perf_counter() - start)
        weights.setdefault(v, [w for r in res for w in r.weights])
    for v in values:
        out[f"spe{v}_s_per_model_epoch"] = float(np.mean(times[v])) / (k * epochs)
        out[f"spe{v}_ratio_to_spe{values[0]}"] = out[f"spe{v}_s_per_model_epoch"] / out[f"spe{values[0]}_s_per_model_epoch"]
        out[f"spe{v}_same_weights"] = all(np.array_equal(a, b) for a, b in zip(weights[values[0]], weights[v]))
    return out


def run_dp_bench(batch_size: int, steps: int = 100, rounds: int = 3, seed: int = 0) -> dict:
    """One DP-SGD step (per-example gradients, clipping to C = 1, noise sigma = 1, Adam) against one ordinary
    Keras step (``train_on_batch``, Adam) of the paper's CNN on the same batch of ``batch_size`` CIFAR-10
    images, in one process: after a warm-up of each, ``rounds`` x (``steps`` ordinary, ``steps`` DP), so that
    a drift of the machine's speed during the run favours neither; ms per step and their ratio."""
    from mia_repro.data.cifar10 import to_model_input
    from mia_repro.base.determinism import set_deterministic
    from mia_repro.models.cnn import build_cnn
    from mia_repro.base.quiet import keras
    from mia_repro.training import machine_info
    from mia_repro.training.dp_sgd import DPStep, logits_model

    x, y, source = _data(batch_size, seed)
    xb, yb = to_model_input(x[:batch_size], True), np.asarray(y[:batch_size], np.int32)
    cfg = ModelConfig()
    out = {**machine_info(), "data": source, "batch_size": batch_size, "steps": steps, "rounds": rounds,
           "determinism": set_deterministic(True)}
    plain = logits_model(build_cnn(cfg, seed=seed))
    plain.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    dp = DPStep(logits_model(build_cnn(cfg, seed=seed)), keras.optimizers.Adam(cfg.learning_rate), 1.0, 1.0, batch_size)
    rng = np.random.default_rng(seed)
    for _ in range(3):  # warm-up: tracing and first-use costs hit neither side
        plain.train_on_batch(xb, yb)
        dp(xb, yb, rng)
    times = {"ordinary": 0.0, "dp": 0.0}
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            plain.train_on_batch(xb, yb)
        times["ordinary"] += time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(steps):
            dp(xb, yb, rng)
        times["dp"] += time.perf_counter() - start
    for k, v in times.items():
        out[f"{k}_ms_per_step"] = 1e3 * v / (steps * rounds)
    out["ratio_dp_over_ordinary"] = out["dp_ms_per_step"] / out["ordinary_ms_per_step"]
    return out


def _one_setting(workers: int, threads: int, k: int, n: int, batch_size: int, epochs: int, seed: int = 0) -> dict:
    """In a fresh process: K models through the executor with ``workers`` x ``threads``, after a warm-up
    (one 1-epoch model per worker: process start, backend import, threads applied) that is not timed."""
    import hashlib

    from mia_repro.base.determinism import set_deterministic
    from mia_repro.training import Execution, train_models

    x, y, source, jobs, cfg = _setup(k, n, batch_size, epochs, seed)
    execution = Execution(workers=workers, threads_per_model=threads)
    set_deterministic(True)
    train_models(jobs[:workers], dataclasses.replace(cfg, epochs=1), x, y, trainer="sequential", execution=execution)
    start = time.perf_counter()
    res = train_models(jobs, cfg, x, y, trainer="sequential", execution=execution)
    secs = time.perf_counter() - start
    digest = hashlib.sha256(b"".join(w.tobytes() for r in res for w in r.weights)).hexdigest()[:12]
    return {"workers": workers, "threads_per_model": threads, "seconds": secs, "model_epochs_per_s": k * epochs / secs,
            "weights_sha256": digest, "data": source}


def run_executor_bench(workers: list[int], threads: list[int], k: int, n: int, batch_size: int, epochs: int) -> dict:
    """Every (workers, threads per model) setting on the same K jobs, each in a fresh process, one after the
    other in one run; the ratio is to ``--workers 1 --threads-per-model 2`` (how the committed caches trained)."""
    import subprocess
    import sys

    from mia_repro.training import machine_info

    rows = []
    for w in workers:
        for t in threads:
            cmd = [sys.executable, "-m", "mia_repro.tools.bench", "--one-setting", str(w), str(t), "--k", str(k), "--n", str(n),
                   "--batch-size", str(batch_size), "--epochs", str(epochs)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"setting workers={w} threads={t} failed: {out.stderr.strip().splitlines()[-1:]}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = next((r for r in rows if (r["workers"], r["threads_per_model"]) == (1, 2)), rows[0])
    for r in rows:
        r["ratio_to_w1_t2"] = r["model_epochs_per_s"] / base["model_epochs_per_s"]
    return {**machine_info(), "k": k, "n": n, "batch_size": batch_size, "epochs": epochs, "settings": rows,
            "baseline": f"workers {base['workers']}, threads {base['threads_per_model']}"}


def _emit(r: dict, json_path: str | None) -> int:
    """Write the measurements to ``json_path`` (when given) and print them as one JSON line."""
    if json_path:
        from mia_repro.base.cache import save_json

        save_json(json_path, r)
    print(json.dumps(r))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mia_repro.tools.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--k", type=int, default=11, help="models trained together (default 11: target + 10 shadows)")
    p.add_argument("--n", type=int, default=15000, help="members per model (default 15000)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--only", choices=("sequential", "stacked"), default=None, help="time one trainer only")
    p.add_argument("--json", default=None, help="also write the measurements to this file")
    p.add_argument("--determinism", action="store_true",
                   help="instead: the sequential trainer with deterministic kernels off, then on")
    p.add_argument("--steps-per-execution", type=int, nargs="+", default=None, metavar="S",
                   help="instead: the sequential trainer with each of these steps_per_execution")
    p.add_argument("--workers", type=int, nargs="+", default=None, metavar="W",
                   help="instead: the executor with each of these worker counts (x each --threads-per-model)")
    p.add_argument("--threads-per-model", type=int, nargs="+", default=[2], metavar="T",
                   help="with --workers: threads per model to try (default 2)")
    p.add_argument("--dp", action="store_true", help="instead: one DP-SGD step vs one ordinary step, same batch")
    p.add_argument("--dp-steps", type=int, default=100, help="with --dp: steps per side and round (default 100)")
    p.add_argument("--numpy-path", action="store_true",
                   help="instead: the own-model API on numpy arrays, as it is and with the Keras pipeline imported")
    p.add_argument("--pool", default=None, metavar="PROFILE",
                   help="instead: the pool attacks on the cached pool of PROFILE (e.g. paper), seconds per attack")
    p.add_argument("--one-setting", type=int, nargs=2, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.pool:
        from mia_repro.base.errors import MiaReproError

        try:
            r = run_pool_bench(a.pool)
        except MiaReproError as exc:
            p.exit(2, f"error: {exc}\n")
        print(f"pool attacks on the cached {r['profile']} pool ({r['models']} models x {r['records']:,} records; "
              f"{r['device_name']}), one leave-one-out target; loading the pool: {r['load_seconds']:.1f} s")
        print("| attack | fit + score (s) | attacker's scores for the thresholds (s) | ratio to lira_online_global |")
        print("|---|---|---|---|")
        for name, t in r["attacks"].items():
            print(f"| {name} | {t['fit_score_seconds']:.2f} | {t['attacker_scores_seconds']:.2f} | "
                  f"{t['ratio_to_lira_online_global']:.1f}x |")
        print(f"p-values for the FDR calls: {r['pvalues_seconds']:.2f} s")
        return _emit(r, a.json)
    if a.one_setting:
        print(json.dumps(_one_setting(*a.one_setting, a.k, a.n, a.batch_size, a.epochs)))
        return 0
    if a.workers:
        from mia_repro.training.jobs import cpu_vector_isa

        if min(a.workers) < 1 or min(a.threads_per_model) < 1:
            p.error("--workers / --threads-per-model: every value must be >= 1")
        r = run_executor_bench(a.workers, a.threads_per_model, a.k, a.n, a.batch_size, a.epochs)
        print(f"{r['device_name']} | backend {r['backend']} on {r['device']} | K={r['k']} models, n={r['n']}, "
              f"batch {r['batch_size']}, {r['epochs']} epochs | each setting in a fresh process, warmed up")
        print("| workers | threads per model | seconds | model-epochs per s | ratio to workers 1, threads 2 | weights sha256 |")
        print("|---|---|---|---|---|---|")
        for s in r["settings"]:
            print(f"| {s['workers']} | {s['threads_per_model']} | {s['seconds']:.1f} | {s['model_epochs_per_s']:.3f} | "
                  f"{s['ratio_to_w1_t2']:.2f}x | {s['weights_sha256']} |")
        print(f"weights sha256: equal hashes mean the same bits; they repeat only on the same CPU type (here "
              f"{r['device_name']}, {cpu_vector_isa()}) and threads per model -- on another CPU compare results "
              f"against the seed spread, not hashes")
        return _emit(r, a.json)
    if a.steps_per_execution:
        if min(a.steps_per_execution) < 1:
            p.error("--steps-per-execution: every value must be >= 1")
        r = run_spe_bench(a.steps_per_execution, a.k, a.n, a.batch_size, a.epochs)
        print(f"backend {r['backend']} on {r['device']} | data: {r['data']} | K={r['k']}, n={r['n']}, "
              f"batch {r['batch_size']}, {r['epochs']} epochs | {r['determinism']}")
        first = r["values"][0]
        for v in r["values"]:
            print(f"  steps_per_execution {v:4d}: {r[f'spe{v}_s_per_model_epoch']:.3f} s per model-epoch, "
                  f"ratio to {first}: {r[f'spe{v}_ratio_to_spe{first}']:.2f}x, same weights: {r[f'spe{v}_same_weights']}")
        return _emit(r, a.json)
    if a.dp:
        from mia_repro.training.jobs import cpu_vector_isa

        if a.dp_steps < 1:
            p.error("--dp-steps: expected an integer >= 1")
        r = run_dp_bench(a.batch_size, a.dp_steps)
        print(f"backend {r['backend']} on {r['device']} ({r['device_name']}, {cpu_vector_isa()}) | data: "
              f"{r['data']} | paper CNN, batch {r['batch_size']}, {r['rounds']} x {r['steps']} steps each, interleaved")
        print(f"  ordinary step (train_on_batch): {r['ordinary_ms_per_step']:.1f} ms")
        print(f"  DP-SGD step (per-example clip + noise): {r['dp_ms_per_step']:.1f} ms")
        print(f"  ratio DP-SGD/ordinary: {r['ratio_dp_over_ordinary']:.2f}x")
        return _emit(r, a.json)
    if a.numpy_path:
        r = run_numpy_path_bench()
        print(f"the own-model API on numpy arrays (view_from_arrays, run_attacks with 11 attacks, results_roc), fresh "
              f"interpreter, median of {r['rounds']}:")
        print(f"  as it is:                        {r['numpy_only_seconds']:.1f} s (Keras or TensorFlow loaded: "
              f"{r['numpy_only_keras_loaded']})")
        print(f"  with the Keras pipeline imported: {r['with_keras_pipeline_seconds']:.1f} s (loaded: "
              f"{r['with_keras_pipeline_keras_loaded']})")
        print(f"  ratio: {r['ratio_with_keras_over_numpy_only']:.2f}x")
        return _emit(r, a.json)
    if a.determinism:
        r = run_determinism_bench(a.k, a.n, a.batch_size, a.epochs)
        print(f"backend {r['backend']} on {r['device']} | data: {r['data']} | K={r['k']}, n={r['n']}, "
              f"batch {r['batch_size']}, {r['epochs']} epochs")
        print(f"  default kernels      : {r['default_s_per_model_epoch']:.3f} s per model-epoch")
        print(f"  deterministic kernels: {r['deterministic_s_per_model_epoch']:.3f} s per model-epoch")
        print(f"  ratio deterministic/default: {r['ratio_deterministic_over_default']:.2f}x")
        print(json.dumps(r))
        return 0
    which = (a.only,) if a.only else ("sequential", "stacked")
    r = run_bench(a.k, a.n, a.batch_size, a.epochs, which=which)
    print(f"backend {r['backend']} on {r['device']} | keras {r['keras']} | data: {r['data']}")
    print(f"K={r['k']} models, n={r['n']} records each, batch {r['batch_size']}, {r['epochs']} epochs")
    for name in which:
        print(f"  {name:10s}: {r[f'{name}_seconds']:8.1f} s total, {r[f'{name}_s_per_model_epoch']:.3f} s per model-epoch "
              f"(final train acc {r[f'{name}_final_train_acc_mean']:.3f})")
    if "speedup_stacked_over_sequential" in r:
        print(f"  ratio sequential/stacked: {r['speedup_stacked_over_sequential']:.2f}x")
    return _emit(r, a.json)


if __name__ == "__main__":
    raise SystemExit(main())
