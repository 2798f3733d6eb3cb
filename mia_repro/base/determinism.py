"""Deterministic training: the one place that touches backend-specific switches.

Keras 3 code elsewhere stays backend-neutral; this module turns on, for the
active backend, what makes two runs with the same seed give the same bits:

* TensorFlow: ``tf.config.experimental.enable_op_determinism()`` (deterministic
  kernels and reduction orders; also fixes the CPU kernels' dependence on load);
* JAX: ``--xla_gpu_deterministic_ops=true`` in ``XLA_FLAGS`` (read when JAX
  starts its GPU backend; JAX on CPU is deterministic already);
* PyTorch: ``torch.use_deterministic_algorithms(True)``, cuDNN benchmarking off
  and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` for CUDA matmuls.

:func:`set_deterministic` is idempotent and returns a one-line description that
the summaries record.
"""
from __future__ import annotations

import os

from mia_repro.base.quiet import keras


def set_deterministic(on: bool = True) -> str:
    """Switch deterministic execution on (or off) for the active Keras backend; returns what was done."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if on:
            tf.config.experimental.enable_op_determinism()
        else:  # TF has no public switch back; its framework module has one (absent in some versions)
            from tensorflow.python.framework import config as tf_config

            if getattr(tf_config, "is_op_determinism_enabled", lambda: True)():
                if not hasattr(tf_config, "disable_op_determinism"):
                    raise RuntimeError("this TensorFlow cannot switch op determinism off once on: use a new process")
                tf_config.disable_op_determinism()
        return f"tensorflow op determinism {'on' if on else 'off'}"
    if backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "").replace("--xla_gpu_deterministic_ops=true", "").strip()
        os.environ["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops=true").strip() if on else flags
        return f"jax: XLA_FLAGS --xla_gpu_deterministic_ops={'true' if on else 'unset'} (CPU is deterministic)"
    if backend == "torch":
        import torch

        if on:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(on, warn_only=True)
        torch.backends.cudnn.benchmark = not on
        torch.backends.cudnn.deterministic = on
        return f"torch deterministic algorithms {'on' if on else 'off'}"
    return f"backend {backend}: no determinism switch known"
