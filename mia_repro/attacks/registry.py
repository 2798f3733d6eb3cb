"""The attacks' public names, declared above their classes with :func:`register`.

One class may carry several names, each a setting of its parameters (``lira_offline_global`` is
:class:`~mia_repro.attacks.lira.LiRAOffline` with ``variance="global"``), and each name a label, the paper
it implements and the sets it belongs to: ``"compare"`` (what the comparison and mitigation stages run by
default), ``"online"`` (needs a reference pool), ``"pool"`` / ``"curve"`` (the reference-pool stage), ``"dp"``
(the attacks the DP figure shows).  Every list of attacks in the package is a query on it (:func:`names`),
and a user's own attack registers the same way, then runs by name in ``run_attacks`` and ``--attacks``:

>>> from mia_repro.attacks import MembershipAttack, register, new_attack
>>> @register("always_member", label="always member", paper="a baseline: every record a member")
... class AlwaysMember(MembershipAttack):
...     def fit(self, view):
...         self.threshold_ = 0.0
...         return self
...     def decision_function(self, view):
...         return [1.0] * len(view)
>>> new_attack("always_member").name
'always_member'
>>> unregister("always_member")

An instance's ``name``, ``label``, ``long_label`` and ``paper`` are those of the name whose parameters it
has (``LiRAOffline(variance="global").name == "lira_offline_global"``); an instance at other settings has
its class's first name.
"""
from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mia_repro.base.errors import MiaReproInputError

SETS = ("compare", "online", "pool", "curve", "dp")


class RegistryError(MiaReproInputError, ValueError):
    """A name registered twice, or to something that is not an attack class, or an unknown set."""


