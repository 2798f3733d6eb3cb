"""The checkout's root folder: ``data/`` (CIFAR-10's default place) and ``results/`` lie under it."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
