"""Synthetic Stage I outputs: members get more confident true-class vectors."""
import numpy as np

from mia_repro.experiment.outputs import ModelOutputs, SizeOutputs


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
                        float(correct[member].mean()), float(correct[~member].mean()), {"loss": [1.0]},
                        logits=logits.astype(np.float32))


def fake_size(n: int, n_shadows: int = 3, seed: int = 0, leak: float = 2.0) -> SizeOutputs:
    return SizeOutputs(n, fake_outputs("target", n, seed, leak),
                       [fake_outputs(f"shadow_{k:02d}", n, seed + k + 1, leak) for k in range(n_shadows)])


def fake_stage1(n: int = 300, n_shadows: int = 4, leak: float = 2.0, difficulty: float = 2.0, pool: int = 2400,
                population: int = 600, n_aug: int = 2, seed: int = 0, classes: int = 10):
    """Synthetic Stage I outputs in the full format, and the labels of the pooled records.

    Records 0..2n-1 are the target's (first n members); the rest form the shadow
    pool.  Every record has a difficulty shared by all models (its true-class
    logit is shifted by ``difficulty * d``, d ~ N(0, 1)); a model that trained
    on a record adds ``leak`` to it.  Returns ``(SizeOutputs, labels)``.
    """
    rng = np.random.default_rng(seed)
    total = 2 * n + pool
    labels = rng.integers(0, classes, total)
    hard = rng.normal(0, 1, total)
    pool_idx = np.arange(2 * n, total)
    pop = np.sort(rng.choice(pool_idx, population, replace=False))

    def logits(idx, members, model_rng):
        z = model_rng.normal(0, 1, (len(idx), classes))
        z[np.arange(len(idx)), labels[idx]] += 1.0 + difficulty * hard[idx] + leak * np.isin(idx, members)
        return z.astype(np.float32)

    def model(name, own, members, k):
        r = np.random.default_rng([seed, k])
        z = logits(own, members, r)
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        member = np.isin(own, members)
        correct = p.argmax(1) == labels[own]
        aug = np.stack([logits(own, members, r).argmax(1) for _ in range(n_aug)]).astype(np.int16)
        out = ModelOutputs(name, p.astype(np.float32), labels[own].astype(np.int64), member, own.astype(np.int64),
                           float(correct[member].mean()), float(correct[~member].mean()), {"loss": [1.0]})
        out.logits, out.pop_indices, out.pop_logits = z, pop, logits(pop, members, r)
        out.aug_names, out.aug_labels = tuple(f"shift:{i + 1}:0" for i in range(n_aug)), aug
        if name != "target":
            out.ref_indices, out.ref_logits = np.arange(2 * n), logits(np.arange(2 * n), members, r)
        return out

    target = model("target", np.arange(2 * n), np.arange(n), 0)
    shadows = []
    for k in range(n_shadows):
        pick = rng.choice(pool_idx, 2 * n, replace=False)
        own = np.concatenate([pick[:n], pick[n:]])
        shadows.append(model(f"shadow_{k:02d}", own, pick[:n], k + 1))
    return SizeOutputs(n, target, shadows), labels


def fake_pool(m: int = 10, n: int = 300, p: int = 150, classes: int = 10, leak: float = 2.0, seed: int = 0):
    """A synthetic :class:`~mia_repro.views.pool.ReferencePool`: ``m`` models, each IN on a random half of
    ``n`` pool records (true-class logit shifted by a per-record difficulty and by ``leak`` when IN), and
    ``p`` population records no model trained on."""
    from mia_repro.views.pool import ReferencePool

    rng = np.random.default_rng(seed)
    y, yp = rng.integers(0, classes, n), rng.integers(0, classes, p)
    hard, hardp = rng.normal(0, 1, n), rng.normal(0, 1, p)
    member = np.stack([np.isin(np.arange(n), rng.permutation(n)[: n // 2]) for _ in range(m)])
    z = rng.normal(0, 1, (m, n, classes))
    z[:, np.arange(n), y] += 1 + 2 * hard + leak * member
    zp = rng.normal(0, 1, (m, p, classes))
    zp[:, np.arange(p), yp] += 1 + 2 * hardp
    return ReferencePool(z.astype(np.float32), member, y, zp.astype(np.float32), yp)
