"""The run's store (mia_repro.experiment.store): one entry protocol for every stage."""
import json

import numpy as np
import pytest

from mia_repro.base.cache import CacheEntryError, sidecar
from mia_repro.experiment.store import Part, get_or_compute, load_entry


def _entry(tmp_path, key="k1", check=None):
    return {"arrays": Part(tmp_path / "a.npz", key, "npz"),
            "marker": Part(tmp_path / "m.json", key, "json", check=check)}


class Counter:
    def __init__(self, value=1.0):
        self.calls, self.value = 0, value

    def __call__(self):
        self.calls += 1
        return {"arrays": {"x": np.arange(3) * self.value}, "marker": {"n": 3}}


def test_absent_entry_is_computed_saved_then_reused(tmp_path):
    lines, compute = [], Counter()
    got, cached = get_or_compute(_entry(tmp_path), compute, log=lines.append)
    assert (cached, compute.calls, lines) == (False, 1, [])  # absent: computed silently
    assert sidecar(tmp_path / "a.npz").exists() and sidecar(tmp_path / "m.json").exists()
    again, cached = get_or_compute(_entry(tmp_path), compute, log=lines.append)
    assert (cached, compute.calls, lines) == (True, 1, [])
    np.testing.assert_array_equal(again["arrays"]["x"], [0, 1, 2])
    assert again["marker"] == {"n": 3}


@pytest.mark.parametrize("damage, why", [
    (lambda p: p.write_bytes(b"garbage"), "content changed since it was written"),
    (lambda p: sidecar(p).unlink(), "no digest beside it"),
    (lambda p: p.unlink(), None),  # one part absent: recomputed silently
])
def test_damaged_part_is_reported_by_path_and_the_entry_recomputed(tmp_path, damage, why):
    get_or_compute(_entry(tmp_path), Counter())
    damage(tmp_path / "a.npz")
    lines, compute = [], Counter(2.0)
    got, cached = get_or_compute(_entry(tmp_path), compute, log=lines.append)
    assert (cached, compute.calls) == (False, 1)
    np.testing.assert_array_equal(got["arrays"]["x"], [0, 2, 4])
    if why is None:
        assert lines == []
    else:
        assert len(lines) == 1 and f"{tmp_path / 'a.npz'}: {why}" in lines[0] and lines[0].endswith("recomputing")
    assert get_or_compute(_entry(tmp_path), Counter())[1]  # the recomputed entry verifies


def test_another_key_or_failed_content_check_recomputes(tmp_path):
    get_or_compute(_entry(tmp_path), Counter())
    lines = []
    _, cached = get_or_compute(_entry(tmp_path, key="k2"), Counter(), log=lines.append)
    assert not cached and "written for another key (k1, expected k2)" in lines[0]

    def wants_four(marker):
        if marker["n"] != 4:
            raise ValueError(f"n is {marker['n']}")

    lines = []
    with pytest.raises(ValueError, match="n is 3"):  # a computed value that fails its own check is not saved
        get_or_compute(_entry(tmp_path, key="k2", check=wants_four), Counter(), log=lines.append)
    assert "not what this stage expects (ValueError: n is 3)" in lines[0]


def test_only_cache_errors_recompute_anything_else_is_raised(tmp_path):
    get_or_compute(_entry(tmp_path), Counter())

    def buggy_check(marker):
        raise ZeroDivisionError("a programming error")

    compute = Counter()
    with pytest.raises(ZeroDivisionError):
        get_or_compute(_entry(tmp_path, check=buggy_check), compute)
    assert compute.calls == 0  # never "recompute" on an unexpected error
    with pytest.raises(KeyError, match="marker"):
        get_or_compute(_entry(tmp_path / "new"), lambda: {"arrays": {"x": np.zeros(1)}})  # a part not computed


def test_parts_are_written_in_order_marker_last(tmp_path):
    order = []

    class Spy(Part):
        def save(self, value):
            order.append(self.path.name)
            super().save(value)

    parts = {"arrays": Spy(tmp_path / "a.npz", "k", "npz"), "marker": Spy(tmp_path / "m.json", "k", "json")}
    get_or_compute(parts, Counter())
    assert order == ["a.npz", "m.json"]
    assert json.loads((tmp_path / "m.json").read_text()) == {"n": 3}
    assert load_entry({"x": Part(tmp_path / "none.json", "k", "json")}) is None
    with pytest.raises(ValueError, match="kind"):
        Part(tmp_path / "x", "k", "yaml")
    with pytest.raises(CacheEntryError, match="absent"):
        Part(tmp_path / "none.json", "k", "json").load()
