"""The outcome classes a run can end in: a registry, declared once per class.

Each :class:`OutcomeClass` declares its name, label, description, display style
(colour, line style, marker, hatch), a precedence, and how a run reaches it: a
:class:`OutcomeTracker` that the engine calls at every forecast step with a read-only
:class:`OutcomeView` of the model, and that records, per run, the first step at which
the run reached the class (its *first-passage step*). At the horizon a run's class is
the reached class of highest precedence, else ``unresolved``.

The built-in classes (docs/model.md §6.1):

* **spiral** (precedence 300): a watched mission at or below the closure threshold, or
  suspended, at any forecast step. Absorbing: whatever happens afterwards, the run is
  a spiral, dated at the first such step.
* **relapse** (200): the quarrel calmed (a quiet period, or the missions back at
  ``restored_level``) and a hostile measure followed later in the forecast. Dated at
  that first new hostile measure after the calm.
* **de_escalation** (100): the quarrel calmed, and (since relapse comes before it) no
  hostile measure was announced from the step it calmed until the horizon. Dated at
  the step it calmed. The calm is tracked only while there is no spiral.
* **unresolved**: none of these by the horizon.

A scenario chooses its classes (``[outcomes] classes``, default
:data:`DEFAULT_CLASSES`; ``unresolved`` is always there); a plugin registers more with
:func:`register_outcome`. A result's codes are positions in its ``outcome_names``
(:func:`outcome_names`: ``unresolved`` then the chosen classes in registration
order), so the built-ins keep their codes unresolved=0, spiral=1, de_escalation=2,
relapse=3 under the default classes. Codes are only ever used inside one process:
every file written stores the names (or the names beside the codes).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_CLASSES",
    "DE_ESCALATION",
    "DISPLAY_ORDER",
    "OUTCOMES",
    "OUTCOME_CLASSES",
    "RELAPSE",
    "SPIRAL",
    "TIMED_OUTCOMES",
    "UNRESOLVED",
    "OutcomeClass",
    "OutcomeError",
    "OutcomeTracker",
    "OutcomeView",
    "check_outcome_classes",
    "defined_in",
    "display_order",
    "outcome_class",
    "outcome_names",
    "register_outcome",
    "registered_outcomes",
    "scenario_classes",
    "scenario_outcome_names",
]


class OutcomeError(Exception):
    """An outcome class that cannot be registered."""


# ------------------------------------------------------------------ the view
class OutcomeView:
    """What a tracker may read of the model at a forecast step (nothing it may change).

    Arrays are read-only views; shapes are given with ``runs`` the block's runs.
    """

    def __init__(self, model: Any, trackers: dict[str, OutcomeTracker]) -> None:
        self._model = model
        self._trackers = trackers
        self._totals: np.ndarray | None = None
        self._never = _read_only(np.full(model.n_runs, -1, dtype=np.int32))

    def new_step(self) -> None:
        """Called by the engine before the trackers of a step: totals are read anew."""
        self._totals = None

    @property
    def n_runs(self) -> int:
        return self._model.n_runs

    @property
    def forecast_step(self) -> int:
        return self._model.forecast_step

    @property
    def spec(self) -> Any:
        """The scenario's ``[outcomes]`` (:class:`sim.spec.OutcomeSpec`)."""
        return self._model.scenario.outcomes

    @property
    def watched(self) -> np.ndarray:
        """(watched,) indices of the watched missions (``outcomes.missions``)."""
        return _read_only(self._model.watched)

    @property
    def totals(self) -> np.ndarray:
        """(missions, runs) each mission's total staff now (after this step's effects)."""
        if self._totals is None:
            self._totals = _read_only(self._model.missions.totals())
        return self._totals

    @property
    def suspended(self) -> np.ndarray:
        """(missions, runs) bool: the mission is suspended."""
        return _read_only(self._model.missions.suspended)

    @property
    def pending_hostile(self) -> np.ndarray:
        """(missions, runs) hostile measures announced and not yet in effect."""
        return _read_only(self._model.missions.pending_hostile)

    @property
    def last_hostile(self) -> np.ndarray:
        """(runs,) the last step in which a hostile measure was announced (history too)."""
        return _read_only(self._model.last_hostile)

    def reciprocated(self) -> np.ndarray:
        """(runs,) bool: some pair of states have both made a conciliatory move."""
        return self._model.reciprocated()

    def first_step(self, name: str) -> np.ndarray:
        """(runs,) another class's first-passage steps (-1: not reached; all -1 if the
        scenario does not track that class). Trackers are updated in order of
        precedence, highest first: a class above this one is seen as of this step, one
        below as of the previous step."""
        tracker = self._trackers.get(name)
        return self._never if tracker is None else _read_only(tracker.first_step)


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


