"""Deterministic training: the same seed gives the same bits, in separate processes, under load -- on the same CPU
type and thread count (another CPU type gives other bits: compare there against the seed spread, README)."""
import subprocess
import sys
import textwrap

import keras
import pytest

pytestmark = pytest.mark.training  # trains in two processes


TRAIN = textwrap.dedent("""
    import hashlib, os, sys
    import numpy as np
    sys.path.insert(0, os.getcwd())
    from mia_repro.models.config import ModelConfig
    from mia_repro.base.determinism import set_deterministic
    from mia_repro.training import TrainJob, train_sequential
    set_deterministic(True)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 600)
    x = rng.integers(0, 256, (600, 32, 32, 3)).astype(np.uint8)
    x[:, :4, :4, 0] = y[:, None, None] * 25
    cfg = ModelConfig(epochs=3, batch_size=16, conv_filters=(8, 8), dense_units=16)
    job = TrainJob("m", np.arange(300), np.arange(300, 600), 5)
    r = train_sequential([job], cfg, x, y)[0]
    h = hashlib.sha256(b"".join(w.tobytes() for w in r.weights) + r.probs.tobytes()).hexdigest()
    print("HASH", h)
""")

LOAD = textwrap.dedent("""
    import time, numpy as np
    end = time.time() + 120
    a = np.random.rand(600, 600)
    while time.time() < end:
        a = a @ a
        a /= a.max()
""")


def train_hash(cwd) -> str:
    out = subprocess.run([sys.executable, "-c", TRAIN], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return [line for line in out.stdout.splitlines() if line.startswith("HASH")][0]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="bit-identical CPU training is promised here for the TensorFlow backend only")
def test_same_seed_same_bits_in_separate_processes_under_load(request):
    cwd = request.config.rootpath
    quiet = train_hash(cwd)
    load = subprocess.Popen([sys.executable, "-c", LOAD])
    try:
        loaded = train_hash(cwd)
    finally:
        load.kill()
        load.wait()
    assert quiet == loaded
