"""Validating a scenario document: every problem, at its dotted path, and the
normalised values the specs are built from.

:func:`check_document` walks a parsed TOML document section by section
(``[scenario]``, ``[states]``, ``[missions]``, ``[outcomes]``, ``[[events]]``). It
collects a :class:`~sim.spec.Problem` for everything wrong, not only the first, and
for everything right the value with its default filled in, in a
:class:`CheckedDocument`. It builds no spec: :mod:`sim.scenario.construction` does,
from a document without problems.

Events ask the instrument registry (:mod:`sim.engine.instruments`) which kinds exist,
which of ``size``, ``level``, ``rate``, ``lifts`` each takes (with bounds and
defaults), which restrictions a ``lift`` may name and which moves are conciliatory, so
that a plugin's instrument validates without a change here. Policies are checked
against the policy registry (:data:`sim.policies.POLICIES`) the same way.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from dataclasses import dataclass
from typing import Any

from sim.distributions import Distribution, describe_value, parse_distribution
from sim.engine import instruments
from sim.engine.categories import CATEGORY_NAMES, DEFAULT_WEIGHT, MAX_WEIGHT
from sim.engine.instruments import Instrument
from sim.outcome_classes import check_outcome_classes
from sim.policies import POLICIES, Param, choice_params
from sim.scenario.limits import (
    ID_PATTERN,
    MAX_EVENTS,
    MAX_MISSIONS,
    MAX_RUNS,
    MAX_STAFF,
    MAX_STATES,
    MAX_STEPS,
)
from sim.spec import Problem, largest_count

__all__ = [
    "EVENT_AMOUNT_FIELDS",
    "EVENT_KEYS",
    "MISSION_KEYS",
    "OUTCOME_KEYS",
    "SCENARIO_KEYS",
    "STATE_KEYS",
    "TOP_KEYS",
    "CheckedDocument",
    "check_document",
    "type_ok",
]

#: sweep: read by sim.sweep; staff_weights: staff-equivalents per head of each category.
TOP_KEYS = {"scenario", "states", "missions", "events", "outcomes", "sweep", "staff_weights"}
SCENARIO_KEYS = {
    "name",
    "description",
    "start",
    "step_days",
    "horizon",
    "horizon_steps",
    "forecast_start",
    "recall_days",
    "runs",
    "seed",
    "events_file",
}
STATE_KEYS = {
    "name",
    "allies",
    "solidarity",
    "solidarity_size",
    "answer_together",
    "policy",
    "toward",
}
MISSION_KEYS = {
    "sender",
    "host",
    "diplomats",
    "admin_technical",
    "local_staff",
    "consulates",
    "staff_per_consulate",
    "cap",
    "local_hire_ceiling",
    "source",
    "note",
}
EVENT_KEYS = {
    "date",
    "actor",
    "target",
    "kind",
    "size",
    "level",
    "rate",
    "lifts",
    "deadline",
    "until",
    "mission",
    "source",
    "note",
}
OUTCOME_KEYS = {
    "closure_threshold",
    "missions",
    "quiet",
    "quiet_steps",
    "require_reciprocation",
    "restored_level",
    "classes",
}
#: The event fields an instrument may declare, in the order they are checked (and so
#: the order of their problems).
EVENT_AMOUNT_FIELDS = ("size", "level", "rate", "lifts")
#: The value type of each kind of instrument field (``liftable``: a restriction's name).
_FIELD_TYPES = {
    "int": "int",
    "float": "float",
    "bool": "bool",
    "liftable": "str",
    "hostile": "str",
    "choice": "str",
}


def declared_event_fields() -> set[str]:
    """Every event field some registered instrument declares (plugins' included)."""
    return {name for i in instruments.INSTRUMENTS.values() for name in i.fields}


@dataclass
class CheckedDocument:
    """A scenario document as validation leaves it: the problems found and, for each
    table, its values normalised and defaulted (``None`` where a value was wrong).

    Each dict holds the keyword arguments of the spec built from it, except the id
    (its key) of a state or mission; an event's hold its ``instrument`` and
    ``deadline`` (a date or ``None``) instead of the kind and steps.
    """

    problems: list[Problem]
    meta: dict[str, Any]
    states: dict[str, dict[str, Any]]
    missions: dict[str, dict[str, Any]]
    outcomes: dict[str, Any]
    events: list[dict[str, Any]]


def check_document(raw: Any) -> CheckedDocument:
    """Check a parsed scenario document (after its events file and overrides)."""
    c = _Checker()
    top = c.table(raw, "", TOP_KEYS)
    meta = _check_meta(c, top)
    # The scenario's own keyword, with the [scenario] values: they all make the Scenario.
    meta["staff_weights"] = _check_staff_weights(c, top)
    state_ids, states = _check_states(c, top)
    missions, by_pair = _check_missions(c, top, state_ids)
    outcomes = _check_outcomes(c, top, missions)
    events = _check_events(c, top, meta, state_ids, by_pair)
    return CheckedDocument(c.problems, meta, states, missions, outcomes, events)


# ------------------------------------------------------------------ checker
class _Checker:
    """Collects problems while reading values out of tables."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def table(self, value: Any, path: str, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.bad(path, f"expected a table, found {describe_value(value)}")
            return {}
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    extra = _did_you_mean(key, sorted(allowed), 0.6)
                    known = ", ".join(sorted(allowed))
                    self.bad(
                        f"{path}.{key}" if path else key, f"unknown key{extra}; known: {known}"
                    )
        return value

    def get(
        self,
        table: dict[str, Any],
        key: str,
        path: str,
        kind: str,
        default: Any = ...,
        low: float | None = None,
        high: float | None = None,
    ) -> Any:
        """``table[key]`` checked as ``kind`` within [low, high]; ``default`` if absent
        (``...``: required). ``None`` (and a problem) if it is wrong."""
        where = f"{path}.{key}" if path else key
        if key not in table:
            if default is ...:
                self.bad(where, f"required: expected {_expected(kind, low, high)}")
                return None
            return default
        value = table[key]
        ok = type_ok(value, kind)
        if (
            ok
            and kind in ("int", "float")
            and ((low is not None and value < low) or (high is not None and value > high))
        ):
            ok = False
        if not ok:
            self.bad(where, f"expected {_expected(kind, low, high)}, found {describe_value(value)}")
            return None
        if kind == "float":
            return float(value)
        return value

    def state_id(self, value: Any, path: str, states: set[str]) -> str | None:
        if value is None:
            return None
        if value not in states:
            extra = _did_you_mean(str(value), sorted(states), 0.5)
            self.bad(
                path, f"expected a state id ({', '.join(sorted(states))}), found {value!r}{extra}"
            )
            return None
        return value


def type_ok(value: Any, kind: str) -> bool:
    """Whether ``value`` is of the scenario type ``kind`` (int, float, str, bool, date,
    strlist): no bools for numbers, no date-times for dates, only finite floats."""
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and abs(value) < 1e300  # also refuses ints too large for a float
            and math.isfinite(value)
        )
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if kind == "strlist":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    raise AssertionError(kind)


def _expected(kind: str, low: float | None, high: float | None) -> str:
    noun = {
        "int": "an integer",
        "float": "a number",
        "str": "a string",
        "bool": "true or false",
        "date": "a date such as 2021-12-01 (unquoted)",
        "strlist": "a list of strings",
    }[kind]
    bounds = []
    if low is not None:
        bounds.append(f">= {_num(low)}")
    if high is not None:
        bounds.append(f"<= {_num(high)}")
    return noun + (f" {' and '.join(bounds)}" if bounds else "")


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _did_you_mean(value: str, choices: list[str], cutoff: float) -> str:
    """A " (did you mean 'x'?)" hint for a misspelt key, id or name, or ""."""
    hint = difflib.get_close_matches(value, choices, n=1, cutoff=cutoff)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


# --------------------------------------------------------------- [scenario]
def _check_meta(c: _Checker, top: dict[str, Any]) -> dict[str, Any]:
    """The ``[scenario]`` values, with ``n_steps`` worked out from the horizon."""
    meta = c.table(top.get("scenario", {}), "scenario", SCENARIO_KEYS)
    if "scenario" not in top:
        c.bad("scenario", "required: expected a [scenario] table")
    name = c.get(meta, "name", "scenario", "str")
    if name is not None and not name.strip():
        c.bad("scenario.name", "expected a name, found an empty string")
        name = None
    description = c.get(meta, "description", "scenario", "str", "")
    start = c.get(meta, "start", "scenario", "date")
    step_days = c.get(meta, "step_days", "scenario", "int", 7, 1, 366)
    horizon = c.get(meta, "horizon", "scenario", "date", None)
    horizon_steps = c.get(meta, "horizon_steps", "scenario", "int", None, 1, MAX_STEPS)
    forecast_start = c.get(meta, "forecast_start", "scenario", "date", start)
    recall_days = c.get(meta, "recall_days", "scenario", "int", 0, 0, 3660)
    runs = c.get(meta, "runs", "scenario", "int", 1000, 1, MAX_RUNS)
    seed = c.get(meta, "seed", "scenario", "int", 0, 0, 2**63 - 1)
    n_steps = _check_horizon(c, meta, start, step_days, horizon, horizon_steps)
    if n_steps is not None and forecast_start is not None and start is not None:
        last = _last_step_start(start, step_days, n_steps)
        if not (start <= forecast_start <= last + dt.timedelta(days=step_days - 1)):
            c.bad(
                "scenario.forecast_start",
                f"expected a date from {start} to {last}, found {forecast_start}",
            )
    return {
        "name": name,
        "description": description,
        "start": start,
        "step_days": step_days,
        "n_steps": n_steps,
        "forecast_start": forecast_start,
        "runs": runs,
        "seed": seed,
        "recall_days": recall_days,
    }


def _check_horizon(
    c: _Checker,
    meta: dict[str, Any],
    start: dt.date | None,
    step_days: int | None,
    horizon: dt.date | None,
    horizon_steps: int | None,
) -> int | None:
    """The number of steps simulated, from exactly one of horizon and horizon_steps."""
    n_steps = None
    if ("horizon" in meta) == ("horizon_steps" in meta):
        c.bad("scenario.horizon", "expected exactly one of horizon (a date) or horizon_steps")
    elif start is not None and step_days is not None:
        if horizon is not None:
            if horizon <= start:
                c.bad("scenario.horizon", f"expected a date after start {start}, found {horizon}")
            else:
                n_steps = (horizon - start).days // step_days + 1
                if n_steps > MAX_STEPS:
                    c.bad(
                        "scenario.horizon",
                        f"expected at most {MAX_STEPS} steps, found {n_steps}: "
                        "shorten the horizon or lengthen step_days",
                    )
                    n_steps = None
        elif horizon_steps is not None:
            n_steps = horizon_steps
    if n_steps is not None and start is not None:
        # The whole calendar (and the day after it) must be a representable date.
        if (dt.date.max - start).days < n_steps * step_days:
            c.bad(
                "scenario.start",
                f"expected a start that leaves room for {n_steps} steps of {step_days} days "
                f"before {dt.date.max}, found {start}",
            )
            n_steps = None
    return n_steps


def _last_step_start(start: dt.date, step_days: int, n_steps: int) -> dt.date:
    """The first day of the last step simulated."""
    return start + dt.timedelta(days=(n_steps - 1) * step_days)


# ------------------------------------------------------------------ [states]
def _check_states(c: _Checker, top: dict[str, Any]) -> tuple[set[str], dict[str, dict]]:
    """The state ids, and each state's values (its policy toward each other state)."""
    states_raw = c.table(top.get("states", {}), "states")
    if "states" not in top:
        c.bad("states", "required: expected [states.<id>] tables")
    state_ids = set(states_raw)
    if len(state_ids) > MAX_STATES:
        c.bad("states", f"expected at most {MAX_STATES} states, found {len(state_ids)}")
        state_ids = set(list(states_raw)[:MAX_STATES])
        states_raw = {sid: states_raw[sid] for sid in list(states_raw)[:MAX_STATES]}
    for sid in states_raw:
        if not ID_PATTERN.fullmatch(sid):
            c.bad(f"states.{sid}", "expected an id of lowercase letters, digits and _")
    if len(state_ids) < 2 and "states" in top:
        c.bad("states", f"expected at least 2 states, found {len(state_ids)}")
    states = {sid: _check_state(c, sid, st, state_ids) for sid, st in states_raw.items()}
    return state_ids, states


def _check_state(c: _Checker, sid: str, st: Any, state_ids: set[str]) -> dict[str, Any]:
    path = f"states.{sid}"
    st = c.table(st, path, STATE_KEYS)
    allies = c.get(st, "allies", path, "strlist", [])
    for i, ally in enumerate(allies or []):
        if c.state_id(ally, f"{path}.allies.{i}", state_ids) == sid:
            c.bad(f"{path}.allies.{i}", "a state cannot be its own ally")
    base = c.table(st.get("policy", {"kind": "scripted"}), f"{path}.policy")
    toward = c.table(st.get("toward", {}), f"{path}.toward")
    policies = {}
    for other in sorted(state_ids - {sid}):
        override = toward.get(other, {})
        policies[other] = _check_policy(c, path, other, base, override)
    for other in toward:
        if other == sid:
            c.bad(f"{path}.toward.{other}", "a state has no policy toward itself")
        else:
            c.state_id(other, f"{path}.toward.{other}", state_ids)
    label = c.get(st, "name", path, "str", sid)
    if label is not None and not label.strip():
        c.bad(f"{path}.name", "expected a name, found an empty string")
    return {
        "name": label or sid,
        "allies": list(allies or []),
        "solidarity": c.get(st, "solidarity", path, "float", 0.0, 0, 1),
        "solidarity_size": c.get(st, "solidarity_size", path, "int", 2, 1, 100_000),
        "answer_together": c.get(st, "answer_together", path, "bool", False),
        "policies": policies,
    }


def _check_policy(
    c: _Checker, path: str, other: str, base: dict[str, Any], override: Any
) -> dict[str, Any]:
    """Validate one state's policy toward ``other`` (``toward.other`` merged over ``policy``)."""
    override_path = f"{path}.toward.{other}"
    override = c.table(override, override_path)
    base_kind = base.get("kind", "scripted")
    if not isinstance(base_kind, str):
        base_kind = repr(base_kind)  # not a policy name: reported below
    if override.get("kind", base_kind) != base_kind and base_kind in POLICIES:
        # Switching kind keeps the common parameters but not the old kind's own.
        own = POLICIES[base_kind].params
        base = {k: v for k, v in base.items() if k not in own}
    merged = {**base, **override}

    def where(key: str) -> str:
        return f"{override_path}.{key}" if key in override else f"{path}.policy.{key}"

    kind = merged.get("kind", "scripted")
    if not isinstance(kind, str):
        c.bad(where("kind"), f"expected a policy name (a string), found {describe_value(kind)}")
        return {"kind": "scripted"}
    if kind not in POLICIES:
        extra = _did_you_mean(str(kind), sorted(POLICIES), 0.5)
        c.bad(where("kind"), f"expected one of {', '.join(POLICIES)}, found {kind!r}{extra}")
        return {"kind": "scripted"}
    params = POLICIES[kind].all_params()
    values: dict[str, Any] = {"kind": kind}
    seen_problem = {p.path for p in c.problems}
    for key, value in merged.items():
        if key == "kind":
            continue
        if key not in params:
            if where(key) in seen_problem:
                continue
            extra = _did_you_mean(key, sorted(params), 0.6)
            c.bad(
                where(key),
                f"unknown parameter for policy {kind}{extra}; known: {', '.join(params)}",
            )
            continue
        if isinstance(value, dict) and "dist" in value:
            # A distribution: each run draws its own value (sim.distributions).
            dist, problems = parse_distribution(value, params[key], where(key), key)
            for at, message in problems:
                if at not in seen_problem:
                    c.bad(at, message)
            if dist is not None:
                values[key] = dist
            continue
        normalised, expected = params[key].check(value)
        if expected is not None:
            if where(key) not in seen_problem:
                if isinstance(value, dict) and params[key].kind in ("float", "int", "prob"):
                    expected += ' or a distribution table such as { dist = "uniform", ... }'
                c.bad(where(key), f"expected {expected}, found {describe_value(value)}")
            continue
        values[key] = normalised
    _check_choices(c, values, where)
    return values


def _check_choices(c: _Checker, values: dict[str, Any], where: Any) -> None:
    """The channels an answer may be chosen to go through (``choice_<instrument>``) are
    shares of the answers: given as numbers, they may sum to at most 1. (Drawn per run,
    they are scaled down to 1 by the engine where they sum to more.)"""
    channels = choice_params()
    given = {
        key: value
        for key, value in values.items()
        if key in channels
        and not key.endswith("_amount")
        and isinstance(value, int | float)
        and value > 0
    }
    total = sum(given.values())
    if total > 1.0 + 1e-9:
        terms = " + ".join(f"{key} {value:g}" for key, value in given.items())
        c.bad(
            where(max(given, key=given.get)),
            f"expected choice probabilities that sum to at most 1, found {terms} = {total:g}",
        )


# ----------------------------------------------------------- [staff_weights]
def _check_staff_weights(c: _Checker, top: dict[str, Any]) -> dict[str, float]:
    """Staff-equivalents per head of each staff category (sim.engine.categories),
    every category filled in (``DEFAULT_WEIGHT`` unless given)."""
    table = c.table(top.get("staff_weights", {}), "staff_weights", set(CATEGORY_NAMES))
    weights = {}
    for name in CATEGORY_NAMES:
        value = table.get(name, DEFAULT_WEIGHT)
        if not (type_ok(value, "float") and 0 < value <= MAX_WEIGHT):
            c.bad(
                f"staff_weights.{name}",
                f"expected a number > 0 and <= {MAX_WEIGHT:g} (staff-equivalents per head; "
                f"default {DEFAULT_WEIGHT:g}), found {describe_value(value)}",
            )
            value = DEFAULT_WEIGHT
        weights[name] = float(value)
    return weights


# ---------------------------------------------------------------- [missions]
def _check_missions(
    c: _Checker, top: dict[str, Any], state_ids: set[str]
) -> tuple[dict[str, dict], dict[tuple[str, str], str]]:
    """Each mission's values, and the mission id of each (sender, host) pair."""
    missions_raw = c.table(top.get("missions", {}), "missions")
    if "missions" not in top:
        c.bad("missions", "required: expected [missions.<id>] tables")
    missions: dict[str, dict[str, Any]] = {}
    by_pair: dict[tuple[str, str], str] = {}
    if len(missions_raw) > MAX_MISSIONS:
        c.bad("missions", f"expected at most {MAX_MISSIONS} missions, found {len(missions_raw)}")
        missions_raw = dict(list(missions_raw.items())[:MAX_MISSIONS])
    for mid, mi in missions_raw.items():
        path = f"missions.{mid}"
        values = _check_mission(c, mid, mi, state_ids)
        sender, host = values["sender"], values["host"]
        if sender and host:
            if (sender, host) in by_pair:
                c.bad(path, f"duplicates mission {by_pair[sender, host]} ({sender} in {host})")
            by_pair[sender, host] = mid
        missions[mid] = values
    return missions, by_pair


def _check_mission(c: _Checker, mid: str, mi: Any, state_ids: set[str]) -> dict[str, Any]:
    path = f"missions.{mid}"
    if not ID_PATTERN.fullmatch(mid):
        c.bad(path, "expected an id of lowercase letters, digits and _ (e.g. us_in_russia)")
    # Instrument plugins may add staff pools to missions (``mission_fields``).
    declared = {
        name: spec
        for i in instruments.INSTRUMENTS.values()
        for name, spec in i.mission_fields.items()
    }
    mi = c.table(mi, path, MISSION_KEYS | set(declared))
    sender = c.state_id(c.get(mi, "sender", path, "str"), f"{path}.sender", state_ids)
    host = c.state_id(c.get(mi, "host", path, "str"), f"{path}.host", state_ids)
    if sender is not None and sender == host:
        c.bad(f"{path}.host", "expected a state other than the sender")
    values = {
        "sender": sender,
        "host": host,
        "diplomats": _count(c, mi, "diplomats", path, ..., MAX_STAFF),
        "admin_technical": _count(c, mi, "admin_technical", path, 0, MAX_STAFF),
        "local_staff": _count(c, mi, "local_staff", path, 0, MAX_STAFF),
        "consulates": _count(c, mi, "consulates", path, 0, 10_000),
        "staff_per_consulate": c.get(mi, "staff_per_consulate", path, "int", 0, 0, 1_000_000),
        "cap": c.get(mi, "cap", path, "int", None, 0, MAX_STAFF),
        "local_hire_ceiling": c.get(mi, "local_hire_ceiling", path, "int", None, 0, MAX_STAFF),
        "source": c.get(mi, "source", path, "str", ""),
        "note": c.get(mi, "note", path, "str", ""),
        "extra": {
            name: c.get(mi, name, path, "int", spec.default or 0, spec.low, spec.high)
            for name, spec in declared.items()
            if name in mi
        },
    }
    counted = ("diplomats", "admin_technical", "local_staff", "consulates", "staff_per_consulate")
    counts = [values[k] for k in counted]
    cap, ceiling = values["cap"], values["local_hire_ceiling"]
    if None not in counts:
        # With counts drawn per run, the largest total a run can draw: a limit must hold
        # in every run.
        total = (
            largest_count(values["diplomats"])
            + largest_count(values["admin_technical"])
            + largest_count(values["local_staff"])
            + largest_count(values["consulates"]) * values["staff_per_consulate"]
            + sum(n for n in values["extra"].values() if n is not None)
        )
        if total > MAX_STAFF:
            c.bad(
                path,
                f"expected at most {MAX_STAFF:,} staff in all (diplomats + admin_technical + "
                f"local_staff + consulates x staff_per_consulate), found {total:,}",
            )
        elif cap is not None and total > cap:
            drawn = any(isinstance(n, Distribution) for n in counts)
            what = "largest total staff a run can draw" if drawn else "total staff"
            c.bad(
                f"{path}.cap",
                f"expected a cap at or above the mission's {what} {total}, "
                f"found {cap} (a cap in force has already been met)",
            )
    local = values["local_staff"]
    if ceiling is not None and local is not None and largest_count(local) > ceiling:
        c.bad(
            f"{path}.local_hire_ceiling",
            f"expected a ceiling at or above local_staff {largest_count(local)}, found {ceiling}",
        )
    return values


def _count(
    c: _Checker, table: dict[str, Any], key: str, path: str, default: Any, high: int
) -> int | Distribution | None:
    """A mission's staff count: an integer from 0 to ``high``, or a distribution of them."""
    value = table.get(key)
    if not (isinstance(value, dict) and "dist" in value):
        return c.get(table, key, path, "int", default, 0, high)
    param = Param(0, key, "int", 0, high)
    dist, problems = parse_distribution(value, param, f"{path}.{key}", key)
    for where, message in problems:
        c.bad(where, message)
    return dist


# ---------------------------------------------------------------- [outcomes]
def _check_outcomes(c: _Checker, top: dict[str, Any], missions: dict[str, Any]) -> dict[str, Any]:
    out_raw = c.table(top.get("outcomes", {}), "outcomes", OUTCOME_KEYS)
    watched = c.get(out_raw, "missions", "outcomes", "strlist", sorted(missions))
    for i, mid in enumerate(watched or []):
        if mid not in missions:
            extra = _did_you_mean(mid, sorted(missions), 0.5)
            c.bad(f"outcomes.missions.{i}", f"expected a mission id, found {mid!r}{extra}")
    values = {
        "closure_threshold": c.get(
            out_raw, "closure_threshold", "outcomes", "int", 0, 0, MAX_STAFF
        ),
        "missions": list(watched or []),
        "quiet": c.get(out_raw, "quiet", "outcomes", "bool", True),
        "quiet_steps": c.get(out_raw, "quiet_steps", "outcomes", "int", 26, 1, MAX_STEPS),
        "require_reciprocation": c.get(out_raw, "require_reciprocation", "outcomes", "bool", False),
        "restored_level": c.get(out_raw, "restored_level", "outcomes", "int", None, 0, MAX_STAFF),
    }
    # The outcome classes are a registry of their own (sim.outcome_classes).
    classes, problems = check_outcome_classes(out_raw.get("classes"), "outcomes.classes")
    for where, message in problems:
        c.bad(where, message)
    values["classes"] = classes
    return values


# ---------------------------------------------------------------- [[events]]
def _check_events(
    c: _Checker,
    top: dict[str, Any],
    meta: dict[str, Any],
    state_ids: set[str],
    by_pair: dict[tuple[str, str], str],
) -> list[dict[str, Any]]:
    """Each event's values, and whether the events are in order and in the period."""
    events_raw = top.get("events", [])
    if not isinstance(events_raw, list):
        found = describe_value(events_raw)
        c.bad("events", f"expected an array of [[events]] tables, found {found}")
        events_raw = []
    if len(events_raw) > MAX_EVENTS:
        c.bad("events", f"expected at most {MAX_EVENTS:,} events, found {len(events_raw):,}")
        events_raw = []
    start, step_days, n_steps = meta["start"], meta["step_days"], meta["n_steps"]
    timing_ok = start is not None and step_days is not None and n_steps is not None
    events: list[dict[str, Any]] = []
    previous: dt.date | None = None
    for i, ev in enumerate(events_raw):
        values = _check_event(c, i, ev, state_ids, by_pair)
        if values is None:
            continue
        path = f"events.{i}"
        date, deadline = values["date"], values["deadline"]
        if previous is not None and date < previous:
            c.bad(f"{path}.date", f"expected events in date order: {date} comes before {previous}")
        previous = date
        if deadline is not None and deadline <= date:
            c.bad(f"{path}.deadline", f"expected a date after {date}, found {deadline}")
        until = values["until"]
        if until is not None and until <= (deadline or date):
            after = f"the deadline, {deadline}" if deadline is not None else f"its date, {date}"
            c.bad(f"{path}.until", f"expected a date after {after}, found {until}")
        if timing_ok:
            last = _last_step_start(start, step_days, n_steps)
            if not (start <= date <= last + dt.timedelta(days=step_days - 1)):
                c.bad(f"{path}.date", f"expected a date from {start} to {last}, found {date}")
        events.append(values)
    return events


def _check_event(
    c: _Checker,
    i: int,
    ev: Any,
    state_ids: set[str],
    by_pair: dict[tuple[str, str], str],
) -> dict[str, Any] | None:
    """One event's values; ``None`` if what the others are checked against is wrong."""
    path = f"events.{i}"
    ev = c.table(ev, path, EVENT_KEYS | declared_event_fields())
    if not ev:
        return None
    date = c.get(ev, "date", path, "date")
    actor = c.state_id(c.get(ev, "actor", path, "str"), f"{path}.actor", state_ids)
    target = c.state_id(c.get(ev, "target", path, "str"), f"{path}.target", state_ids)
    deadline = c.get(ev, "deadline", path, "date", None)
    until = c.get(ev, "until", path, "date", None)
    kind_label = c.get(ev, "kind", path, "str")
    source = c.get(ev, "source", path, "str")
    if source is not None and not source.strip():
        c.bad(f"{path}.source", "expected the source of the event, found an empty string")
    instrument = None if kind_label is None else _check_instrument(c, path, kind_label)
    amounts = {} if instrument is None else _check_amounts(c, path, ev, instrument)
    if until is not None and instrument is not None and not instrument.hostile:
        c.bad(
            f"{path}.until",
            f"only a hostile measure can be temporary (end at until); an event of kind "
            f"{instrument.name} takes no until",
        )
    if actor is not None and target is not None and actor == target and "mission" not in ev:
        c.bad(
            f"{path}.target",
            "expected a state other than the actor (or give mission = [sender, host])",
        )
    mission, own = _check_event_mission(c, path, ev, actor, target, instrument, state_ids, by_pair)
    if instrument is not None and mission is not None:
        _check_fields_together(c, path, ev, instrument, amounts, mission, by_pair)
    if None in (date, actor, target, instrument, mission):
        return None
    values = {
        "index": i,
        "date": date,
        "deadline": deadline,
        "until": until,
        "actor": actor,
        "target": target,
        "instrument": instrument,
        "mission": mission,
        "source": source or "",
        # Read only for an event that is otherwise whole (as it always has been).
        "note": c.get(ev, "note", path, "str", "") or "",
        "own": own,
        **amounts,
    }
    # Checks across fields that only the instrument knows (an ultimatum's consequence),
    # of fields not already found wrong on their own.
    reported = {p.path for p in c.problems}
    for key, message in instrument.check_event(values):
        where = f"{path}.{key}" if key else path
        if where not in reported:
            c.bad(where, message)
    return values


def _check_instrument(c: _Checker, path: str, kind_label: str) -> Instrument | None:
    """The registered instrument an event's ``kind`` names."""
    names = [name for name in instruments.labels() if name != "none"]
    if kind_label not in names:
        extra = _did_you_mean(kind_label, names, 0.5)
        c.bad(f"{path}.kind", f"expected one of {', '.join(names)}, found {kind_label!r}{extra}")
        return None
    return instruments.INSTRUMENTS[kind_label]


def _check_amounts(
    c: _Checker, path: str, ev: dict[str, Any], instrument: Instrument
) -> dict[str, Any]:
    """The fields the instrument declares, defaulted: the four amounts (``size`` /
    ``level`` / ``rate`` / ``lifts``) by name, any other in ``options``. A field it does
    not declare is a problem."""
    values: dict[str, Any] = {}
    options: dict[str, Any] = {}
    others = sorted(declared_event_fields() - set(EVENT_AMOUNT_FIELDS))
    for key in (*EVENT_AMOUNT_FIELDS, *others):
        field = instrument.fields.get(key)
        if field is None:
            if key in ev:
                c.bad(f"{path}.{key}", f"not used by an event of kind {instrument.name}")
            continue
        default = ... if field.required else field.default
        kind = _FIELD_TYPES[field.kind]
        value = c.get(ev, key, path, kind, default, field.low, field.high)
        names = {
            "liftable": lambda: sorted(i.name for i in instruments.liftable()),
            "hostile": lambda: sorted(i.name for i in instruments.hostile()),
            "choice": lambda f=field: list(f.choices),
        }.get(field.kind)
        if names is not None and value is not None and value not in names():
            c.bad(f"{path}.{key}", f"expected one of {', '.join(names())}, found {value!r}")
        if key in EVENT_AMOUNT_FIELDS:
            values[key] = value
        else:
            options[key] = value
    if options:
        values["options"] = options
    return values


def _check_fields_together(
    c: _Checker,
    path: str,
    ev: dict[str, Any],
    instrument: Instrument,
    amounts: dict[str, Any],
    mission: str,
    by_pair: dict[tuple[str, str], str],
) -> None:
    """What the instrument says of its fields taken together (a parity cap needs the
    counterpart's mission; a cap without parity, a level)."""
    sender, host = next(pair for pair, mid in by_pair.items() if mid == mission)
    context = {
        "given": set(ev),
        "sender": sender,
        "host": host,
        "counterpart": by_pair.get((host, sender)),
    }
    for key, message in instrument.check_event_in_context(amounts, context):
        c.bad(f"{path}.{key}", message)


def _check_event_mission(
    c: _Checker,
    path: str,
    ev: dict[str, Any],
    actor: str | None,
    target: str | None,
    instrument: Instrument | None,
    state_ids: set[str],
    by_pair: dict[tuple[str, str], str],
) -> tuple[str | None, bool]:
    """The id of the mission the event hits, and whether it is the actor's own."""
    if "mission" not in ev:
        if not (actor and target and actor != target):
            return None, False
        mission = by_pair.get((target, actor))
        if mission is None:
            c.bad(
                path,
                f"{actor} acts on {target}'s mission in {actor}, but the scenario has no mission "
                f"with sender {target!r} and host {actor!r}",
            )
        return mission, False
    pair = ev["mission"]
    if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
        c.bad(f"{path}.mission", f"expected [sender, host], found {describe_value(pair)}")
        return None, False
    sender = c.state_id(pair[0], f"{path}.mission.0", state_ids)
    host = c.state_id(pair[1], f"{path}.mission.1", state_ids)
    if not (sender and host):
        return None, False
    mission = by_pair.get((sender, host))
    if mission is None:
        c.bad(f"{path}.mission", f"expected an existing mission, found none of {sender} in {host}")
    if actor is not None and actor not in (sender, host):
        c.bad(f"{path}.actor", f"expected the mission's sender or host, found {actor!r}")
    own = actor == sender
    if own and instrument is not None and not instrument.hostile:
        c.bad(
            f"{path}.actor",
            f"expected the host {host!r}: conciliatory moves ({instrument.name}) "
            f"are the host's, found the sender {actor!r}",
        )
    return mission, own
