"""Threads per model: the one place that sets the backend's CPU thread count.

A model's bits depend on the thread count its kernels split work over (and on
the CPU type), so every model is trained with an explicit count, applied before
the backend starts computing in the process that trains it, and recorded in its
file (``trained_on.threads_per_model``).  The default, 2, is the count that
trained the committed caches (TensorFlow's own default on the 2-core project
machine), so they stay valid.

* TensorFlow: intra-op and inter-op thread pools (fixed once its runtime has
  started: a later, different request raises :class:`ThreadsError`, and the
  executor trains in a worker process instead);
* JAX: ``XLA_FLAGS`` ``intra_op_parallelism_threads`` (read when its CPU
  client starts; best effort, XLA has no per-call switch);
* PyTorch: ``torch.set_num_threads`` and ``set_num_interop_threads``.
"""
from __future__ import annotations

import os

from mia_repro.base.quiet import keras
from mia_repro.base.errors import MiaReproError


class ThreadsError(MiaReproError, RuntimeError):
    """The backend already runs with another thread count in this process (``current``; the message says
    what to do).  The executor then trains in a worker process of its own instead."""

    def __init__(self, message: str, current: int):
        super().__init__(message)
        self.current = current


def effective_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def apply_threads(threads: int) -> str:
    """Make the active backend compute with ``threads`` CPU threads in this process; returns what was set."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        t = tf.config.threading
        if (t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads()) == (threads, threads):
            return f"tensorflow intra/inter-op threads {threads}"
        try:
            t.set_intra_op_parallelism_threads(threads)
            t.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # the runtime has started: only its default can be checked
            current = t.get_intra_op_parallelism_threads() or effective_cpus()
            if current != threads:
                raise ThreadsError(
                    f"threads_per_model={threads}: TensorFlow already runs with {current} threads in this process; "
                    "start a new process (or notebook kernel) before training, or use workers >= 2 "
                    "(each model is then trained in a worker process of its own)", current) from None
        return f"tensorflow intra/inter-op threads {threads}"
    if backend == "jax":
        flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "intra_op_parallelism_threads" not in f and "xla_cpu_multi_thread_eigen" not in f]
        os.environ["XLA_FLAGS"] = " ".join([*flags, f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}",
                                            f"intra_op_parallelism_threads={threads}"])
        return f"jax XLA_FLAGS intra_op_parallelism_threads={threads} (read when the CPU client starts)"
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # settable once per process; the intra-op count is what changes results
            pass
        return f"torch threads {threads}"
    return f"backend {backend}: no thread switch known"
