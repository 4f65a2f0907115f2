"""The explorer's controls, generated from what the scenario and the policies declare.

Every policy parameter of every state becomes a :class:`Control` named by its dotted
path (``states.us.policy.ratio``), the one name it has in TOML, ``--set`` and sweeps.
Its range is the parameter's declared range (:class:`sim.policies.Param`); where that
range is unbounded or far wider than any analyst would move a slider through (e.g. a
staff floor of up to ten million), the slider spans the parameter's calibration prior
if it declares one, else a practical span around the scenario's value, and says so.
Nothing here knows a policy by name: a plugin's policy gets its controls the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.engine import instruments
from sim.policies import POLICIES, Param
from sim.spec import Scenario

__all__ = ["Control", "EventChoice", "controls_for", "events_for", "offers_for"]

#: A slider wider than this many steps of its own grid spans a practical range instead.
PRACTICAL_SPAN = 1000


@dataclass(frozen=True)
class Control:
    """One slider (or switch) of the explorer."""

    path: str  # the dotted path, e.g. states.us.policy.ratio
    state: str  # the state's id
    name: str  # the parameter's name
    doc: str  # what it means (the parameter's declaration)
    kind: str  # float | int | prob | range | instrument
    value: Any  # the scenario's value (a list for a range)
    low: float
    high: float
    step: float
    #: The parameter's whole declared range, when the slider spans less of it.
    declared: str = ""
    #: Drawn per run from a distribution in this scenario: the slider fixes it.
    drawn: str = ""
    options: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


def _grid(param: Param) -> float:
    return 1.0 if param.kind in ("int", "range") else 0.01


def _span(param: Param, value: Any) -> tuple[float, float, str]:
    """(low, high, note): the slider's span and, if narrower, the declared range."""
    if param.kind == "prob":
        return 0.0, 1.0, ""
    low = -math.inf if param.low is None else float(param.low)
    high = math.inf if param.high is None else float(param.high)
    values = [float(v) for v in (value if isinstance(value, list) else [value])]
    grid = _grid(param)
    if math.isfinite(low) and math.isfinite(high) and (high - low) / grid <= PRACTICAL_SPAN:
        return low, high, ""
    declared = param.describe()
    if param.prior is not None:
        lo = max(low, param.prior.low)
        hi = min(high, param.prior.high - (1 if param.prior.scale == "floor" else 0))
    else:
        lo = low if math.isfinite(low) else min(values) - 10 * grid
        top = max(values)
        hi = max(top * 4, lo + (10 if param.kind in ("int", "range") else 5))
    lo, hi = min(lo, *values), max(hi, *values)
    if param.kind in ("int", "range"):
        lo, hi = math.floor(lo), math.ceil(hi)
    if (hi - lo) / grid > PRACTICAL_SPAN * 10 and param.kind not in ("int", "range"):
        hi = lo + PRACTICAL_SPAN * 10 * grid
    return lo, min(hi, high), declared


def _policy_values(raw: dict[str, Any], state: str) -> dict[str, Any]:
    table = raw.get("states", {}).get(state, {}).get("policy", {})
    return table if isinstance(table, dict) else {}


def _describe_drawn(value: dict[str, Any]) -> str:
    rest = ", ".join(f"{k}={v}" for k, v in value.items() if k != "dist")
    return f"{value.get('dist', 'distribution')}({rest})"


def controls_for(scenario: Scenario) -> list[Control]:
    """The controls of every state's policy, in the scenario's state order.

    A parameter whose kind has no slider (``ladder``: an ordered list) is left out;
    change it in the TOML file. A drawn parameter (a distribution in the file) is
    offered with a note: moving its slider fixes it for every run.
    """
    out: list[Control] = []
    for state in scenario.states:
        given = _policy_values(scenario.raw, state)
        kind = given.get("kind")
        policy = POLICIES.get(kind) if isinstance(kind, str) else None
        if policy is None:
            continue
        for name, param in policy.all_params().items():
            if param.kind == "ladder":
                continue
            value = given.get(name, param.default)
            drawn = ""
            if isinstance(value, dict):
                drawn = _describe_drawn(value)
                value = param.default
            if param.kind == "range" and not isinstance(value, list):
                value = [value, value]
            path = f"states.{state}.policy.{name}"
            if param.kind == "instrument":
                options = tuple(i.name for i in instruments.hostile())
                out.append(
                    Control(
                        path,
                        state,
                        name,
                        param.doc,
                        "instrument",
                        value,
                        0,
                        0,
                        0,
                        "",
                        drawn,
                        options,
                    )
                )
                continue
            low, high, declared = _span(param, value)
            out.append(
                Control(
                    path=path,
                    state=state,
                    name=name,
                    doc=param.doc,
                    kind=param.kind,
                    value=value,
                    low=low,
                    high=high,
                    step=_grid(param),
                    declared=declared,
                    drawn=drawn,
                )
            )
    return out


@dataclass(frozen=True)
class EventChoice:
    """One of the scenario's own events, which the explorer can leave out."""

    index: int
    date: str
    label: str
    forecast: bool  # dated on or after the forecast start
    source: str


def _state_name(scenario: Scenario, state: str) -> str:
    spec = scenario.states.get(state)
    return spec.name if spec is not None and spec.name else state


def events_for(scenario: Scenario) -> list[EventChoice]:
    """The scenario's events, numbered as ``--drop-event`` takes them."""
    out = []
    for ev in scenario.events:
        what = instruments.label(int(ev.kind)).replace("_", " ")
        amount = ev.size if ev.size is not None else ev.level
        amount_text = ""
        if ev.size is not None:
            amount_text = f" {amount}"
        elif ev.level is not None:
            amount_text = f" (to {amount})"
        target = (
            "its own mission" if ev.own else f"{_state_name(scenario, ev.target)} ({ev.mission})"
        )
        label = f"{_state_name(scenario, ev.actor)}: {what}{amount_text} → {target}"
        out.append(
            EventChoice(
                index=ev.index,
                date=ev.date.isoformat(),
                label=label,
                forecast=ev.date >= scenario.forecast_start,
                source=ev.source,
            )
        )
    return out


def offers_for(scenario: Scenario) -> list[tuple[str, str]]:
    """(state, label) for each state that an offer dated in the forecast is made to."""
    from sim.engine.missions import Kind

    out: list[tuple[str, str]] = []
    for ev in scenario.events:
        if ev.kind == Kind.OFFER and ev.date >= scenario.forecast_start:
            if ev.target not in [s for s, _ in out]:
                label = (
                    f"{_state_name(scenario, ev.target)} takes "
                    f"{_state_name(scenario, ev.actor)}'s offer of {ev.date.isoformat()}"
                )
                out.append((ev.target, label))
    return out
