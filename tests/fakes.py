"""Synthetic Stage I outputs: members get more confident true-class vectors."""
import numpy as np

from mia_repro.stage1 import ModelOutputs, SizeOutputs


def fake_outputs(name: str, n: int, seed: int, leak: float = 2.0, classes: int = 10) -> ModelOutputs:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, classes, 2 * n)
    member = np.zeros(2 * n, bool)
    member[:n] = True
    logits = rng.normal(0, 1, (2 * n, classes))
    logits[np.arange(2 * n), true] += 1.0 + leak * member
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    correct = p.argmax(1) == true
    return ModelOutputs(name, p.astype(np.float32), true, member, rng.permutation(10**6)[: 2 * n],
                        float(correct[member].mean()), float(correct[~member].mean()), {"loss": [1.0]})


def fake_size(n: int, n_shadows: int = 3, seed: int = 0, leak: float = 2.0) -> SizeOutputs:
    return SizeOutputs(n, fake_outputs("target", n, seed, leak),
                       [fake_outputs(f"shadow_{k:02d}", n, seed + k + 1, leak) for k in range(n_shadows)])
