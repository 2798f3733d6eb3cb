"""The attacks' parameters, declared as scikit-learn declares its estimators': each class's
``_parameter_constraints`` maps a constructor parameter to the constraints it may satisfy (scikit-learn's
``StrOptions``, ``"boolean"``, a class, ``None``, and :class:`Number` / :class:`Grid` here), and
:func:`check_params` checks them all once, when ``fit`` starts.

:class:`Number` is scikit-learn's ``Interval`` with what an attack needs besides: a bool is not a number
(``Interval(Real, ...)`` takes ``True`` as 1), and NaN and inf are no parameter values.  :class:`Grid` is a non-empty
sequence of such numbers (a search grid).

>>> Number(0, 1).is_satisfied_by(0.3), Number(0, 1).is_satisfied_by(True), str(Number(1, None, closed="left"))
(True, False, 'a number in [1, inf)')
>>> Grid(0, None, closed="neither").is_satisfied_by((1.0, 2.0)), Grid(0, 1).is_satisfied_by(())
(True, False)
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError, Interval, validate_parameter_constraints

from mia_repro.attacks.view import AttackInputError


class Number(Interval):
    """A finite real number (numpy's too; not a bool) in the interval from ``low`` to ``high`` (None:
    unbounded), ``closed`` ``"both"``, ``"left"``, ``"right"`` or ``"neither"``; ``integer`` for integers."""

    def __init__(self, low: float | None, high: float | None, closed: str = "both", integer: bool = False):
        super().__init__(Integral if integer else Real, low, high, closed=closed)
        self.integer = integer

    def is_satisfied_by(self, val) -> bool:
        kinds = (int, np.integer) if self.integer else (int, float, np.integer, np.floating)
        if isinstance(val, (bool, np.bool_)) or not isinstance(val, kinds) or not math.isfinite(float(val)):
            return False
        v = float(val)
        low_ok = self.left is None or (v >= self.left if self.closed in ("both", "left") else v > self.left)
        high_ok = self.right is None or (v <= self.right if self.closed in ("both", "right") else v < self.right)
        return low_ok and high_ok

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.left is not None else "("
        right = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        low = "-inf" if self.left is None else f"{self.left:g}"
        high = "inf" if self.right is None else f"{self.right:g}"
        return f"{'an integer' if self.integer else 'a number'} in {left}{low}, {high}{right}"


class Grid(Number):
    """A non-empty sequence (not a string) of numbers each satisfying :class:`Number` ``(low, high, closed)``."""

    def is_satisfied_by(self, val) -> bool:
        if isinstance(val, (str, bytes)) or not hasattr(val, "__len__") or not len(val):
            return False
        return all(super(Grid, self).is_satisfied_by(v) for v in val)

    def __str__(self) -> str:
        return "a non-empty sequence of " + super().__str__().replace("a number", "numbers", 1)


def check_params(attack) -> None:
    """:class:`AttackInputError` naming the attack and the parameter unless every parameter of ``attack``
    satisfies its class's ``_parameter_constraints`` (those without one are not checked)."""
    constraints = getattr(type(attack), "_parameter_constraints", {})
    try:
        validate_parameter_constraints(constraints, attack.get_params(deep=False), caller_name=type(attack).__name__)
    except InvalidParameterError as exc:
        raise AttackInputError(f"{attack.name or type(attack).__name__}: {exc}") from None
