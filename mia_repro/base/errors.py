"""The package's error types: every error a user can fix derives from :class:`MiaReproError`.

Errors about what was passed (arrays, settings, files) also derive from ``ValueError`` (or
``FileNotFoundError``), so ``except ValueError`` keeps working; the CLI catches :class:`MiaReproError`
alone and prints its message as one line (exit 2).  This module imports nothing.
"""


class MiaReproError(Exception):
    """Base of every error the package raises on purpose; the message says what to do."""


class MiaReproInputError(MiaReproError, ValueError):
    """An argument, array, setting or file is not what the package needs; the message names it."""


class ConfigError(MiaReproInputError):
    """A configuration that cannot run (unknown profile, bad field); the message names the field."""