# --------------------------------------------------------------- trackers
class OutcomeTracker:
    """How a run reaches one outcome class, for a block of runs.

    ``first_step`` (runs,) int32 is the step at which each run first reached the class
    (-1: not yet). The engine calls :meth:`start` once at the start of the forecast
    step (before anything happens in it) and :meth:`update` after the effects of every
    forecast step.
    """

    def __init__(self, n_runs: int) -> None:
        self.first_step = np.full(n_runs, -1, dtype=np.int32)

    def start(self, view: OutcomeView) -> None:
        """At the forecast start, before its first step (default: nothing to note)."""

    def update(self, view: OutcomeView, t: int) -> None:
        raise NotImplementedError


class SpiralTracker(OutcomeTracker):
    """The first step with a watched mission at or below the threshold, or suspended.

    Also records ``closed_mission`` (runs,) int16: which watched mission closed (the
    first in the list if several closed in the same step; -1: none).
    """

    def __init__(self, n_runs: int) -> None:
        super().__init__(n_runs)
        self.closed_mission = np.full(n_runs, -1, dtype=np.int16)

    def update(self, view: OutcomeView, t: int) -> None:
        # Checked at every step whatever the run's class so far: a spiral is absorbing.
        open_spiral = self.first_step < 0
        watched = view.watched
        if len(watched) and open_spiral.any():
            shut = (view.totals[watched] <= view.spec.closure_threshold) | view.suspended[watched]
            newly = open_spiral & shut.any(axis=0)
            first = np.argmax(shut, axis=0)
            self.closed_mission[newly] = watched[first[newly]]
            self.first_step[newly] = t


class CalmTracker(OutcomeTracker):
    """The first step (while there is no spiral) at which the quarrel calmed.

    Quiet route: no hostile measure for ``quiet_steps`` and nothing pending (and, with
    ``require_reciprocation``, both sides of some pair conciliated). Level route: every
    watched mission back at ``restored_level``, in runs where one was below it at the
    forecast start (``below_level_at_forecast``, (runs,) bool).
    """

    def __init__(self, n_runs: int) -> None:
        super().__init__(n_runs)
        self.below_level_at_forecast = np.zeros(n_runs, dtype=bool)

    def start(self, view: OutcomeView) -> None:
        level = view.spec.restored_level
        if level is not None and len(view.watched):
            below = view.totals[view.watched] < level
            self.below_level_at_forecast[:] = below.any(axis=0)

    def update(self, view: OutcomeView, t: int) -> None:
        oc = view.spec
        waiting = (self.first_step < 0) & (view.first_step("spiral") < 0)
        if not waiting.any():
            return
        calm = np.zeros(view.n_runs, dtype=bool)
        if oc.quiet:
            calm = (t - view.last_hostile >= oc.quiet_steps) & (
                view.pending_hostile.sum(axis=0) == 0
            )
            if oc.require_reciprocation:
                calm &= view.reciprocated()
        if oc.restored_level is not None and len(view.watched):
            # Restored: back at the level, in runs where some mission was below it when
            # the forecast started (otherwise nothing was restored).
            back = (view.totals[view.watched] >= oc.restored_level).all(axis=0)
            calm |= back & self.below_level_at_forecast
        self.first_step[waiting & calm] = t


class RelapseTracker(OutcomeTracker):
    """The first step after the calm at which a hostile measure was announced."""

    def update(self, view: OutcomeView, t: int) -> None:
        calm = view.first_step("de_escalation")  # as of the previous step (lower class)
        flared = (calm >= 0) & (self.first_step < 0) & (view.last_hostile > calm)
        self.first_step[flared] = t


# ----------------------------------------------------------------- classes
@dataclass(frozen=True)
class OutcomeClass:
    """One outcome class: its name, how a run reaches it, and how it is drawn."""

    name: str  # lowercase letters, digits and _
    label: str  # display name, e.g. "de-escalation"
    description: str  # one line: how a run reaches it
    color: str  # "#RRGGBB"; the built-ins are Okabe-Ito, readable by colour-blind readers
    linestyle: str | tuple
    marker: str
    hatch: str
    #: The reached class of highest precedence is the run's class (unresolved: 0).
    precedence: int
    #: Makes the tracker for a block of runs: ``tracker(n_runs)``; None for unresolved.
    tracker: type[OutcomeTracker] | None
    #: Classes whose first-passage steps this one reads; a scenario must choose them too.
    requires: tuple[str, ...] = ()

    @property
    def timed(self) -> bool:
        """Reached at a step (has a date and a cumulative incidence curve)."""
        return self.tracker is not None


