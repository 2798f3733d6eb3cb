"""Cache keys: a short stable hash of everything an entry depends on (config sections, versions, plain
values).  A field whose ``key_omit_if`` metadata matches its value is left out, so a field added later at
its default keeps every older key (and the committed caches) valid."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


def plain(value: Any):
    """A field's value as plain JSON-able data (a nested config as its dict, less the fields cache keys
    omit), for comparing and hashing."""
    return json.loads(json.dumps(keyed(value), default=str))


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a config dataclass: every field (what a result's provenance records; :func:`plain`
    is the same less the fields cache keys omit)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def keyed(obj: Any) -> Any:
    """``obj`` with every dataclass as a dict of the fields cache keys hold (see :func:`key_omits`)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: keyed(getattr(obj, f.name)) for f in dataclasses.fields(obj) if not key_omits(obj, f)}
    if isinstance(obj, (list, tuple)):
        return [keyed(o) for o in obj]
    return obj


def config_key(*parts: Any) -> str:
    """A short stable hash of dataclasses / plain values, used as a cache key.

    >>> from mia_repro.models.config import ModelConfig
    >>> key = config_key(ModelConfig(), 2500)
    >>> key == config_key(ModelConfig(), 2500), key == config_key(ModelConfig(epochs=1), 2500), len(key)
    (True, False, 12)
    """
    text = json.dumps([keyed(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def key_omits(obj: Any, f: dataclasses.Field) -> bool:
    """Whether field ``f`` of ``obj`` is left out of cache keys: it has ``key_omit_if`` metadata and that value
    (a field added later, at its default, keeps older keys valid)."""
    return "key_omit_if" in f.metadata and getattr(obj, f.name) == f.metadata["key_omit_if"]
