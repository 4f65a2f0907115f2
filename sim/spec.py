"""The plain data of a validated scenario: the specs the engine runs.

:class:`Scenario` and its parts (:class:`StateSpec`, :class:`MissionSpec`,
:class:`EventSpec`, :class:`OutcomeSpec`), and the :class:`Problem` /
:class:`ScenarioError` that reading and validation report. Nothing here reads a file
or checks a value: :mod:`sim.scenario` builds these from a TOML document, and the
engine (:mod:`sim.engine.model`, :mod:`sim.engine`) only reads them. So this module sits
below both and imports nothing from ``sim`` but :mod:`sim.distributions` (counts and
policy parameters may be drawn per run).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from sim.distributions import Distribution

__all__ = [
    "DEFAULT_OUTCOME_CLASSES",
    "EventSpec",
    "MissionSpec",
    "OutcomeSpec",
    "Problem",
    "Scenario",
    "ScenarioError",
    "StateSpec",
    "largest_count",
]

#: The outcome classes a scenario tracks unless ``[outcomes] classes`` says otherwise
#: (``unresolved`` is always there). The same list as
#: :data:`sim.outcome_classes.DEFAULT_CLASSES`, written out so that this module stays
#: free of the outcome registry.
DEFAULT_OUTCOME_CLASSES: tuple[str, ...] = ("spiral", "relapse", "de_escalation")


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


@dataclass
class StateSpec:
    id: str
    name: str
    allies: list[str]
    solidarity: float
    solidarity_size: int
    policies: dict[str, dict[str, Any]]  # counterpart id -> validated policy values
    #: Answer acts perceived together from several counterparts in one announcement
    #: (one lag drawn per state, not per relation).
    answer_together: bool = False


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
    #: Staff pools that instrument plugins declare (``mission_fields``), by name:
    #: counted in the mission's total.
    extra: dict[str, int] = field(default_factory=dict)
    #: Administrative and technical staff: a count, or a distribution drawn per run.
    admin_technical: int | Distribution = 0

    @property
    def total(self) -> int:
        """Total staff; with counts drawn per run, the largest total a run can draw.

        The largest, not the mean, because what reads it are limits that must hold in
        every run: at most ``MAX_STAFF``, and a cap in force at or above the total.
        """
        return (
            largest_count(self.diplomats)
            + largest_count(self.admin_technical)
            + largest_count(self.local_staff)
            + largest_count(self.consulates) * self.staff_per_consulate
            + sum(self.extra.values())
        )


def largest_count(count: int | Distribution) -> int:
    """A count, or the largest value a run can draw of a count given as a distribution."""
    return int(count.support()[1]) if isinstance(count, Distribution) else count


@dataclass
class EventSpec:
    index: int
    date: dt.date
    actor: str
    target: str
    #: The instrument's code: a :class:`sim.engine.kinds.Kind` for the built-in
    #: instruments, the plain integer code for a plugin's.
    kind: int
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
    #: Fields the instrument declares beyond the four amounts (name -> value,
    #: defaults filled in), e.g. an expulsion's ``category``, an ultimatum's ``then``.
    options: dict[str, Any] = field(default_factory=dict)
    #: A temporary measure (``until``) ends in this step, always after its deadline's
    #: (``n_steps``: after the horizon); None: it lasts.
    until_step: int | None = None


@dataclass
class OutcomeSpec:
    closure_threshold: int
    missions: list[str]
    quiet: bool
    quiet_steps: int
    require_reciprocation: bool
    restored_level: int | None
    #: The outcome classes tracked (``unresolved`` is always there).
    classes: list[str] = field(default_factory=lambda: list(DEFAULT_OUTCOME_CLASSES))


@dataclass
class Scenario:
    """A validated scenario. Build with :func:`sim.scenario.load_scenario` or
    :func:`sim.scenario.scenario_from_dict`."""

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
    #: The document's events left out (``--drop-event``, ``sim.run(drop_events=...)``),
    #: JSON-ready like :attr:`added_events`, with ``dropped_by`` instead of ``added_by``.
    dropped_events: list[dict[str, Any]] = field(default_factory=list)
    #: Staff-equivalents per head of each staff category (``[staff_weights]``; a
    #: category left out, or all of them, weighs 1).
    staff_weights: dict[str, float] = field(default_factory=dict)

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

    # Reading and validation live above this module (sim.scenario), so the methods
    # that need them import it when called.
    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A copy with values replaced by dotted path, e.g. ``{"states.us.policy.ratio": 1.2}``."""
        from sim.scenario.reading import apply_overrides, scenario_from_dict

        raw = apply_overrides(self.raw, overrides, self.source)
        merged = {**self.overrides, **overrides}
        out = scenario_from_dict(raw, self.source, merged)
        out.added_events = copy.deepcopy(self.added_events)
        out.dropped_events = copy.deepcopy(self.dropped_events)
        return out

    def without_events(self, indices: Sequence[int], *, cli: bool = False) -> Scenario:
        """A copy without the document's events at ``indices`` (their positions in
        :attr:`events`, as ``python -m sim validate`` lists them): see
        :func:`sim.scenario.drop_events`.

        >>> scenario.without_events([9])   # the offer of 2021-12-01 left out  # doctest: +SKIP
        """
        from sim.scenario.whatif import drop_events

        return drop_events(self, indices, cli=cli)

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
        ``source`` defaults to :data:`sim.scenario.WHATIF_SOURCE`). ``take_offer="us"``
        adds the event by which the US accepts the conditional offer made toward it (see
        :func:`sim.scenario.take_offer_event`). The result is validated like the file; a
        problem in an added event names it by its label (``labels[i]``, default
        ``events[i]``; ``offer_label`` for the offer's acceptance) and the field. ``cli``
        words the hints for the command line (``--event``) rather than Python.

        >>> scenario.with_events([{"date": "2021-12-08", "actor": "us",
        ...                        "target": "russia", "kind": "cancel"}])  # doctest: +SKIP
        """
        from sim.scenario.whatif import insert_events, take_offer_event, whatif_event

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
            out = insert_events(self, [whatif_event(ev) for ev in events], labels, cli=cli)
        if take_offer is not None:
            label = offer_label or f"take_offer={take_offer!r}"
            event = take_offer_event(out, take_offer, label=label, cli=cli)
            out = insert_events(out, [event], [label], cli=cli)
        return out

    def to_toml(self) -> str:
        """The scenario as TOML, overrides applied (the "resolved scenario")."""
        return tomli_w.dumps(self.raw)
