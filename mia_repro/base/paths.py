"""The checkout's root folder: ``data/`` (CIFAR-10's default place) and ``results/`` lie under it."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def portable(path) -> str | None:
    """``path`` as a published file records it: relative to the project when inside it (``results/quick``), so
    no committed file names a machine's folders; other paths as given; None stays None."""
    if path is None:
        return None
    p = Path(path)
    try:
        return str(p.resolve().relative_to(PROJECT_ROOT)) if p.is_absolute() else str(p)
    except ValueError:
        return str(p)
