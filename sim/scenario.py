"""Scenario files: parsing, validation, dotted-path overrides.

A scenario is a TOML document (format in ``docs/scenario-format.md``). Validation
collects every problem, not only the first; each names the file, the dotted field
path, what was expected and what was found. The same dotted path addresses a value
in the file, in ``--set PATH=VALUE`` and in sweeps.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import difflib
import io
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from sim.distributions import Distribution, describe_value, parse_distribution
from sim.measures import Kind
from sim.policies import POLICIES, Param

__all__ = [
    "EVENT_CSV_COLUMNS",
    "EventSpec",
    "EventsFile",
    "MissionSpec",
    "OutcomeSpec",
    "Problem",
    "Scenario",
    "ScenarioError",
    "StateSpec",
    "apply_overrides",
    "forecast_warnings",
    "insert_events",
    "load_scenario",
    "parse_event_spec",
    "parse_override",
    "read_events_file",
    "resolve_events_file",
    "scenario_from_dict",
    "take_offer_event",
]

MAX_STEPS = 20_000
MAX_RUNS = 100_000_000
#: Largest head count anywhere (a mission's staff, an expulsion, a cap): staff are kept in
#: 32-bit integers, and no embassy has ever come near ten million people.
MAX_STAFF = 10_000_000
MAX_STATES = 64
MAX_MISSIONS = 512
MAX_EVENTS = 100_000
#: Tables and arrays nested deeper than this are refused before anything walks them.
MAX_DEPTH = 16
_ID = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where, and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(Exception):
    """A scenario that cannot be used. ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"{self.source}: {len(self.problems)} problem(s)"
        return "\n".join([head, *(f"  {self.source}: {p}" for p in self.problems)])


# --------------------------------------------------------------------- specs
@dataclass
class StateSpec:
    id: str
    name: str
    allies: list[str]
    solidarity: float
    solidarity_size: int
    policies: dict[str, dict[str, Any]]  # counterpart id -> validated policy values


@dataclass
class MissionSpec:
    id: str
    sender: str
    host: str
    #: A count, or a :class:`~sim.distributions.Distribution` drawn per run.
    diplomats: int | Distribution
    local_staff: int | Distribution
    consulates: int | Distribution
    staff_per_consulate: int
    cap: int | None
    local_hire_ceiling: int | None
    source: str
    note: str

    @property
    def total(self) -> int:
        """Total staff; with counts drawn per run, the largest total a run can draw.

        The largest, not the mean, because what reads it are limits that must hold in
        every run: at most ``MAX_STAFF``, and a cap in force at or above the total.
        """
        return (
            _most(self.diplomats)
            + _most(self.local_staff)
            + _most(self.consulates) * self.staff_per_consulate
        )


def _most(count: int | Distribution) -> int:
    """A count, or the largest value a run can draw of a count given as a distribution."""
    return int(count.support()[1]) if isinstance(count, Distribution) else count


@dataclass
class EventSpec:
    index: int
    date: dt.date
    actor: str
    target: str
    kind: Kind
    mission: str  # mission id
    step: int
    deadline_step: int
    size: int | None = None
    level: int | None = None
    rate: float | None = None
    lifts: str | None = None
    source: str = ""
    note: str = ""
    own: bool = False  # a state's measure on its own mission: not a hostile act


@dataclass
class OutcomeSpec:
    closure_threshold: int
    missions: list[str]
    quiet: bool
    quiet_steps: int
    require_reciprocation: bool
    restored_level: int | None


