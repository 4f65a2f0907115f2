"""Building the specs of a :class:`~sim.spec.Scenario` from a validated document.

Validation (:mod:`sim.scenario.validation`) has already checked every value and filled
in every default; what is left here is arithmetic on the calendar (the step of each
event and of its deadline) and turning each event's instrument into its kind.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sim.engine.instruments import Instrument
from sim.engine.kinds import Kind
from sim.scenario.validation import CheckedDocument
from sim.spec import EventSpec, MissionSpec, OutcomeSpec, Scenario, StateSpec

__all__ = ["build_scenario", "event_kind"]


def build_scenario(
    checked: CheckedDocument,
    raw: dict[str, Any],
    source: str,
    overrides: dict[str, Any] | None = None,
) -> Scenario:
    """The :class:`Scenario` of a document that :func:`check_document` found no problem in."""
    assert not checked.problems, "build_scenario needs a document without problems"
    meta = checked.meta
    return Scenario(
        source=source,
        raw=raw,
        **meta,
        states={sid: StateSpec(id=sid, **values) for sid, values in checked.states.items()},
        missions={mid: MissionSpec(id=mid, **values) for mid, values in checked.missions.items()},
        events=[
            build_event(values, meta["start"], meta["step_days"], meta["n_steps"])
            for values in checked.events
        ],
        outcomes=OutcomeSpec(**checked.outcomes),
        overrides=dict(overrides or {}),
    )


def build_event(values: dict[str, Any], start: dt.date, step_days: int, n_steps: int) -> EventSpec:
    """An event's spec: announced in the step of its date, due in its deadline's step.

    A deadline in the announcement step is moved to the next step (nothing takes
    effect in the step it is announced); no deadline means the next step. A temporary
    measure's ``until`` ends it in that date's step, at the earliest the step after
    its deadline's.
    """
    values = dict(values)
    instrument = values.pop("instrument")
    deadline = values.pop("deadline")
    until = values.pop("until", None)
    step = (values["date"] - start).days // step_days
    due = step + 1 if deadline is None else (deadline - start).days // step_days
    # A deadline after the horizon never falls due; n_steps says so as well as any
    # later step, and keeps the engine's ring buffers no longer than the horizon.
    deadline_step = min(max(due, step + 1), n_steps)
    until_step = None
    if until is not None:
        # A temporary measure ends after it took effect: at the earliest in the step
        # after its deadline's.
        ends = (until - start).days // step_days
        until_step = min(max(ends, deadline_step + 1), n_steps)
    return EventSpec(
        kind=event_kind(instrument),
        step=step,
        deadline_step=deadline_step,
        until_step=until_step,
        **values,
    )


def event_kind(instrument: Instrument) -> int:
    """The ``kind`` of an event of ``instrument``: its :class:`Kind` if built in, else
    its plain integer code (a plugin's)."""
    try:
        return Kind(instrument.code)
    except ValueError:
        return instrument.code
