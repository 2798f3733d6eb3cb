"""Fixed image augmentations, the queries of the label-only augmentation attack.

Choquette-Choo et al. (ICML 2021, "Label-Only Membership Inference Attacks")
query the model on flipped and translated copies of a record.  A name is
``"hflip"`` (mirror left-right) or ``"shift:DX:DY"`` (move the image DX pixels
right and DY pixels down, zero fill: the pixels that enter are black).
"""
from __future__ import annotations

import numpy as np


def parse_augmentation(name: str) -> tuple[str, int, int]:
    """``name`` -> ``(kind, dx, dy)``; ``ValueError`` saying what is accepted."""
    if name == "hflip":
        return "hflip", 0, 0
    parts = name.split(":") if isinstance(name, str) else []
    if len(parts) == 3 and parts[0] == "shift":
        try:
            dx, dy = int(parts[1]), int(parts[2])
        except ValueError:
            dx = dy = None
        if dx is not None and (dx, dy) != (0, 0) and max(abs(dx), abs(dy)) < 16:
            return "shift", dx, dy
    raise ValueError(f"unknown augmentation {name!r}: use 'hflip' or 'shift:DX:DY' with |DX|, |DY| < 16, not both 0")


def augment(x: np.ndarray, name: str) -> np.ndarray:
    """Apply augmentation ``name`` to images ``x`` uint8 (N, H, W, C); returns the same shape and dtype."""
    kind, dx, dy = parse_augmentation(name)
    x = np.asarray(x)
    if kind == "hflip":
        return x[:, :, ::-1, :].copy()
    out = np.zeros_like(x)
    h, w = x.shape[1:3]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[:, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    return out