@dataclass
class Scenario:
    """A validated scenario. Build with :func:`load_scenario` or :func:`scenario_from_dict`."""

    source: str
    raw: dict[str, Any]
    name: str
    description: str
    start: dt.date
    step_days: int
    n_steps: int
    forecast_start: dt.date
    runs: int
    seed: int
    states: dict[str, StateSpec]
    missions: dict[str, MissionSpec]
    events: list[EventSpec]
    outcomes: OutcomeSpec
    overrides: dict[str, Any] = field(default_factory=dict)
    #: Hostile acts announced this many days before the forecast start are perceived by
    #: the policies at the forecast start, so that they may answer them.
    recall_days: int = 0
    #: What-if events added to the document's own (``--event``, ``--take-offer``,
    #: ``sim.run(events=..., take_offer=...)``), JSON-ready: each event's fields (dates
    #: as ISO text), its ``index`` in :attr:`events` and what ``added_by`` it.
    added_events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def forecast_step(self) -> int:
        return self.step_of(self.forecast_start)

    @property
    def end(self) -> dt.date:
        """The last day simulated (the last day of the last step)."""
        return self.date_of(self.n_steps) - dt.timedelta(days=1)

    def step_end(self, step: int) -> dt.date:
        """The last day of a step."""
        return self.date_of(step + 1) - dt.timedelta(days=1)

    def step_of(self, date: dt.date) -> int:
        return (date - self.start).days // self.step_days

    def date_of(self, step: int) -> dt.date:
        return self.start + dt.timedelta(days=int(step) * self.step_days)

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A copy with values replaced by dotted path, e.g. ``{"states.us.policy.ratio": 1.2}``."""
        raw = apply_overrides(self.raw, overrides, self.source)
        merged = {**self.overrides, **overrides}
        out = scenario_from_dict(raw, self.source, merged)
        out.added_events = copy.deepcopy(self.added_events)
        return out

    def with_events(
        self,
        events: Sequence[Mapping[str, Any]] = (),
        take_offer: str | None = None,
        *,
        labels: list[str] | None = None,
        offer_label: str | None = None,
        cli: bool = False,
    ) -> Scenario:
        """A copy with what-if events added to the scenario's own, in date order.

        ``events`` are ``[[events]]`` tables (dicts with the keys of the scenario format;
        dates may be given as ``"YYYY-MM-DD"`` text, a mission as ``"sender:host"``,
        ``source`` defaults to :data:`WHATIF_SOURCE`). ``take_offer="us"`` adds the event by
        which the US accepts the conditional offer made toward it (see
        :func:`take_offer_event`). The result is validated like the file; a problem in
        an added event names it by its label (``labels[i]``, default ``events[i]``;
        ``offer_label`` for the offer's acceptance) and the field. ``cli`` words the
        hints for the command line (``--event``) rather than Python.

        >>> scenario.with_events([{"date": "2021-12-08", "actor": "us",
        ...                        "target": "russia", "kind": "cancel"}])  # doctest: +SKIP
        """
        if isinstance(events, Mapping | str | bytes) or not isinstance(events, Sequence):
            raise TypeError(
                f"events: expected a list of event tables (dicts), found {type(events).__name__}"
            )
        events = list(events)
        labels = (
            list(labels) if labels is not None else [f"events[{i}]" for i in range(len(events))]
        )
        if len(labels) != len(events):
            raise ValueError("labels: expected one label per event")
        out = self
        if events:
            out = insert_events(self, [_whatif_event(ev) for ev in events], labels, cli=cli)
        if take_offer is not None:
            label = offer_label or f"take_offer={take_offer!r}"
            event = take_offer_event(out, take_offer, label=label, cli=cli)
            out = insert_events(out, [event], [label], cli=cli)
        return out

    def to_toml(self) -> str:
        """The scenario as TOML, overrides applied (the "resolved scenario")."""
        return tomli_w.dumps(self.raw)


# ------------------------------------------------------------------ loading
def read_toml(path: str | Path, source: str | None = None) -> dict[str, Any]:
    """A TOML file's document, or a :class:`ScenarioError` that says why it cannot be read."""
    source = str(path) if source is None else source
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        raise ScenarioError(source, [Problem("", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError(source, [Problem("", "is a directory, expected a TOML file")]) from None
    except OSError as exc:
        raise ScenarioError(source, [Problem("", f"cannot be read: {exc.strerror}")]) from None
    try:
        raw = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(source, [Problem("", "is not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [Problem("", f"is not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError(
            source, [Problem("", "is not valid TOML here: tables or arrays nested too deeply")]
        ) from None
    check_depth(raw, source)
    return raw


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, override and validate a scenario file. Raises :class:`ScenarioError`."""
    source = str(path)
    raw = read_toml(path, source)
    # The CSV's rows become [[events]] before --set, so events.N is an index in the
    # merged list (CSV rows first).
    raw, events_file = read_events_file(raw, source)
    if overrides:
        raw = apply_overrides(raw, overrides, source)
    return scenario_from_dict(raw, source, dict(overrides or {}), events_file=events_file)


def check_depth(raw: Any, source: str, limit: int = MAX_DEPTH) -> None:
    """Refuse a document nested deeper than ``limit`` (before anything recurses into it)."""
    stack: list[tuple[Any, str, int]] = [(raw, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > limit:
            raise ScenarioError(
                source, [Problem(path, f"nested too deeply (more than {limit} levels)")]
            )
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, list):
            items = ((str(i), v) for i, v in enumerate(node))
        else:
            continue
        for key, value in items:
            if isinstance(value, dict | list):
                stack.append((value, f"{path}.{key}" if path else str(key), depth + 1))


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``PATH=VALUE``; the value is read as a TOML value, else taken as a string."""
    if "=" not in text:
        raise ValueError(f"expected PATH=VALUE, found {text!r}")
    path, value = text.split("=", 1)
    path = path.strip()
    if not path or any(not part for part in path.split(".")):
        raise ValueError(f"expected a dotted path such as states.us.policy.ratio, found {path!r}")
    if len(path.split(".")) > MAX_DEPTH:
        raise ValueError(f"expected a dotted path of at most {MAX_DEPTH} parts, found {path!r}")
    try:
        doc = tomllib.loads(f"v = {value.strip()}")
    except (tomllib.TOMLDecodeError, RecursionError):
        doc = {}
    # Anything but exactly one TOML value (e.g. "1\nother = 2") is taken as a string.
    parsed = doc["v"] if list(doc) == ["v"] else value.strip()
    return path, parsed


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """Return a copy of ``raw`` with each dotted path set to its value."""
    out = copy.deepcopy(raw)
    problems = []
    for path, value in overrides.items():
        node: Any = out
        parts = path.split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            here = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                if not re.fullmatch(r"[0-9]{1,9}", part) or int(part) >= len(node):
                    problems.append(
                        Problem(here, f"expected an index from 0 to {len(node) - 1} (--set)")
                    )
                    break
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    _switch_kind(node, parts, value)
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                problems.append(Problem(here, "is not a table, so --set cannot go inside it"))
                break
    if problems:
        raise ScenarioError(source, problems)
    return out


def _switch_kind(table: dict[str, Any], parts: list[str], value: Any) -> None:
    """Setting a policy table's ``kind`` drops the old kind's own parameters.

    ``--set states.us.policy.kind=generous`` on a proportional policy then means "use
    generous instead", not "generous with a ratio it does not have". Common parameters
    (noise, lag, ...) stay.
    """
    is_policy = (
        len(parts) >= 4
        and parts[0] == "states"
        and (
            (len(parts) == 4 and parts[2] == "policy") or (len(parts) == 5 and parts[2] == "toward")
        )
    )
    if not is_policy or parts[-1] != "kind":
        return
    old = table.get("kind", "scripted")
    if not isinstance(old, str) or not isinstance(value, str) or old == value:
        return
    old_cls, new_cls = POLICIES.get(old), POLICIES.get(value)
    if old_cls is None or new_cls is None:
        return  # validation reports the unknown kind
    for key in set(old_cls.params) - set(new_cls.params):
        table.pop(key, None)


# --------------------------------------------------------------- validation
class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def table(self, value: Any, path: str, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.bad(path, f"expected a table, found {_describe(value)}")
            return {}
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    hint = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
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
        where = f"{path}.{key}" if path else key
        if key not in table:
            if default is ...:
                self.bad(where, f"required: expected {_expected(kind, low, high)}")
                return None
            return default
        value = table[key]
        ok = _type_ok(value, kind)
        if (
            ok
            and kind in ("int", "float")
            and ((low is not None and value < low) or (high is not None and value > high))
        ):
            ok = False
        if not ok:
            self.bad(where, f"expected {_expected(kind, low, high)}, found {_describe(value)}")
            return None
        if kind == "float":
            return float(value)
        return value

    def state_id(self, value: Any, path: str, states: set[str]) -> str | None:
        if value is None:
            return None
        if value not in states:
            hint = difflib.get_close_matches(str(value), sorted(states), n=1, cutoff=0.5)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            self.bad(
                path, f"expected a state id ({', '.join(sorted(states))}), found {value!r}{extra}"
            )
            return None
        return value


def _type_ok(value: Any, kind: str) -> bool:
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


_describe = describe_value  # shared with sim.distributions


TOP_KEYS = {"scenario", "states", "missions", "events", "outcomes", "sweep"}  # sweep: sim.sweep
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
STATE_KEYS = {"name", "allies", "solidarity", "solidarity_size", "policy", "toward"}
MISSION_KEYS = {
    "sender",
    "host",
    "diplomats",
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
}
# Which of size / level / rate / lifts each event kind takes: (required, optional).
EVENT_FIELDS: dict[Kind, tuple[set[str], set[str]]] = {
    Kind.EXPEL: ({"size"}, set()),
    Kind.CAP: ({"level"}, set()),
    Kind.BAN_LOCAL_HIRES: (set(), {"level"}),
    Kind.CLOSE_CONSULATE: (set(), {"size"}),
    Kind.VISA_DENIAL: ({"rate"}, set()),
    Kind.SUSPEND: (set(), set()),
    Kind.CANCEL: (set(), set()),
    Kind.LIFT: ({"lifts"}, set()),
    Kind.RESTORE: ({"size"}, set()),
    Kind.OFFER: (set(), set()),
}
LIFTABLE = {"cap", "ban_local_hires", "visa_denial"}


def scenario_from_dict(
    raw: dict[str, Any],
    source: str = "<scenario>",
    overrides: dict[str, Any] | None = None,
    *,
    events_file: EventsFile | None = None,
) -> Scenario:
    """Validate a parsed TOML document and build a :class:`Scenario`.

    A ``scenario.events_file`` is read first (relative to ``source``'s directory), its
    rows put before the ``[[events]]``; the Scenario's ``raw`` has them inline.
    ``events_file`` is what :func:`read_events_file` returned for a document already
    read, so that problems in its rows name the CSV file, row and column.
    """
    check_depth(raw, source)
    if events_file is None:
        raw, events_file = read_events_file(raw, source)
    try:
        return _build(raw, source, overrides)
    except ScenarioError as exc:
        if events_file is None:
            raise
        raise ScenarioError(source, events_file.locate(exc.problems)) from None


def _build(raw: dict[str, Any], source: str, overrides: dict[str, Any] | None) -> Scenario:
    c = _Checker()
    top = c.table(raw, "", TOP_KEYS)
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
    if n_steps is not None and forecast_start is not None and start is not None:
        last = start + dt.timedelta(days=(n_steps - 1) * step_days)
        if not (start <= forecast_start <= last + dt.timedelta(days=step_days - 1)):
            c.bad(
                "scenario.forecast_start",
                f"expected a date from {start} to {last}, found {forecast_start}",
            )

    # states
    states_raw = c.table(top.get("states", {}), "states")
    if "states" not in top:
        c.bad("states", "required: expected [states.<id>] tables")
    state_ids = set(states_raw)
    if len(state_ids) > MAX_STATES:
        c.bad("states", f"expected at most {MAX_STATES} states, found {len(state_ids)}")
        state_ids = set(list(states_raw)[:MAX_STATES])
        states_raw = {sid: states_raw[sid] for sid in list(states_raw)[:MAX_STATES]}
    for sid in states_raw:
        if not _ID.fullmatch(sid):
            c.bad(f"states.{sid}", "expected an id of lowercase letters, digits and _")
    if len(state_ids) < 2 and "states" in top:
        c.bad("states", f"expected at least 2 states, found {len(state_ids)}")
    states: dict[str, StateSpec] = {}
    for sid, st in states_raw.items():
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
        states[sid] = StateSpec(
            id=sid,
            name=label or sid,
            allies=list(allies or []),
            solidarity=c.get(st, "solidarity", path, "float", 0.0, 0, 1),
            solidarity_size=c.get(st, "solidarity_size", path, "int", 2, 1, 100_000),
            policies=policies,
        )

    # missions
    missions_raw = c.table(top.get("missions", {}), "missions")
    if "missions" not in top:
        c.bad("missions", "required: expected [missions.<id>] tables")
    missions: dict[str, MissionSpec] = {}
    by_pair: dict[tuple[str, str], str] = {}
    if len(missions_raw) > MAX_MISSIONS:
        c.bad("missions", f"expected at most {MAX_MISSIONS} missions, found {len(missions_raw)}")
        missions_raw = dict(list(missions_raw.items())[:MAX_MISSIONS])
    for mid, mi in missions_raw.items():
        path = f"missions.{mid}"
        if not _ID.fullmatch(mid):
            c.bad(path, "expected an id of lowercase letters, digits and _ (e.g. us_in_russia)")
        mi = c.table(mi, path, MISSION_KEYS)
        sender = c.state_id(c.get(mi, "sender", path, "str"), f"{path}.sender", state_ids)
        host = c.state_id(c.get(mi, "host", path, "str"), f"{path}.host", state_ids)
        if sender is not None and sender == host:
            c.bad(f"{path}.host", "expected a state other than the sender")
        spec = MissionSpec(
            id=mid,
            sender=sender,
            host=host,
            diplomats=_count(c, mi, "diplomats", path, ..., MAX_STAFF),
            local_staff=_count(c, mi, "local_staff", path, 0, MAX_STAFF),
            consulates=_count(c, mi, "consulates", path, 0, 10_000),
            staff_per_consulate=c.get(mi, "staff_per_consulate", path, "int", 0, 0, 1_000_000),
            cap=c.get(mi, "cap", path, "int", None, 0, MAX_STAFF),
            local_hire_ceiling=c.get(mi, "local_hire_ceiling", path, "int", None, 0, MAX_STAFF),
            source=c.get(mi, "source", path, "str", ""),
            note=c.get(mi, "note", path, "str", ""),
        )
        if None not in _counts(spec) and spec.total > MAX_STAFF:
            c.bad(
                path,
                f"expected at most {MAX_STAFF:,} staff in all (diplomats + local_staff + "
                f"consulates x staff_per_consulate), found {spec.total:,}",
            )
        elif spec.cap is not None and None not in _counts(spec) and spec.total > spec.cap:
            drawn = any(isinstance(n, Distribution) for n in _counts(spec))
            what = "largest total staff a run can draw" if drawn else "total staff"
            c.bad(
                f"{path}.cap",
                f"expected a cap at or above the mission's {what} {spec.total}, "
                f"found {spec.cap} (a cap in force has already been met)",
            )
        if (
            spec.local_hire_ceiling is not None
            and spec.local_staff is not None
            and _most(spec.local_staff) > spec.local_hire_ceiling
        ):
            c.bad(
                f"{path}.local_hire_ceiling",
                f"expected a ceiling at or above local_staff {_most(spec.local_staff)}, "
                f"found {spec.local_hire_ceiling}",
            )
        if sender and host:
            if (sender, host) in by_pair:
                c.bad(path, f"duplicates mission {by_pair[sender, host]} ({sender} in {host})")
            by_pair[sender, host] = mid
        missions[mid] = spec

    # outcomes
    out_raw = c.table(top.get("outcomes", {}), "outcomes", OUTCOME_KEYS)
    watched = c.get(out_raw, "missions", "outcomes", "strlist", sorted(missions))
    for i, mid in enumerate(watched or []):
        if mid not in missions:
            hint = difflib.get_close_matches(mid, sorted(missions), n=1, cutoff=0.5)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            c.bad(f"outcomes.missions.{i}", f"expected a mission id, found {mid!r}{extra}")
    outcomes = OutcomeSpec(
        closure_threshold=c.get(out_raw, "closure_threshold", "outcomes", "int", 0, 0, MAX_STAFF),
        missions=list(watched or []),
        quiet=c.get(out_raw, "quiet", "outcomes", "bool", True),
        quiet_steps=c.get(out_raw, "quiet_steps", "outcomes", "int", 26, 1, MAX_STEPS),
        require_reciprocation=c.get(out_raw, "require_reciprocation", "outcomes", "bool", False),
        restored_level=c.get(out_raw, "restored_level", "outcomes", "int", None, 0, MAX_STAFF),
    )
    # events
    events: list[EventSpec] = []
    events_raw = top.get("events", [])
    if not isinstance(events_raw, list):
        c.bad("events", f"expected an array of [[events]] tables, found {_describe(events_raw)}")
        events_raw = []
    if len(events_raw) > MAX_EVENTS:
        c.bad("events", f"expected at most {MAX_EVENTS:,} events, found {len(events_raw):,}")
        events_raw = []
    timing_ok = start is not None and step_days is not None and n_steps is not None
    previous: dt.date | None = None
    for i, ev in enumerate(events_raw):
        spec = _check_event(c, i, ev, state_ids, by_pair)
        if spec is None:
            continue
        path = f"events.{i}"
        if previous is not None and spec.date < previous:
            c.bad(
                f"{path}.date",
                f"expected events in date order: {spec.date} comes before {previous}",
            )
        previous = spec.date
        deadline = ev.get("deadline")
        if not _type_ok(deadline, "date"):
            deadline = None  # reported by _check_event
        if deadline is not None and deadline <= spec.date:
            c.bad(f"{path}.deadline", f"expected a date after {spec.date}, found {deadline}")
        if timing_ok:
            last = start + dt.timedelta(days=(n_steps - 1) * step_days)
            if not (start <= spec.date <= last + dt.timedelta(days=step_days - 1)):
                c.bad(f"{path}.date", f"expected a date from {start} to {last}, found {spec.date}")
            spec.step = (spec.date - start).days // step_days
            due = spec.step + 1 if deadline is None else (deadline - start).days // step_days
            # A deadline after the horizon never falls due; n_steps says so as well as any
            # later step, and keeps the engine's ring buffers no longer than the horizon.
            spec.deadline_step = min(max(due, spec.step + 1), n_steps)
        events.append(spec)

    if c.problems:
        raise ScenarioError(source, c.problems)
    return Scenario(
        source=source,
        raw=raw,
        name=name,
        description=description,
        start=start,
        step_days=step_days,
        n_steps=n_steps,
        forecast_start=forecast_start,
        runs=runs,
        seed=seed,
        states=states,
        missions=missions,
        events=events,
        outcomes=outcomes,
        overrides=dict(overrides or {}),
        recall_days=recall_days or 0,
    )


def _counts(m: MissionSpec) -> tuple:
    return (m.diplomats, m.local_staff, m.consulates, m.staff_per_consulate)


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
        c.bad(where("kind"), f"expected a policy name (a string), found {_describe(kind)}")
        return {"kind": "scripted"}
    if kind not in POLICIES:
        hint = difflib.get_close_matches(str(kind), sorted(POLICIES), n=1, cutoff=0.5)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
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
            hint = difflib.get_close_matches(key, sorted(params), n=1, cutoff=0.6)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
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
                c.bad(where(key), f"expected {expected}, found {_describe(value)}")
            continue
        values[key] = normalised
    return values


def _check_event(
    c: _Checker,
    i: int,
    ev: Any,
    state_ids: set[str],
    by_pair: dict[tuple[str, str], str],
) -> EventSpec | None:
    path = f"events.{i}"
    ev = c.table(ev, path, EVENT_KEYS)
    if not ev:
        return None
    date = c.get(ev, "date", path, "date")
    actor = c.state_id(c.get(ev, "actor", path, "str"), f"{path}.actor", state_ids)
    target = c.state_id(c.get(ev, "target", path, "str"), f"{path}.target", state_ids)
    c.get(ev, "deadline", path, "date", None)
    kind_label = c.get(ev, "kind", path, "str")
    source = c.get(ev, "source", path, "str")
    if source is not None and not source.strip():
        c.bad(f"{path}.source", "expected the source of the event, found an empty string")
    kind = None
    if kind_label is not None:
        labels = [k.label for k in Kind if k != Kind.NONE]
        if kind_label not in labels:
            hint = difflib.get_close_matches(kind_label, labels, n=1, cutoff=0.5)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            c.bad(
                f"{path}.kind", f"expected one of {', '.join(labels)}, found {kind_label!r}{extra}"
            )
        else:
            kind = Kind.from_label(kind_label)
    values: dict[str, Any] = {}
    if kind is not None:
        required, optional = EVENT_FIELDS[kind]
        for key in ("size", "level", "rate", "lifts"):
            if key not in required | optional:
                if key in ev:
                    c.bad(f"{path}.{key}", f"not used by an event of kind {kind.label}")
                continue
            default = ... if key in required else None
            if key == "rate":
                values[key] = c.get(ev, key, path, "float", default, 0, MAX_STAFF)
            elif key == "lifts":
                values[key] = c.get(ev, key, path, "str", default)
                if values[key] is not None and values[key] not in LIFTABLE:
                    c.bad(
                        f"{path}.lifts",
                        f"expected one of {', '.join(sorted(LIFTABLE))}, found {values[key]!r}",
                    )
            else:
                low = 1 if key == "size" else 0
                values[key] = c.get(ev, key, path, "int", default, low, MAX_STAFF)
        if kind == Kind.CLOSE_CONSULATE and values.get("size") is None:
            values["size"] = 1
        if kind == Kind.BAN_LOCAL_HIRES and values.get("level") is None:
            values["level"] = 0
    if actor is not None and target is not None and actor == target and "mission" not in ev:
        c.bad(
            f"{path}.target",
            "expected a state other than the actor (or give mission = [sender, host])",
        )
    mission_id = None
    own = False
    if "mission" in ev:
        pair = ev["mission"]
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        ):
            c.bad(f"{path}.mission", f"expected [sender, host], found {_describe(pair)}")
        else:
            sender = c.state_id(pair[0], f"{path}.mission.0", state_ids)
            host = c.state_id(pair[1], f"{path}.mission.1", state_ids)
            if sender and host:
                mission_id = by_pair.get((sender, host))
                if mission_id is None:
                    c.bad(
                        f"{path}.mission",
                        f"expected an existing mission, found none of {sender} in {host}",
                    )
                if actor is not None and actor not in (sender, host):
                    c.bad(
                        f"{path}.actor", f"expected the mission's sender or host, found {actor!r}"
                    )
                own = actor == sender
                if own and kind in (Kind.CANCEL, Kind.LIFT, Kind.RESTORE, Kind.OFFER):
                    c.bad(
                        f"{path}.actor",
                        f"expected the host {host!r}: conciliatory moves ({kind.label}) "
                        f"are the host's, found the sender {actor!r}",
                    )
    elif actor and target and actor != target:
        mission_id = by_pair.get((target, actor))
        if mission_id is None:
            c.bad(
                path,
                f"{actor} acts on {target}'s mission in {actor}, but the scenario has no mission "
                f"with sender {target!r} and host {actor!r}",
            )
    if None in (date, actor, target, kind, mission_id):
        return None
    return EventSpec(
        index=i,
        date=date,
        actor=actor,
        target=target,
        kind=kind,
        mission=mission_id,
        step=0,
        deadline_step=1,
        source=source or "",
        note=c.get(ev, "note", path, "str", "") or "",
        own=own,
        **values,
    )


# ------------------------------------------------------------ events in CSV
#: The header of an events CSV: every one of these columns must be named ...
EVENT_CSV_COLUMNS = ("date", "actor", "target", "action", "size", "deadline", "source", "note")
#: ... and these may be.
EVENT_CSV_OPTIONAL = ("level", "rate", "lifts", "mission")
_CSV_KEY = {"action": "kind"}  # column -> event key (the others are the same)
_COLUMN = {"kind": "action"}  # event key -> column
_CSV_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CSV_INT = re.compile(r"[+-]?[0-9]{1,15}(\.0*)?")


@dataclass
class EventsFile:
    """Where the first events of a scenario came from: a CSV file's rows.

    ``rows[i]`` is the spreadsheet row (the header is row 1) of event ``i``;
    ``problems`` are the cells that could not be read.
    """

    name: str
    rows: dict[int, int]
    problems: list[Problem]

    def where(self, row: int, column: str | None = None) -> str:
        return f"{self.name}: row {row}" + (f", column {column}" if column else "")

    def locate(self, problems: list[Problem]) -> list[Problem]:
        """The cell problems, then ``problems`` with ``events.N...`` paths of CSV rows
        rewritten as ``FILE: row R, column C`` (a cell reported twice is kept once)."""
        out = list(self.problems)
        seen = {p.path for p in out}
        for p in problems:
            parts = p.path.split(".")
            if (
                len(parts) >= 2
                and parts[0] == "events"
                and parts[1].isdigit()
                and int(parts[1]) in self.rows
            ):
                column = _COLUMN.get(parts[2], parts[2]) if len(parts) > 2 else None
                path = self.where(self.rows[int(parts[1])], column)
                message = p.message.replace(" (unquoted)", "").replace(
                    "mission = [sender, host]", "a mission such as us:russia"
                )
                p = Problem(path, message.replace("[sender, host]", "sender:host"))
            if p.path not in seen:
                seen.add(p.path)
                out.append(p)
        return out


def read_events_file(raw: dict[str, Any], source: str) -> tuple[dict[str, Any], EventsFile | None]:
    """Put the rows of ``scenario.events_file`` into a copy of ``raw`` as ``[[events]]``.

    The CSV's events come first, then the document's own ``[[events]]`` (together in
    date order); ``events_file`` is dropped, so the result stands alone. A file that
    cannot be read, or a header that is wrong, raises :class:`ScenarioError` at once;
    cells that cannot be read are in the returned :class:`EventsFile`'s ``problems``.
    Without ``events_file``, ``raw`` comes back unchanged with ``None``.
    """
    meta = raw.get("scenario") if isinstance(raw, dict) else None
    if not isinstance(meta, dict) or "events_file" not in meta:
        return raw, None
    value = meta["events_file"]
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ScenarioError(
            source,
            [
                Problem(
                    "scenario.events_file",
                    f"expected the path of a CSV file (a string), found {_describe(value)}",
                )
            ],
        )
    base = Path(source).parent if not source.startswith("<") else Path()
    path = base / value
    events, info = _read_events_csv(path, str(path), source)
    out = dict(raw)
    out["scenario"] = {k: v for k, v in meta.items() if k != "events_file"}
    own = raw.get("events", [])
    out["events"] = [*events, *own] if isinstance(own, list) else own
    return out, info


def resolve_events_file(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """``raw`` with its ``events_file`` read in; problems in the file are raised at once.

    For callers that apply overrides to the document afterwards (sweeps).
    """
    resolved, info = read_events_file(raw, source)
    if info is not None:
        scenario_from_dict(resolved, source, events_file=info)  # raises, naming rows
    return resolved


def _read_events_csv(path: Path, name: str, source: str) -> tuple[list[dict], EventsFile]:
    def fail(where: str, message: str) -> ScenarioError:
        return ScenarioError(source, [Problem(where, message)])

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise fail(name, "no such file (named by scenario.events_file)") from None
    except IsADirectoryError:
        raise fail(name, "is a directory, expected a CSV file (scenario.events_file)") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise fail(name, f"cannot be read (scenario.events_file): {reason}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail(name, f"is not UTF-8 text (line {line}); save it as CSV in UTF-8") from None
    info = EventsFile(name, {}, [])
    events: list[dict[str, Any]] = []
    header: list[str] | None = None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    row_no = 0
    while True:
        row_no += 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise fail(info.where(row_no), f"is not valid CSV: {exc}") from None
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue  # blank row, or a comment row (first cell starting with #)
        if header is None:
            header = _csv_header(cells, row_no, info, source)
            continue
        if len(events) >= MAX_EVENTS:
            raise fail(name, f"expected at most {MAX_EVENTS:,} events (rows)")
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            info.problems.append(
                Problem(
                    info.where(row_no),
                    f"expected at most {len(header)} cells (the header's columns), "
                    f"found {len(cells)}",
                )
            )
        event: dict[str, Any] = {}
        for column, cell in zip(header, cells, strict=False):
            cell = cell.strip()
            if cell:
                event[_CSV_KEY.get(column, column)] = _csv_value(
                    column, cell, info, info.where(row_no, column)
                )
        info.rows[len(events)] = row_no
        events.append(event)
    if header is None:
        raise fail(
            name,
            "is empty: expected a header row naming the columns "
            f"{', '.join(EVENT_CSV_COLUMNS)}, then one row per event",
        )
    return events, info


def _csv_header(cells: list[str], row: int, info: EventsFile, source: str) -> list[str]:
    known = (*EVENT_CSV_COLUMNS, *EVENT_CSV_OPTIONAL)
    header = [cell.strip().lower() for cell in cells]
    problems = []
    for i, column in enumerate(header):
        where = info.where(row, f"{i + 1}")
        if not column:
            problems.append(Problem(where, "expected a column name, found an empty cell"))
        elif column not in known:
            hint = difflib.get_close_matches(column, known, n=1, cutoff=0.6)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(
                Problem(
                    where, f"unknown column {cells[i].strip()!r}{extra}; known: {', '.join(known)}"
                )
            )
        elif column in header[:i]:
            problems.append(Problem(where, f"column {column!r} named twice"))
    missing = [c for c in EVENT_CSV_COLUMNS if c not in header]
    if missing:
        problems.append(
            Problem(
                info.where(row),
                f"the header lacks the column(s) {', '.join(missing)}; expected "
                f"{', '.join(EVENT_CSV_COLUMNS)} (cells may be empty), optionally "
                f"{', '.join(EVENT_CSV_OPTIONAL)}",
            )
        )
    if problems:
        raise ScenarioError(source, problems)
    return header


def _csv_value(column: str, cell: str, info: EventsFile, where: str) -> Any:
    """A cell as the event value it stands for; a cell that cannot be read is reported
    and kept as text (so the event checks see it, and say nothing twice)."""

    def bad(expected: str) -> str:
        shown = cell if len(cell) <= 40 else cell[:37] + "..."
        info.problems.append(Problem(where, f"expected {expected}, found {shown!r}"))
        return cell

    if column in ("date", "deadline"):
        if _CSV_DATE.fullmatch(cell):
            try:
                return dt.date.fromisoformat(cell)
            except ValueError:
                pass
        return bad("a date YYYY-MM-DD such as 2021-12-01")
    if column in ("size", "level"):
        if _CSV_INT.fullmatch(cell):
            return int(cell.split(".")[0])
        return bad("a whole number")
    if column == "rate":
        try:
            return float(cell)
        except ValueError:
            return bad("a number")
    if column == "mission":
        parts = [part.strip() for part in cell.split(":")]
        if len(parts) == 2 and all(parts):
            return parts
        return bad("a mission as sender:host, such as us:russia")
    return cell


# ------------------------------------------------------------ what-if events
#: The ``source`` of an added event that does not give one: it is not in the record.
WHATIF_SOURCE = "what-if (not in the record)"
#: Event fields whose ``--event`` values are text as typed (unless quoted as TOML strings).
_TEXT_FIELDS = {"actor", "target", "kind", "lifts", "source", "note"}
_NO_VALUE = object()


def _toml_value(text: str) -> Any:
    """``text`` read as exactly one TOML value, else ``_NO_VALUE``."""
    try:
        doc = tomllib.loads(f"v = {text.strip()}")
    except (tomllib.TOMLDecodeError, RecursionError):
        return _NO_VALUE
    return doc["v"] if list(doc) == ["v"] else _NO_VALUE


def _split_pairs(text: str) -> list[str]:
    """``text`` split at the commas outside quotes and brackets (empty pieces dropped)."""
    pieces, current = [], []
    quote: str | None = None
    depth = 0
    escaped = False
    for ch in text:
        if quote is not None:
            current.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"expected balanced brackets, found an unopened {ch!r}")
        elif ch == "," and depth == 0:
            pieces.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quote is not None:
        raise ValueError(f"expected a closing {quote} (a quoted value is not closed)")
    if depth:
        raise ValueError("expected balanced brackets, found an unclosed '[' or '{'")
    pieces.append("".join(current))
    return [p for p in pieces if p.strip()]


def _spec_value(key: str, text: str) -> Any:
    """One ``--event`` value: read as ``--set`` reads values (a TOML value, else text).

    Text fields (actor, target, kind, lifts, source, note) are taken as typed unless
    written as a quoted TOML string, so ``note=2 more`` is text; ``mission=us:russia``
    is ``["us", "russia"]``, as in an events CSV.
    """
    if key in _TEXT_FIELDS:
        if text[:1] in ("'", '"'):
            value = _toml_value(text)
            if isinstance(value, str):
                return value
        return text
    if key == "mission" and ":" in text and not text.startswith("["):
        return [part.strip() for part in text.split(":")]
    value = _toml_value(text)
    return text if value is _NO_VALUE else value


def parse_event_spec(text: str) -> dict[str, Any]:
    """A ``--event`` value as an ``[[events]]`` table.

    The syntax is comma-separated ``KEY=VALUE`` pairs with the keys of an event
    (docs/scenario-format.md §6): ``date=2021-12-08,actor=us,target=russia,kind=cancel``.
    Values are read as ``--set`` reads them (dates, numbers, TOML values; anything else
    is text); quote a value that contains a comma (``note="talks, then a cancel"``).
    Raises ``ValueError`` for text that is not such pairs; the fields themselves are
    checked later, with the scenario, by the same code as the file's events.
    """
    if len(text) > 10_000:
        raise ValueError(f"expected at most 10,000 characters, found {len(text):,}")
    pairs = _split_pairs(text)
    if not pairs:
        raise ValueError(
            "expected KEY=VALUE pairs separated by commas, such as "
            "date=2021-12-08,actor=us,target=russia,kind=cancel; found nothing"
        )
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(
                f"expected KEY=VALUE, found {pair.strip()!r} (pairs are separated by commas; "
                "quote a value that contains one)"
            )
        if key in out:
            raise ValueError(f"field {key} is given twice")
        out[key] = _spec_value(key, value.strip())
    return out


def _whatif_event(ev: Any) -> Any:
    """An added event as an ``[[events]]`` table: ISO dates and ``sender:host`` read,
    ``source`` defaulted. Anything but a mapping is left for validation to report."""
    if not isinstance(ev, Mapping):
        return ev
    out = dict(ev)
    for key in ("date", "deadline"):
        value = out.get(key)
        if isinstance(value, str) and _CSV_DATE.fullmatch(value.strip()):
            try:
                out[key] = dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
    pair = out.get("mission")
    if isinstance(pair, str):
        parts = [part.strip() for part in pair.split(":")]
        if len(parts) == 2 and all(parts):
            out["mission"] = parts
    out.setdefault("source", WHATIF_SOURCE)
    return out


def _record(ev: dict[str, Any], index: int, added_by: str) -> dict[str, Any]:
    """An added event as recorded in summaries and manifests (JSON-ready)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return {**{k: plain(v) for k, v in ev.items()}, "index": index, "added_by": added_by}


def insert_events(
    scenario: Scenario, events: list[Any], labels: list[str], *, cli: bool = False
) -> Scenario:
    """``scenario`` with ``events`` (``[[events]]`` tables) inserted in date order.

    Each goes after every event dated on or before it (equal dates keep the order
    given), so the file's events keep their order and the document stays in date
    order. The result is validated by :func:`scenario_from_dict`, like a file; a problem
    in an added event is reported at ``"<label>, field <key>"``, one in the scenario's
    own events at its index before the insertion.
    """
    raw = copy.deepcopy(scenario.raw)
    own = raw.get("events", [])
    if not isinstance(own, list):
        own = []
    # (label of an added event or None, index before the insertion, table)
    tagged: list[tuple[str | None, int, Any]] = [(None, i, ev) for i, ev in enumerate(own)]
    for label, ev in zip(labels, events, strict=True):
        date = ev.get("date") if isinstance(ev, dict) else None
        at = len(tagged)
        if _type_ok(date, "date"):
            dated = [
                i
                for i, (_, _, other) in enumerate(tagged)
                if isinstance(other, dict)
                and _type_ok(other.get("date"), "date")
                and other["date"] <= date
            ]
            at = dated[-1] + 1 if dated else 0
        tagged.insert(at, (label, -1, ev))
    raw["events"] = [ev for _, _, ev in tagged]
    try:
        out = scenario_from_dict(raw, scenario.source, scenario.overrides)
    except ScenarioError as exc:
        raise ScenarioError(scenario.source, _relabel(exc.problems, tagged, cli)) from None
    new_index = {old: i for i, (label, old, _) in enumerate(tagged) if label is None}
    records = []
    for rec in scenario.added_events:
        records.append({**rec, "index": new_index.get(rec["index"], rec["index"])})
    for i, (label, _, ev) in enumerate(tagged):
        if label is not None:
            records.append(_record(ev, i, label))
    out.added_events = sorted(records, key=lambda r: r["index"])
    return out


def _relabel(problems: list[Problem], tagged: list[tuple], cli: bool) -> list[Problem]:
    out = []
    for p in problems:
        parts = p.path.split(".")
        if len(parts) >= 2 and parts[0] == "events" and parts[1].isdigit():
            k = int(parts[1])
            if k < len(tagged):
                label, old, _ = tagged[k]
                rest = ".".join(parts[2:])
                if label is None:
                    p = Problem(".".join(["events", str(old), *parts[2:]]), p.message)
                else:
                    message = p.message.replace(" (unquoted)", "")
                    if cli:
                        message = message.replace(
                            "mission = [sender, host]", "mission=sender:host"
                        ).replace("[sender, host]", "sender:host")
                    p = Problem(f"{label}, field {rest}" if rest else label, message)
        out.append(p)
    return out


def take_offer_event(
    scenario: Scenario, state: str, *, label: str = "take_offer", cli: bool = False
) -> dict[str, Any]:
    """The event by which ``state`` accepts the conditional offer made toward it.

    In this engine an offer ("I cancel my pending measures against you if you cancel
    yours") is accepted when its target cancels its own pending measures against the
    offerer. So this is a ``cancel`` by ``state`` against the offerer, dated the first
    step after the offer's (or the forecast start, if later: a cancel in the history is
    not seen as an acceptance). The scenario must hold exactly one ``offer`` event with
    ``target = state``; otherwise :class:`ScenarioError` says why, at ``label``.
    """

    def how(date: dt.date, offerer: str) -> str:
        if cli:
            return f"--event date={date},actor={state},target={offerer},kind=cancel"
        return (
            f"events=[{{'date': '{date}', 'actor': '{state}', "
            f"'target': '{offerer}', 'kind': 'cancel'}}]"
        )

    def fail(message: str) -> ScenarioError:
        return ScenarioError(scenario.source, [Problem(label, message)])

    if not isinstance(state, str) or state not in scenario.states:
        ids = sorted(scenario.states)
        hint = difflib.get_close_matches(str(state), ids, n=1, cutoff=0.5)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise fail(f"expected a state id ({', '.join(ids)}), found {state!r}{extra}")
    offers = [ev for ev in scenario.events if ev.kind == Kind.OFFER and ev.target == state]
    if not offers:
        other = next(iter(sorted(set(scenario.states) - {state})))
        raise fail(
            f'the scenario has no offer toward {state} (no event with kind = "offer" and '
            f'target = "{state}"), so there is nothing to accept. Add the offer as an event, '
            f"or date {state}'s cancellation yourself, e.g. {how(scenario.forecast_start, other)}"
        )
    if len(offers) > 1:
        listed = "; ".join(f"events.{ev.index}: {ev.actor} on {ev.date}" for ev in offers)
        choices = " or ".join(
            how(max(scenario.date_of(ev.step + 1), scenario.forecast_start), ev.actor)
            for ev in offers
        )
        raise fail(
            f"the scenario has {len(offers)} offers toward {state} ({listed}), so which one "
            f"to accept is ambiguous; add the acceptance you mean as an event: {choices}"
        )
    offer = offers[0]
    after = scenario.date_of(offer.step + 1)
    date = max(after, scenario.forecast_start)
    if date > scenario.end:
        raise fail(
            f"{offer.actor}'s offer of {offer.date} (events.{offer.index}) is made in the "
            f"scenario's last step ({scenario.date_of(offer.step)} to {scenario.end}): "
            "no step is left to accept it in"
        )
    when = "the first step after it" if date == after else "the forecast start"
    note = (
        f"What-if: {state} accepts {offer.actor}'s conditional offer of {offer.date} "
        f"(events.{offer.index}) on {date}, {when}, by cancelling its own pending measures "
        f"against {offer.actor}, which the engine treats as acceptance ({offer.actor}'s "
        f"pending measures against {state} are then cancelled too)."
    )
    return {
        "date": date,
        "actor": state,
        "target": offer.actor,
        "kind": "cancel",
        "source": WHATIF_SOURCE,
        "note": note,
    }


# ------------------------------------------------------------------ warnings
_CONCILIATORY_KINDS = (Kind.CANCEL, Kind.LIFT, Kind.RESTORE, Kind.OFFER)
#: Hostile acts of the history further apart than this are not one round of orders
#: (for the recall_days that :func:`forecast_warnings` suggests).
_ROUND_GAP_DAYS = 28


def _may_be_positive(value: Any) -> bool:
    if isinstance(value, Distribution):
        return value.support()[1] > 0
    return isinstance(value, int | float) and value > 0


def _policy_mechanisms(values: dict[str, Any]) -> tuple[bool, bool]:
    """(may answer a perceived act, may act unprompted) for one validated policy table."""
    from sim.policies import BUILTIN_POLICIES, Policy

    kind = values.get("kind", "scripted")
    cls = POLICIES.get(kind)
    if cls is None or kind not in BUILTIN_POLICIES:
        return True, True  # a plugin policy: what it does is its own business
    if not cls.active:
        return False, False

    def value(key: str) -> Any:
        if key in values:
            return values[key]
        params = cls.all_params()
        return params[key].default if key in params else None

    answers = _may_be_positive(value("reciprocate")) or (
        kind != "passive" and _may_be_positive(value("respond_prob"))
    )
    unprompted = (
        _may_be_positive(value("provocation_rate"))
        or _may_be_positive(value("conciliation_rate"))
        or cls.initiate is not Policy.initiate  # grit's initiatives
    )
    return answers, unprompted


def forecast_warnings(scenario: Scenario) -> list[str]:
    """Plain-language warnings about a scenario that cannot forecast anything.

    Policies answer only what they perceive: events dated on or after the forecast
    start, and the history's hostile acts of the last ``recall_days`` days. A scenario
    with neither, and no policy that acts unprompted (``provocation_rate`` or
    ``conciliation_rate`` above 0, grit's initiatives, or a plugin policy), replays the
    same history in every run: nothing is forecast. (Solidarity needs an ally's act to
    join, so it starts nothing either.) Scenarios in which no policy could answer
    anything (every state ``scripted``: a replay) get no warning. Returns ``[]`` when
    all is well.
    """
    answering = False
    for st in scenario.states.values():
        for values in st.policies.values():
            answers, unprompted = _policy_mechanisms(values)
            if unprompted:
                return []
            answering |= answers
    if not answering:
        return []
    fs = scenario.forecast_start
    seen = [ev for ev in scenario.events if not ev.own and ev.date >= fs]
    if seen:
        return []
    hostile = [
        ev
        for ev in scenario.events
        if not ev.own and ev.kind not in _CONCILIATORY_KINDS and ev.date < fs
    ]
    rd = scenario.recall_days
    recall_from = (
        None if rd == 0 else dt.date.min if (fs - dt.date.min).days <= rd else fs - dt.timedelta(rd)
    )
    if recall_from is not None and any(ev.date >= recall_from for ev in hostile):
        return []
    later = [ev for ev in scenario.events if ev.date >= fs]
    head = (
        f"no event the policies see is dated on or after forecast_start ({fs})"
        + (" (those that are, are states' measures on their own missions)" if later else "")
        + ", "
    )
    if recall_from is None:
        head += "recall_days is 0 (so the policies perceive none of the history's acts), "
    else:
        head += (
            f"recall_days = {rd} reaches back only to {recall_from}, after the history's "
            "last hostile act, "
        )
    head += (
        "and no policy acts unprompted (no provocation_rate or conciliation_rate above 0, "
        "no initiatives as grit takes): every run replays the same history and nothing is "
        "forecast."
    )
    if not hostile:
        return [
            head + " The history has no hostile act to recall either: date an event on or "
            "after forecast_start (e.g. with --event), or give a policy a provocation_rate."
        ]
    # The last round of orders: hostile acts no more than _ROUND_GAP_DAYS apart, back
    # from the last one.
    dates = sorted({ev.date for ev in hostile})
    first = dates[-1]
    for earlier in reversed(dates[:-1]):
        if (first - earlier).days > _ROUND_GAP_DAYS:
            break
        first = earlier
    n = (fs - first).days
    recalled = [ev for ev in hostile if ev.date >= first]

    def act(ev: EventSpec) -> str:
        amount = next((v for v in (ev.size, ev.level, ev.rate) if v is not None), None)
        what = ev.kind.label + (f" {amount:g}" if amount is not None else "")
        return f"{what} by {ev.actor} against {ev.target} on {ev.date}"

    shown = ", ".join(act(ev) for ev in recalled[:4]) + (
        f" and {len(recalled) - 4} more" if len(recalled) > 4 else ""
    )
    return [
        head + f" Set recall_days to {n} days (recall_days = {n} in [scenario], or "
        f"--set scenario.recall_days={n}) so that the orders of the last weeks before the "
        f"forecast are answered (it recalls {shown}), or date an event on or after "
        "forecast_start."
    ]