@dataclass(frozen=True)
class AttackSpec:
    """One registered name: ``cls`` built with ``params`` (the constructor's keywords this name fixes)."""

    name: str
    cls: type
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    long_label: str = ""
    paper: str = ""
    #: the sets it is in, each with its position there (None: registration order, after the positioned ones)
    sets: Mapping[str, int | None] = field(default_factory=dict)
    order: int = 0  # when register() was called: the order of the decorators in the source, top first

    def __call__(self, **params):
        """A new unfitted instance: this name's parameters, then ``params`` over them."""
        return self.cls(**{**self.params, **params})

    def __getattr__(self, attr: str):  # the class's needs_* and other class attributes
        if attr.startswith("needs_"):
            return getattr(self.cls, attr)
        raise AttributeError(attr)

    @functools.cached_property
    def settings(self) -> dict[str, Any]:
        """The constructor's defaults with this name's ``params`` over them."""
        defaults = {k: p.default for k, p in inspect.signature(self.cls.__init__).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        return {**defaults, **self.params}


_REGISTRY: dict[str, AttackSpec] = {}
_CALLS = itertools.count()
_PACKAGE: set[str] = set()  # the package's own names (:func:`seal_package`), which unregister refuses


def seal_package() -> None:
    """Mark every name registered so far as the package's own (``mia_repro.attacks`` calls it once its modules
    are imported)."""
    _PACKAGE.update(_REGISTRY)


#: :class:`~mia_repro.attacks.base.MembershipAttack`, set by its module (which imports this one): the class
#: every registered attack derives from
ATTACK_BASE: type | None = None


def register(name: str, *, label: str, paper: str, long_label: str = "", params: Mapping[str, Any] | None = None,
             sets: tuple[str, ...] | Mapping[str, int | None] = ()):
    """Class decorator: ``name`` is the class built with ``params`` (its constructor's keywords); stack one
    per name.  ``label`` the short name of tables and figures, ``long_label`` where variants sit side by
    side (default: ``label``), ``paper`` what it implements (paper, algorithm, equation), ``sets`` those of
    :data:`SETS` it belongs to (none: it runs when named, no stage runs it by default), as a tuple or as
    ``{set: position}`` where a set's order is not the order of registration (the reference pool's lists,
    part of its cache key)."""
    order = next(_CALLS)
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise RegistryError(f"register: a name is a lower-case identifier (it is a key in results and a CLI "
                            f"word), got {name!r}")
    if isinstance(sets, str) or not isinstance(sets, (tuple, list, Mapping)) or set(sets) - set(SETS) or any(
            v is not None and (isinstance(v, bool) or not isinstance(v, int))
            for v in (sets.values() if isinstance(sets, Mapping) else ())):
        raise RegistryError(f"register {name!r}: sets is a tuple among {SETS} or a mapping of them to integer "
                            f"positions, got {sets!r}")
    positions = dict(sets) if isinstance(sets, Mapping) else dict.fromkeys(sets)

    def decorate(cls):
        if not (isinstance(cls, type) and ATTACK_BASE is not None and issubclass(cls, ATTACK_BASE)):
            raise RegistryError(f"register {name!r}: decorates a MembershipAttack subclass, got {cls!r}")
        accepted = inspect.signature(cls.__init__).parameters
        extra = set(params or {}) - set(accepted)
        if extra:
            raise RegistryError(f"register {name!r}: {cls.__name__}() takes no {sorted(extra)}")
        spec = AttackSpec(name, cls, MappingProxyType(dict(params or {})), label, long_label or label, paper,
                          MappingProxyType(positions), order)
        old = _REGISTRY.get(name)
        if old is not None and (name in _PACKAGE or (old.cls.__qualname__, old.cls.__module__)
                                != (cls.__qualname__, cls.__module__)):
            raise RegistryError(f"register: {name!r} is already {old.cls.__module__}.{old.cls.__qualname__}; "
                                f"choose another name (or unregister({name!r}) first)")
        _REGISTRY[name] = spec  # a class defined again (a reloaded notebook cell) replaces its own entry
        return cls
    return decorate


def unregister(name: str) -> None:
    """Remove ``name`` (a user's attack; the package's own names are refused)."""
    spec = _REGISTRY.get(name)
    if spec is None:
        raise RegistryError(f"unregister: no attack {name!r}")
    if name in _PACKAGE:
        raise RegistryError(f"unregister: {name!r} is one of the package's attacks")
    del _REGISTRY[name]


def specs(in_set: str | None = None) -> dict[str, AttackSpec]:
    """``{name: AttackSpec}``: all in registration order, or those in ``in_set`` (one of :data:`SETS`) in its
    order (positions first, then registration order)."""
    if in_set is not None and in_set not in SETS:
        raise RegistryError(f"in_set: one of {SETS}, got {in_set!r}")
    if in_set is None:
        return {s.name: s for s in sorted(_REGISTRY.values(), key=lambda s: s.order)}
    chosen = [s for s in _REGISTRY.values() if in_set in s.sets]
    position = {s.name: s.sets[in_set] for s in chosen}
    return {s.name: s for s in sorted(chosen, key=lambda s: (position[s.name] is None, position[s.name] or 0,
                                                             s.order))}


def names(in_set: str | None = None) -> tuple[str, ...]:
    """The registered names, all or those in ``in_set``, in that set's order (:func:`specs`)."""
    return tuple(specs(in_set))


def spec(name: str) -> AttackSpec:
    """The spec of ``name``; :class:`RegistryError` listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise RegistryError(f"unknown attack {name!r}; choose one of {', '.join(names())}") from None


def spec_of(obj) -> AttackSpec | None:
    """The spec an attack class (its first name) or instance (the name whose parameters it has; else its
    class's first name) answers to; None for a class nobody registered."""
    cls = obj if isinstance(obj, type) else type(obj)
    own = sorted((s for s in _REGISTRY.values() if s.cls is cls), key=lambda s: s.order)
    if len(own) < 2 or isinstance(obj, type):  # one name (or none): nothing to tell apart
        return own[0] if own else None
    keys = set().union(*(s.params for s in own))
    mine = obj.get_params(deep=False)
    for s in sorted(own, key=lambda s: -len(s.params)):  # the most specific name first
        settings = s.settings
        if all(_same(mine.get(k), settings.get(k)) for k in keys):
            return s
    return own[0]


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and other values without one truth value
        return a is b


class Registered:
    """A descriptor for ``name``, ``label``, ``long_label`` and ``paper``: the registry's answer for the
    class or instance (:func:`spec_of`), ``""`` for an unregistered class."""

    def __set_name__(self, owner, attr):
        self.attr = attr

    def __get__(self, obj, owner):
        s = spec_of(owner if obj is None else obj)
        return getattr(s, self.attr) if s is not None else ""


class AttackSet(Mapping):
    """A live read-only ``{name: AttackSpec}`` of one set (or of all names): what ``ATTACKS`` and the other
    lists are, so a name registered later appears in them."""

    def __init__(self, in_set: str | None = None, exclude: tuple[str, ...] = ()):
        self.in_set, self.exclude = in_set, tuple(exclude)

    def _items(self) -> dict[str, AttackSpec]:
        return {n: s for n, s in specs(self.in_set).items() if not set(self.exclude) & set(s.sets)}

    def __getitem__(self, name: str) -> AttackSpec:
        return self._items()[name]

    def __iter__(self):
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return f"AttackSet({list(self)})"
