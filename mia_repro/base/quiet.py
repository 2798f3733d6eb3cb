"""The console shows the package's lines, not backend noise: Keras imported with its backend's C++ log
lines filtered at their source.

TensorFlow writes to file descriptor 2 from C++ (absl) before Python's logging exists, whatever
``TF_CPP_MIN_LOG_LEVEL`` says: on import "All log messages before absl::InitializeLog() ...", the
oneDNN and CPU-feature notices (printed on some CPUs only), and during ``fit`` "NodeDef mentions
attribute use_unbounded_threadpool" at error level.  :func:`backend_noise_filtered` sends fd 2 to a
temporary file for the duration of a block, then writes back every line that is not one of
:data:`NOISE` — real errors and warnings still reach the console (after the block).  TensorFlow's
Python logger is set to ERROR (its retracing warnings).

Modules of this package import Keras as ``from .quiet import keras``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from typing import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|cpu_feature_guard\.cc:\d+\]"
    r"|This TensorFlow binary is optimized to use available CPU instructions"
    r"|To enable the following instructions: .* in other operations, rebuild TensorFlow"
    r"|node_def_util\.cc:\d+\] NodeDef mentions attribute use_unbounded_threadpool"
    r"|Unable to register cu(?:DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|Could not find cuda drivers on your machine"
)


@contextlib.contextmanager
def backend_noise_filtered() -> Iterator[None]:
    """Run the block with fd 2 captured; afterwards replay the captured lines that are not :data:`NOISE`."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some embedded interpreters): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except ValueError:
                pass
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().decode(errors="replace").splitlines(keepends=True)
                    if not NOISE.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


with backend_noise_filtered():
    import keras  # noqa: E402  (the backend starts here)

# TensorFlow's Python-side warnings ("... triggered tf.function retracing") go through its own logger
logging.getLogger("tensorflow").setLevel(logging.ERROR)

__all__ = ["keras", "backend_noise_filtered", "NOISE"]
