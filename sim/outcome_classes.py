"""The outcome classes a run can end in, declared once.

Every module that names an outcome (the engine, the summary, the runs table, sweeps,
plots, the API) reads it from :data:`OUTCOME_CLASSES`. A run is classified at the
horizon from three first-passage steps the engine tracks over the forecast:

* **spiral**: a watched mission at or below the closure threshold, or suspended, at
  any forecast step. Absorbing: whatever happens afterwards, the run is a spiral, dated
  at the first such step.
* **relapse**: no closure, but the quarrel calmed (a quiet period, or the missions back
  at ``restored_level``) and a hostile measure followed later in the forecast. Dated
  at that first new hostile measure after the calm.
* **de_escalation**: no closure, the quarrel calmed and stayed calm to the horizon: no
  hostile measure was announced from the step it calmed until the horizon. Dated at
  the step it calmed.
* **unresolved**: none of these by the horizon.

The codes are positions in :data:`OUTCOMES` and are only ever used inside one process:
every file written stores the names (or the names beside the codes), so a change of
order here cannot silently relabel saved results.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DE_ESCALATION",
    "DISPLAY_ORDER",
    "OUTCOMES",
    "OUTCOME_CLASSES",
    "RELAPSE",
    "SPIRAL",
    "TIMED_OUTCOMES",
    "UNRESOLVED",
    "OutcomeClass",
    "outcome_class",
]


@dataclass(frozen=True)
class OutcomeClass:
    """One outcome class: its name, how a run reaches it, and how it is drawn."""

    name: str
    label: str  # display name, e.g. "de-escalation"
    description: str  # one line: how a run reaches it
    timed: bool  # reached at a step (has a date and a cumulative incidence curve)
    color: str  # Okabe-Ito, readable by colour-blind readers and in greyscale
    linestyle: str | tuple
    marker: str
    hatch: str


OUTCOME_CLASSES: tuple[OutcomeClass, ...] = (
    OutcomeClass(
        "unresolved",
        "unresolved",
        "neither closure nor a calm by the horizon",
        timed=False,
        color="#555555",
        linestyle=":",
        marker="^",
        hatch="xx",
    ),
    OutcomeClass(
        "spiral",
        "spiral",
        "a watched mission at or below the closure threshold, or suspended, at any "
        "forecast step (absorbing; dated at the first such step)",
        timed=True,
        color="#D55E00",
        linestyle="-",
        marker="o",
        hatch="///",
    ),
    OutcomeClass(
        "de_escalation",
        "de-escalation",
        "a calm reached and held to the horizon: no hostile measure from then on, and "
        "no closure (dated at the step the calm was reached)",
        timed=True,
        color="#0072B2",
        linestyle="--",
        marker="s",
        hatch="...",
    ),
    OutcomeClass(
        "relapse",
        "relapse",
        "a calm reached, then a new hostile measure before the horizon, without "
        "closure (dated at that measure)",
        timed=True,
        color="#CC79A7",
        linestyle="-.",
        marker="D",
        hatch="\\\\\\",
    ),
)

#: Outcome names, in code order (the codes in the engine's per-run arrays).
OUTCOMES: tuple[str, ...] = tuple(c.name for c in OUTCOME_CLASSES)
#: Outcomes reached at a step (with a date and a cumulative incidence curve).
TIMED_OUTCOMES: tuple[str, ...] = tuple(c.name for c in OUTCOME_CLASSES if c.timed)

UNRESOLVED = OUTCOMES.index("unresolved")
SPIRAL = OUTCOMES.index("spiral")
DE_ESCALATION = OUTCOMES.index("de_escalation")
RELAPSE = OUTCOMES.index("relapse")

_BY_NAME = {c.name: c for c in OUTCOME_CLASSES}


def outcome_class(name: str) -> OutcomeClass:
    """The declared outcome class called ``name`` (ValueError naming the known ones)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown outcome {name!r}; the outcomes are {', '.join(OUTCOMES)}"
        ) from None


#: The order in which tables and legends list the outcomes: calm first, then worse.
DISPLAY_ORDER: tuple[OutcomeClass, ...] = tuple(
    _BY_NAME[name] for name in ("de_escalation", "relapse", "spiral", "unresolved")
)
