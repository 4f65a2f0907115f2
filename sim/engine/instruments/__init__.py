"""The registry of instruments: every measure on embassy staff, declared in one class.

The engine, the scenario reader, the event record, the memory estimate, calibration and
the backtest ask this registry; none of them names an instrument. A plugin registers
its own with :func:`register_instrument` (see docs/plugins.md).
"""

from __future__ import annotations

import re

from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument

__all__ = [
    "INSTRUMENTS",
    "MAX_STAFF",
    "EventField",
    "Instrument",
    "by_code",
    "code_of",
    "conciliatory",
    "hostile",
    "label",
    "labels",
    "liftable",
    "register_instrument",
    "registry_state",
    "restore_registry",
]

#: Every registered instrument, by name, in registration order (built-ins first).
INSTRUMENTS: dict[str, Instrument] = {}
_BY_CODE: dict[int, Instrument] = {}
_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: Codes are stored as int8 in the engine's arrays and the event record; 0 is "none".
_MAX_CODE = 127


def register_instrument(cls: type[Instrument]) -> type[Instrument]:
    """Register an instrument class (usable as a decorator); return it.

    Checks that the name is a valid, unused scenario label and the code a free small
    positive integer, so two plugins cannot silently take the same one.
    """
    if not (isinstance(cls, type) and issubclass(cls, Instrument)):
        raise TypeError(f"{cls!r} is not a subclass of sim.engine.instruments.Instrument")
    name, code = getattr(cls, "name", None), getattr(cls, "code", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{cls.__name__}.name: expected lowercase letters, digits and _")
    if not isinstance(code, int) or isinstance(code, bool) or not 0 < code <= _MAX_CODE:
        raise ValueError(f"{cls.__name__}.code: expected an integer in 1..{_MAX_CODE}")
    existing = INSTRUMENTS.get(name)
    if existing is not None and type(existing) is cls:
        return cls
    if existing is not None:
        raise ValueError(f"instrument name {name!r} is already taken by {type(existing).__name__}")
    if code in _BY_CODE:
        raise ValueError(f"instrument code {code} is already taken by {_BY_CODE[code].name!r}")
    for field_name, spec in cls.fields.items():
        if field_name != spec.name or not _NAME.fullmatch(field_name):
            raise ValueError(f"{cls.__name__}.fields: {field_name!r} is not an event field")
        if field_name in _GENERIC_EVENT_KEYS:
            raise ValueError(
                f"{cls.__name__}.fields: {field_name!r} is a key every event has already"
            )
        if spec.kind not in FIELD_KINDS or (spec.kind == "choice") != bool(spec.choices):
            raise ValueError(
                f"{cls.__name__}.fields: {field_name!r} has kind {spec.kind!r}; expected one "
                f"of {', '.join(FIELD_KINDS)} (choices given for a choice, and only then)"
            )
    instance = cls()
    INSTRUMENTS[name] = instance
    _BY_CODE[code] = instance
    _refresh()
    return cls


#: The kinds an instrument's event field may have (sim.engine.instruments.base.EventField).
FIELD_KINDS = ("int", "float", "bool", "liftable", "hostile", "choice")
#: Keys every event has, which no instrument may declare as its own field.
_GENERIC_EVENT_KEYS = frozenset(
    {"date", "actor", "target", "kind", "deadline", "mission", "source", "note", "until"}
)


def registry_state() -> dict[str, Instrument]:
    """A snapshot of the registry (for tests that register an instrument for a while)."""
    return dict(INSTRUMENTS)


def restore_registry(state: dict[str, Instrument]) -> None:
    """Put back a snapshot taken by :func:`registry_state`."""
    INSTRUMENTS.clear()
    INSTRUMENTS.update(state)
    _BY_CODE.clear()
    _BY_CODE.update({i.code: i for i in state.values()})
    _refresh()


# Tuples rebuilt on registration, so the hot paths iterate plain tuples.
_HOSTILE: tuple[Instrument, ...] = ()
_CONCILIATORY: tuple[Instrument, ...] = ()
_LIFTABLE: tuple[Instrument, ...] = ()


def _refresh() -> None:
    global _HOSTILE, _CONCILIATORY, _LIFTABLE
    _HOSTILE = tuple(i for i in INSTRUMENTS.values() if i.hostile)
    _CONCILIATORY = tuple(i for i in INSTRUMENTS.values() if not i.hostile and i.conciliatory)
    _LIFTABLE = tuple(sorted((i for i in _HOSTILE if i.liftable), key=lambda i: i.lift_priority))


def labels() -> list[str]:
    """Every instrument's name in the order of its code, after ``"none"`` (the
    categories of the event record's ``instrument`` column, indexed by code: a code no
    instrument holds is ``"unused_<code>"``)."""
    top = max(_BY_CODE, default=0)
    return ["none"] + [
        _BY_CODE[code].name if code in _BY_CODE else f"unused_{code}" for code in range(1, top + 1)
    ]


def hostile() -> tuple[Instrument, ...]:
    """The hostile instruments, in registration order (the order effects are applied)."""
    return _HOSTILE


def conciliatory() -> tuple[Instrument, ...]:
    """The conciliatory instruments (cancel, lift, restore, offer, settle, and plugins');
    an ultimatum is neither hostile nor conciliatory."""
    return _CONCILIATORY


def liftable() -> tuple[Instrument, ...]:
    """The restrictions a conciliatory lift can remove, in the order it tries them."""
    return _LIFTABLE


def by_code(code: int) -> Instrument:
    """The instrument stored as ``code`` (KeyError if none)."""
    return _BY_CODE[int(code)]


def code_of(name: str) -> int:
    """The code of the instrument called ``name`` (KeyError if none)."""
    return INSTRUMENTS[name].code


def label(code: int) -> str:
    """The name of the instrument stored as ``code``; ``"none"`` for 0."""
    return "none" if int(code) == 0 else _BY_CODE[int(code)].name


# The built-in instruments register themselves on import, in the order their effects
# are applied at a deadline and enforced each step (and so the order of the staff
# changes in the event record): removals by name first, then the standing
# restrictions (departures under a visa denial before a cap is enforced).
from sim.engine.instruments import (  # noqa: E402, F401, I001
    expel,
    close_consulate,
    ban_local_hires,
    visa_denial,
    cap,
    suspend,
    conciliatory_moves,
    ultimatum,
    settle,
)