_NAME = re.compile(r"[a-z][a-z0-9_]*")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_REGISTRY: dict[str, OutcomeClass] = {}


def register_outcome(cls: OutcomeClass) -> OutcomeClass:
    """Add an outcome class to the registry (its code order is the registration order).

    Checks: a name of lowercase letters, digits and _ that no other class has; a
    tracker that is an :class:`OutcomeTracker` subclass; a precedence above 0 that no
    other class has; required classes registered already; a colour ``#RRGGBB``; a
    label, colour, line style, marker and hatch that no other class uses (plots tell
    classes apart by them). Registering the same class twice is harmless.
    """
    where = f"outcome {cls.name!r}" if isinstance(cls, OutcomeClass) else repr(cls)
    if not isinstance(cls, OutcomeClass):
        raise OutcomeError(f"{where}: expected an sim.outcome_classes.OutcomeClass")
    if _REGISTRY.get(cls.name) == cls:
        return cls
    problems = []
    if not isinstance(cls.name, str) or not _NAME.fullmatch(cls.name):
        problems.append("expected a name of lowercase letters, digits and _")
    elif cls.name in _REGISTRY:
        problems.append("an outcome class of that name exists already")
    if cls.tracker is None:
        if cls.name != "unresolved":
            problems.append("expected a tracker (a subclass of OutcomeTracker)")
    elif not (isinstance(cls.tracker, type) and issubclass(cls.tracker, OutcomeTracker)):
        problems.append(f"expected a tracker subclassing OutcomeTracker, found {cls.tracker!r}")
    if not isinstance(cls.precedence, int) or (cls.tracker is not None and cls.precedence <= 0):
        problems.append(f"expected a precedence above 0, found {cls.precedence!r}")
    if not isinstance(cls.color, str) or not _COLOR.fullmatch(cls.color):
        problems.append(f"expected a colour #RRGGBB, found {cls.color!r}")
    for name in cls.requires:
        if name not in _REGISTRY:
            problems.append(f"requires {name!r}, which is not registered")
    for other in _REGISTRY.values():
        for attr in ("precedence", "label", "color", "linestyle", "marker", "hatch"):
            mine, theirs = getattr(cls, attr), getattr(other, attr)
            if str(mine).lower() == str(theirs).lower():
                problems.append(f"{attr} {mine!r} is that of {other.name!r} already")
    if problems:
        raise OutcomeError(f"{where}: {'; '.join(problems)}")
    _REGISTRY[cls.name] = cls
    return cls


def registry_state() -> dict[str, OutcomeClass]:
    """A snapshot of the registry (for tests that register a class for a while)."""
    return dict(_REGISTRY)


def restore_registry(state: dict[str, OutcomeClass]) -> None:
    """Put back a snapshot taken by :func:`registry_state`."""
    _REGISTRY.clear()
    _REGISTRY.update(state)


def registered_outcomes() -> tuple[OutcomeClass, ...]:
    """Every registered class, in registration (code) order: built-ins first."""
    return tuple(_REGISTRY.values())


