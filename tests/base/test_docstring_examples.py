"""The examples in the package's docstrings run, and print what they say (``doctest``)."""
import doctest
import importlib
from pathlib import Path

import pytest

import mia_repro

PACKAGE = Path(mia_repro.__file__).parent
WITH_EXAMPLES = sorted(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
                       for p in PACKAGE.rglob("*.py") if ">>> " in p.read_text())


def test_some_modules_carry_examples():
    assert {"mia_repro.evaluation.metrics", "mia_repro.attacks.registry"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("module", WITH_EXAMPLES)
def test_the_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result
