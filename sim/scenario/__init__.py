"""Scenario files: reading, validation, construction, dotted-path overrides, what-ifs.

A scenario is a TOML document (format in ``docs/scenario-format.md``). Validation
collects every problem, not only the first; each names the file, the dotted field
path, what was expected and what was found. The same dotted path addresses a value
in the file, in ``--set PATH=VALUE`` and in sweeps.

The package, from the bottom up (the plain data it builds, :class:`Scenario` and its
specs, live below it in :mod:`sim.spec`, so that the engine needs none of this):

* :mod:`~sim.scenario.limits`: the limits every scenario is held to;
* :mod:`~sim.scenario.validation`: a document checked into problems and normalised
  values; events ask the instrument registry (:mod:`sim.engine.instruments`);
* :mod:`~sim.scenario.construction`: the specs built from validated values;
* :mod:`~sim.scenario.events_file`: events kept in a CSV file;
* :mod:`~sim.scenario.reading`: TOML files, depth, overrides, and the entry points
  :func:`load_scenario` and :func:`scenario_from_dict`;
* :mod:`~sim.scenario.whatif`: ``--event``, ``--take-offer`` and forecast warnings.

Every name is re-exported here, so ``from sim.scenario import ...`` is all a caller needs.
"""

from __future__ import annotations

from typing import Any

from sim.scenario.construction import build_scenario
from sim.scenario.events_file import (
    EVENT_CSV_COLUMNS,
    EVENT_CSV_OPTIONAL,
    EventsFile,
    read_events_file,
)
from sim.scenario.limits import (
    MAX_DEPTH,
    MAX_EVENTS,
    MAX_MISSIONS,
    MAX_RUNS,
    MAX_STAFF,
    MAX_STATES,
    MAX_STEPS,
)
from sim.scenario.reading import (
    apply_overrides,
    check_depth,
    load_scenario,
    parse_override,
    read_toml,
    resolve_events_file,
    scenario_from_dict,
)
from sim.scenario.validation import (
    EVENT_KEYS,
    MISSION_KEYS,
    OUTCOME_KEYS,
    SCENARIO_KEYS,
    STATE_KEYS,
    TOP_KEYS,
    CheckedDocument,
    check_document,
)
from sim.scenario.whatif import (
    WHATIF_SOURCE,
    drop_events,
    forecast_warnings,
    insert_events,
    parse_event_spec,
    take_offer_event,
)
from sim.spec import (
    EventSpec,
    MissionSpec,
    OutcomeSpec,
    Problem,
    Scenario,
    ScenarioError,
    StateSpec,
)

__all__ = [
    "EVENT_CSV_COLUMNS",
    "EVENT_CSV_OPTIONAL",
    "EVENT_KEYS",
    "MAX_DEPTH",
    "MAX_EVENTS",
    "MAX_MISSIONS",
    "MAX_RUNS",
    "MAX_STAFF",
    "MAX_STATES",
    "MAX_STEPS",
    "MISSION_KEYS",
    "OUTCOME_KEYS",
    "SCENARIO_KEYS",
    "STATE_KEYS",
    "TOP_KEYS",
    "WHATIF_SOURCE",
    "CheckedDocument",
    "EventSpec",
    "EventsFile",
    "MissionSpec",
    "OutcomeSpec",
    "Problem",
    "Scenario",
    "ScenarioError",
    "StateSpec",
    "apply_overrides",
    "build_scenario",
    "check_depth",
    "check_document",
    "drop_events",
    "forecast_warnings",
    "insert_events",
    "load_scenario",
    "parse_event_spec",
    "parse_override",
    "read_events_file",
    "read_toml",
    "resolve_events_file",
    "scenario_from_dict",
    "take_offer_event",
]


def __getattr__(name: str) -> Any:
    """``EVENT_FIELDS`` and ``LIFTABLE``, the tables this module used to keep, now read
    from the instrument registry when asked for (so they include plugins' instruments).

    ``EVENT_FIELDS`` maps each instrument's kind to the (required, optional) sets of its
    event fields; ``LIFTABLE`` is the set of restrictions a ``lift`` may name.
    """
    from sim.engine import instruments
    from sim.scenario.construction import event_kind

    if name == "EVENT_FIELDS":
        return {
            event_kind(i): (
                {f for f, spec in i.fields.items() if spec.required},
                {f for f, spec in i.fields.items() if not spec.required},
            )
            for i in instruments.INSTRUMENTS.values()
        }
    if name == "LIFTABLE":
        return {i.name for i in instruments.liftable()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