def outcome_class(name: str) -> OutcomeClass:
    """The registered outcome class called ``name`` (ValueError naming the known ones)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown outcome {name!r}; the outcomes are {', '.join(_REGISTRY)}"
        ) from None


def defined_in(module: str) -> list[str]:
    """Names of the registered classes whose tracker is defined in ``module`` (for
    ``--plugin``, which must tell whether a module it imported defined any)."""
    return [
        c.name
        for c in _REGISTRY.values()
        if c.tracker is not None and c.tracker.__module__ == module
    ]


for _builtin in (
    OutcomeClass(
        "unresolved",
        "unresolved",
        "neither closure nor a calm by the horizon",
        color="#555555",
        linestyle=":",
        marker="^",
        hatch="xx",
        precedence=0,
        tracker=None,
    ),
    OutcomeClass(
        "spiral",
        "spiral",
        "a watched mission at or below the closure threshold, or suspended, at any "
        "forecast step (absorbing; dated at the first such step)",
        color="#D55E00",
        linestyle="-",
        marker="o",
        hatch="///",
        precedence=300,
        tracker=SpiralTracker,
    ),
    OutcomeClass(
        "de_escalation",
        "de-escalation",
        "a calm reached and held to the horizon: no hostile measure from then on, and "
        "no closure (dated at the step the calm was reached)",
        color="#0072B2",
        linestyle="--",
        marker="s",
        hatch="...",
        precedence=100,
        tracker=CalmTracker,
    ),
    OutcomeClass(
        "relapse",
        "relapse",
        "a calm reached, then a new hostile measure before the horizon, without "
        "closure (dated at that measure)",
        color="#CC79A7",
        linestyle="-.",
        marker="D",
        hatch="\\\\\\",
        precedence=200,
        tracker=RelapseTracker,
        requires=("de_escalation",),
    ),
):
    register_outcome(_builtin)

#: The built-in classes, in code order (a scenario's classes are read from it, not here).
OUTCOME_CLASSES: tuple[OutcomeClass, ...] = registered_outcomes()
#: The built-in outcome names in code order: the codes of a result under the default
#: classes. A result's own names are its ``outcome_names``.
OUTCOMES: tuple[str, ...] = tuple(c.name for c in OUTCOME_CLASSES)
#: Built-in outcomes reached at a step (with a date and a cumulative incidence curve).
TIMED_OUTCOMES: tuple[str, ...] = tuple(c.name for c in OUTCOME_CLASSES if c.timed)
#: The classes a scenario tracks unless it chooses (``unresolved`` is always there).
DEFAULT_CLASSES: tuple[str, ...] = ("spiral", "relapse", "de_escalation")

UNRESOLVED = OUTCOMES.index("unresolved")
SPIRAL = OUTCOMES.index("spiral")
DE_ESCALATION = OUTCOMES.index("de_escalation")
RELAPSE = OUTCOMES.index("relapse")


# -------------------------------------------------------- a scenario's classes
def outcome_names(classes: Iterable[str] | None = None) -> tuple[str, ...]:
    """The outcome names of a result tracking ``classes`` (default: the default
    classes), in code order: ``unresolved``, then the others in registration order."""
    chosen = set(DEFAULT_CLASSES if classes is None else classes) | {"unresolved"}
    unknown = sorted(chosen - set(_REGISTRY))
    if unknown:
        outcome_class(unknown[0])  # raises, naming the known ones
    return tuple(name for name in _REGISTRY if name in chosen)


def display_order(names: Iterable[str]) -> tuple[OutcomeClass, ...]:
    """The order in which tables and legends list ``names``: calm first, then worse
    (by precedence), unresolved last."""
    classes = [outcome_class(n) for n in names]
    timed = sorted((c for c in classes if c.timed), key=lambda c: c.precedence)
    return (*timed, *(c for c in classes if not c.timed))


#: The built-in classes in display order.
DISPLAY_ORDER: tuple[OutcomeClass, ...] = display_order(OUTCOMES)


def scenario_classes(scenario: Any) -> tuple[str, ...]:
    """The classes a scenario tracks (``outcomes.classes``; default :data:`DEFAULT_CLASSES`)."""
    classes = getattr(scenario.outcomes, "classes", None)
    return DEFAULT_CLASSES if classes is None else tuple(classes)


def scenario_outcome_names(scenario: Any) -> tuple[str, ...]:
    """The outcome names (code order) of a scenario's results."""
    return outcome_names(scenario_classes(scenario))


def check_outcome_classes(value: Any, path: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Validate ``[outcomes] classes`` as read from a scenario (None: absent).

    Returns the classes (without ``unresolved``, which is always there; the default if
    absent) and the problems as (path, message) pairs, e.g. ``("outcomes.classes.1",
    "unknown outcome class 'halfed' (did you mean 'halved'?); known: ...")``.
    """
    if value is None:
        return list(DEFAULT_CLASSES), []
    known = ", ".join(n for n in _REGISTRY if n != "unresolved")
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return list(DEFAULT_CLASSES), [
            (path, f"expected an array of outcome class names ({known}), found {value!r}")
        ]
    names: list[str] = []
    seen: set[str] = set()
    problems: list[tuple[str, str]] = []
    for i, name in enumerate(value):
        where = f"{path}.{i}"
        if not isinstance(name, str):
            problems.append((where, f"expected an outcome class name, found {name!r}"))
        elif name not in _REGISTRY:
            hint = difflib.get_close_matches(name, list(_REGISTRY), n=1, cutoff=0.6)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(
                (where, f"unknown outcome class {name!r}{extra}; known: {known} (a plugin's "
                 "classes need --plugin MODULE)")
            )  # fmt: skip
        elif name in seen:
            problems.append((where, f"{name!r} is listed twice"))
        elif name != "unresolved":  # always there: listing it changes nothing
            names.append(name)
        if isinstance(name, str):
            seen.add(name)
    for name in names:
        for needed in _REGISTRY[name].requires:
            if needed not in names:
                problems.append((path, f"{name!r} is judged from {needed!r}: list {needed!r} too"))
    return names, problems
