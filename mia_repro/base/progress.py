"""Progress bars: :func:`tqdm.auto.tqdm`, switched off where nobody watches them.

In Jupyter a bar is a widget whose live state is not saved with the notebook, so an executed notebook
would show every bar frozen at 0%.  ``python -m mia_repro.tools.reproduce`` sets :data:`ENV` for the kernels it
starts, and every bar of the package (:func:`progress`) is then disabled; in an interactive notebook or a
terminal the bars show as usual.
"""
from __future__ import annotations

import os

#: set to "1" to switch off the package's progress bars (reproduce does, for the notebooks it executes)
ENV = "MIA_REPRO_NO_PROGRESS"


def progress(*args, **kwargs):
    """``tqdm.auto.tqdm(*args, **kwargs)``, disabled when :data:`ENV` is "1" (or when ``disable`` says so)."""
    from tqdm.auto import tqdm

    if os.environ.get(ENV) == "1":
        kwargs["disable"] = True
    return tqdm(*args, **kwargs)
