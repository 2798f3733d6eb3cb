"""Environment variables set for a while: what this process and the worker processes it starts read."""
from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def setenv(name: str, value: str):
    """``os.environ[name] = value`` while inside, then as it was (unset if it was unset); other variables
    set meanwhile are left as they are."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved
